/**
 * Issue 11, traces: `GET /events/{id}/trace?follow=true` follows into the events functions returned (ids like
 * `order-1.tree.fn.0`), recursively, at most 8 levels deep and 100 nodes in all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureFunction, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';

interface Tree {
  source: string;
  id: string;
  entries: Array<{ kind: string }>;
  emitted: Tree[];
  truncated?: boolean;
}

function count(tree: Tree): number {
  return 1 + tree.emitted.reduce((n, child) => n + count(child), 0);
}

function depth(tree: Tree): number {
  return tree.emitted.length === 0 ? 0 : 1 + Math.max(...tree.emitted.map(depth));
}

describe('trace follow', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus();
    assert.equal(
      (await request(bus.url, 'PUT', '/functions/tree', fixtureFunction('emit-tree'))).status,
      200,
    );
    const put = await request(bus.url, 'PUT', '/rules/tree', {
      pattern: { type: ['tree'] },
      targets: [{ id: 'fn', type: 'function', function: 'tree' }],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
  });
  after(() => bus.stop());

  async function publish(id: string, data: unknown): Promise<void> {
    const res = await request(bus.url, 'POST', '/events', JSON.stringify(data), {
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/orders',
      'ce-type': 'tree',
      'content-type': 'application/json',
    });
    assert.equal(res.status, 202);
  }

  async function follow(id: string): Promise<Tree> {
    const res = await request(bus.url, 'GET', `/events/${id}/trace?source=%2Forders&follow=true`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }

  test('nests the trace of every event a function returned, recursively', async () => {
    await publish('order-1', { level: 0, depth: 2, fanout: 2 });
    let tree = await follow('order-1');
    await waitFor(async () => {
      tree = await follow('order-1');
      const leaves = tree.emitted.flatMap((c) => c.emitted);
      return leaves.length === 4 && leaves.every((l) => l.entries.some((e) => e.kind === 'delivered'));
    }, 'the whole tree traced');
    assert.equal(count(tree), 7);
    assert.equal(tree.truncated, undefined);
    assert.equal(tree.id, 'order-1');
    assert.deepEqual(
      tree.emitted.map((c) => c.id),
      ['order-1.tree.fn.0', 'order-1.tree.fn.1'],
    );
    assert.equal(tree.emitted[0]?.source, '/functions/tree');
    assert.deepEqual(
      tree.emitted[0]?.emitted.map((c) => c.id),
      ['order-1.tree.fn.0.tree.fn.0', 'order-1.tree.fn.0.tree.fn.1'],
    );
    assert.ok(tree.emitted[0]?.entries.some((e) => e.kind === 'received'));
    const plain = await request(bus.url, 'GET', '/events/order-1/trace?source=%2Forders');
    assert.equal(plain.body.emitted, undefined, 'without follow the trace is as before');
    const bad = await request(bus.url, 'GET', '/events/order-1/trace?source=%2Forders&follow=yes');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'follow');
  });

  test('stops 8 levels below the event and says it cut the tree', async () => {
    await publish('chain-1', { level: 0, depth: 10, fanout: 1 });
    let tree = await follow('chain-1');
    await waitFor(async () => {
      tree = await follow('chain-1');
      return tree.truncated === true;
    }, 'the chain traced past 8 levels');
    assert.equal(depth(tree), 8);
    assert.equal(count(tree), 9);
  });

  test('answers at most 100 nodes', async () => {
    await publish('wide-1', { level: 0, depth: 3, fanout: 5 });
    let tree = await follow('wide-1');
    await waitFor(
      async () => {
        tree = await follow('wide-1');
        return tree.truncated === true;
      },
      'more than 100 events traced',
      60_000,
    );
    assert.equal(count(tree), 100);
  });
});
