/**
 * Matching side by side with AWS's event-ruler (the reference implementation, run from its Maven jar over a pipe), on
 * event-ruler's citylots2 benchmark rules and the same JSON lines, in interleaved rounds of one run:
 *
 * - like for like: JSON text in, matching rule names out. Junction reads the text selectively (`selectJson` over the
 *   index's path trie) and matches; event-ruler runs `Machine.rulesForJSONEvent`.
 * - the bus path: what the router does per CloudEvent record — from the stored text (a row of the SQLite log as the
 *   bus wrote it: its attributes read by its data span, `readStored`, matched with the data text by the router's
 *   `RuleMatcher.matchStored`, which reads `data` selectively; the event built only for a record that matched), the
 *   same row read into an event first (`readRecord`, then `RuleMatcher.match`: the router before it matched stored
 *   text, measured beside it as the A/B), from the same text with the codec's full check (`parseStoredEvent`: a Kafka
 *   record, an unmarked row), and from the SQLite log's in-memory window of events it just appended (no text read at
 *   all) — against event-ruler on the same CloudEvent lines with the rules under `data`.
 *
 * Rates are events per CPU-second of the thread that matches (Junction: this process; event-ruler: its matching
 * thread, from `ThreadMXBean`), so other load on the machine moves both alike. Each cell is the median of the rounds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStoredEvent } from '../../lib/adapters/sqlite/database.ts';
import { readRecord, readStored } from '../../lib/adapters/sqlite/event-log.ts';
import {
  parseEventJson,
  serializeEvent,
  serializeStoredEvent,
  storedEvent,
} from '../../lib/core/cloudevent.ts';
import { fieldTrie, fieldTrieOf, selectJson } from '../../lib/core/codec/json-select.ts';
import { PatternIndex } from '../../lib/core/pattern/index.ts';
import type { Rule } from '../../lib/core/rule-types.ts';
import { RuleMatcher } from '../../lib/engine/rule-matcher.ts';
import { corpusDir } from '../helpers/paths.ts';
import { type EventRulerPeer, startEventRuler } from '../peers/event-ruler.ts';
import { lot, random } from './matching.ts';
import type { BenchTable } from './table.ts';

interface Group {
  readonly rule_type: string;
  readonly rules: { pattern: unknown }[];
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Events per CPU-second of one pass of `run` over `count` events, repeated until `ms` of CPU time; and the matches of the first pass. */
function round(run: (i: number) => number, count: number, ms: number): { rate: number; matches: number } {
  let events = 0;
  let matches = -1;
  const start = cpuMs();
  let elapsed = 0;
  while (elapsed < ms) {
    let m = 0;
    for (let i = 0; i < count; i++) m += run(i);
    if (matches < 0) matches = m;
    events += count;
    elapsed = cpuMs() - start;
  }
  return { rate: (events / elapsed) * 1000, matches };
}

