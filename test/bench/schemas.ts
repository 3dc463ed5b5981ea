/**
 * Schemas at ingest (issue #16): ~1 KB events of 20 properties, checked in `reject` mode against a schema of those 20
 * properties (formats, an enum, a pattern, nested objects and arrays), against the same events on a bus without
 * schemas — single events and batches, both buses measured in the same run in interleaved rounds. Goal: ≥ 0.85×.
 *
 * `npm run bench -- --only=schemas` (`--quick` for a short run).
 */
import { request } from '../helpers/bus.ts';
import { runLoad, withBus } from './bus.ts';
import { type Contestant, interleave, pairedRatio, rows, type Settings, verdict } from './ingest.ts';
import type { BenchTable } from './table.ts';

/** The schema of support/load.ts's `wideData`: every one of its 20 properties, most of them required. */
export const WIDE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [
    'n',
    'orderId',
    'customerId',
    'email',
    'createdAt',
    'status',
    'total',
    'currency',
    'quantity',
    'items',
  ],
  properties: {
    n: { type: 'integer', minimum: 0 },
    orderId: { type: 'string', pattern: '^ord-[0-9]+$' },
    customerId: { type: 'string', format: 'uuid' },
    email: { type: 'string', format: 'email' },
    createdAt: { type: 'string', format: 'date-time' },
    status: { enum: ['new', 'paid', 'shipped', 'cancelled'] },
    total: { type: 'number', minimum: 0 },
    currency: { type: 'string', minLength: 3, maxLength: 3 },
    quantity: { type: 'integer', minimum: 1 },
    express: { type: 'boolean' },
    giftWrap: { type: 'boolean' },
    coupon: { type: ['string', 'null'] },
    country: { type: 'string', maxLength: 2 },
    city: { type: 'string' },
    street: { type: 'string' },
    postcode: { type: 'string', pattern: '^[0-9]{5}$' },
    tags: { type: 'array', items: { type: 'string' }, maxItems: 20 },
    items: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        required: ['sku', 'qty', 'price'],
        properties: { sku: { type: 'string' }, qty: { type: 'integer' }, price: { type: 'number' } },
      },
    },
    channel: { type: 'object', properties: { name: { type: 'string' }, campaign: { type: 'string' } } },
    note: { type: 'string', maxLength: 2000 },
  },
};

async function table(settings: Settings, mode: 'single' | 'batch'): Promise<BenchTable> {
  return withBus((plain) =>
    withBus(async (checked) => {
      const put = await request(checked.url, 'PUT', '/schemas/wide', {
        schema: WIDE_SCHEMA,
        binding: { type: 'bench.event' },
        enforcement: 'reject',
      });
      if (put.status !== 201)
        throw new Error(`PUT /schemas/wide answered ${put.status}: ${JSON.stringify(put.body)}`);
      const concurrency = mode === 'single' ? 32 : 8;
      const common = { mode, data: 'wide', seconds: settings.seconds, concurrency, batch: 100 };
      // The schema must accept what the load sends: a refused event would be a failure here, not a faster path.
      const probe = await runLoad({ ...common, url: checked.url, seconds: 0.2, prefix: 'probe' });
      if (probe.failed > 0 || probe.ok === 0)
        throw new Error(`the schema refused the benchmark's events: ${JSON.stringify(probe)}`);
      const contestants: Contestant[] = [
        {
          name: 'no schema',
          pid: () => plain.child.pid,
          load: (prefix) => runLoad({ ...common, url: plain.url, prefix }),
        },
        {
          name: 'a 20-property schema, reject',
          pid: () => checked.child.pid,
          load: (prefix) => runLoad({ ...common, url: checked.url, prefix }),
        },
      ];
      const samples = await interleave(contestants, settings, mode === 'single');
      return {
        title: `Schemas at ingest, ~1 KB events of 20 properties, ${mode === 'single' ? `single events × ${concurrency} connections` : `batches of 100 × ${concurrency} connections`} — ${settings.rounds} interleaved rounds of ${settings.seconds} s`,
        columns: [
          'bus',
          `${mode === 'single' ? 'req' : 'events'}/s (median)`,
          'spread',
          'per bus CPU-s',
          'spread',
          'ratio (median of rounds)',
          'ratio per CPU-s',
          'failed',
        ],
        rows: rows(contestants, samples),
        notes: [
          `Goal (#16) ≥ 0.85× the bus without schemas: wall ${verdict(pairedRatio(samples, 1, 0, false), 0.85)}, per bus CPU-second ${verdict(pairedRatio(samples, 1, 0, true), 0.85)}.`,
          'Two buses, each its own process and data dir, loaded one at a time; the same events (support/load.ts `data: "wide"`). The schema (test/bench/schemas.ts) has formats (uuid, email, date-time), an enum, anchored patterns, bounds, nested objects and arrays, additionalProperties: false; it is compiled once.',
        ],
      };
    }),
  );
}

export async function benchSchemas(options: { quick: boolean }): Promise<BenchTable[]> {
  const settings: Settings = options.quick ? { rounds: 3, seconds: 2 } : { rounds: 5, seconds: 5 };
  return [await table(settings, 'single'), await table(settings, 'batch')];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('./table.ts');
  for (const t of await benchSchemas({ quick: process.argv.includes('--quick') })) printTable(t);
}
