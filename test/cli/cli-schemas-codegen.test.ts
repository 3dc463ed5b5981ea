/**
 * `junction schemas codegen --lang ts` (issue #16) against a real bus: the module it writes type-checks with `tsc`
 * (strict) together with functions written `handler(event: CloudEvent<OrderCreated>)` and `EventOf<'type'>`, and a
 * function that reads a field the schema does not have, or misuses a field's type, fails to type-check.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../lib/cli/cli.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/paths.ts';
import { typeCheck } from '../helpers/tsc.ts';

describe('junction schemas codegen', () => {
  let bus: TestBus;
  let url: string[];
  const dir = tempDir('junction-codegen-');

  before(async () => {
    bus = await startTestBus();
    url = ['--url', bus.url];
    const orders = await request(bus.url, 'PUT', '/schemas/order-created', {
      schema: {
        type: 'object',
        required: ['order', 'total'],
        properties: {
          order: { type: 'string' },
          total: { type: 'number' },
          status: { enum: ['new', 'paid'] },
          customer: { $ref: '#/$defs/Customer' },
          lines: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } } } },
        },
        $defs: {
          Customer: { type: 'object', required: ['email'], properties: { email: { type: 'string' } } },
        },
      },
      binding: { type: 'com.shop.order.created', source: '/shop' },
    });
    assert.equal(orders.status, 201, JSON.stringify(orders.body));
    const invoices = await request(bus.url, 'PUT', '/schemas/invoices', {
      schema: {
        type: 'object',
        required: ['amount'],
        properties: { amount: { type: 'integer' }, customer: { $ref: '#/$defs/Customer' } },
        $defs: { Customer: { type: 'string' } },
      },
      binding: { type: 'com.shop.invoice.issued' },
    });
    assert.equal(invoices.status, 201, JSON.stringify(invoices.body));
  });
  after(async () => {
    await bus?.stop();
    dir.remove();
  });

  test('writes a module that type-checks with typed handlers; a wrong field access does not', async () => {
    const out = join(dir.path, 'shop-types.ts');
    const wrote = await cli(['schemas', 'codegen', '--lang', 'ts', '--out', out, ...url]);
    assert.equal(wrote.code, EXIT.ok, wrote.err);
    assert.equal(wrote.out, `wrote ${out}: Invoices (invoices v1), OrderCreated (order-created v1)\n`);
    const code = readFileSync(out, 'utf8');
    assert.match(code, /export interface OrderCreated \{/);
    assert.match(
      code,
      /export interface EventTypes \{\n {2}"com\.shop\.invoice\.issued": Invoices;\n {2}"com\.shop\.order\.created": OrderCreated;\n\}/,
    );

    writeFileSync(
      join(dir.path, 'good.ts'),
      `import type { CloudEvent, EventOf, OrderCreated } from './shop-types.ts';
export async function handler(event: CloudEvent<OrderCreated>) {
  const email: string | undefined = event.data.customer?.email;
  const skus: Array<string | undefined> = (event.data.lines ?? []).map((l) => l.sku);
  const paid: boolean = event.data.status === 'paid';
  return { type: 'com.shop.order.enriched', data: { order: event.data.order, vip: event.data.total > 500, email, skus, paid } };
}
export function amount(event: EventOf<'com.shop.invoice.issued'>): number {
  const customer: string | undefined = event.data.customer;
  return event.data.amount + (customer?.length ?? 0);
}
`,
    );
    const good = await typeCheck(dir.path, ['good.ts']);
    assert.equal(good.code, 0, good.out);

    writeFileSync(
      join(dir.path, 'typo.ts'),
      `import type { CloudEvent, OrderCreated } from './shop-types.ts';
export async function handler(event: CloudEvent<OrderCreated>) {
  return event.data.totl > 500;
}
`,
    );
    const typo = await typeCheck(dir.path, ['typo.ts']);
    assert.notEqual(typo.code, 0, 'a field the schema does not have must not type-check');
    assert.match(
      typo.out,
      /typo\.ts\(3,21\): error TS2551: Property 'totl' does not exist on type 'OrderCreated'/,
    );

    writeFileSync(
      join(dir.path, 'misuse.ts'),
      `import type { EventOf } from './shop-types.ts';
export function handler(event: EventOf<'com.shop.order.created'>): number {
  const status: 'new' | 'paid' | 'cancelled' = event.data.status ?? 'new';
  return event.data.order * 2 + status.length;
}
`,
    );
    const misuse = await typeCheck(dir.path, ['misuse.ts']);
    assert.notEqual(misuse.code, 0);
    assert.match(misuse.out, /misuse\.ts\(4,10\): error TS2362/, misuse.out);
  });

  test('prints to standard output, for the schemas named', async () => {
    const printed = await cli(['schemas', 'codegen', '--lang', 'ts', 'invoices', ...url]);
    assert.equal(printed.code, EXIT.ok, printed.err);
    assert.match(
      printed.out,
      /^\/\* Generated by `junction schemas codegen --lang ts` from the schemas of the bus default/,
    );
    assert.match(
      printed.out,
      /export interface Invoices \{\n {2}amount: number;\n {2}customer\?: InvoicesCustomer;\n\}/,
    );
    assert.match(printed.out, /export type InvoicesCustomer = string;/);
    assert.doesNotMatch(printed.out, /OrderCreated/);
  });

  test('bad input: no --lang, another language, an unknown schema, an unwritable --out', async () => {
    const none = await cli(['schemas', 'codegen', ...url]);
    assert.equal(none.code, EXIT.usage);
    assert.match(none.err, /--lang/);
    const python = await cli(['schemas', 'codegen', '--lang', 'py', ...url]);
    assert.equal(python.code, EXIT.usage);
    assert.match(python.err, /--lang must be ts/);
    const unknown = await cli(['schemas', 'codegen', '--lang', 'ts', 'nope', ...url]);
    assert.equal(unknown.code, EXIT.apiError);
    assert.match(unknown.err, /^NotFound.*junction schemas list/);
    const nowhere = await cli([
      'schemas',
      'codegen',
      '--lang',
      'ts',
      '--out',
      join(dir.path, 'no', 'such', 'dir.ts'),
      ...url,
    ]);
    assert.equal(nowhere.code, EXIT.usage);
    assert.match(nowhere.err, /--out/);
  });
});
