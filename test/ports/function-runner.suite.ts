/** The shared test suite every FunctionRunner passes (worker threads, Lambda): call `functionRunnerSuite` from a test. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import type { FunctionConfig, FunctionRunner, InvocationContext } from '../../lib/ports.ts';
import { repoRoot } from '../helpers/paths.ts';

/** The sample user functions in test/fixtures/functions. */
export type FixtureName =
  | 'echo'
  | 'noop'
  | 'throws'
  | 'never-returns'
  | 'busy-loop'
  | 'allocate'
  | 'emit-many'
  | 'append-line';

export const functionFixturesDir = join(repoRoot, 'test', 'fixtures', 'functions');

/** The source of a sample function, as a deploy takes it. */
export function functionFixture(name: FixtureName): Uint8Array {
  return readFileSync(join(functionFixturesDir, `${name}.ts`));
}

/** What the factory hands the suite: a runner with no functions deployed. */
export interface FunctionRunnerHarness {
  readonly runner: FunctionRunner;
  /** Closes the runner (if the suite has not) and removes its data. */
  readonly cleanup: () => Promise<void>;
}

/** Optional capabilities; tests that need one are skipped without it. */
export interface FunctionRunnerCapabilities {
  /** The runner stops a handler that runs past its timeout. @default true */
  readonly timeouts?: boolean;
  /** `context.timeoutMs` overrides the function's timeout per call. @default true */
  readonly perCallTimeout?: boolean;
  /** Deploy loads the module and rejects one without a `handler` function. @default true */
  readonly handlerCheck?: boolean;
  /** The runner stops a handler that exceeds its memory. @default true */
  readonly outOfMemory?: boolean;
  /** The timeout the suite deploys its slow functions with, in ms. @default 400 */
  readonly timeoutMs?: number;
  /** The memory the suite deploys `allocate` with, in MB. @default 32 */
  readonly memoryMb?: number;
}

let sequence = 0;

function event(data: unknown = { n: 1 }): CloudEvent {
  sequence += 1;
  return Object.freeze({
    specversion: '1.0',
    id: `suite-${sequence}`,
    source: 'urn:test:functions',
    type: 'com.example.ping',
    data,
  }) as CloudEvent;
}

function context(functionName: string, overrides: Partial<InvocationContext> = {}): InvocationContext {
  return {
    functionName,
    rule: 'r1',
    target: 't1',
    idempotencyKey: `k-${sequence}`,
    attempt: 1,
    ...overrides,
  };
}

function text(source: string): Uint8Array {
  return new TextEncoder().encode(source);
}

