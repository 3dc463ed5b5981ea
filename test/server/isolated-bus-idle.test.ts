/**
 * `nice: "idle"` when util-linux's `chrt` is missing, refuses, or hangs (issue #13): the supervisor's `chrt` option
 * points at a script that stands in for it, and the real `/usr/bin/chrt` does the moves the script passes on.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BusSpec } from '../../lib/core/bus.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { openIsolatedBus } from '../../lib/server/isolated-bus.ts';
import { statField, statText } from '../../lib/server/proc-stat.ts';
import { waitFor } from '../helpers/events.ts';

const REAL_CHRT = '/usr/bin/chrt';
const SCHED_IDLE = 5;

describe('nice "idle" when chrt fails', {
  skip: !existsSync(REAL_CHRT) && 'util-linux chrt is not installed',
}, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'junction-idle-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * A stand-in for chrt (called as `chrt --idle|--other --all-tasks --pid 0 PID`): it logs each call's class and
   * process, then runs `body` (a shell script's lines).
   */
  function fakeChrt(name: string, body: string) {
    const path = join(dir, name);
    const log = join(dir, `${name}.log`);
    writeFileSync(path, `#!/bin/sh\necho "$1 $5" >> '${log}'\n${body}\n`);
    chmodSync(path, 0o755);
    const calls = () =>
      (existsSync(log) ? readFileSync(log, 'utf8') : '')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => ({ move: l.split(' ')[0], pid: Number(l.split(' ')[1]) }));
    return { path, calls };
  }

  function open(name: string, chrt: string) {
    const spec: BusSpec = { name, isolation: 'process', nice: 'idle', createdAt: Date.now() };
    return openIsolatedBus({
      spec,
      config: { dataDir: join(dir, 'data'), kafkaLog: false, options: { host: '127.0.0.1' }, traces: false },
      buses: () => [{ name: 'default' }, { name }],
      forward: async () => undefined,
      onError: (error) => assert.fail(`unexpected: ${String(error)}`),
      chrt,
    });
  }

  const gone = (pid: number) => !existsSync(`/proc/${pid}`) || procState(pid) === 'Z';

  test('a missing chrt is refused up front, naming the field and the tool', async () => {
    await assert.rejects(open('nochrt', join(dir, 'absent-chrt')), (error: unknown) => {
      assert.ok(error instanceof JunctionError);
      assert.equal(error.code, 'InvalidBus');
      assert.equal(error.field, 'nice');
      assert.match(error.message, /absent-chrt \(util-linux\)/);
      return true;
    });
  });

  test('a chrt that refuses the move fails the start (retriable) and the bus process is killed', async () => {
    const chrt = fakeChrt(
      'refusing',
      `echo "chrt: failed to set pid $5's policy: Operation not permitted" >&2\nexit 1`,
    );
    await assert.rejects(open('refused', chrt.path), (error: unknown) => {
      assert.ok(error instanceof JunctionError);
      assert.equal(error.code, 'BufferUnavailable');
      assert.equal(error.retriable, true);
      assert.match(error.message, /could not be moved to the idle class: .*Operation not permitted/);
      assert.doesNotMatch(error.message, /\n\s+at /, 'no stack trace');
      return true;
    });
    const pid = chrt.calls()[0]?.pid;
    assert.ok(pid !== undefined && pid > 0, 'chrt was asked to move the bus process');
    await waitFor(() => gone(pid), 'the bus process to be gone');
  });

  test('without the privilege to leave the idle class, the bus process still stops (as it is)', async () => {
    const chrt = fakeChrt(
      'no-leave',
      `case "$1" in --idle) exec ${REAL_CHRT} "$@";; esac\necho "chrt: failed to set pid $5's policy: Operation not permitted" >&2\nexit 1`,
    );
    const bus = await open('noleave', chrt.path);
    const pid = bus.status?.().pid;
    assert.ok(pid !== undefined);
    assert.equal(statField(readFileSync(`/proc/${pid}/stat`, 'utf8'), 41), SCHED_IDLE);
    await bus.close({ deadlineMs: 10_000 });
    assert.ok(gone(pid), 'close waited for the process');
    assert.deepEqual(
      chrt.calls().at(-1),
      { move: '--other', pid },
      'chrt was asked to move it out of the idle class, and refused',
    );
  });

  // The timeout turns a close that never ends into a failure; it is not a speed limit (the bound is 5 s).
  test('a chrt that hangs while the bus stops is given up on within its bound, and the bus stops', {
    timeout: 120_000,
  }, async () => {
    const chrt = fakeChrt('hanging', `case "$1" in --idle) exec ${REAL_CHRT} "$@";; esac\nexec sleep 600`);
    const bus = await open('hang', chrt.path);
    const pid = bus.status?.().pid;
    assert.ok(pid !== undefined);
    await bus.close({ deadlineMs: 10_000 });
    assert.ok(gone(pid), 'close waited for the process');
    assert.deepEqual(chrt.calls().at(-1), { move: '--other', pid });
  });
});

/** A process's state letter (field 3 of /proc/PID/stat), or undefined once it is gone. */
function procState(pid: number): string | undefined {
  try {
    return statText(readFileSync(`/proc/${pid}/stat`, 'utf8'), 3);
  } catch {
    return undefined;
  }
}
