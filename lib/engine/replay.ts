/**
 * Retention features: replay (re-deliver the retained events of a time range, marked with `replayname`) and rule
 * simulation (run a new or changed rule over retained events, delivering nothing).
 */
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { invalidRequest, JunctionError, notFound, toJunctionError } from '../core/errors.ts';
import { validateRule } from '../core/rule.ts';
import type { Rule } from '../core/rule-types.ts';
import type { EventLog, LogRecord } from '../ports.ts';
import type { Junction } from './junction.ts';
import { RuleMatcher } from './rule-matcher.ts';

export interface TimeRange {
  /** Inclusive, ms since the epoch. */
  readonly from: number;
  /** Exclusive, ms since the epoch. */
  readonly to: number;
}

const CHUNK = 1000;

/**
 * Calls `onRecords` with the retained records whose log timestamp is in the range, partition by partition.
 * `onTotal` hears first how many records the range's offsets span (an upper bound on what is read).
 */
export async function scanRange(
  log: EventLog,
  range: TimeRange,
  onRecords: (records: LogRecord[]) => Promise<void>,
  onTotal?: (total: number) => void,
): Promise<void> {
  const [starts, ends] = await Promise.all([log.offsetsForTime(range.from), log.offsetsForTime(range.to)]);
  onTotal?.(
    starts.reduce(
      (sum, start) =>
        sum +
        Math.max(
          0,
          (ends.find((e) => e.partition === start.partition)?.offset ?? start.offset) - start.offset,
        ),
      0,
    ),
  );
  for (const start of starts) {
    const end = ends.find((e) => e.partition === start.partition)?.offset ?? start.offset;
    let offset = start.offset;
    while (offset < end) {
      const records = await log.read(start.partition, offset, Math.min(CHUNK, end - offset));
      if (records.length === 0) break;
      offset = (records[records.length - 1] as LogRecord).offset + 1;
      const inRange = records.filter(
        (r) => r.timestamp >= range.from && r.timestamp < range.to && r.offset < end,
      );
      await onRecords(inRange);
    }
  }
}

function parseRange(body: Record<string, unknown>, parse: (v: unknown, f: string) => number): TimeRange {
  if (body.from === undefined) throw invalidRequest('"from" is required (RFC 3339 or epoch ms)', 'from');
  if (body.to === undefined) throw invalidRequest('"to" is required (RFC 3339 or epoch ms)', 'to');
  const range = { from: parse(body.from, 'from'), to: parse(body.to, 'to') };
  if (range.to <= range.from) throw invalidRequest('"to" must be after "from"', 'to');
  return range;
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('the body must be a JSON object with "from" and "to"');
  }
  return body as Record<string, unknown>;
}

/** A replay as `GET /replays/{name}` shows it. */
export interface ReplayStatus {
  readonly name: string;
  readonly state: 'running' | 'completed' | 'failed';
  readonly from: string;
  readonly to: string;
  readonly rule?: string;
  /** RFC 3339. */
  readonly startedAt: string;
  readonly endedAt?: string;
  /** Records of the range read so far, of `total` (the range's offsets; records outside its times are skipped). */
  readonly progress: { readonly read: number; readonly total: number };
  /** Events that matched and deliveries scheduled so far. */
  readonly counts: { readonly events: number; readonly deliveries: number };
  readonly error?: string;
}

/** What `POST /replays` answers: the status, and (as before) the counts at its top level. */
export interface ReplayResult extends ReplayStatus {
  readonly events: number;
  readonly deliveries: number;
}

export interface ReplaysOptions {
  readonly junction: Junction;
  readonly log: EventLog;
  readonly parse: (v: unknown, f: string) => number;
  /** Replays known from before (a restart); one still `running` is marked failed. @default none */
  readonly initial?: readonly ReplayStatus[];
  /** Hears the list whenever a replay starts or ends (to keep it). @default none */
  readonly onChange?: (replays: readonly ReplayStatus[]) => void;
  /** At most this many replays are remembered; the oldest finished ones are forgotten first. @default 1000 */
  readonly keep?: number;
}

/**
 * The replays of a bus: runs them (re-delivering the retained events of a range to one rule or all, the deliveries
 * durably scheduled before `start` answers) and remembers their status. A name is used once: the ledger keys of a
 * replay's deliveries carry it, so a second replay under the same name would deliver nothing.
 */
export class Replays {
  readonly #o: ReplaysOptions;
  readonly #replays = new Map<string, ReplayStatus>();
  readonly #keep: number;

