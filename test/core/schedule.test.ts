/** Schedule expressions (lib/core/schedule.ts): rate, cron (EventBridge's fields, time zones) and at. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JunctionError } from '../../lib/core/errors.ts';
import { parseSchedule } from '../../lib/core/schedule.ts';

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

test('rate: slots counted from the epoch, strictly after the instant', () => {
  const s = parseSchedule('rate(5 minutes)');
  assert.equal(iso(s.next(t('2026-12-04T10:02:30Z'))), '2026-12-04T10:05:00.000Z');
  assert.equal(iso(s.next(t('2026-12-04T10:05:00Z'))), '2026-12-04T10:10:00.000Z');
  assert.equal(iso(parseSchedule('rate(1 day)').next(t('2026-12-04T10:00:00Z'))), '2026-12-05T00:00:00.000Z');
  assert.equal(
    iso(parseSchedule('rate(2 hours)').next(t('2026-12-04T10:00:00Z'))),
    '2026-12-04T12:00:00.000Z',
  );
});

test("cron: EventBridge's six fields, day-of-week 1-7 from Sunday, L, W and #", () => {
  const after = t('2026-12-04T12:00:00Z'); // a Friday
  const next = (expr: string, zone = 'UTC') => iso(parseSchedule(expr, zone).next(after));
  assert.equal(next('cron(0 10 * * ? *)'), '2026-12-05T10:00:00.000Z');
  assert.equal(next('cron(15 10 ? * 6L 2026)'), '2026-12-25T10:15:00.000Z', 'the last Friday (6 = FRI)');
  assert.equal(next('cron(0 12 ? * 6#3 *)'), '2026-12-18T12:00:00.000Z', 'the third Friday');
  assert.equal(next('cron(0 9 ? * MON-FRI *)'), '2026-12-07T09:00:00.000Z');
  assert.equal(next('cron(0 9 ? * 2-6 *)'), '2026-12-07T09:00:00.000Z', '2-6 is MON-FRI');
  assert.equal(next('cron(0 8 1 * ? *)'), '2027-01-01T08:00:00.000Z');
  assert.equal(next('cron(0/30 * * * ? *)'), '2026-12-04T12:30:00.000Z');
  assert.equal(next('cron(0 0 1 1 ? 2028)'), '2028-01-01T00:00:00.000Z', 'the year field');
  assert.equal(
    next('cron(0 10 * * ? *)', 'Europe/Paris'),
    '2026-12-05T09:00:00.000Z',
    '10:00 in Paris (UTC+1)',
  );
  assert.equal(next('cron(0 10 * * ? *)', 'America/New_York'), '2026-12-04T15:00:00.000Z');
});

test('cron across a DST change keeps the local time', () => {
  const s = parseSchedule('cron(0 10 * * ? *)', 'Europe/Paris');
  assert.equal(iso(s.next(t('2026-03-28T12:00:00Z'))), '2026-03-29T08:00:00.000Z', 'summer time: UTC+2');
});

test('at: once, in its time zone, then never', () => {
  const s = parseSchedule('at(2026-12-24T18:00:00)', 'Europe/Paris');
  assert.equal(iso(s.next(t('2026-12-01T00:00:00Z'))), '2026-12-24T17:00:00.000Z');
  assert.equal(s.next(t('2026-12-24T17:00:00Z')), undefined);
  assert.equal(
    iso(parseSchedule('at(2026-07-01T12:00:00)', 'Europe/Paris').next(0)),
    '2026-07-01T10:00:00.000Z',
  );
});

test('refuses bad expressions and zones with InvalidRule naming the field', () => {
  for (const [expr, zone, field] of [
    ['rate(0 minutes)', 'UTC', 'schedule.expression'],
    ['rate(1 minutes)', 'UTC', 'schedule.expression'],
    ['rate(5 minute)', 'UTC', 'schedule.expression'],
    ['rate(5 weeks)', 'UTC', 'schedule.expression'],
    ['cron(0 10 * * *)', 'UTC', 'schedule.expression'],
    ['cron(0 10 * * * *)', 'UTC', 'schedule.expression'],
    ['cron(0 10 ? * ? *)', 'UTC', 'schedule.expression'],
    ['cron(0 10 ? * 8 *)', 'UTC', 'schedule.expression'],
    ['cron(0 10 30 2 ? *)', 'UTC', 'schedule.expression'],
    ['cron(0 25 * * ? *)', 'UTC', 'schedule.expression'],
    ['cron(0 10 * * ? 1900)', 'UTC', 'schedule.expression'],
    ['at(2026-02-30T10:00:00)', 'UTC', 'schedule.expression'],
    ['every day', 'UTC', 'schedule.expression'],
    [42, 'UTC', 'schedule.expression'],
    ['rate(5 minutes)', 'Mars/Olympus', 'schedule.timezone'],
  ] as const) {
    assert.throws(
      () => parseSchedule(expr, zone),
      (e: unknown) => e instanceof JunctionError && e.code === 'InvalidRule' && e.field === field,
      `${String(expr)} ${zone}`,
    );
  }
});
