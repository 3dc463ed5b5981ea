/**
 * The correlator: runs correlation rules (docs/correlation.md) on the router's batches, and fires their timers while
 * the log is idle. Per log partition it keeps the rules' pending A's in memory, backed by a `CorrelationStore`; per
 * batch it applies the records past the stored fence, publishes the events of the A's completed or timed out, then
 * commits the state with the new fence in one write — as the aggregator does, so a record counts once across crashes,
 * and a crash between the publish and the commit publishes the same events again (same ids: the log drops them).
 *
 * The clock is log time. A batch moves a rule's clock to its records' timestamps. While no records come, a tick
 * (every `tickMs`) moves the clock of a partition to the bus's time — only when the partition has been applied up to
 * the log's end as read at that time: a record appended later carries a later timestamp (the log's timestamps never
 * decrease within a partition), so no B that is still to be read can be older than the clock. Timers whose deadline
 * passed while the bus was down fire at the first tick after the start, once.
 */
import { createHash } from 'node:crypto';
import { validateEvent } from '../core/cloudevent.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { rawDataText } from '../core/codec/raw-data.ts';
import {
  advanceTo,
  type CorrelateSpec,
  type CorrelateState,
  carried,
  correlateStep,
  correlationKey,
  newCorrelateState,
  type PendingFirst,
  restoreCorrelateState,
  validateCorrelate,
} from '../core/correlate.ts';
import type { Rule } from '../core/rule-types.ts';
import { parseJsonPath, resolvePath } from '../core/transform.ts';
import type { Clock, CorrelationCommit, CorrelationStore, LogRecord, Position } from '../ports.ts';
import type { Metrics } from './metrics.ts';
import { RuleMatcher } from './rule-matcher.ts';

/** Most events one append carries. */
const PUBLISH_CHUNK = 1000;
/** Separates a rule's name from its selector's in the matcher (a rule name never holds it). */
const SEP = '\u0000';

export interface CorrelatorOptions {
  readonly store: CorrelationStore;
  /** Appends the events the rules publish (idempotent by source and id). */
  readonly publish: (events: readonly CloudEvent[]) => Promise<unknown>;
  readonly metrics: Metrics;
  readonly clock: Clock;
  /** How many partitions the log has. */
  readonly partitions: number;
  /** The log's end offsets (`EventLog.endOffsets`): where the next appends go. */
  readonly endOffsets: () => Promise<Position[]>;
  /** How often idle partitions' clocks move to the bus's time. @default 1000 */
  readonly tickMs?: number;
  /**
   * How far behind the bus's time an idle partition's clock stays: room for a record whose timestamp was taken just
   * before the end offsets were read but committed just after (none on the SQLite log, whose appends take their time
   * inside the write). @default 1000
   */
  readonly marginMs?: number;
  readonly onError?: (error: unknown) => void;
  /**
   * Whether each tick reads a partition's state from the store (another process may have moved it since: the
   * processes of a bus on Kafka). @default false
   */
  readonly freshTicks?: boolean;
}

interface CompiledRule {
  readonly rule: Rule;
  readonly spec: CorrelateSpec;
  readonly key: ReturnType<typeof parseJsonPath>;
}

interface RuleState {
  readonly version: number;
  readonly state: CorrelateState;
}

interface PartitionState {
  fence: number;
  readonly rules: Map<string, RuleState>;
  /** Rules whose stored state is to be dropped at the next commit (deleted or changed since). */
  readonly drop: Set<string>;
}

interface MetaText {
  readonly clock: number | null;
  readonly overflow: number;
}

interface Counts {
  started: number;
  overflow: number;
  completed: number;
  timedOut: number;
}

/** The id of the event an A's outcome publishes: the same whenever the same A completes or times out again. */
export function correlationEventId(rule: Rule, partition: number, first: PendingFirst): string {
  const a = JSON.parse(first.event) as { source?: unknown; id?: unknown };
  const hash = createHash('sha256')
    .update(`${first.key}\u0000${String(a.source)}\u0000${String(a.id)}`)
    .digest('base64url')
    .slice(0, 22);
  return `${rule.name}.${rule.updatedAt}.${partition}.${first.offset}.${hash}`;
}

export class Correlator {
  readonly #o: CorrelatorOptions;
  readonly #matcher = new RuleMatcher();
  readonly #rules = new Map<string, CompiledRule>();
  readonly #partitions = new Map<number, PartitionState>();
  /** Partitions known to hold no state, while there are no correlation rules. */
  readonly #clean = new Set<number>();
  /** Per partition, the tail of its chain of work: batches and ticks never run at once on one partition. */
  readonly #locks = new Map<number, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #running = false;