/** event-ruler's events per CPU-second of its matching thread over three timed passes, and the matches of the first. */
async function peerRound(
  peer: EventRulerPeer,
  rules: readonly { name: string; pattern: unknown }[],
  lines: string,
): Promise<{ rate: number; matches: number }> {
  const rounds = await peer.bench(rules as { name: string; pattern: Record<string, unknown> }[], lines, 3);
  const events = rounds.reduce((n, r) => n + r.events, 0);
  const cpuNanos = rounds.reduce((n, r) => n + r.cpuNanos, 0);
  return { rate: (events / cpuNanos) * 1e9, matches: rounds[0]?.matches ?? 0 };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function spread(values: readonly number[]): string {
  return `${Math.round(Math.min(...values) / 1000)}–${Math.round(Math.max(...values) / 1000)}k`;
}

export async function benchMatchingPeer(options: {
  quick: boolean;
  /** Only these families (event-ruler's group names). @default all */
  families?: readonly string[];
}): Promise<BenchTable[]> {
  const spec = JSON.parse(
    readFileSync(join(corpusDir, 'event-ruler', 'derived', 'citylots2-benchmark.json'), 'utf8'),
  ) as { groups: Group[] };
  const next = random(42);
  const count = options.quick ? 2000 : 10000;
  const lines = Array.from({ length: count }, (_, i) => JSON.stringify(lot(next, i)));
  const records = lines.map((data, i) =>
    serializeEvent(
      parseEventJson(
        `{"specversion":"1.0","id":"lot-${i}","source":"citylots","type":"lot","time":"2026-12-03T00:00:00Z","data":${data}}`,
      ),
    ),
  );
  const events = records.map((r) => parseStoredEvent(r));
  const rows = events.map((e) => {
    const { text, dataAt, dataEnd } = serializeStoredEvent(e);
    return { event: text, data_at: dataAt, data_end: dataEnd };
  });
  const rounds = options.quick ? 3 : 5;
  const roundMs = options.quick ? 150 : 400;
  const peer = await startEventRuler();
  const plain = await peer.loadLines(lines);
  const wrapped = await peer.loadLines(records);
  const like: (string | number)[][] = [];
  const bus: (string | number)[][] = [];
  const likeRatios: number[] = [];
  const busRatios: number[] = [];
  try {
    for (const group of spec.groups) {
      if (options.families !== undefined && !options.families.includes(group.rule_type)) continue;
      const patterns = group.rules.map((r) => r.pattern);
      const index = new PatternIndex();
      const matcher = new RuleMatcher();
      patterns.forEach((p, i) => {
        index.add(`r${i}`, p);
        matcher.set({ name: `r${i}`, enabled: true, pattern: { data: p }, targets: [] } as unknown as Rule);
      });
      // The whole line is the root: it is never kept whole itself (its uses are 0).
      const selector = fieldTrie(fieldTrieOf(index.paths).children, false);
      const rules = patterns.map((p, i) => ({ name: `r${i}`, pattern: p }));
      const dataRules = patterns.map((p, i) => ({ name: `r${i}`, pattern: { data: p } }));
      const results = {
        like: [] as number[],
        peerLike: [] as number[],
        stored: [] as number[],
        built: [] as number[],
        checked: [] as number[],
        window: [] as number[],
        peerBus: [] as number[],
      };
      const matches = { like: 0, peerLike: 0, stored: 0, peerBus: 0 };
      const likeRun = (i: number) => index.match(selectJson(lines[i] as string, selector)).length;
      // The router's path for a row the bus marked: its attributes and data text (`readStored`), matched as they are
      // (`matchStored`); the event is built only for a record that matched (it goes into the deliveries).
      const storedRun = (i: number) => {
        const stored = readStored(rows[i] as (typeof rows)[0]);
        if (stored === undefined) throw new Error(`row ${i} is not marked`);
        let event: unknown;
        const matched = matcher.matchStored(stored, () => storedEvent(stored));
        if (matched.length > 0) event = storedEvent(stored);
        return event === undefined ? 0 : matched.length;
      };
      // Before: the event built from the row (`readRecord`), then matched.
      const builtRun = (i: number) => matcher.match(readRecord(rows[i] as (typeof rows)[0])).length;
      const checkedRun = (i: number) => matcher.match(parseStoredEvent(records[i] as string)).length;
      const windowRun = (i: number) => matcher.match(events[i] as never).length;
      round(likeRun, count, roundMs / 4); // warm-up
      round(storedRun, count, roundMs / 4);
      round(builtRun, count, roundMs / 4);
      round(checkedRun, count, roundMs / 4);
      for (let r = 0; r < rounds; r++) {
        // Alternate who goes first, so neither always runs on a warmer (or busier) machine.
        const peerLike = async () => {
          const p = await peerRound(peer, rules, plain);
          results.peerLike.push(p.rate);
          matches.peerLike = p.matches;
        };
        const peerFirst = r % 2 === 1;
        if (peerFirst) await peerLike();
        const j = round(likeRun, count, roundMs);
        results.like.push(j.rate);
        matches.like = j.matches;
        if (!peerFirst) await peerLike();
        // The stored-text path now and before this change, back to back (who goes first alternates too).
        const storedNow = () => {
          const s = round(storedRun, count, roundMs);
          results.stored.push(s.rate);
          matches.stored = s.matches;
        };
        if (peerFirst) storedNow();
        results.built.push(round(builtRun, count, roundMs).rate);
        if (!peerFirst) storedNow();
        results.checked.push(round(checkedRun, count, roundMs).rate);
        results.window.push(round(windowRun, count, roundMs).rate);
        const pb = await peerRound(peer, dataRules, wrapped);
        results.peerBus.push(pb.rate);
        matches.peerBus = pb.matches;
      }
      const likeRatio = median(results.like) / median(results.peerLike);
      const busRatio = median(results.stored) / median(results.peerBus);
      likeRatios.push(likeRatio);
      busRatios.push(busRatio);
      like.push([
        group.rule_type,
        Math.round(median(results.like)),
        spread(results.like),
        Math.round(median(results.peerLike)),
        spread(results.peerLike),
        Number(likeRatio.toFixed(2)),
        matches.like === matches.peerLike ? `${matches.like}` : `${matches.like} ≠ ${matches.peerLike}`,
      ]);
      bus.push([
        group.rule_type,
        Math.round(median(results.stored)),
        Math.round(median(results.built)),
        Math.round(median(results.checked)),
        Math.round(median(results.window)),
        Math.round(median(results.peerBus)),
        spread(results.peerBus),
        Number(busRatio.toFixed(2)),
        Number((median(results.built) / median(results.peerBus)).toFixed(2)),
        Number((median(results.checked) / median(results.peerBus)).toFixed(2)),
        Number((median(results.window) / median(results.peerBus)).toFixed(2)),
        matches.stored === matches.peerBus ? `${matches.stored}` : `${matches.stored} ≠ ${matches.peerBus}`,
      ]);
    }
  } finally {
    await peer.close();
  }
  const bytes = (list: readonly string[]) => Math.round(list.reduce((n, l) => n + l.length, 0) / list.length);
  const medianNote = (ratios: number[]) =>
    `median ratio ${median(ratios).toFixed(2)}× (lowest ${Math.min(...ratios).toFixed(2)}, highest ${Math.max(...ratios).toFixed(2)})`;
  return [
    {
      title: `Matching like for like vs event-ruler ${peer.version} (${peer.runtime}): JSON text in, rule names out, citylots2 rules, ${count} lines of ~${bytes(lines)} bytes`,
      columns: [
        'family',
        'Junction ev/CPU-s',
        'spread',
        'event-ruler ev/CPU-s',
        'spread',
        'ratio',
        'matches (one pass)',
      ],
      rows: like,
      notes: [
        medianNote(likeRatios),
        'Junction: selectJson (only the members the rules name, numbers with their lexeme) + PatternIndex.match;',
        'event-ruler: Machine.rulesForJSONEvent. Medians of interleaved rounds; spreads are min–max.',
      ],
    },
    {
      title: `Matching on the bus path vs event-ruler: CloudEvent records of ~${bytes(records)} bytes, rules under data`,
      columns: [
        'family',
        'from stored text',
        'event built first',
        'full check',
        'from the log window',
        'event-ruler',
        'spread',
        'ratio (stored)',
        'ratio (built first)',
        'ratio (full check)',
        'ratio (window)',
        'matches (one pass)',
      ],
      rows: bus,
      notes: [
        `stored text: ${medianNote(busRatios)}`,
        'from stored text: a SQLite log row as the bus wrote it, its attributes read by its data span (readStored: no',
        'scan, no event) + RuleMatcher.matchStored on them and the data text, the event built only when a rule matched —',
        'what the router does with a SQLite read past the in-memory window; event built first: the same row read into an',
        'event (readRecord) + RuleMatcher.match, the router before it matched stored text; full check: parseStoredEvent (the codec',
        "scan of the record) + RuleMatcher.match — what the Kafka router and rows without the bus's mark get; from the",
        'log window: RuleMatcher.match on the event the SQLite log appended moments before (the steady state).',
      ],
    },
  ];
}