  constructor(options: ReplaysOptions) {
    this.#o = options;
    this.#keep = options.keep ?? 1000;
    for (const status of options.initial ?? []) {
      this.#replays.set(
        status.name,
        status.state === 'running'
          ? {
              ...status,
              state: 'failed',
              error: 'interrupted: the bus stopped while it ran; replay again under a new name',
            }
          : status,
      );
    }
  }

  /** Newest first. */
  list(): ReplayStatus[] {
    return [...this.#replays.values()].reverse();
  }

  get(name: string): ReplayStatus {
    const status = this.#replays.get(name);
    if (status === undefined) throw notFound(`replay "${name}"`);
    return status;
  }

  async start(input: unknown): Promise<ReplayResult> {
    const { junction, log, parse } = this.#o;
    const body = asObject(input);
    const range = parseRange(body, parse);
    if (body.rule !== undefined && typeof body.rule !== 'string')
      throw invalidRequest('"rule" must be a rule name', 'rule');
    if (body.name !== undefined && (typeof body.name !== 'string' || !/^[a-z0-9-]{1,64}$/.test(body.name))) {
      throw invalidRequest('"name" must be 1-64 lower-case letters, digits or "-"', 'name');
    }
    let name = body.name as string | undefined;
    if (name !== undefined && this.#replays.has(name)) {
      throw new JunctionError(
        'ReplayExists',
        `a replay named "${name}" exists already (its deliveries are keyed by its name); choose another name`,
        { field: 'name' },
      );
    }
    const matcher = new RuleMatcher();
    if (body.rule !== undefined) {
      matcher.set(await junction.getRule(body.rule));
    } else {
      for (const rule of await junction.listRules()) matcher.set(rule);
    }
    if (name === undefined) {
      const base = `replay-${junction.clock.now().toString(36)}`;
      name = base;
      for (let i = 2; this.#replays.has(name); i++) name = `${base}-${i}`;
    }
    const replayName = name;
    let status: ReplayStatus = {
      name: replayName,
      state: 'running',
      from: new Date(range.from).toISOString(),
      to: new Date(range.to).toISOString(),
      ...(body.rule === undefined ? {} : { rule: body.rule }),
      startedAt: new Date(junction.clock.now()).toISOString(),
      progress: { read: 0, total: 0 },
      counts: { events: 0, deliveries: 0 },
    };
    const update = (next: ReplayStatus, changed: boolean) => {
      status = next;
      this.#replays.set(replayName, next);
      if (changed) this.#changed();
    };
    update(status, true);
    try {
      await scanRange(
        log,
        range,
        async (records) => {
          const routed = records.filter((r) => matcher.match(r.event).length > 0);
          const deliveries = routed.length > 0 ? await junction.router.route(routed, matcher, replayName) : 0;
          update(
            {
              ...status,
              progress: { ...status.progress, read: status.progress.read + records.length },
              counts: {
                events: status.counts.events + routed.length,
                deliveries: status.counts.deliveries + deliveries,
              },
            },
            false,
          );
        },
        (total) => update({ ...status, progress: { ...status.progress, total } }, false),
      );
    } catch (error) {
      const e = toJunctionError(error);
      update(
        {
          ...status,
          state: 'failed',
          endedAt: new Date(junction.clock.now()).toISOString(),
          error: e.message,
        },
        true,
      );
      throw error;
    }
    update({ ...status, state: 'completed', endedAt: new Date(junction.clock.now()).toISOString() }, true);
    return { ...status, events: status.counts.events, deliveries: status.counts.deliveries };
  }

  #changed(): void {
    // Forget the oldest finished replays beyond `keep` (running ones are kept).
    for (const [name, status] of this.#replays) {
      if (this.#replays.size <= this.#keep) break;
      if (status.state !== 'running') this.#replays.delete(name);
    }
    this.#o.onChange?.([...this.#replays.values()]);
  }
}

export interface SimulationResult {
  readonly rule: string;
  readonly from: string;
  readonly to: string;
  readonly scanned: number;
  readonly matched: number;
  /** Up to `sample` matching events (default 10). */
  readonly sample: CloudEvent[];
  /** Matches per target, as the deliveries that would have been made. */
  readonly deliveries: number;
}

/**
 * Runs a rule over retained events without delivering anything. The body may carry a new or changed definition
 * (`pattern`, `filter`, `targets`); otherwise the stored rule is used.
 */
export async function simulate(
  junction: Junction,
  log: EventLog,
  name: string,
  input: unknown,
  parse: (v: unknown, f: string) => number,
): Promise<SimulationResult> {
  const body = asObject(input);
  const range = parseRange(body, parse);
  const sampleSize = body.sample === undefined ? 10 : Number(body.sample);
  if (!Number.isInteger(sampleSize) || sampleSize < 0 || sampleSize > 100) {
    throw invalidRequest('"sample" must be an integer from 0 to 100', 'sample');
  }
  let rule: Rule;
  if (body.pattern !== undefined || body.filter !== undefined) {
    const { from: _f, to: _t, sample: _s, ...definition } = body;
    rule = validateRule(name, { targets: [], ...definition, enabled: true }, junction.clock.now());
  } else {
    rule = await junction.getRule(name).catch(() => {
      throw notFound(`rule "${name}" (give "pattern" or "filter" to simulate a new rule)`);
    });
    rule = { ...rule, enabled: true };
  }
  const matcher = new RuleMatcher();
  matcher.set(rule);
  let scanned = 0;
  let matched = 0;
  const sample: CloudEvent[] = [];
  await scanRange(log, range, async (records) => {
    scanned += records.length;
    for (const record of records) {
      if (matcher.match(record.event).length === 0) continue;
      matched++;
      if (sample.length < sampleSize) sample.push(record.event);
    }
  });
  return {
    rule: name,
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    scanned,
    matched,
    sample,
    deliveries: matched * rule.targets.length,
  };
}
