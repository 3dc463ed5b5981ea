/** Tests of the strict RFC 3339 date-time check. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isRfc3339, isRfc3339Bytes } from '../../../lib/core/codec/rfc3339.ts';

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

test("the byte check gives the string check's answer on any ASCII text", () => {
  const enc = new TextEncoder();
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  const timeLike = fc
    .tuple(
      fc.record({
        year: fc.integer({ min: 0, max: 9999 }),
        month: fc.integer({ min: 0, max: 13 }),
        day: fc.integer({ min: 0, max: 32 }),
        hour: fc.integer({ min: 0, max: 24 }),
        minute: fc.integer({ min: 0, max: 60 }),
        second: fc.integer({ min: 0, max: 61 }),
      }),
      fc.constantFrom('T', 't', ' '),
      fc.constantFrom('', '.5', '.123456789', '.'),
      fc.constantFrom('Z', 'z', '+05:30', '-23:59', '+24:00', '+05', ''),
    )
    .map(
      ([t, sep, fraction, zone]) =>
        `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}${sep}${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}${fraction}${zone}`,
    );
  const mutated = fc.tuple(timeLike, fc.nat(), fc.stringMatching(/^[0-9:.TZz+-]$/)).map(([text, at, c]) => {
    const i = at % (text.length + 1);
    return text.slice(0, i) + c + text.slice(i + 1);
  });
  fc.assert(
    fc.property(
      fc.oneof(timeLike, mutated, fc.string({ unit: 'binary-ascii', maxLength: 30 })),
      fc.nat(5),
      (text, pad) => {
        const bytes = enc.encode(`${'_'.repeat(pad)}${text}__`);
        assert.equal(isRfc3339Bytes(bytes, pad, pad + text.length), isRfc3339(text), text);
      },
    ),
    { numRuns: 3000 },
  );
});
