/** A strict RFC 3339 §5.6 `date-time` check, position by position (no regular expression). */

function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const code = text.charCodeAt(i);
    if (!(code >= 0x30 && code <= 0x39)) return -1;
    value = value * 10 + (code - 0x30);
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Whether `text` is `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` with valid ranges (leap seconds allowed,
 * `t`/`z` in lower case allowed as RFC 3339 permits). Seconds and an offset are required.
 */
export function isRfc3339(text: string): boolean {
  if (text.length < 20) return false;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  if (year < 0 || text[4] !== '-' || text[7] !== '-') return false;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (text[10] !== 'T' && text[10] !== 't') return false;
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (text[13] !== ':' || text[16] !== ':') return false;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return false;
  let i = 19;
  if (text[i] === '.') {
    const start = ++i;
    while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === start) return false;
  }
  const zone = text[i];
  if (zone === 'Z' || zone === 'z') return i + 1 === text.length;
  if (zone !== '+' && zone !== '-') return false;
  if (text.length !== i + 6 || text[i + 3] !== ':') return false;
  const offsetHour = digits(text, i + 1, 2);
  const offsetMinute = digits(text, i + 4, 2);
  return offsetHour >= 0 && offsetHour <= 23 && offsetMinute >= 0 && offsetMinute <= 59;
}

/**
 * `isRfc3339` over the ASCII bytes `start` to `end` of a body, for the scanner: typed-array reads are
 * much faster in V8 than `charCodeAt` on a string sliced from a large body. Same rules, same answers.
 */
export function isRfc3339Bytes(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < 20) return false;
  const at = (k: number): number => bytes[start + k] ?? -1;
  const num = (k: number, count: number): number => {
    let value = 0;
    for (let i = k; i < k + count; i++) {
      const code = at(i);
      if (!(code >= 0x30 && code <= 0x39)) return -1;
      value = value * 10 + (code - 0x30);
    }
    return value;
  };
  const year = num(0, 4);
  const month = num(5, 2);
  const day = num(8, 2);
  if (year < 0 || at(4) !== 0x2d || at(7) !== 0x2d) return false;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (at(10) !== 0x54 && at(10) !== 0x74) return false;
  const hour = num(11, 2);
  const minute = num(14, 2);
  const second = num(17, 2);
  if (at(13) !== 0x3a || at(16) !== 0x3a) return false;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return false;
  let i = 19;
  if (at(i) === 0x2e) {
    const first = ++i;
    while (i < length && at(i) >= 0x30 && at(i) <= 0x39) i++;
    if (i === first) return false;
  }
  const zone = at(i);
  if (zone === 0x5a || zone === 0x7a) return i + 1 === length;
  if (zone !== 0x2b && zone !== 0x2d) return false;
  if (length !== i + 6 || at(i + 3) !== 0x3a) return false;
  const offsetHour = num(i + 1, 2);
  const offsetMinute = num(i + 4, 2);
  return offsetHour >= 0 && offsetHour <= 23 && offsetMinute >= 0 && offsetMinute <= 59;
}
