/**
 * Ordered delivery per key (issue #19): deliveries/s to one HTTP target (a receiver in its own process) without
 * `ordering` and with `ordering` over 1,000 and over 10 keys, in the same run, interleaved. Each round publishes a
 * fixed number of events (batches of 100, as fast as the bus takes them) to a fresh bus and times publish start → the
 * receiver has them all. Targets answer at once, or 5 ms late (a target with latency, where one-at-a-time per key
 * costs most). `--quick` for a short run.
 */
import { request } from '../helpers/bus.ts';
import { withBus } from './bus.ts';
import { startReceiver } from './http-targets.ts';
import type { BenchTable } from './table.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function spread(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${Math.round(sorted[0] ?? 0)}–${Math.round(sorted.at(-1) ?? 0)}`;
}

interface Variant {
  readonly name: string;
  readonly keys?: number;
}

const VARIANTS: readonly Variant[] = [
  { name: 'unordered' },
  { name: 'ordered, 1,000 keys', keys: 1000 },
  { name: 'ordered, 10 keys', keys: 10 },
];

async function round(delayMs: number, variant: Variant, events: number, prefix: string): Promise<number> {
  const receiver = await startReceiver(delayMs > 0 ? [`--delay=${delayMs}`] : []);
  try {
    return await withBus(async (bus) => {
      const answer = await request(bus.url, 'PUT', '/rules/to-http', {
        pattern: { type: ['bench.event'] },
        targets: [
          {
            id: 'receiver',
            type: 'http',
            url: `${receiver.url}/in`,
            concurrency: 64,
            ...(variant.keys === undefined ? {} : { ordering: { key: '$.data.key' } }),
          },
        ],
      });
      if (answer.status >= 300) throw new Error(`PUT /rules answered ${answer.status}`);
      await receiver.stats(true);
      const started = performance.now();
      for (let i = 0; i < events; i += 100) {
        const batch = [];
        for (let j = i; j < Math.min(events, i + 100); j++) {
          batch.push({
            specversion: '1.0',
            id: `${prefix}-${j}`,
            source: '/bench',
            type: 'bench.event',
            datacontenttype: 'application/json',
            data: { n: j, key: `k${j % (variant.keys ?? 1000)}` },
          });
        }
        const res = await fetch(`${bus.url}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents-batch+json' },
          body: JSON.stringify(batch),
        });
        if (res.status !== 200) throw new Error(`publish answered ${res.status}`);
        await res.arrayBuffer();
      }
      const deadline = performance.now() + 120_000;
      while ((await receiver.stats()).count < events) {
        if (performance.now() > deadline) throw new Error('the receiver did not get every event in 120 s');
        await sleep(20);
      }
      return events / ((performance.now() - started) / 1000);
    });
  } finally {
    receiver.stop();
  }
}

export async function benchOrdering({ quick = false } = {}): Promise<BenchTable> {
  const events = quick ? 3000 : 10_000;
  const rounds = quick ? 2 : 3;
  const rows: (string | number)[][] = [];
  for (const delayMs of [0, 5]) {
    const rates = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const variant of VARIANTS) {
        const rate = await round(delayMs, variant, events, `o${delayMs}-${r}-${variant.keys ?? 0}`);
        rates.get(variant.name)?.push(rate);
      }
    }
    const base = median(rates.get('unordered') ?? []);
    for (const variant of VARIANTS) {
      const list = rates.get(variant.name) ?? [];
      rows.push([
        delayMs === 0 ? 'at once' : `${delayMs} ms late`,
        variant.name,
        Math.round(median(list)),
        spread(list),
        `${((median(list) / base) * 100).toFixed(0)}%`,
      ]);
    }
  }
  return {
    title:
      'Ordered delivery per key: deliveries/s to one HTTP target (concurrency 64), publish start → all received',
    columns: ['target answers', 'delivery', 'events/s (median)', 'spread', 'vs unordered'],
    rows,
    notes: [
      `${events} events per round in batches of 100, ${rounds} rounds interleaved, a fresh bus per round.`,
      'Ordered: at most one delivery per key at a time, so 10 keys allow at most 10 deliveries at once.',
    ],
  };
}
