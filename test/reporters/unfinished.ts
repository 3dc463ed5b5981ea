/**
 * A test reporter that names the tests a run is stuck in (`npm test` adds it beside `spec`, on stderr).
 *
 * Node's runner prints a test when it ends, so a test file that hangs shows nothing until the per-file timeout cancels
 * it, and then only the file: not which of its tests never ended. This reporter follows each test from the moment it
 * starts running (`test:dequeue`) to its end (`test:complete`), and says
 * - every `JUNCTION_TEST_SLOW_REPORT_MS` (5 min) a test keeps running: `test: still running after 5 min: <file> › <suite>
 *   › <test>`;
 * - when a file ends with tests that never ended (cancelled at its timeout, or its process died): which, and for how
 *   long they had run.
 * It prints nothing else, so a run without a slow or stuck test looks as before.
 */
import { relative } from 'node:path';
import type { TestEvent } from 'node:test/reporters';

/** A test that started running and has not ended. */
interface Running {
  readonly nesting: number;
  readonly name: string;
  readonly since: number;
  /** How many `slowMs` periods it had run at its last report. */
  reported: number;
}

/** Per test file: its own test (the file as a whole, the first to start) and the tests running in it. */
interface FileState {
  readonly root: string;
  readonly running: Running[];
}

const TICK = Symbol('tick');

function slowReportMs(): number {
  const value = Number(process.env.JUNCTION_TEST_SLOW_REPORT_MS ?? 5 * 60_000);
  return Number.isFinite(value) && value > 0 ? value : 5 * 60_000;
}

function duration(ms: number): string {
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`;
}

function displayFile(file: string): string {
  const path = relative(process.cwd(), file);
  return path.startsWith('..') ? file : path;
}

/** `file › outer › inner`: the chain of running tests down to `test` (the suites it runs in). */
function chain(file: string, state: FileState, test: Running): string {
  const names: string[] = [];
  let nesting = test.nesting;
  for (let i = state.running.indexOf(test); i >= 0; i--) {
    const candidate = state.running[i] as Running;
    if (candidate === test || candidate.nesting < nesting) {
      names.unshift(candidate.name);
      nesting = candidate.nesting;
    }
  }
  return [displayFile(file), ...names].join(' › ');
}

/** The running tests with nothing running inside them (the ones a hang is in). */
function innermost(state: FileState): Running[] {
  return state.running.filter((test, i) => {
    const next = state.running[i + 1];
    return next === undefined || next.nesting <= test.nesting;
  });
}

export default async function* unfinished(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const slowMs = slowReportMs();
  const files = new Map<string, FileState>();
  const iterator = source[Symbol.asyncIterator]();
  let next = iterator.next();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<typeof TICK>((resolve) => {
      timer = setTimeout(() => resolve(TICK), Math.min(slowMs, 30_000));
      timer.unref();
    });
    const result = await Promise.race([next, tick]);
    clearTimeout(timer);
    const now = Date.now();
    if (result === TICK) {
      for (const [file, state] of files) {
        for (const test of innermost(state)) {
          const periods = Math.floor((now - test.since) / slowMs);
          if (periods <= test.reported) continue;
          test.reported = periods;
          yield `test: still running after ${duration(now - test.since)}: ${chain(file, state, test)}\n`;
        }
      }
      continue;
    }
    if (result.done === true) break;
    next = iterator.next();
    const event = result.value;
    if (event.type !== 'test:dequeue' && event.type !== 'test:complete') continue;
    const file = event.data.file ?? '(no file)';
    const { name, nesting } = event.data;
    const state = files.get(file);
    if (event.type === 'test:dequeue') {
      if (state === undefined) files.set(file, { root: name, running: [] });
      else state.running.push({ nesting, name, since: now, reported: 0 });
      continue;
    }
    if (state === undefined) continue;
    if (nesting === 0 && name === state.root) {
      files.delete(file);
      if (state.running.length === 0) continue;
      const lines = innermost(state).map(
        (test) => `  ${chain(file, state, test)} (running for ${duration(now - test.since)})\n`,
      );
      const what = lines.length === 1 ? 'a test was' : `${lines.length} tests were`;
      yield `test: ${displayFile(file)} ended while ${what} still running (the file's failure says why):\n${lines.join('')}`;
      continue;
    }
    for (let i = state.running.length - 1; i >= 0; i--) {
      const test = state.running[i] as Running;
      if (test.nesting === nesting && test.name === name) {
        state.running.splice(i, 1);
        break;
      }
    }
  }
}
