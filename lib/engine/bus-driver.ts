/**
 * The `bus` target driver: to a named bus of this deployment, the event is published on that bus (its quota, dedup
 * window and schemas apply: an event its schemas refuse is a dead letter here, not retried); to another Junction's
 * URL, the HTTP driver posts it. Each bus hop counts in `junctionhops` (with function and reply hops), and an event at the limit is not forwarded: a loop between buses ends in a dead
 * letter instead of running forever.
 */
import { withAttributes } from '../core/cloudevent.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { DEFAULT_INGEST_LIMITS } from '../core/codec/http.ts';
import type { JunctionError } from '../core/errors.ts';
import type { DeliveryRequest, DeliveryResult, TargetDriver } from '../ports.ts';
import { HOPS_EXTENSION, hopsOf, type Junction } from './junction.ts';

/** Events that have passed this many hops are not forwarded to another bus. */
export const MAX_BUS_HOPS = 16;

/** What the bus driver needs of a receiving bus, in this process or in a bus process of its own. */
export interface BusInbox {
  /**
   * Puts the event through the bus's gate (its quotas, then its schemas) and, when it passes, on the bus's log:
   * answers the gate's refusal, or undefined once the event is appended.
   */
  offer(event: CloudEvent): Promise<JunctionError | undefined>;
}

/** The inbox of a bus whose engine runs in this process. */
export function inboxOf(junction: Pick<Junction, 'admit' | 'publish'>): BusInbox {
  return {
    async offer(event) {
      const [refused] = junction.admit([event]);
      if (refused !== undefined) return refused;
      // The event carries the attempt's trace context: the other bus's `ingest` span continues the trace.
      await junction.publish([event], { kind: 'producer' });
      return undefined;
    },
  };
}

export interface BusDriverOptions {
  /** The inbox of a named bus of this deployment, or undefined when there is no such bus. */
  readonly lookup: (name: string) => Promise<BusInbox | undefined>;
  /** Delivers to `url` bus targets (another Junction's HTTP API). */
  readonly http?: TargetDriver;
}

export function createBusDriver(options: BusDriverOptions): TargetDriver {
  async function deliverLocal(request: DeliveryRequest, name: string): Promise<DeliveryResult> {
    const hops = hopsOf(request.event);
    if (hops >= MAX_BUS_HOPS) {
      return {
        ok: false,
        retriable: false,
        error: `LoopDetected: the event has passed ${hops} hops (${HOPS_EXTENSION}); a loop between buses is likely, so it was not forwarded to bus "${name}" (limit ${MAX_BUS_HOPS})`,
      };
    }
    const bus = await options.lookup(name);
    if (bus === undefined) {
      return { ok: false, retriable: true, error: `NotFound: there is no bus named "${name}"` };
    }
    const event = withAttributes(
      request.event,
      { [HOPS_EXTENSION]: hops + 1 },
      {
        maxEventBytes: DEFAULT_INGEST_LIMITS.maxEventBytes,
      },
    );
    // The receiving bus's gate: its quotas, then its schemas.
    const limited = await bus.offer(event);
    if (limited === undefined) return { ok: true };
    if (limited.code === 'RateLimited') {
      const seconds = Number(limited.details?.retryAfterSeconds ?? 1);
      return {
        ok: false,
        retriable: true,
        retryAfterMs: seconds * 1000,
        status: 429,
        error: `RateLimited: ${limited.message}`,
      };
    }
    if (limited.retriable === true) {
      // Refused for now (a bus in a process of its own whose deployment no longer or not yet has the bus it names).
      return { ok: false, retriable: true, error: `${limited.code}: ${limited.message}` };
    }
    // Refused for what it is (its data breaks the receiving bus's schema): every retry would be refused too.
    return {
      ok: false,
      retriable: false,
      error: `${limited.code}: bus "${name}" refused it: ${limited.message}`,
    };
  }

  return {
    async deliver(request) {
      const { target } = request;
      if (target.type !== 'bus') throw new TypeError(`the bus driver got a ${target.type} target`);
      if (target.bus !== undefined) return deliverLocal(request, target.bus);
      if (options.http === undefined) {
        return {
          ok: false,
          retriable: false,
          error: 'this deployment does not deliver to other Junctions by URL',
        };
      }
      const hops = hopsOf(request.event);
      if (hops >= MAX_BUS_HOPS) {
        return {
          ok: false,
          retriable: false,
          error: `LoopDetected: the event has passed ${hops} hops (${HOPS_EXTENSION}); a loop between buses is likely, so it was not forwarded to ${new URL(target.url).host} (limit ${MAX_BUS_HOPS})`,
        };
      }
      const event = withAttributes(
        request.event,
        { [HOPS_EXTENSION]: hops + 1 },
        {
          maxEventBytes: DEFAULT_INGEST_LIMITS.maxEventBytes,
        },
      );
      return options.http.deliver({ ...request, event });
    },
    check(target) {
      if (target.type === 'bus' && target.url !== undefined && options.http === undefined) {
        return { message: 'this deployment does not deliver to other Junctions by URL', field: 'url' };
      }
      return undefined;
    },
    async close() {
      // The http driver is closed by its owner.
    },
  };
}
