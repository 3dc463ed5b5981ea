/**
 * Hostile values for the API fuzzer, as JSON *text* (so that numbers like 1e400, lone-surrogate escapes and
 * duplicate keys survive): strings, numbers, keys, times, deep nesting and byte-level mutations.
 */
import type { Random } from './random.ts';

/** Strings that have broken parsers, maps, paths and printers before. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  'a',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-0',
  '1e999',
  '0x10',
  'true',
  '\u0000',
  'a\u0000b',
  '\t\n\r',
  '\u2028\u2029',
  '\u202eevil',
  '\ufeffbom',
  '\ufffd',
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\udbff\udfff',
  '💥',
  'é',
  'ß',
  'İ',
  'ﬃ',
  'Ω',
  '../../etc/passwd',
  '..',
  '.',
  '/',
  '//',
  '%',
  '%zz',
  '%00',
  '%2F',
  '%252F',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent as a plain string
  '${7*7}',
  '{{7*7}}',
  "' OR 1=1 --",
  '"; DROP TABLE rules; --',
  '<script>alert(1)</script>',
  '*',
  '**',
  '*a*a*a*a*a*a*a*a*a*a*b',
  '\\',
  '\\u0000',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(256),
  'x'.repeat(4097),
  'urn:test:fuzz',
  'com.example.fuzz',
  'https://example.invalid/a?b=c#d',
  '2026-01-01T00:00:00Z',
  '10.0.0.0/8',
  '::1/128',
];

/** Number texts at the edges of JSON and of IEEE 754. */
export const NUMBER_TEXTS: readonly string[] = [
  '0',
  '-0',
  '1',
  '-1',
  '0.1',
  '1.5',
  '1e308',
  '1e309',
  '-1e309',
  '1e-400',
  '5e-324',
  '9007199254740991',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890',
  '1.7976931348623157e308',
  '2147483648',
  '4294967296',
  '100',
  '1024',
  '1025',
  '65536',
  '0.000001',
  '1E2',
  '1e+2',
];

/** Object keys that reach prototypes, reserved names and odd characters. */
export const HOSTILE_KEYS: readonly string[] = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '',
  'a',
  'b',
  'data',
  'source',
  'type',
  'id',
  '$or',
  'a.b',
  'a[0]',
  '\u0000',
  'é',
  '\ud800',
  'x'.repeat(300),
];

export function jsonString(value: string): string {
  return JSON.stringify(value);
}

export function hostileString(r: Random): string {
  const base = r.pick(HOSTILE_STRINGS);
  if (r.chance(0.1)) return base.repeat(r.int(2, 50));
  if (r.chance(0.1)) return base + r.pick(HOSTILE_STRINGS);
  return base;
}

/** A JSON string literal, sometimes with raw escapes JSON.stringify never writes (lone surrogates). */
export function hostileStringText(r: Random): string {
  if (r.chance(0.05)) return r.pick(['"\\ud800"', '"\\udc00x"', '"\\u0000"', '"\\uD83D\\uDCA5"', '"\\/"']);
  return jsonString(hostileString(r));
}

export function numberText(r: Random): string {
  return r.chance(0.7) ? r.pick(NUMBER_TEXTS) : String(r.int(-1000, 100000));
}

/** Any JSON value as text, at most `depth` levels deep. */
export function jsonValue(r: Random, depth = 3): string {
  const kind = r.int(0, depth <= 0 ? 4 : 6);
  switch (kind) {
    case 0:
      return hostileStringText(r);
    case 1:
      return numberText(r);
    case 2:
      return r.pick(['true', 'false', 'null']);
    case 3:
      return hostileStringText(r);
    case 4:
      return numberText(r);
    case 5: {
      const n = r.length(6);
      return `[${Array.from({ length: n }, () => jsonValue(r, depth - 1)).join(',')}]`;
    }
    default:
      return jsonObject(r, depth - 1);
  }
}

export function jsonObject(r: Random, depth = 2): string {
  const n = r.length(6);
  const members = Array.from(
    { length: n },
    () => `${jsonString(r.pick(HOSTILE_KEYS))}:${jsonValue(r, depth)}`,
  );
  return `{${members.join(',')}}`;
}

/** `[[[…]]]` or `{"a":{"a":…}}` nested `n` deep: recursion in a validator overflows the stack. */
export function deepJson(r: Random, n: number): string {
  if (r.chance(0.5)) return `${'['.repeat(n)}${r.chance(0.5) ? '1' : ''}${']'.repeat(n)}`;
  const key = r.pick(['a', '__proto__', 'data', '$or']);
  return `${`{"${key}":`.repeat(n)}1${'}'.repeat(n)}`;
}

/** A depth for `deepJson`: mostly small, sometimes deep enough to overflow a recursive walk. */
export function depth(r: Random): number {
  return r.pick([2, 10, 100, 1000, 5000, 20000, 100000]);
}

/** Times as the API takes them (RFC 3339 or epoch ms), and near misses. */
export function timeText(r: Random): string {
  return r.pick([
    '"2026-01-01T00:00:00Z"',
    '"1970-01-01T00:00:00Z"',
    '"9999-12-31T23:59:59.999999999Z"',
    '"2026-13-45T99:99:99Z"',
    '"2026-01-01T00:00:00+25:00"',
    '"yesterday"',
    '""',
    '"0"',
    '"999999999999999"',
    '"9999999999999999"',
    '0',
    '-1',
    '1e20',
    '1e400',
    String(Date.now() - 60_000),
    String(Date.now()),
    `"${new Date(Date.now() - 3_600_000).toISOString()}"`,
    `"${new Date(Date.now() + 3_600_000).toISOString()}"`,
    'null',
    '{}',
    '[]',
    'true',
  ]);
}

const encoder = new TextEncoder();

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Byte sequences that are not UTF-8 (overlong, surrogates, stray continuation, truncated). */
const BAD_UTF8: readonly number[][] = [
  [0xff],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0x80],
  [0xe2, 0x82],
  [0xf4, 0x90, 0x80, 0x80],
  [0x00],
  [0xef, 0xbb, 0xbf],
];

/** One to a few byte-level mutations: insert, delete, replace, truncate, duplicate a span, add bad UTF-8. */
export function mutateBytes(r: Random, input: Uint8Array): Uint8Array {
  let bytes = Array.from(input);
  const rounds = r.int(1, 3);
  for (let k = 0; k < rounds; k++) {
    const at = r.int(0, bytes.length);
    switch (r.int(0, 5)) {
      case 0:
        bytes.splice(at, 0, r.pick([0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x20, r.int(0, 255)]));
        break;
      case 1:
        bytes.splice(at, 1);
        break;
      case 2:
        if (at < bytes.length) bytes[at] = r.int(0, 255);
        break;
      case 3:
        bytes = bytes.slice(0, at);
        break;
      case 4: {
        const end = Math.min(bytes.length, at + r.int(1, 64));
        bytes.splice(at, 0, ...bytes.slice(at, end));
        break;
      }
      default:
        bytes.splice(at, 0, ...r.pick(BAD_UTF8));
    }
  }
  return Uint8Array.from(bytes);
}
