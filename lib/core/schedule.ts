/**
 * Schedule expressions (issue #19, and EventBridge's scheduled rules): EventBridge Scheduler's three forms —
 * `rate(5 minutes)`, `cron(minutes hours day-of-month month day-of-week year)` and the one-time `at(2026-12-24T18:00:00)`
 * — with an IANA time zone for `cron` and `at` (UTC by default). Pure: `next(after)` answers the first slot strictly
 * after an instant. Cron fields are evaluated by croner (a well-kept, dependency-free cron library with `L`, `W` and
 * `#`); EventBridge's day-of-week numbers (1–7, Sunday first) and its year field are translated here.
 */
import { Cron } from 'croner';
import { JunctionError } from './errors.ts';

export interface Schedule {
  /** The expression as written. */
  readonly expression: string;
  readonly timezone: string;
  /** The first slot strictly after `after` (ms since the epoch), or undefined when there is none (a past `at`). */
  next(after: number): number | undefined;
}

const RATE = /^rate\((\d{1,6}) (minute|minutes|hour|hours|day|days)\)$/;
const AT = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/;
const CRON = /^cron\(([^()]{1,256})\)$/;
const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
/** Cron slots are looked for this many years ahead at most (a cron that never fires in them is refused). */
const CRON_HORIZON_YEARS = 8;

function invalid(message: string, field: string): JunctionError {
  return new JunctionError('InvalidRule', `${field}: ${message}`, { field, path: field });
}

function checkZone(timezone: string, field: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw invalid(
      `unknown time zone ${JSON.stringify(timezone.slice(0, 64))} (an IANA name such as Europe/Paris)`,
      field,
    );
  }
}

/** The offset of `zone` from UTC at `instant`, in ms (local = UTC + offset). */
function offsetAt(instant: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const local = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return local - Math.floor(instant / 1000) * 1000;
}

