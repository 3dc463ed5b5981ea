/**
 * Scheduled rules (issue #19): at each slot of an enabled rule's schedule the bus publishes the rule's scheduled
 * event, which the rule (and any other rule whose pattern matches it) delivers like any event. The event's id is
 * `<rule>@<slot as RFC 3339>`, so every process of a deployment that fires the same slot publishes the same event
 * and the log's idempotent publish keeps one: one firing per slot across processes.
 *
 * Missed slots (the bus was down): on start, the latest slot of the last `catchUpMs` (24 h, the dedup window) that
 * passed is published once — if it had been published before the stop, idempotent publish drops it — and older ones
 * are skipped. A publish that fails (the log unavailable) is tried again every second until the next slot.
 */

import { validateEvent } from '../core/cloudevent.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import type { Rule } from '../core/rule-types.ts';
import { parseSchedule, type Schedule } from '../core/schedule.ts';
import type { Clock } from '../ports.ts';
import { SCHEDULE_EXTENSION } from './rule-matcher.ts';

export interface SchedulerOptions {
  readonly publish: (events: readonly CloudEvent[]) => Promise<unknown>;
  readonly clock: Clock;
  readonly onError?: (error: unknown) => void;
  /** How far back a missed slot is still published at start. @default 86400000 (24 h) */
  readonly catchUpMs?: number;
  /** Called after each slot is published (or found published): for metrics and tests. */
  readonly onFired?: (rule: string, slot: number) => void;
}

/** setTimeout's longest delay; a later slot is waited for in steps. */
const MAX_DELAY = 2 ** 31 - 1;
/** Most slots looked at when finding the latest missed one. */
const MAX_CATCH_UP_STEPS = 10_000;

/** The slots of a schedule in (`from`, `to`], oldest first, at most `max`. */
function* slotsIn(schedule: Schedule, from: number, to: number, max: number): Generator<number> {
  let at = from;
  for (let i = 0; i < max; i++) {
    const slot = schedule.next(at);
    if (slot === undefined || slot > to) return;
    yield slot;
    at = slot;
  }
}

export function scheduledEvent(rule: Rule, slot: number): CloudEvent {
  const schedule = rule.schedule;
  if (schedule === undefined) throw new TypeError(`rule ${rule.name} has no schedule`);
  const time = new Date(slot).toISOString();
  return validateEvent({
    specversion: '1.0',
    id: `${rule.name}@${time}`,
    source: schedule.event.source,
    type: schedule.event.type,
    ...(schedule.event.subject === undefined ? {} : { subject: schedule.event.subject }),
    time,
    datacontenttype: 'application/json',
    data: schedule.event.data,
    [SCHEDULE_EXTENSION]: rule.name,
  });
}

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #rules = new Map<string, { rule: Rule; schedule: Schedule }>();
  #running = false;

  constructor(options: SchedulerOptions) {
    this.#o = options;
  }

  /** Adds, replaces or (disabled, or without a schedule) removes a rule's schedule. */
  set(rule: Rule): void {
    this.delete(rule.name);
    if (!rule.enabled || rule.schedule === undefined) return;
    const schedule = parseSchedule(rule.schedule.expression, rule.schedule.timezone);
    this.#rules.set(rule.name, { rule, schedule });
    if (this.#running) this.#arm(rule.name, this.#o.clock.now());
  }

  delete(name: string): void {
    const timer = this.#timers.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(name);
    this.#rules.delete(name);
  }

  /** Publishes each schedule's latest missed slot (within `catchUpMs`), then waits for the next slots. */
  start(): void {
    this.#running = true;
    const now = this.#o.clock.now();
    const catchUp = this.#o.catchUpMs ?? 86_400_000;
    for (const [name, { schedule }] of this.#rules) {
      let latest: number | undefined;
      for (const slot of slotsIn(schedule, now - catchUp, now, MAX_CATCH_UP_STEPS)) latest = slot;
      if (latest !== undefined) void this.#fire(name, latest);
      this.#arm(name, now);
    }
  }

  /**
   * Publishes every slot in (`from`, `to`] of every schedule (at most 100 per schedule): for a host with no timers
   * (the AWS scheduler Lambda, run every minute with `from` a lookback behind). Slots published before are duplicates
   * for the log. Rejects when a publish fails (the next run covers the slot again). Answers how many were published.
   */
  async fireDue(from: number, to: number): Promise<number> {
    let fired = 0;
    for (const [name, { rule, schedule }] of this.#rules) {
      for (const slot of slotsIn(schedule, from, to, 100)) {
        await this.#o.publish([scheduledEvent(rule, slot)]);
        this.#o.onFired?.(name, slot);
        fired += 1;
      }
    }
    return fired;
  }

  stop(): void {
    this.#running = false;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /** Waits for the first slot after `after`. */
  #arm(name: string, after: number): void {
    const entry = this.#rules.get(name);
    if (entry === undefined || !this.#running) return;
    const slot = entry.schedule.next(after);
    if (slot === undefined) return; // a one-time schedule that has fired
    const wait = () => {
      const delay = slot - this.#o.clock.now();
      if (delay > 0) {
        const timer = setTimeout(wait, Math.min(delay, MAX_DELAY));
        timer.unref();
        this.#timers.set(name, timer);
        return;
      }
      void this.#fire(name, slot).then(() => this.#arm(name, slot));
    };
    wait();
  }

  async #fire(name: string, slot: number): Promise<void> {
    const entry = this.#rules.get(name);
    if (entry === undefined) return;
    const event = scheduledEvent(entry.rule, slot);
    const until = entry.schedule.next(slot) ?? slot + 60_000;
    for (;;) {
      try {
        await this.#o.publish([event]);
        this.#o.onFired?.(name, slot);
        return;
      } catch (error) {
        this.#o.onError?.(error);
        if (!this.#running || this.#rules.get(name) !== entry || this.#o.clock.now() + 1000 >= until) return;
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
  }
}