  constructor(options: CorrelatorOptions) {
    this.#o = options;
    const m = options.metrics;
    m.declare(
      'junction_correlate_started_total',
      'counter',
      'A events a correlation rule keeps pending, per rule.',
    );
    m.declare(
      'junction_correlate_completed_total',
      'counter',
      'Pending A events a B completed in time (match: a correlated event published), per rule.',
    );
    m.declare(
      'junction_correlate_timeouts_total',
      'counter',
      'Pending A events whose time ran out (absence: a timeout event published), per rule.',
    );
    m.declare(
      'junction_correlate_overflow_total',
      'counter',
      'A events a correlation rule refused because maxPending were pending, per rule.',
    );
    m.declare(
      'junction_correlate_pending',
      'gauge',
      'A events pending (in this process, over its partitions), per rule.',
    );
  }

  /** Whether a rule is a correlation rule (this correlator's, not the router's). */
  static handles(rule: Rule): boolean {
    return rule.correlate !== undefined;
  }

  set(rule: Rule): void {
    if (rule.correlate === undefined || !rule.enabled) {
      this.delete(rule.name);
      return;
    }
    const spec = validateCorrelate(rule.correlate, rule.name);
    this.#rules.set(rule.name, { rule, spec, key: parseJsonPath(spec.key) });
    for (const [which, selector] of [
      ['first', spec.first],
      ['followedBy', spec.followedBy],
    ] as const) {
      this.#matcher.set({
        name: `${rule.name}${SEP}${which}`,
        enabled: true,
        ...(selector.pattern === undefined ? {} : { pattern: selector.pattern }),
        ...(selector.filter === undefined ? {} : { filter: selector.filter }),
        targets: [],
        createdAt: rule.createdAt,
        updatedAt: rule.updatedAt,
      });
    }
  }

  delete(name: string): void {
    this.#rules.delete(name);
    this.#matcher.delete(`${name}${SEP}first`);
    this.#matcher.delete(`${name}${SEP}followedBy`);
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

  /** Starts the ticks that fire the timers of idle partitions (the first one at once: timers due while down). */
  start(): void {
    this.#running = true;
    const loop = () => {
      this.#timer = undefined;
      this.#ticking = this.tick()
        .catch((error) => this.#o.onError?.(error))
        .finally(() => {
          this.#ticking = undefined;
          if (!this.#running) return;
          this.#timer = setTimeout(loop, this.#o.tickMs ?? 1000);
          this.#timer.unref();
        });
    };
    loop();
  }

  /** Stops the ticks; resolves once a tick under way has finished (so the stores may close). */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
  }

  /**
   * Moves the clock of every partition applied up to the log's end to the bus's time (less the margin), and publishes
   * what the timers it passed give.
   */
  async tick(): Promise<void> {
    if (this.#rules.size === 0) return;
    const now = this.#o.clock.now() - (this.#o.marginMs ?? 1000);
    const ends = await this.#o.endOffsets();
    for (const { partition, offset: end } of ends) {
      await this.#locked(partition, async () => {
        if (this.#o.freshTicks === true) this.#partitions.delete(partition);
        const part = await this.#load(partition);
        // Records not applied yet may hold B's older than `now`: the batches that bring them move the clock.
        if (part.fence < end) return;
        await this.#run(partition, part, part.fence, () => {
          const events: CloudEvent[] = [];
          const counts = new Map<string, Counts>();
          for (const [name, rs] of part.rules) {
            const compiled = this.#rules.get(name);
            if (compiled === undefined) continue;
            this.#timeouts(compiled, partition, advanceTo(rs.state, now), events, counter(counts, name));
          }
          return { events, counts };
        });
      });
    }
  }

  /** Applies a batch of one partition; resolves once its state (and what it published) is durable. */
  async process(records: readonly LogRecord[]): Promise<void> {
    const first = records[0];
    if (first === undefined || (this.#rules.size === 0 && this.#clean.has(first.partition))) return;
    const partition = first.partition;
    await this.#locked(partition, async () => {
      const part = await this.#load(partition);
      const last = records.at(-1) as LogRecord;
      if (last.offset < part.fence) return;
      if (this.#rules.size === 0 && part.rules.size === 0 && part.drop.size === 0) {
        this.#clean.add(partition);
        this.#partitions.delete(partition);
        this.#gauge();
        return;
      }
      this.#clean.delete(partition);
      await this.#run(partition, part, last.offset + 1, () => this.#apply(partition, part, records));
    });
  }

  #apply(
    partition: number,
    part: PartitionState,
    records: readonly LogRecord[],
  ): { events: CloudEvent[]; counts: Map<string, Counts> } {
    const events: CloudEvent[] = [];
    const counts = new Map<string, Counts>();
    let time = Number.NEGATIVE_INFINITY;
    for (const record of records) {
      if (record.offset < part.fence) continue;
      time = Math.max(time, record.timestamp);
      const event = record.event;
      const hits = new Map<string, { first: boolean; second: boolean }>();
      for (const matched of this.#matcher.match(event)) {
        const sep = matched.name.indexOf(SEP);
        const name = matched.name.slice(0, sep);
        const hit = hits.get(name) ?? { first: false, second: false };
        if (matched.name.slice(sep + 1) === 'first') hit.first = true;
        else hit.second = true;
        hits.set(name, hit);
      }
      for (const [name, hit] of hits) {
        const compiled = this.#rules.get(name);
        if (compiled === undefined) continue;
        const { spec } = compiled;
        // A rule never correlates the events it publishes itself.
        if (event.source === spec.emit.source && event.type === spec.emit.type) continue;
        const rs = this.#ruleState(part, compiled);
        const c = counter(counts, name);
        const outcome = correlateStep(spec, rs.state, {
          offset: record.offset,
          time: record.timestamp,
          key: correlationKey(resolvePath(document(event), compiled.key)),
          isFirst: hit.first,
          isThen: hit.second,
          event: () => carried(event),
        });
        this.#timeouts(compiled, partition, outcome.timedOut, events, c);
        for (const a of outcome.completed) {
          c.completed++;
          if (spec.mode === 'match') events.push(this.#correlated(compiled, partition, a, record));
        }
        if (outcome.started === 'pending') c.started++;
        else if (outcome.started === 'overflow') c.overflow++;
      }
    }
    // Every rule has now seen the log up to the batch's last record: its timers up to that time fire.
    if (time > Number.NEGATIVE_INFINITY) {
      for (const compiled of this.#rules.values()) {
        const rs = this.#ruleState(part, compiled);
        this.#timeouts(
          compiled,
          partition,
          advanceTo(rs.state, time),
          events,
          counter(counts, compiled.rule.name),
        );
      }
    }
    return { events, counts };
  }

  #ruleState(part: PartitionState, compiled: CompiledRule): RuleState {
    let rs = part.rules.get(compiled.rule.name);
    if (rs === undefined) {
      rs = { version: compiled.rule.updatedAt, state: newCorrelateState() };
      rs.state.metaChanged = true;
      part.rules.set(compiled.rule.name, rs);
    }
    return rs;
  }

  #timeouts(
    compiled: CompiledRule,
    partition: number,
    timedOut: readonly PendingFirst[],
    events: CloudEvent[],
    c: Counts,
  ): void {
    c.timedOut += timedOut.length;
    if (compiled.spec.mode !== 'absence') return;
    for (const a of timedOut) events.push(this.#timeout(compiled, partition, a));
  }

  /**
   * Drops the state of rules changed or deleted since, runs `work` on the partition's state, publishes the events it
   * answers, then commits the state with `fence`. On a failure the partition's state is read again from the store.
   */
  async #run(
    partition: number,
    part: PartitionState,
    fence: number,
    work: () => { events: CloudEvent[]; counts: Map<string, Counts> },
  ): Promise<void> {
    try {
      for (const [name, rs] of part.rules) {
        if (this.#rules.get(name)?.rule.updatedAt !== rs.version) {
          part.rules.delete(name);
          part.drop.add(name);
        }
      }
      const { events, counts } = work();
      for (let i = 0; i < events.length; i += PUBLISH_CHUNK)
        await this.#o.publish(events.slice(i, i + PUBLISH_CHUNK));
      // A tick that fired nothing moved only clocks: no write (a clock is kept with the next change; one that goes
      // back after a crash moves forward again with the next record or tick, and fires nothing twice).
      const idle =
        fence === part.fence &&
        part.drop.size === 0 &&
        [...part.rules.values()].every((rs) => rs.state.changed.size === 0);
      if (!idle) {
        const change = this.#drain(part, partition, fence);
        await this.#o.store.commit(change);
      }
      part.fence = fence;
      part.drop.clear();
      this.#gauge();
      const { metrics } = this.#o;
      for (const [rule, c] of counts) {
        if (c.started > 0) metrics.inc('junction_correlate_started_total', { rule }, c.started);
        if (c.completed > 0) metrics.inc('junction_correlate_completed_total', { rule }, c.completed);
        if (c.timedOut > 0) metrics.inc('junction_correlate_timeouts_total', { rule }, c.timedOut);
        if (c.overflow > 0) metrics.inc('junction_correlate_overflow_total', { rule }, c.overflow);
      }
    } catch (error) {
      // The log hands the batch again from its committed position: start again from what the store holds.
      this.#partitions.delete(partition);
      throw error;
    }
  }

  async #locked(partition: number, work: () => Promise<void>): Promise<void> {
    const before = this.#locks.get(partition) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.catch(() => {});
    this.#locks.set(partition, tail);
    try {
      await run;
    } finally {
      if (this.#locks.get(partition) === tail) this.#locks.delete(partition);
    }
  }

  #gauge(): void {
    const open = new Map<string, number>();
    for (const part of this.#partitions.values()) {
      for (const [name, rs] of part.rules) open.set(name, (open.get(name) ?? 0) + rs.state.pending.size);
    }
    this.#o.metrics.clear('junction_correlate_pending');
    for (const [rule, n] of open) this.#o.metrics.set('junction_correlate_pending', n, { rule });
  }

  #base(
    compiled: CompiledRule,
    partition: number,
    a: PendingFirst,
    time: number,
    data: Record<string, unknown>,
  ) {
    const { rule, spec } = compiled;
    const event = {
      specversion: '1.0',
      id: correlationEventId(rule, partition, a),
      source: spec.emit.source,
      type: spec.emit.type,
      time: new Date(time).toISOString(),
      datacontenttype: 'application/json',
      data: { rule: rule.name, key: a.key, ...data },
    };
    if (a.key === '') return validateEvent(event);
    try {
      return validateEvent({ ...event, subject: a.key });
    } catch {
      // A key that an attribute may not hold (a control character) stays in the data only.
      return validateEvent(event);
    }
  }

  #correlated(compiled: CompiledRule, partition: number, a: PendingFirst, b: LogRecord): CloudEvent {
    const after = carried(b.event);
    const cut = [...(a.cut ? ['first'] : []), ...(after.cut ? ['followedBy'] : [])];
    return this.#base(compiled, partition, a, b.timestamp, {
      first: JSON.parse(a.event),
      followedBy: JSON.parse(after.event),
      ...(cut.length > 0 ? { cut } : {}),
    });
  }

  #timeout(compiled: CompiledRule, partition: number, a: PendingFirst): CloudEvent {
    return this.#base(compiled, partition, a, a.deadline, {
      first: JSON.parse(a.event),
      deadline: new Date(a.deadline).toISOString(),
      ...(a.cut ? { cut: ['first'] } : {}),
    });
  }

  #drain(part: PartitionState, partition: number, fence: number): CorrelationCommit {
    const rules: Array<CorrelationCommit['rules'][number]> = [];
    const put: Array<CorrelationCommit['put'][number]> = [];
    const remove: Array<CorrelationCommit['remove'][number]> = [];
    for (const [name, rs] of part.rules) {
      const { state } = rs;
      if (state.metaChanged) {
        const meta: MetaText = { clock: state.clock, overflow: state.overflow };
        rules.push({ rule: name, version: rs.version, state: JSON.stringify(meta) });
        state.metaChanged = false;
      }
      for (const [offset, p] of state.changed) {
        if (p === null) remove.push({ rule: name, offset });
        else
          put.push({
            rule: name,
            offset,
            key: p.key,
            deadline: p.deadline,
            state: `{"time":${p.time},"cut":${p.cut},"event":${p.event}}`,
          });
      }
      state.changed.clear();
    }
    return { partition, expectedFence: part.fence, fence, dropRules: [...part.drop], rules, put, remove };
  }

  async #load(partition: number): Promise<PartitionState> {
    const known = this.#partitions.get(partition);
    if (known !== undefined) return known;
    const stored = await this.#o.store.load(partition);
    const byRule = new Map<string, PendingFirst[]>();
    for (const row of stored.pending) {
      const text = JSON.parse(row.state) as { time: number; cut: boolean; event: unknown };
      const list = byRule.get(row.rule) ?? [];
      list.push({
        offset: row.offset,
        key: row.key,
        time: text.time,
        deadline: row.deadline,
        cut: text.cut,
        event: JSON.stringify(text.event),
      });
      byRule.set(row.rule, list);
    }
    const part: PartitionState = { fence: stored.fence, rules: new Map(), drop: new Set() };
    for (const row of stored.rules) {
      const meta = JSON.parse(row.state) as MetaText;
      part.rules.set(row.rule, {
        version: row.version,
        state: restoreCorrelateState(meta, byRule.get(row.rule) ?? []),
      });
    }
    for (const rule of byRule.keys()) if (!part.rules.has(rule)) part.drop.add(rule);
    this.#partitions.set(partition, part);
    return part;
  }
}

function counter(counts: Map<string, Counts>, rule: string): Counts {
  let c = counts.get(rule);
  if (c === undefined) {
    c = { started: 0, overflow: 0, completed: 0, timedOut: 0 };
    counts.set(rule, c);
  }
  return c;
}

/** The event with its JSON `data` parsed (for the key's path). */
function document(event: CloudEvent): unknown {
  const raw = rawDataText(event);
  if (raw === undefined) return event;
  try {
    return { ...event, data: JSON.parse(raw) };
  } catch {
    return event;
  }
}