/** Asserts that `promise` rejects with a JunctionError of `code` and answers it. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<JunctionError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof JunctionError, `expected a JunctionError, got ${String(error)}`);
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** Registers the FunctionRunner suite under `describe(name)`; `open` answers a fresh runner with no functions. */
export function functionRunnerSuite(
  name: string,
  open: () => Promise<FunctionRunnerHarness>,
  capabilities: FunctionRunnerCapabilities = {},
): void {
  const timeoutMs = capabilities.timeoutMs ?? 400;
  const memoryMb = capabilities.memoryMb ?? 32;
  const slow: FunctionConfig = { timeoutMs };

  describe(name, () => {
    let harness: FunctionRunnerHarness;
    let runner: FunctionRunner;

    before(async () => {
      harness = await open();
      runner = harness.runner;
      await runner.deploy('echo', functionFixture('echo'));
    });

    after(async () => {
      await runner.close();
      await harness.cleanup();
    });

    test('deploys a function and answers the events its handler returns', async () => {
      const input = event({ order: 7 });
      const result = await runner.invoke('echo', input, context('echo', { attempt: 3 }));
      assert.equal(result.returned.length, 1);
      assert.deepEqual(result.returned[0], {
        specversion: '1.0',
        id: `${input.id}-echo`,
        source: 'fn/echo',
        type: 'com.example.ping.echoed',
        data: { echoed: { order: 7 }, attempt: 3 },
      });
      assert.ok(result.durationMs >= 0);
    });

    test('describes deployed functions with size, sha256 and config', async () => {
      const info = await runner.deploy('described', functionFixture('noop'), {
        timeoutMs: 1234,
        memoryMb: 64,
      });
      assert.equal(info.name, 'described');
      assert.ok(info.size > 0);
      assert.match(info.sha256, /^[0-9a-f]{64}$/);
      assert.equal(info.timeoutMs, 1234);
      assert.equal(info.memoryMb, 64);
      assert.deepEqual(await runner.get('described'), info);
      const names = (await runner.list()).map((fn) => fn.name);
      assert.ok(names.includes('described') && names.includes('echo'));
      assert.deepEqual(names, [...names].sort());
    });

    test('answers an empty list for a handler that returns nothing', async () => {
      await runner.deploy('noop', functionFixture('noop'));
      const result = await runner.invoke('noop', event(), context('noop'));
      assert.deepEqual(result.returned, []);
    });

    test('answers every event of a returned array, in order', async () => {
      await runner.deploy('emit-many', functionFixture('emit-many'));
      const input = event({ count: 4 });
      const result = await runner.invoke('emit-many', input, context('emit-many'));
      assert.deepEqual(
        result.returned.map((item) => (item as { id: string }).id),
        [0, 1, 2, 3].map((index) => `${input.id}-${index}`),
      );
    });

    test('builds a TypeScript function with types, interfaces and generics', async () => {
      const source = [
        'interface Order { readonly id: string; readonly total: number }',
        'type Doubled<T> = { [K in keyof T]: T[K] };',
        'function pick<T, K extends keyof T>(value: T, key: K): T[K] { return value[key]; }',
        'export async function handler(event: { id: string; data: Order }): Promise<Doubled<{ id: string; total: number }>> {',
        '  const total = pick(event.data, "total") as number;',
        '  return { id: event.id + "-typed", total: total * 2 };',
        '}',
      ].join('\n');
      await runner.deploy('typed', text(source));
      const input = event({ id: 'o1', total: 21 });
      const result = await runner.invoke('typed', input, context('typed'));
      assert.deepEqual(result.returned, [{ id: `${input.id}-typed`, total: 42 }]);
    });

    test('rejects a syntax error with InvalidFunction naming the line and column', async () => {
      const source = 'export function handler(event) {\n  const a = 1;\n  return {id: a +};\n}\n';
      const error = await rejectsWith(runner.deploy('broken', text(source)), 'InvalidFunction');
      assert.equal(error.field, 'source');
      assert.match(error.message, /^3:\d+: /);
      assert.equal(await runner.get('broken'), undefined);
    });

    test('rejects a module without a handler export and keeps the deployed version', {
      skip: capabilities.handlerCheck === false,
    }, async () => {
      await runner.deploy('kept', functionFixture('echo'));
      const before = await runner.get('kept');
      const error = await rejectsWith(
        runner.deploy('kept', text('export const notHandler = 1;\n')),
        'InvalidFunction',
      );
      assert.match(error.message, /handler/);
      assert.deepEqual(await runner.get('kept'), before);
      const result = await runner.invoke('kept', event(), context('kept'));
      assert.equal(result.returned.length, 1);
    });

    test('rejects a handler export that is not a function', {
      skip: capabilities.handlerCheck === false,
    }, async () => {
      await rejectsWith(runner.deploy('not-fn', text('export const handler = 42;\n')), 'InvalidFunction');
    });

    test('rejects an invalid name with InvalidFunction naming the field name', async () => {
      for (const bad of ['', '-lead', 'has space', 'a/b', 'x'.repeat(65), '../up']) {
        const error = await rejectsWith(runner.deploy(bad, functionFixture('noop')), 'InvalidFunction');
        assert.equal(error.field, 'name');
        assert.ok(error.message.includes(JSON.stringify(bad)), error.message);
      }
    });

    test('rejects a thrown error with a retriable FunctionError and serves the next call', async () => {
      await runner.deploy('throws', functionFixture('throws'));
      const input = event();
      const error = await rejectsWith(runner.invoke('throws', input, context('throws')), 'FunctionError');
      assert.equal(error.retriable, true);
      assert.ok(error.message.includes(`boom: ${input.id}`), error.message);
      const detail = error.details?.error as { message?: string; stack?: string } | undefined;
      assert.equal(detail?.message, `boom: ${input.id}`);
      assert.ok(typeof detail?.stack === 'string' && detail.stack.includes('boom'));
      const next = event({ fail: false });
      const result = await runner.invoke('throws', next, context('throws'));
      assert.deepEqual(result.returned, [{ id: `${next.id}-ok` }]);
    });

    test('rejects a return value that is not an event or an array of events', async () => {
      await runner.deploy('returns-number', text('export const handler = () => 42;\n'));
      const error = await rejectsWith(
        runner.invoke('returns-number', event(), context('returns-number')),
        'FunctionError',
      );
      assert.match(error.message, /number 42/);
      await runner.deploy('returns-strings', text('export const handler = () => ["a"];\n'));
      await rejectsWith(
        runner.invoke('returns-strings', event(), context('returns-strings')),
        'FunctionError',
      );
    });

    test('answers NotFound for a function that was never deployed', async () => {
      await rejectsWith(runner.invoke('missing', event(), context('missing')), 'NotFound');
    });

    test('replaces a function on redeploy', async () => {
      await runner.deploy('versioned', text('export const handler = () => ({ id: "v1" });\n'));
      const first = await runner.invoke('versioned', event(), context('versioned'));
      const info = await runner.deploy('versioned', text('export const handler = () => ({ id: "v2" });\n'));
      const second = await runner.invoke('versioned', event(), context('versioned'));
      assert.deepEqual([first.returned, second.returned], [[{ id: 'v1' }], [{ id: 'v2' }]]);
      assert.equal((await runner.get('versioned'))?.sha256, info.sha256);
    });

    test('deletes a function', async () => {
      await runner.deploy('doomed', functionFixture('noop'));
      await runner.invoke('doomed', event(), context('doomed'));
      assert.equal(await runner.delete('doomed'), true);
      assert.equal(await runner.get('doomed'), undefined);
      assert.ok(!(await runner.list()).some((fn) => fn.name === 'doomed'));
      await rejectsWith(runner.invoke('doomed', event(), context('doomed')), 'NotFound');
      assert.equal(await runner.delete('doomed'), false);
    });

    test('completes several invocations in parallel', async () => {
      const source =
        'export async function handler(e) { await new Promise((r) => setTimeout(r, 30)); return { id: e.id }; }\n';
      await runner.deploy('parallel', text(source));
      const inputs = Array.from({ length: 8 }, (_, index) => event({ index }));
      const results = await Promise.all(
        inputs.map((input) => runner.invoke('parallel', input, context('parallel'))),
      );
      assert.deepEqual(
        results.map((result) => result.returned),
        inputs.map((input) => [{ id: input.id }]),
      );
    });

    test('stops a handler that never settles with a retriable FunctionTimeout and keeps serving', {
      skip: capabilities.timeouts === false,
    }, async () => {
      await runner.deploy('never-returns', functionFixture('never-returns'), slow);
      const started = Date.now();
      const error = await rejectsWith(
        runner.invoke('never-returns', event(), context('never-returns')),
        'FunctionTimeout',
      );
      assert.equal(error.retriable, true);
      assert.ok(Date.now() - started >= timeoutMs - 20, 'it waited for the timeout');
      assert.ok(error.message.includes(`${timeoutMs} ms`), error.message);
      assert.equal((await runner.invoke('echo', event(), context('echo'))).returned.length, 1);
      await rejectsWith(runner.invoke('never-returns', event(), context('never-returns')), 'FunctionTimeout');
    });

    test('stops a busy loop with FunctionTimeout and serves the next call', {
      skip: capabilities.timeouts === false,
    }, async () => {
      await runner.deploy('busy-loop', functionFixture('busy-loop'), slow);
      const error = await rejectsWith(
        runner.invoke('busy-loop', event(), context('busy-loop')),
        'FunctionTimeout',
      );
      assert.equal(error.retriable, true);
      assert.equal((await runner.invoke('echo', event(), context('echo'))).returned.length, 1);
      await rejectsWith(runner.invoke('busy-loop', event(), context('busy-loop')), 'FunctionTimeout');
    });

    test('takes the timeout of the call from the context when given', {
      skip: capabilities.timeouts === false || capabilities.perCallTimeout === false,
    }, async () => {
      await runner.deploy('never-returns-long', functionFixture('never-returns'), { timeoutMs: 60_000 });
      const error = await rejectsWith(
        runner.invoke('never-returns-long', event(), context('never-returns-long', { timeoutMs: 150 })),
        'FunctionTimeout',
      );
      assert.ok(error.message.includes('150 ms'), error.message);
    });

    test('stops a handler that allocates without bound with FunctionOutOfMemory and keeps serving', {
      skip: capabilities.outOfMemory === false,
    }, async () => {
      await runner.deploy('allocate', functionFixture('allocate'), { memoryMb, timeoutMs: 20_000 });
      const error = await rejectsWith(
        runner.invoke('allocate', event(), context('allocate')),
        'FunctionOutOfMemory',
      );
      assert.equal(error.retriable, true);
      assert.equal((await runner.invoke('echo', event(), context('echo'))).returned.length, 1);
      await runner.deploy('after-oom', text('export const handler = (e) => ({ id: e.id });\n'), { memoryMb });
      assert.equal((await runner.invoke('after-oom', event(), context('after-oom'))).returned.length, 1);
    });
  });
}
