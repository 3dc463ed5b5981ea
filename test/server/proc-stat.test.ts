import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { statField, statText } from '../../lib/server/proc-stat.ts';

describe('statField', () => {
  test('counts fields after the command, whatever spaces and parentheses the command holds', () => {
    // pid (comm) state ppid …: the command of this one is "a) (b c".
    const stat = '42 (a) (b c) S 7 42 42 0 -1 4194560 10 0 0 0 123 45 0 0 20 0';
    assert.equal(statField(stat, 4), 7); // ppid
    assert.equal(statField(stat, 14), 123); // utime
    assert.equal(statField(stat, 15), 45); // stime
    assert.equal(statField(stat, 19), 0); // nice
    assert.equal(statText(stat, 3), 'S'); // state
  });

  test("reads this process's parent from its own stat file", () => {
    assert.equal(statField(readFileSync('/proc/self/stat', 'utf8'), 4), process.ppid);
  });
});
