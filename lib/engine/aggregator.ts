/**
 * The aggregator: runs aggregation rules (docs/aggregation.md) on the router's batches. Per log partition it keeps
 * the rules' window state in memory, backed by an `AggregateStore`; per batch it folds the records past the stored
 * fence into the windows, publishes one event per window closed, then commits the state with the new fence in one
 * write. So an event is counted exactly once across crashes (records below the fence are skipped when the log hands
 * them again), and a crash between the publish and the commit publishes the same events again — same ids, which the
 * log's idempotent publish drops.
 */
import { createHash } from 'node:crypto';
import {
  type AggregateSpec,
  type AggregateState,
  type ClosedWindow,
  compileReader,
  newState,
  type OpenWindow,
  restoreState,
  step,
  validateAggregate,
} from '../core/aggregate.ts';
import type { Accumulator } from '../core/aggregate-functions.ts';
import { validateEvent } from '../core/cloudevent.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import type { Rule } from '../core/rule-types.ts';
import type { AggregateCommit, AggregateStore, LogRecord } from '../ports.ts';
import type { Metrics } from './metrics.ts';
import { RuleMatcher } from './rule-matcher.ts';

/** Most events of closed windows one append carries. */
const PUBLISH_CHUNK = 1000;

export interface AggregatorOptions {
  readonly store: AggregateStore;
  /** Appends the events of closed windows to the bus (idempotent by source and id). */
  readonly publish: (events: readonly CloudEvent[]) => Promise<unknown>;
  readonly metrics: Metrics;
}

interface CompiledRule {
  readonly rule: Rule;
  readonly spec: AggregateSpec;
  readonly read: ReturnType<typeof compileReader>;
}

interface RuleState {
  readonly version: number;
  readonly state: AggregateState;
}

interface PartitionState {
  fence: number;
  readonly rules: Map<string, RuleState>;
  /** Rules whose stored state is to be dropped at the next commit (deleted or changed since). */
  readonly drop: Set<string>;
}

interface WindowText {
  readonly end: number;
  readonly acc: Accumulator[];
  /** Set once closed and kept for corrections: the revision last published. */
  readonly rev?: number;
}

interface MetaText {
  readonly maxTime: number | null;
  readonly late: number;
  readonly overflow: number;
}

/** The id of the event a closed window publishes: the same whenever the same window closes again. */
export function aggregateEventId(rule: Rule, partition: number, window: ClosedWindow): string {
  const key = createHash('sha256').update(window.key).digest('base64url').slice(0, 22);
  // A session is named by its start and end: a late event can join an open session and move its start back to a
  // closed session's, so two sessions of a key may share a start (never a start and an end: the later one ends past
  // the events that opened it, after the closed one's end). Tumbling and hopping windows: the start names the window.
  const span =
    rule.aggregate !== undefined && 'session' in rule.aggregate.window
      ? `${window.start}-${window.end}`
      : `${window.start}`;
  const base = `${rule.name}.${rule.updatedAt}.${partition}.${span}.${key}`;
  return window.revision === undefined ? base : `${base}.r${window.revision}`;
}

export class Aggregator {
  readonly #o: AggregatorOptions;
  readonly #matcher = new RuleMatcher();
  readonly #rules = new Map<string, CompiledRule>();
  readonly #partitions = new Map<number, PartitionState>();
  /** Partitions known to hold no state, while there are no aggregation rules. */
  readonly #clean = new Set<number>();

  constructor(options: AggregatorOptions) {
    this.#o = options;
    const m = options.metrics;
    m.declare(
      'junction_aggregate_events_total',
      'counter',
      'Events folded into aggregation windows, per rule.',
    );
    m.declare(
      'junction_aggregate_late_total',
      'counter',
      'Events an aggregation rule dropped as late, per rule.',
    );
    m.declare(
      'junction_aggregate_overflow_total',
      'counter',
      'Events an aggregation rule dropped because maxOpenWindows windows were open, per rule.',
    );
    m.declare(
      'junction_aggregate_windows_total',
      'counter',
      'Aggregation windows closed and published, per rule.',
    );
    m.declare(
      'junction_aggregate_corrections_total',
      'counter',
      'Corrected results of closed windows published for late events (late: "correct"), per rule.',
    );
    m.declare(
      'junction_aggregate_open_windows',
      'gauge',
      'Aggregation windows open (in this process, over its partitions), per rule.',
    );
  }

