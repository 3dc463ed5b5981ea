/** The shared test suite every RuleStore implementation passes (SQLite, DynamoDB): call `ruleStoreSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Rule } from '../../lib/core/rule-types.ts';
import type { RuleChange, RuleStore } from '../../lib/ports.ts';
import { waitFor } from '../helpers/events.ts';

/** What the factory hands the suite: a fresh, empty store. */
export interface RuleStoreHarness {
  readonly store: RuleStore;
  /** Opens a second store object on the same backing data (for watch across stores). Omit if impossible. */
  readonly openAnother?: () => Promise<RuleStore>;
  /** Closes what the harness opened and removes the backing data. */
  readonly cleanup: () => Promise<void>;
}

/** A complete, valid rule with one HTTP target; `overrides` replace top-level fields. */
export function makeRule(name: string, overrides: Partial<Rule> = {}): Rule {
  return {
    name,
    description: `rule ${name}`,
    enabled: true,
    pattern: { type: ['com.shop.order.created'], data: { total: [{ numeric: ['>', 100] }] } },
    targets: [
      {
        id: 'audit',
        type: 'http',
        url: 'https://audit.example.com/hook',
        method: 'POST',
        mode: 'binary',
        delivery: 'at-least-once',
        concurrency: 16,
        timeoutMs: 10_000,
        retry: {
          maxAttempts: 185,
          maxAgeSeconds: 86_400,
          backoff: { kind: 'exponential', initialMs: 1000, maxMs: 300_000, jitter: true },
        },
      },
    ],
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

/** Registers the RuleStore suite under `describe(name)`; `open` must answer a fresh, empty store each call. */
export function ruleStoreSuite(name: string, open: () => Promise<RuleStoreHarness>): void {
  async function withStore(run: (harness: RuleStoreHarness) => Promise<void>): Promise<void> {
    const harness = await open();
    try {
      await run(harness);
    } finally {
      await harness.cleanup();
    }
  }

  describe(name, () => {
    test('creates a rule, then replaces it, answering whether it existed', () =>
      withStore(async ({ store }) => {
        assert.deepEqual(await store.put(makeRule('orders')), { created: true });
        const replaced = makeRule('orders', {
          description: 'changed',
          enabled: false,
          updatedAt: 1_800_000_000_000,
        });
        assert.deepEqual(await store.put(replaced), { created: false });
        assert.deepEqual(await store.get('orders'), replaced);
      }));

    test('gets a rule back exactly as put, with filter and every target field', () =>
      withStore(async ({ store }) => {
        const rule = makeRule('full', {
          filter: "type = 'a' AND data.total > 10",
          pattern: {
            source: [{ prefix: 'urn:' }],
            data: { tags: ['x', 'y'], nested: { deep: [{ exists: true }] } },
          },
          targets: [
            ...makeRule('x').targets,
            {
              id: 'fn',
              type: 'function',
              function: 'fulfil-order',
              delivery: 'exactly-once',
              concurrency: 2,
              timeoutMs: 5000,
              input: { paths: { order: '$.data.id' }, template: '{"order": <order>}' },
              retry: {
                maxAttempts: 8,
                maxAgeSeconds: 3600,
                backoff: { kind: 'fixed', initialMs: 10, maxMs: 10, jitter: false },
              },
            },
          ],
        });
        await store.put(rule);
        assert.deepEqual(await store.get('full'), rule);
      }));

    test('answers undefined for a rule that does not exist', () =>
      withStore(async ({ store }) => {
        assert.equal(await store.get('missing'), undefined);
      }));

    test('lists every rule sorted by name', () =>
      withStore(async ({ store }) => {
        assert.deepEqual(await store.list(), []);
        for (const n of ['delta', 'alpha', 'charlie', 'bravo']) await store.put(makeRule(n));
        assert.deepEqual(
          (await store.list()).map((r) => r.name),
          ['alpha', 'bravo', 'charlie', 'delta'],
        );
      }));

    test('deletes a rule, answering whether it existed', () =>
      withStore(async ({ store }) => {
        await store.put(makeRule('gone'));
        assert.equal(await store.delete('gone'), true);
        assert.equal(await store.get('gone'), undefined);
        assert.equal(await store.delete('gone'), false);
        assert.deepEqual(await store.list(), []);
      }));

    test('tells a watcher about puts and deletes, and stops after unsubscribe', () =>
      withStore(async ({ store }) => {
        const changes: RuleChange[] = [];
        const unsubscribe = store.watch((change) => changes.push(change));
        const rule = makeRule('watched');
        await store.put(rule);
        await waitFor(() => changes.length >= 1, 'the put change');
        await store.delete('watched');
        await waitFor(() => changes.length >= 2, 'the delete change');
        assert.deepEqual(changes, [
          { kind: 'put', rule },
          { kind: 'delete', name: 'watched' },
        ]);
        unsubscribe();
        await store.put(makeRule('after'));
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(changes.length, 2);
      }));

    test('tells a watcher about changes made through another store on the same data', () =>
      withStore(async ({ store, openAnother }) => {
        if (!openAnother) return;
        const other = await openAnother();
        const changes: RuleChange[] = [];
        const unsubscribe = store.watch((change) => changes.push(change));
        const rule = makeRule('elsewhere');
        await other.put(rule);
        await waitFor(
          () => changes.some((c) => c.kind === 'put' && c.rule.name === 'elsewhere'),
          'the put made elsewhere',
        );
        await other.delete('elsewhere');
        await waitFor(
          () => changes.some((c) => c.kind === 'delete' && c.name === 'elsewhere'),
          'the delete made elsewhere',
        );
        unsubscribe();
        const put = changes.find((c) => c.kind === 'put');
        assert.deepEqual(put, { kind: 'put', rule });
      }));
  });
}
