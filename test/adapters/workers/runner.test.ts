/** The worker-thread FunctionRunner: the shared suite, plus what only the embedded runner does. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  createWorkerRunner,
  type WorkerRunner,
  type WorkerRunnerOptions,
} from '../../../lib/adapters/workers/index.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import type { InvocationContext } from '../../../lib/ports.ts';
import { waitFor } from '../../helpers/events.ts';
import { tempDir } from '../../helpers/paths.ts';
import { functionFixture, functionRunnerSuite } from '../../ports/function-runner.suite.ts';
import { makeZip } from './make-zip.ts';

functionRunnerSuite('worker runner (processes)', async () => {
  const dir = tempDir('junction-fn-');
  const runner = await createWorkerRunner({ dataDir: dir.path, logger: () => {} });
  return {
    runner,
    cleanup: async () => {
      await runner.close();
      dir.remove();
    },
  };
});

const text = (source: string): Uint8Array => new TextEncoder().encode(source);

function ping(data: unknown = {}): CloudEvent {
  return Object.freeze({
    specversion: '1.0',
    id: `w-${Math.random()}`,
    source: 'urn:test',
    type: 'ping',
    data,
  }) as CloudEvent;
}

function context(functionName: string): InvocationContext {
  return { functionName, rule: 'r', target: 't', idempotencyKey: 'k', attempt: 1 };
}

async function withRunnerIn(
  options: Partial<WorkerRunnerOptions>,
  run: (runner: WorkerRunner, dataDir: string) => Promise<void>,
): Promise<void> {
  const dir = tempDir('junction-fn-');
  const runner = await createWorkerRunner({ dataDir: dir.path, logger: () => {}, ...options });
  try {
    await run(runner, dir.path);
  } finally {
    await runner.close();
    dir.remove();
  }
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof JunctionError ? error.code : `not a JunctionError: ${String(error)}`;
  }
}

const THREAD_ID =
  'import { threadId } from "node:worker_threads";\n' +
  'export async function handler(e) { await new Promise((r) => setTimeout(r, e.data.ms ?? 0)); return { id: String(threadId) }; }\n';

functionRunnerSuite('worker runner (threads)', async () => {
  const dir = tempDir('junction-fn-');
  const runner = await createWorkerRunner({ dataDir: dir.path, logger: () => {}, isolation: 'thread' });
  return {
    runner,
    cleanup: async () => {
      await runner.close();
      dir.remove();
    },
  };
});

for (const isolation of ['process', 'thread'] as const) {
  describe(`worker runner (embedded only, ${isolation})`, () => {
    const withRunner = (
      options: Partial<WorkerRunnerOptions>,
      run: (runner: WorkerRunner, dataDir: string) => Promise<void>,
    ): Promise<void> => withRunnerIn({ isolation, ...options }, run);
    const threadsOnly = { skip: isolation === 'thread' ? false : 'worker threads only' };

    test('serves functions deployed before from a new runner on the same data dir', async () => {
      const dir = tempDir('junction-fn-');
      try {
        const first = await createWorkerRunner({ dataDir: dir.path, logger: () => {} });
        const info = await first.deploy('echo', functionFixture('echo'), { timeoutMs: 2000, memoryMb: 48 });
        await first.close();
        const second = await createWorkerRunner({ dataDir: dir.path, logger: () => {} });
        try {
          assert.deepEqual(await second.list(), [info]);
          const result = await second.invoke('echo', ping({ a: 1 }), context('echo'));
          assert.equal(result.returned.length, 1);
        } finally {
          await second.close();
        }
      } finally {
        dir.remove();
      }
    });

    test('runs the append-line fixture, one line per execution in the file named by data.file', async () => {
      // The sandbox writes nowhere unless told; as root it also runs as nobody, who cannot write the temp dir.
      const out = tempDir('junction-lines-');
      try {
        await withRunner({ sandbox: { user: false, allowWrite: [out.path] } }, async (runner) => {
          const file = join(out.path, 'lines.txt');
          await runner.deploy('append-line', functionFixture('append-line'));
          const first = ping({ file });
          const second = ping({ file });
          await runner.invoke('append-line', first, context('append-line'));
          await runner.invoke('append-line', second, context('append-line'));
          assert.equal(readFileSync(file, 'utf8'), `urn:test ${first.id}\nurn:test ${second.id}\n`);
        });
      } finally {
        out.remove();
      }
    });

    test('sends console output and context.log to the logger, line by line, with the function name', async () => {
      const lines: string[] = [];
      const source =
        'export function handler(e, context) { console.log("hello", e.data.who); console.error("to stderr"); context.log("via", "context"); }\n';
      await withRunner({ logger: (fn, line) => lines.push(`${fn}|${line}`) }, async (runner) => {
        await runner.deploy('chatty', text(source));
        await runner.invoke('chatty', ping({ who: 'world' }), context('chatty'));
        await waitFor(() => lines.length >= 3, 'three log lines', 5000);
        assert.deepEqual(lines.sort(), ['chatty|hello world', 'chatty|to stderr', 'chatty|via context']);
      });
    });

    test('logs what a call printed before its thread was killed by the timeout', async () => {
      const lines: string[] = [];
      const source =
        'export function handler(e) { console.log("started", e.id); if (e.data.spin) while (true) {} }\n';
      await withRunner({ logger: (_fn, line) => lines.push(line) }, async (runner) => {
        await runner.deploy('last-words', text(source), { timeoutMs: 500 });
        await runner.invoke('last-words', ping({ spin: false }), context('last-words'));
        await waitFor(() => lines.length === 1, 'the warm-up line', 5000);
        const input = ping({ spin: true });
        assert.equal(
          await codeOf(runner.invoke('last-words', input, context('last-words'))),
          'FunctionTimeout',
        );
        assert.equal(lines[1], `started ${input.id}`);
      });
    });

    test('keeps serving when the logger throws', async () => {
      await withRunner(
        {
          logger: () => {
            throw new Error('logger down');
          },
        },
        async (runner) => {
          await runner.deploy(
            'chatty',
            text('export function handler() { console.log("x"); return { id: "ok" }; }\n'),
          );
          const result = await runner.invoke('chatty', ping(), context('chatty'));
          await new Promise((resolve) => setTimeout(resolve, 50));
          assert.deepEqual(result.returned, [{ id: 'ok' }]);
        },
      );
    });

    test('hands the handler a frozen copy of the event and the invocation context', async () => {
      const source =
        'export function handler(e, c) { let mutated = true; try { e.data.x = 2; } catch { mutated = false; }\n' +
        '  return { id: e.id, mutated, frozen: Object.isFrozen(e.data), context: { ...c, log: typeof c.log } }; }\n';
      await withRunner({ clock: { now: () => 1_000_000 } }, async (runner) => {
        await runner.deploy('inspect', text(source), { timeoutMs: 500 });
        const input = ping({ x: 1 });
        const ctx: InvocationContext = {
          functionName: 'inspect',
          rule: 'r9',
          target: 't9',
          idempotencyKey: 'k9',
          attempt: 4,
          possibleDuplicate: true,
        };
        const result = await runner.invoke('inspect', input, ctx);
        assert.deepEqual(result.returned, [
          {
            id: input.id,
            mutated: false,
            frozen: true,
            context: {
              functionName: 'inspect',
              rule: 'r9',
              target: 't9',
              idempotencyKey: 'k9',
              attempt: 4,
              possibleDuplicate: true,
              deadline: 1_000_500,
              log: 'function',
            },
          },
        ]);
      });
    });

    test('fails a call whose handler exits the thread and serves the next one', threadsOnly, async () => {
      const source =
        'export function handler(e) { if (e.data.exit) process.exit(3); return { id: e.id }; }\n';
      await withRunner({}, async (runner) => {
        await runner.deploy('quits', text(source));
        await assert.rejects(
          runner.invoke('quits', ping({ exit: true }), context('quits')),
          (error: unknown) => {
            return (
              error instanceof JunctionError &&
              error.code === 'FunctionError' &&
              /exited with code 3/.test(error.message)
            );
          },
        );
        const input = ping({ exit: false });
        assert.deepEqual((await runner.invoke('quits', input, context('quits'))).returned, [
          { id: input.id },
        ]);
      });
    });

    test('rejects a returned value that cannot be cloned with FunctionError', async () => {
      await withRunner({}, async (runner) => {
        await runner.deploy('fn-value', text('export const handler = () => ({ id: "x", f: () => 1 });\n'));
        assert.equal(await codeOf(runner.invoke('fn-value', ping(), context('fn-value'))), 'FunctionError');
      });
    });

    test('accepts a CommonJS-style module whose default export holds the handler', async () => {
      await withRunner({}, async (runner) => {
        await runner.deploy('cjs', text('module.exports.handler = (e) => ({ id: e.id + "-cjs" });\n'));
        const input = ping();
        assert.deepEqual((await runner.invoke('cjs', input, context('cjs'))).returned, [
          { id: `${input.id}-cjs` },
        ]);
      });
    });

    test('deploys a zip with several files', async () => {
      const zip = makeZip([
        {
          name: 'index.ts',
          contents:
            'import { suffix } from "./suffix.ts";\nexport const handler = (e: { id: string }) => ({ id: e.id + suffix });\n',
        },
        { name: 'suffix.ts', contents: 'export const suffix: string = "-zipped";\n' },
      ]);
      await withRunner({}, async (runner) => {
        await runner.deploy('zipped', zip);
        const input = ping();
        assert.deepEqual((await runner.invoke('zipped', input, context('zipped'))).returned, [
          { id: `${input.id}-zipped` },
        ]);
      });
    });

    test('rejects a module that throws or never finishes while loading', async () => {
      await withRunner({ loadTimeoutMs: 300 }, async (runner) => {
        const throwing = await codeOf(
          runner.deploy('load-throws', text('throw new Error("no");\nexport const handler = () => {};\n')),
        );
        const spinning = await codeOf(
          runner.deploy('load-spins', text('while (true) {}\nexport const handler = () => {};\n'), {
            timeoutMs: 200,
          }),
        );
        assert.deepEqual([throwing, spinning], ['InvalidFunction', 'InvalidFunction']);
        assert.deepEqual(await runner.list(), []);
      });
    });

    test('rejects out-of-range config with InvalidFunction naming the field', async () => {
      await withRunner({}, async (runner) => {
        for (const [config, field] of [
          [{ timeoutMs: 0 }, 'timeoutMs'],
          [{ timeoutMs: 1.5 }, 'timeoutMs'],
          [{ memoryMb: 1 }, 'memoryMb'],
        ] as const) {
          await assert.rejects(runner.deploy('f', functionFixture('noop'), config), (error: unknown) => {
            return (
              error instanceof JunctionError && error.code === 'InvalidFunction' && error.field === field
            );
          });
        }
      });
    });

    test('keeps the config of the previous version when a redeploy gives none', async () => {
      await withRunner({}, async (runner) => {
        await runner.deploy('f', functionFixture('noop'), { timeoutMs: 777, memoryMb: 40 });
        const info = await runner.deploy('f', functionFixture('echo'));
        assert.deepEqual([info.timeoutMs, info.memoryMb], [777, 40]);
      });
    });

    test(
      'reuses warm workers and starts at most maxWorkersPerFunction for one function',
      threadsOnly,
      async () => {
        await withRunner({ maxWorkersPerFunction: 2 }, async (runner) => {
          await runner.deploy('threads', text(THREAD_ID));
          const results = await Promise.all(
            Array.from({ length: 6 }, () => runner.invoke('threads', ping({ ms: 40 }), context('threads'))),
          );
          const threads = new Set(results.map((result) => (result.returned[0] as { id: string }).id));
          assert.equal(threads.size, 2);
          await runner.invoke('threads', ping({ ms: 0 }), context('threads'));
          assert.equal(runner.stats().started, 2);
          assert.equal(runner.stats().workers, 2);
        });
      },
    );

    test('makes room under maxWorkers by stopping idle workers of other functions', async () => {
      await withRunner({ maxWorkers: 1 }, async (runner) => {
        await runner.deploy('a', text(THREAD_ID));
        await runner.deploy('b', text(THREAD_ID));
        for (const name of ['a', 'b', 'a', 'b']) {
          assert.equal((await runner.invoke(name, ping({ ms: 0 }), context(name))).returned.length, 1);
          assert.ok(runner.stats().workers <= 1);
        }
        assert.equal(runner.stats().started, 4);
      });
    });

    test('gives a function with no worker a turn when another keeps the only slot busy', async () => {
      await withRunner({ maxWorkers: 1 }, async (runner) => {
        await runner.deploy('greedy', text(THREAD_ID));
        await runner.deploy('modest', text(THREAD_ID));
        const done: string[] = [];
        const greedy = Array.from({ length: 6 }, () =>
          runner.invoke('greedy', ping({ ms: 20 }), context('greedy')).then(() => done.push('greedy')),
        );
        await waitFor(() => runner.stats().busy === 1, 'greedy to start', 5000);
        const modest = runner
          .invoke('modest', ping({ ms: 0 }), context('modest'))
          .then(() => done.push('modest'));
        await Promise.all([...greedy, modest]);
        assert.ok(
          done.indexOf('modest') < 5,
          `modest finished at ${done.indexOf('modest')} of ${done.length}`,
        );
      });
    });

    test('runs new invocations on the new version while a call on the old one finishes', async () => {
      const version = (tag: string): Uint8Array =>
        text(
          `export async function handler(e) { await new Promise((r) => setTimeout(r, e.data.ms ?? 0)); return { id: "${tag}" }; }\n`,
        );
      await withRunner({}, async (runner) => {
        await runner.deploy('live', version('old'));
        const slow = runner.invoke('live', ping({ ms: 300 }), context('live'));
        await waitFor(() => runner.stats().busy === 1, 'the slow call to start', 5000);
        await runner.deploy('live', version('new'));
        const fresh = await runner.invoke('live', ping({ ms: 0 }), context('live'));
        assert.deepEqual(fresh.returned, [{ id: 'new' }]);
        assert.deepEqual((await slow).returned, [{ id: 'old' }]);
        await waitFor(() => runner.stats().workers === 1, 'the old worker to go', 5000);
      });
    });

    test(
      'gives a call that waited for a busy worker its whole timeout once it runs',
      threadsOnly,
      async () => {
        await withRunner({ maxWorkersPerFunction: 1 }, async (runner) => {
          await runner.deploy('hog', functionFixture('never-returns'), { timeoutMs: 300 });
          const calls = [
            runner.invoke('hog', ping(), context('hog')),
            runner.invoke('hog', ping(), context('hog')),
          ];
          const outcomes = await Promise.allSettled(calls);
          const messages = outcomes.map((outcome) => {
            assert.equal(outcome.status, 'rejected');
            const error = (outcome as PromiseRejectedResult).reason;
            assert.ok(error instanceof JunctionError && error.code === 'FunctionTimeout', String(error));
            return error.message;
          });
          // Waiting for the busy worker (and starting a new one after the first call's was stopped) is not run time.
          assert.match(messages[0] ?? '', /did not finish within 300 ms/);
          assert.match(messages[1] ?? '', /did not finish within 300 ms/);
        });
      },
    );

    test('stops workers that stay idle longer than idleTimeoutMs', async () => {
      await withRunner({ idleTimeoutMs: 100 }, async (runner) => {
        await runner.deploy('idle', functionFixture('noop'));
        await runner.invoke('idle', ping(), context('idle'));
        assert.equal(runner.stats().workers, 1);
        await waitFor(() => runner.stats().workers === 0, 'the idle worker to stop', 5000);
        await runner.invoke('idle', ping(), context('idle'));
        assert.equal(runner.stats().started, 2);
      });
    });

    test('stops the workers of a deleted function and fails its running call', async () => {
      await withRunner({}, async (runner) => {
        await runner.deploy('gone', functionFixture('never-returns'), { timeoutMs: 10_000 });
        const running = runner.invoke('gone', ping(), context('gone')).then(
          () => undefined,
          (error: unknown) => error,
        );
        await waitFor(() => runner.stats().busy === 1, 'the call to start', 5000);
        assert.equal(await runner.delete('gone'), true);
        const error = await running;
        assert.ok(error instanceof JunctionError && error.code === 'FunctionError', String(error));
        assert.match(error.message, /gone was deleted while it ran/);
        await assert.rejects(runner.invoke('gone', ping(), context('gone')), /does not exist/);
        await waitFor(() => runner.stats().workers === 0, 'the workers to stop', 5000);
      });
    });

    test('terminates everything on close and refuses calls afterwards', async () => {
      const dir = tempDir('junction-fn-');
      try {
        const runner = await createWorkerRunner({ dataDir: dir.path, logger: () => {} });
        await runner.deploy('hang', functionFixture('never-returns'), { timeoutMs: 10_000 });
        const running = codeOf(runner.invoke('hang', ping(), context('hang')));
        await waitFor(() => runner.stats().busy === 1, 'the call to start', 5000);
        await runner.close();
        assert.equal(await running, 'FunctionError');
        assert.equal(runner.stats().workers, 0);
        assert.equal(await codeOf(runner.invoke('hang', ping(), context('hang'))), 'Internal');
      } finally {
        dir.remove();
      }
    });

    test('rejects invalid options naming the option', async () => {
      for (const [options, field] of [
        [{ dataDir: '' }, 'dataDir'],
        [{ dataDir: '/tmp/x', maxWorkers: 0 }, 'maxWorkers'],
        [{ dataDir: '/tmp/x', maxWorkersPerFunction: 1.5 }, 'maxWorkersPerFunction'],
        [{ dataDir: '/tmp/x', defaultMemoryMb: 2 }, 'defaultMemoryMb'],
      ] as const) {
        await assert.rejects(createWorkerRunner(options), (error: unknown) => {
          return (
            error instanceof JunctionError && error.field === field && error.message.includes('received')
          );
        });
      }
    });

    test('counts invocations, failures, timeouts and out-of-memory kills in stats', async () => {
      await withRunner({}, async (runner) => {
        await runner.deploy('throws', functionFixture('throws'));
        await runner.deploy('spin', functionFixture('busy-loop'), { timeoutMs: 200 });
        await codeOf(runner.invoke('throws', ping(), context('throws')));
        await codeOf(runner.invoke('spin', ping(), context('spin')));
        const stats = runner.stats();
        assert.deepEqual([stats.functions, stats.invocations, stats.failures, stats.timeouts], [2, 2, 1, 1]);
        assert.deepEqual(
          [
            stats.byFunction.throws?.invocations,
            stats.byFunction.throws?.failures,
            stats.byFunction.spin?.timeouts,
          ],
          [1, 1, 1],
        );
      });
    });
  });
}