  /** Whether a rule is an aggregation rule (this aggregator's, not the router's). */
  static handles(rule: Rule): boolean {
    return rule.aggregate !== undefined;
  }

  set(rule: Rule): void {
    if (rule.aggregate === undefined || !rule.enabled) {
      this.delete(rule.name);
      return;
    }
    const spec = validateAggregate(rule.aggregate, rule.name);
    this.#rules.set(rule.name, { rule, spec, read: compileReader(spec) });
    this.#matcher.set(rule);
  }

  delete(name: string): void {
    this.#rules.delete(name);
    this.#matcher.delete(name);
  }

  /**
   * Forgets the state of a partition kept in memory, so its next batch or tick reads it from the store: for hosts
   * where another process may have moved it since (AWS Lambda instances, the processes of a bus on Kafka;
   * docs/aggregation.md).
   */
  forget(partition: number): void {
    this.#partitions.delete(partition);
    this.#clean.delete(partition);
  }

  /** Folds a batch of one partition into the windows; resolves once its state (and what it closed) is durable. */
  async process(records: readonly LogRecord[]): Promise<void> {
    const first = records[0];
    // Without aggregation rules a partition is read once, for state of rules deleted meanwhile (dropped below).
    if (first === undefined || (this.#rules.size === 0 && this.#clean.has(first.partition))) return;
    const partition = first.partition;
    try {
      await this.#process(partition, records);
    } catch (error) {
      // The log hands the batch again from its committed position: start again from what the store holds.
      this.#partitions.delete(partition);
      throw error;
    }
  }

  async #process(partition: number, records: readonly LogRecord[]): Promise<void> {
    const part = await this.#load(partition);
    const { metrics } = this.#o;
    const last = records.at(-1) as LogRecord;
    if (last.offset < part.fence) return;
    // Rules deleted or changed since the state was kept start afresh.
    for (const [name, rs] of part.rules) {
      if (this.#rules.get(name)?.rule.updatedAt !== rs.version) {
        part.rules.delete(name);
        part.drop.add(name);
      }
    }
    if (this.#rules.size === 0 && part.rules.size === 0 && part.drop.size === 0) {
      // Nothing to keep: no write (the fence may stay behind; records past it change no state).
      this.#clean.add(partition);
      this.#partitions.delete(partition);
      this.#gauge();
      return;
    }
    this.#clean.delete(partition);
    const events: CloudEvent[] = [];
    const counts = new Map<
      string,
      { events: number; late: number; overflow: number; windows: number; corrections: number }
    >();
    for (const record of records) {
      if (record.offset < part.fence) continue;
      const event = record.event;
      for (const matched of this.#matcher.match(event)) {
        const compiled = this.#rules.get(matched.name);
        if (compiled === undefined) continue;
        const { rule, spec } = compiled;
        // A rule never folds the events it publishes itself.
        if (event.source === spec.emit.source && event.type === spec.emit.type) continue;
        let rs = part.rules.get(rule.name);
        if (rs === undefined) {
          rs = { version: rule.updatedAt, state: newState() };
          rs.state.metaChanged = true;
          part.rules.set(rule.name, rs);
        }
        const outcome = step(spec, rs.state, compiled.read(event, record.timestamp));
        const c = counts.get(rule.name) ?? { events: 0, late: 0, overflow: 0, windows: 0, corrections: 0 };
        counts.set(rule.name, c);
        if (outcome.dropped === 'late') c.late++;
        else if (outcome.dropped === 'overflow') c.overflow++;
        else c.events++;
        for (const closed of outcome.closed) {
          if (closed.revision === undefined) c.windows++;
          else c.corrections++;
        }
        for (const closed of outcome.closed) events.push(this.#event(rule, spec, partition, closed));
      }
    }
    // In appends of at most PUBLISH_CHUNK (one watermark step may close a window of every key at once).
    for (let i = 0; i < events.length; i += PUBLISH_CHUNK)
      await this.#o.publish(events.slice(i, i + PUBLISH_CHUNK));
    const change = this.#drain(part, partition, last.offset + 1);
    await this.#o.store.commit(change);
    part.fence = change.fence;
    part.drop.clear();
    this.#gauge();
    for (const [rule, c] of counts) {
      if (c.events > 0) metrics.inc('junction_aggregate_events_total', { rule }, c.events);
      if (c.late > 0) metrics.inc('junction_aggregate_late_total', { rule }, c.late);
      if (c.overflow > 0) metrics.inc('junction_aggregate_overflow_total', { rule }, c.overflow);
      if (c.windows > 0) metrics.inc('junction_aggregate_windows_total', { rule }, c.windows);
      if (c.corrections > 0) metrics.inc('junction_aggregate_corrections_total', { rule }, c.corrections);
    }
  }

  /** Sets the open-windows gauge of each rule (a sum over the partitions this process holds). */
  #gauge(): void {
    const open = new Map<string, number>();
    for (const part of this.#partitions.values()) {
      for (const [name, rs] of part.rules) open.set(name, (open.get(name) ?? 0) + rs.state.windows.size);
    }
    this.#o.metrics.clear('junction_aggregate_open_windows');
    for (const [rule, n] of open) this.#o.metrics.set('junction_aggregate_open_windows', n, { rule });
  }

  #event(rule: Rule, spec: AggregateSpec, partition: number, closed: ClosedWindow): CloudEvent {
    const event = {
      specversion: '1.0',
      id: aggregateEventId(rule, partition, closed),
      source: spec.emit.source,
      type: spec.emit.type,
      time: new Date(closed.end).toISOString(),
      datacontenttype: 'application/json',
      data: {
        rule: rule.name,
        key: closed.key,
        window: { start: new Date(closed.start).toISOString(), end: new Date(closed.end).toISOString() },
        aggregates: closed.aggregates,
        ...(closed.capped === undefined ? {} : { capped: closed.capped }),
        ...(closed.revision === undefined ? {} : { revision: closed.revision }),
      },
    };
    if (closed.key === '') return validateEvent(event);
    try {
      return validateEvent({ ...event, subject: closed.key });
    } catch {
      // A key from the events' data may hold what an attribute may not (a control character): it stays in the data
      // only. (An event that cannot be published would stop the partition's aggregation for good.)
      return validateEvent(event);
    }
  }

