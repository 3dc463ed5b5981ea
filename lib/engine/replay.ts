/**
 * Retention features: replay (re-deliver the retained events of a time range, marked with `replayname`) and rule
 * simulation (run a new or changed rule over retained events, delivering nothing).
 */
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { invalidRequest, notFound } from '../core/errors.ts';
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

/** Calls `onRecords` with the retained records whose log timestamp is in the range, partition by partition. */
export async function scanRange(
  log: EventLog,
  range: TimeRange,
  onRecords: (records: LogRecord[]) => Promise<void>,
): Promise<void> {
  const [starts, ends] = await Promise.all([log.offsetsForTime(range.from), log.offsetsForTime(range.to)]);
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
      if (inRange.length > 0) await onRecords(inRange);
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

export interface ReplayResult {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly rule?: string;
  /** Events of the range that matched and were scheduled again. */
  readonly events: number;
  readonly deliveries: number;
}

/** Re-delivers the retained events of a range to one rule or all; deliveries are durably scheduled before it answers. */
export async function replay(
  junction: Junction,
  log: EventLog,
  input: unknown,
  parse: (v: unknown, f: string) => number,
): Promise<ReplayResult> {
  const body = asObject(input);
  const range = parseRange(body, parse);
  if (body.rule !== undefined && typeof body.rule !== 'string')
    throw invalidRequest('"rule" must be a rule name', 'rule');
  if (body.name !== undefined && (typeof body.name !== 'string' || !/^[a-z0-9-]{1,64}$/.test(body.name))) {
    throw invalidRequest('"name" must be 1-64 lower-case letters, digits or "-"', 'name');
  }
  const matcher = new RuleMatcher();
  if (body.rule !== undefined) {
    matcher.set(await junction.getRule(body.rule));
  } else {
    for (const rule of await junction.listRules()) matcher.set(rule);
  }
  const name = (body.name as string | undefined) ?? `replay-${junction.clock.now().toString(36)}`;
  let events = 0;
  let deliveries = 0;
  await scanRange(log, range, async (records) => {
    const routed = records.filter((r) => matcher.match(r.event).length > 0);
    events += routed.length;
    if (routed.length > 0) deliveries += await junction.router.route(routed, matcher, name);
  });
  return {
    name,
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    ...(body.rule === undefined ? {} : { rule: body.rule }),
    events,
    deliveries,
  };
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
