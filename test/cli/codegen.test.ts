/**
 * The TypeScript generator of `junction schemas codegen` on its own: type names from schema names, and nothing fetched
 * for a `$ref` outside the schema (the registry refuses those, but the generator must not fetch one either).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, test } from 'node:test';
import { generateTypes, typeName } from '../../lib/cli/codegen.ts';

describe('codegen', () => {
  test('type names: PascalCase of the words, a leading digit prefixed', () => {
    assert.equal(typeName('invoices'), 'Invoices');
    assert.equal(typeName('order-created'), 'OrderCreated');
    assert.equal(typeName('orders.v2_eu'), 'OrdersV2Eu');
    assert.equal(typeName('2fa-codes'), 'Schema2faCodes');
  });

  test('names that map to one type name, or to a name the module uses, are told apart', async () => {
    const code = await generateTypes(
      [
        { name: 'order-created', version: 1, binding: { type: 'a' }, schema: { type: 'string' } },
        { name: 'order.created', version: 1, binding: { type: 'a' }, schema: { type: 'integer' } },
        { name: 'cloud-event', version: 1, binding: { dataschema: 'urn:x' }, schema: { type: 'boolean' } },
      ],
      'a test',
    );
    assert.match(code, /export type CloudEvent2 = boolean;/);
    assert.match(code, /export type OrderCreated = string;/);
    assert.match(code, /export type OrderCreated2 = number;/);
    assert.match(code, /"a": OrderCreated \| OrderCreated2;/);
  });

  test('fetches nothing for a $ref outside the schema', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.end('{"type": "string"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      await generateTypes(
        [
          {
            name: 'remote',
            version: 1,
            binding: { type: 'r' },
            schema: { type: 'object', properties: { x: { $ref: `http://127.0.0.1:${port}/x.json` } } },
          },
        ],
        'a test',
      ).catch(() => undefined);
      assert.equal(hits, 0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
