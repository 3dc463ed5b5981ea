/** Tests of the strict RFC 3339 date-time check. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isRfc3339 } from '../../../lib/core/codec/rfc3339.ts';

test('accepts RFC 3339 date-times', () => {
  for (const text of [
    '1985-04-12T23:20:50.52Z',
    '1996-12-19T16:39:57-08:00',
    '1990-12-31T23:59:60Z',
    '1937-01-01T12:00:27.87+00:20',
    '2000-02-29T00:00:00z',
    '2018-04-05T17:31:00.000000000Z',
  ]) {
    assert.equal(isRfc3339(text), true, text);
  }
});

test('rejects what RFC 3339 does not allow', () => {
  for (const text of [
    'lunchtime',
    '2018-04-05T18:31Z',
    '2018-04-05T18:31:00X',
    '2018-04-05T18:31:00+25:00',
    '2018-04-05T18:31:00+xx:00',
    '2018-04-05T18:31:00+05',
    '2018-04-05T18:31:00',
    '2018-04-31T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2018-04-05T18:31:61Z',
    '2018-04-05T18:31:00.Z',
    '2018-4-05T18:31:00Z',
    '2018-04-05T18:31:00+01:00x',
    '+2018-04-05T18:31:00Z',
  ]) {
    assert.equal(isRfc3339(text), false, text);
  }
});

test('agrees with the dates the platform can represent', () => {
  fc.assert(
    fc.property(
      fc.date({
        min: new Date('0001-01-01T00:00:00Z'),
        max: new Date('9999-12-31T23:59:59Z'),
        noInvalidDate: true,
      }),
      (date) => {
        assert.equal(isRfc3339(date.toISOString()), true);
      },
    ),
  );
});
