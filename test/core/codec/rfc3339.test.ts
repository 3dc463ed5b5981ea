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

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * Date-time parts around every limit the check has: years where the leap rule turns (0, 1900, 2000, 2100, 2400,
 * 9999), months 0-13, days 0-32 (often 28-31, often in February), hours to 24, minutes to 60, seconds to 61 (60 is
 * a leap second), fractions (empty is wrong), and offsets ±00:00 to ±24:60.
 */
const parts = fc.record({
  year: fc.oneof(
    fc.integer({ min: 0, max: 9999 }),
    fc.constantFrom(0, 4, 1900, 2000, 2023, 2024, 2100, 2400, 9999),
  ),
  month: fc.oneof(fc.integer({ min: 0, max: 13 }), fc.constant(2)),
  day: fc.oneof(fc.integer({ min: 0, max: 32 }), fc.integer({ min: 28, max: 31 })),
  hour: fc.integer({ min: 0, max: 24 }),
  minute: fc.integer({ min: 0, max: 60 }),
  second: fc.oneof(fc.integer({ min: 0, max: 61 }), fc.constant(60)),
  sep: fc.constantFrom('T', 't', ' '),
  fraction: fc.constantFrom('', '.5', '.123456789', '.'),
  zone: fc.oneof(
    fc.constantFrom('Z', 'z', '', '+05'),
    fc.record({
      sign: fc.constantFrom('+', '-'),
      hour: fc.integer({ min: 0, max: 24 }),
      minute: fc.integer({ min: 0, max: 60 }),
    }),
  ),
});
type Parts = typeof parts extends fc.Arbitrary<infer T> ? T : never;

function textOf(t: Parts): string {
  const zone =
    typeof t.zone === 'string' ? t.zone : `${t.zone.sign}${pad(t.zone.hour, 2)}:${pad(t.zone.minute, 2)}`;
  return `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}${t.sep}${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}${t.fraction}${zone}`;
}

/** Whether the parts make an RFC 3339 date-time, the calendar asked of the platform's Date. */
function expected(t: Parts): boolean {
  const date = new Date(0);
  date.setUTCFullYear(t.year, t.month - 1, t.day);
  const real =
    date.getUTCFullYear() === t.year && date.getUTCMonth() === t.month - 1 && date.getUTCDate() === t.day;
  const zone =
    typeof t.zone === 'string' ? t.zone === 'Z' || t.zone === 'z' : t.zone.hour <= 23 && t.zone.minute <= 59;
  return (
    t.month >= 1 &&
    t.month <= 12 &&
    real &&
    t.sep !== ' ' &&
    t.hour <= 23 &&
    t.minute <= 59 &&
    t.second <= 60 &&
    t.fraction !== '.' &&
    zone
  );
}

test("agrees with the platform's calendar at the limits: leap years, leap seconds, offsets", () => {
  fc.assert(
    fc.property(parts, (t) => {
      assert.equal(isRfc3339(textOf(t)), expected(t), textOf(t));
    }),
    { numRuns: 3000 },
  );
});

test("the byte check gives the string check's answer on any ASCII text", () => {
  const enc = new TextEncoder();
  const timeLike = parts.map(textOf);
  const mutated = fc.tuple(timeLike, fc.nat(), fc.stringMatching(/^[0-9:.TZz+-]$/)).map(([text, at, c]) => {
    const i = at % (text.length + 1);
    return text.slice(0, i) + c + text.slice(i + 1);
  });
  // The text sits between other bytes (digits, signs, '_'), which the byte check must not read.
  const around = fc.string({ unit: fc.constantFrom('0', '9', ':', '.', 'Z', '+', '_'), maxLength: 5 });
  fc.assert(
    fc.property(
      fc.oneof(timeLike, mutated, fc.string({ unit: 'binary-ascii', maxLength: 30, size: 'max' })),
      around,
      around,
      (text, before, after) => {
        const bytes = enc.encode(`${before}${text}${after}`);
        assert.equal(
          isRfc3339Bytes(bytes, before.length, before.length + text.length),
          isRfc3339(text),
          text,
        );
      },
    ),
    { numRuns: 3000 },
  );
});
