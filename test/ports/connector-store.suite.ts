/** The shared test suite every ConnectorStore implementation passes: call `connectorStoreSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ConnectorDefinition, validateConnectorSpec } from '../../lib/core/connector.ts';
import type { ConnectorStore } from '../../lib/ports.ts';

export interface ConnectorStoreHarness {
  readonly store: ConnectorStore;
  /** Opens the same data again (a restart); omit where impossible. */
  readonly reopen?: () => Promise<ConnectorStore>;
  readonly cleanup: () => Promise<void>;
}

function definition(name: string, overrides: Partial<ConnectorDefinition> = {}): ConnectorDefinition {
  return {
    name,
    spec: validateConnectorSpec({
      type: 'kafka',
      brokers: ['127.0.0.1:9092'],
      topic: `t-${name}`,
      group: 'g',
      mapping: { type: 'com.x.{topic}', subject: '{key}' },
    }),
    paused: false,
    createdAt: 1_000,
    updatedAt: 2_000,
    ...overrides,
  };
}

export function connectorStoreSuite(name: string, open: () => Promise<ConnectorStoreHarness>): void {
  describe(name, () => {
    test('puts a connector and gets it back exactly', async () => {
      const { store, cleanup } = await open();
      try {
        const one = definition('orders');
        await store.put(one);
        assert.deepEqual(await store.get('orders'), one);
        assert.equal(await store.get('missing'), undefined);
      } finally {
        await cleanup();
      }
    });

    test('replaces a connector with the same name, keeping one', async () => {
      const { store, cleanup } = await open();
      try {
        await store.put(definition('orders'));
        const paused = definition('orders', { paused: true, updatedAt: 3_000 });
        await store.put(paused);
        assert.deepEqual(await store.list(), [paused]);
      } finally {
        await cleanup();
      }
    });

    test('lists by name and deletes, answering whether it existed', async () => {
      const { store, cleanup } = await open();
      try {
        await store.put(definition('b'));
        await store.put(definition('a'));
        assert.deepEqual(
          (await store.list()).map((d) => d.name),
          ['a', 'b'],
        );
        assert.equal(await store.delete('a'), true);
        assert.equal(await store.delete('a'), false);
        assert.deepEqual(
          (await store.list()).map((d) => d.name),
          ['b'],
        );
      } finally {
        await cleanup();
      }
    });

    test('keeps connectors across a reopen', async (t) => {
      const harness = await open();
      try {
        if (harness.reopen === undefined) {
          t.skip('this store cannot be reopened');
          return;
        }
        await harness.store.put(definition('kept', { paused: true }));
        const again = await harness.reopen();
        assert.deepEqual(await again.get('kept'), definition('kept', { paused: true }));
      } finally {
        await harness.cleanup();
      }
    });
  });
}