/** EventBridge's day-of-week field (1–7, Sunday first) in croner's numbering (0–6, Sunday first). */
function dayOfWeek(field: string, path: string): string {
  if (field === '?' || field === '*') return field;
  const day = (text: string) => {
    if (/^[A-Za-z]{3}$/.test(text)) return text.toUpperCase();
    const n = Number(text);
    if (!/^\d$/.test(text) || n < 1 || n > 7)
      throw invalid(`day-of-week ${JSON.stringify(text)} is not 1-7 or SUN-SAT`, path);
    return String(n - 1);
  };
  return field
    .split(',')
    .map((item) => {
      const nth = /^([^#]+)#([1-5])$/.exec(item);
      if (nth) return `${day(nth[1] as string)}#${nth[2]}`;
      const last = /^([^L]+)L$/.exec(item);
      if (last) return `${day(last[1] as string)}L`;
      const [range = '', step] = item.split('/');
      const days = range === '*' ? '*' : range.split('-').map(day).join('-');
      // `3/2` (from 3, every 2) is written `3-6/2` for croner.
      return step === undefined ? days : `${days.includes('-') || days === '*' ? days : `${days}-6`}/${step}`;
    })
    .join(',');
}

/** EventBridge's `5/15` (from 5, every 15) as croner reads it: `5-<max>/15`. */
function fromStep(field: string, max: number): string {
  return field
    .split(',')
    .map((item) => item.replace(/^(\d{1,2})\/(\d{1,3})$/, `$1-${max}/$2`))
    .join(',');
}

/** The years a cron's year field allows (`*`, `2027`, `2026-2030`, `2026,2028`), as a predicate. */
function yearsOf(field: string, path: string): (year: number) => boolean {
  if (field === '*' || field === '?') return () => true;
  const ranges = field.split(',').map((item) => {
    const m = /^(\d{4})(?:-(\d{4}))?(?:\/(\d{1,3}))?$/.exec(item);
    if (!m)
      throw invalid(`year ${JSON.stringify(item)} is not a year, a range of years or a list of them`, path);
    const from = Number(m[1]);
    const to = m[2] === undefined ? (m[3] === undefined ? from : 2199) : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (from < 1970 || to > 2199 || to < from || step < 1)
      throw invalid(`year ${item} is outside 1970-2199`, path);
    return { from, to, step };
  });
  return (year) => ranges.some((r) => year >= r.from && year <= r.to && (year - r.from) % r.step === 0);
}

/**
 * Parses a schedule expression; throws `InvalidRule` naming `field` (e.g. `schedule.expression`). `timezoneField`
 * names the time zone's field for its errors.
 */
export function parseSchedule(
  expression: unknown,
  timezone: unknown = 'UTC',
  field = 'schedule.expression',
  timezoneField = 'schedule.timezone',
): Schedule {
  if (typeof expression !== 'string')
    throw invalid('a schedule expression is required: rate(…), cron(…) or at(…)', field);
  if (typeof timezone !== 'string' || timezone.length > 64)
    throw invalid('a time zone is an IANA name', timezoneField);
  checkZone(timezone, timezoneField);
  const rate = RATE.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] as string;
    if (value < 1) throw invalid('a rate is at least 1', field);
    // EventBridge's own rule: the singular unit for 1, the plural for more.
    if ((value === 1) !== !unit.endsWith('s')) {
      throw invalid(
        `write rate(${value} ${value === 1 ? unit.replace(/s$/, '') : `${unit.replace(/s$/, '')}s`})`,
        field,
      );
    }
    const period = value * UNIT_MS[unit.replace(/s$/, '') as keyof typeof UNIT_MS];
    // Slots counted from the epoch: every process agrees on them whenever it started.
    return { expression, timezone, next: (after) => (Math.floor(after / period) + 1) * period };
  }
  const at = AT.exec(expression);
  if (at) {
    const [y, mo, d, h, mi, s] = at.slice(1).map(Number) as [number, number, number, number, number, number];
    const local = Date.UTC(y, mo - 1, d, h, mi, s);
    const back = new Date(local);
    if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
      throw invalid(`at(${expression.slice(3, -1)}) is not a date and time`, field);
    }
    // Local time → instant: the offset at the instant the naive guess gives, checked once more across a DST change.
    let instant = local - offsetAt(local, timezone);
    instant = local - offsetAt(instant, timezone);
    return { expression, timezone, next: (after) => (instant > after ? instant : undefined) };
  }
  const cron = CRON.exec(expression);
  if (cron) {
    const fields = (cron[1] as string).trim().split(/\s+/);
    if (fields.length !== 6) {
      throw invalid('cron takes six fields: minutes hours day-of-month month day-of-week year', field);
    }
    const [minutes, hours, dom, month, dow, year] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if ((dom === '?') === (dow === '?')) {
      throw invalid('one of day-of-month and day-of-week must be ? (and only one)', field);
    }
    const years = yearsOf(year, field);
    let job: Cron;
    try {
      const pattern = [
        '0',
        fromStep(minutes, 59),
        fromStep(hours, 23),
        fromStep(dom, 31),
        fromStep(month, 12),
        dayOfWeek(dow, field),
      ].join(' ');
      job = new Cron(pattern, {
        timezone,
        paused: true,
        legacyMode: false,
      });
    } catch (error) {
      if (error instanceof JunctionError) throw error;
      throw invalid(`not a cron expression: ${(error as Error).message}`, field);
    }
    const next = (after: number): number | undefined => {
      const horizon = after + CRON_HORIZON_YEARS * 366 * 86_400_000;
      let from = after;
      // A year the year field refuses is skipped a slot at a time; bounded by the horizon (and by 10,000 slots).
      for (let i = 0; i < 10_000; i++) {
        const run = job.nextRun(new Date(from));
        if (run === null || run.getTime() > horizon) return undefined;
        const t = run.getTime();
        if (
          years(Number(new Intl.DateTimeFormat('en-US', { timeZone: timezone, year: 'numeric' }).format(run)))
        )
          return t;
        from = t;
      }
      return undefined;
    };
    if (job.nextRun(new Date(Date.UTC(2000, 0, 1))) === null) {
      throw invalid(`cron(${cron[1]}) never fires`, field);
    }
    return { expression, timezone, next };
  }
  throw invalid(
    `${JSON.stringify(expression.slice(0, 80))} is not a schedule: rate(5 minutes), cron(0 12 * * ? *) or at(2026-12-24T18:00:00)`,
    field,
  );
}