  #drain(part: PartitionState, partition: number, fence: number): AggregateCommit {
    const rules: Array<AggregateCommit['rules'][number]> = [];
    const windows: Array<AggregateCommit['windows'][number]> = [];
    for (const [name, rs] of part.rules) {
      const { state } = rs;
      if (state.metaChanged) {
        const meta: MetaText = { maxTime: state.maxTime, late: state.late, overflow: state.overflow };
        rules.push({ rule: name, version: rs.version, state: JSON.stringify(meta) });
        state.metaChanged = false;
      }
      for (const [, w] of state.changed) {
        if (w === null) continue;
        const text: WindowText = { end: w.end, acc: w.acc, ...(w.rev === undefined ? {} : { rev: w.rev }) };
        windows.push({ rule: name, key: w.key, start: w.start, state: JSON.stringify(text) });
      }
      for (const [id, w] of state.changed) {
        if (w !== null) continue;
        const sep = id.indexOf('\u0000');
        windows.push({ rule: name, key: id.slice(sep + 1), start: Number(id.slice(0, sep)), state: null });
      }
      state.changed.clear();
    }
    return {
      partition,
      expectedFence: part.fence,
      fence,
      dropRules: [...part.drop],
      rules,
      windows,
    };
  }

  async #load(partition: number): Promise<PartitionState> {
    const known = this.#partitions.get(partition);
    if (known !== undefined) return known;
    const stored = await this.#o.store.load(partition);
    const byRule = new Map<string, OpenWindow[]>();
    for (const row of stored.windows) {
      const text = JSON.parse(row.state) as WindowText;
      const list = byRule.get(row.rule) ?? [];
      list.push({
        key: row.key,
        start: row.start,
        end: text.end,
        acc: text.acc,
        ...(text.rev === undefined ? {} : { rev: text.rev }),
      });
      byRule.set(row.rule, list);
    }
    const part: PartitionState = { fence: stored.fence, rules: new Map(), drop: new Set() };
    for (const row of stored.rules) {
      const meta = JSON.parse(row.state) as MetaText;
      part.rules.set(row.rule, {
        version: row.version,
        state: restoreState(
          meta,
          byRule.get(row.rule) ?? [],
          this.#rules.get(row.rule)?.spec.correctFor ?? 0,
        ),
      });
    }
    // Windows of a rule whose own row is missing cannot be (a commit writes both); drop them should it happen.
    for (const rule of byRule.keys()) if (!part.rules.has(rule)) part.drop.add(rule);
    this.#partitions.set(partition, part);
    return part;
  }
}
