/** The `function` target: runs a user function through the FunctionRunner port (worker threads or Lambda). */
import { toJunctionError } from '../core/errors.ts';
import type { DeliveryRequest, DeliveryResult, FunctionRunner, TargetDriver } from '../ports.ts';
import type { FunctionActivity } from './function-activity.ts';
import type { Metrics } from './metrics.ts';

/**
 * The driver of `function` targets; failed invocations are counted in `metrics` by rule, target and error code, and
 * every invocation's duration and outcome in `activity` (the console's Functions page) when there is one.
 */
export function createFunctionDriver(
  runner: FunctionRunner,
  metrics?: Metrics,
  activity?: FunctionActivity,
): TargetDriver {
  metrics?.declare(
    'junction_function_errors_total',
    'counter',
    'Failed function invocations by error code (FunctionTimeout: the function ran out of time).',
  );
  return {
    async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
      const { target } = request;
      if (target.type !== 'function') throw new TypeError(`function driver got a ${target.type} target`);
      const started = performance.now();
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
          // The attempt's span: the function may continue the trace (child spans of its own).
          ...(request.trace === undefined
            ? {}
            : {
                traceparent: request.trace.traceparent,
                ...(request.trace.tracestate === undefined ? {} : { tracestate: request.trace.tracestate }),
              }),
        });
        activity?.invoked(target.function, performance.now() - started);
        return { ok: true, emitted: result.returned };
      } catch (error) {
        const e = toJunctionError(error);
        activity?.invoked(target.function, performance.now() - started, e.code);
        metrics?.inc('junction_function_errors_total', {
          rule: request.rule.name,
          target: target.id,
          code: e.code,
        });
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
