/** The `function` target: runs a user function through the FunctionRunner port (worker threads or Lambda). */
import { toJunctionError } from '../core/errors.ts';
import type { DeliveryRequest, DeliveryResult, FunctionRunner, TargetDriver } from '../ports.ts';

export function createFunctionDriver(runner: FunctionRunner): TargetDriver {
  return {
    async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
      const { target } = request;
      if (target.type !== 'function') throw new TypeError(`function driver got a ${target.type} target`);
      try {
        // A function written for EventBridge gets the event in EventBridge's shape (the delivered event's data).
        const event = target.format === 'eventbridge' ? request.event.data : request.event;
        const result = await runner.invoke(target.function, event, {
          functionName: target.function,
          rule: request.rule.name,
          target: target.id,
          idempotencyKey: request.idempotencyKey,
          attempt: request.attempt,
          // The function's own timeout (set when it was deployed) governs a function target.
          possibleDuplicate: request.possibleDuplicate,
        });
        return { ok: true, emitted: result.returned };
      } catch (error) {
        const e = toJunctionError(error);
        // A missing function may be deployed before the retries run out; everything a handler does is retried.
        return {
          ok: false,
          retriable: e.retriable || e.code === 'NotFound',
          error: `${e.code}: ${e.message}`,
        };
      }
    },
  };
}
