/**
 * Grammar-aware generators for the API fuzzer: CloudEvents, EventBridge patterns, CESQL filters, rules, targets
 * and function sources as JSON (or source) text — mostly close to valid, with hostile values in some places.
 */
import type { Random } from './random.ts';
import {
  deepJson,
  depth,
  HOSTILE_KEYS,
  hostileString,
  hostileStringText,
  jsonString,
  jsonValue,
  numberText,
  timeText,
} from './values.ts';

/** `{ "k": v, ... }` from members, each kept with probability `keep`; sometimes one value is replaced by junk. */
function object(r: Random, members: ReadonlyArray<readonly [string, () => string]>, keep = 0.9): string {
  const out: string[] = [];
  for (const [key, value] of members) {
    if (!r.chance(keep)) continue;
    out.push(`${jsonString(key)}:${!r.strict && r.chance(0.04) ? jsonValue(r, 2) : value()}`);
  }
  if (r.strict) return `{${out.join(',')}}`;
  if (r.chance(0.05)) out.push(`${jsonString(r.pick(HOSTILE_KEYS))}:${jsonValue(r, 2)}`);
  if (r.chance(0.03) && out.length > 0) out.push(out[0] as string); // a duplicate key
  return `{${out.join(',')}}`;
}

function array(r: Random, max: number, item: () => string): string {
  return `[${Array.from({ length: r.length(max) }, item).join(',')}]`;
}

// ---------- CloudEvents ----------

export const SOURCES = ['urn:fuzz:a', 'urn:fuzz:b', '/fuzz/c', 'https://fuzz.example/d'];
export const TYPES = ['com.fuzz.created', 'com.fuzz.updated', 'com.fuzz.deleted'];

export function eventId(r: Random, index: number): string {
  return r.chance(0.9) ? `fz-${index}` : r.chance(0.5) ? hostileString(r) : `fz-${r.int(0, 50)}`;
}

export function extensionName(r: Random): string {
  return r.pick([
    'region',
    'tenant',
    'traceparent',
    'x',
    'a'.repeat(21),
    'Upper',
    'with-dash',
    'data',
    '__proto__',
  ]);
}

/** The JSON format of one CloudEvent (structured mode, batch entry). */
export function cloudEvent(r: Random, index: number, small = false): string {
  const members: Array<readonly [string, () => string]> = [
    [
      'specversion',
      () =>
        r.strict
          ? '"1.0"'
          : r.weighted([
              [20, '"1.0"'],
              [1, '"0.3"'],
              [1, '"2.0"'],
              [1, '1.0'],
            ]),
    ],
    ['id', () => jsonString(r.strict ? `fz-${index}` : eventId(r, index))],
    ['source', () => (r.strict || r.chance(0.9) ? jsonString(r.pick(SOURCES)) : hostileStringText(r))],
    ['type', () => (r.strict || r.chance(0.9) ? jsonString(r.pick(TYPES)) : hostileStringText(r))],
  ];
  if (r.chance(0.4)) members.push(['time', () => (r.strict ? '"2026-01-01T00:00:00Z"' : timeText(r))]);
  if (r.chance(0.3)) members.push(['subject', () => hostileStringText(r)]);
  if (!r.strict && r.chance(0.2)) members.push(['dataschema', () => hostileStringText(r)]);
  if (r.chance(0.5)) {
    members.push([
      'datacontenttype',
      () =>
        jsonString(
          r.pick([
            'application/json',
            'text/plain',
            'application/xml',
            'application/json; charset=latin1',
            '',
          ]),
        ),
    ]);
  }
  if (r.chance(0.3)) {
    const name = r.strict ? r.pick(['region', 'tenant']) : extensionName(r);
    members.push([
      name,
      () =>
        r.strict ? jsonString(r.pick(['eu', 'us'])) : r.chance(0.7) ? hostileStringText(r) : jsonValue(r, 1),
    ]);
  }
  const data = r.weighted<() => string>([
    [10, () => jsonObject2(r)],
    [2, () => jsonValue(r, 3)],
    [small || r.strict ? 0 : 1, () => deepJson(r, depth(r))],
    [small ? 0 : 1, () => jsonString('y'.repeat(r.pick([10, 1000, 100_000, 1_048_600])))],
  ]);
  if (r.strict || r.chance(0.8)) members.push(['data', data]);
  else
    members.push([
      'data_base64',
      () => jsonString(r.pick(['aGVsbG8=', 'aGVsbG8', '!!!!', '', '====', 'YQ==YQ=='])),
    ]);
  return object(r, members, 0.95);
}

/** Event data shaped like what patterns ask about (numbers, regions, nested objects). */
function jsonObject2(r: Random): string {
  return object(r, [
    ['total', () => numberText(r)],
    ['region', () => jsonString(r.pick(['eu', 'us', 'EU', 'ap', '']))],
    ['ip', () => jsonString(r.pick(['10.1.2.3', '192.168.0.1', '::1', 'not-an-ip', '999.1.1.1']))],
    ['items', () => array(r, 4, () => jsonValue(r, 1))],
    ['nested', () => jsonValue(r, 2)],
  ]);
}

// ---------- EventBridge patterns ----------

const OPS = ['<', '<=', '=', '>', '>=', '!=', 'x', ''];

function matcher(r: Random): string {
  if (r.strict) {
    switch (r.int(0, 7)) {
      case 0:
        return `{"numeric":[${jsonString(r.pick(['<', '<=', '=', '>', '>=']))},${r.int(-100, 1000)}]}`;
      case 1:
        return `{"exists":${r.pick(['true', 'false'])}}`;
      case 2:
        return `{"cidr":${jsonString(r.pick(['10.0.0.0/8', '192.168.0.0/16', '::/0']))}}`;
      case 3:
        return `{"wildcard":${jsonString(r.pick(['*', 'a*b', 'com.fuzz.*', '*a*a*a*a*a*a*a*a*a*b']))}}`;
      case 4:
        return `{"anything-but":${r.chance(0.5) ? hostileStringText(r) : `{"prefix":${hostileStringText(r)}}`}}`;
      case 5:
        return `{${jsonString(r.pick(['prefix', 'suffix', 'equals-ignore-case']))}:${hostileStringText(r)}}`;
      default:
        return r.chance(0.7) ? hostileStringText(r) : r.pick(['1', '0', 'null', 'true', '1e308', '-1.5']);
    }
  }
  switch (r.int(0, 13)) {
    case 0:
      return hostileStringText(r);
    case 1:
      return numberText(r);
    case 2:
      return r.pick(['null', 'true', 'false']);
    case 3:
      return `{"prefix":${r.chance(0.8) ? hostileStringText(r) : `{"equals-ignore-case":${hostileStringText(r)}}`}}`;
    case 4:
      return `{"suffix":${hostileStringText(r)}}`;
    case 5:
      return `{"equals-ignore-case":${hostileStringText(r)}}`;
    case 6:
      return `{"wildcard":${jsonString(r.pick(['*', 'a*b', '*a*a*a*a*a*a*a*a*a*b', 'a\\*b', '**', '\\', 'x*'.repeat(r.int(1, 200))]))}}`;
    case 7:
      return `{"anything-but":${r.pick([
        () => hostileStringText(r),
        () => numberText(r),
        () => array(r, 4, () => hostileStringText(r)),
        () => `{"prefix":${hostileStringText(r)}}`,
        () => `{"suffix":${hostileStringText(r)}}`,
        () => `{"equals-ignore-case":${array(r, 3, () => hostileStringText(r))}}`,
        () => `{"wildcard":${hostileStringText(r)}}`,
      ])()}}`;
    case 8: {
      const parts = [r.pick(OPS), numberText(r)];
      if (r.chance(0.5)) parts.push(jsonString(r.pick(OPS)), numberText(r));
      return `{"numeric":[${jsonString(parts[0] as string)},${parts.slice(1).join(',')}]}`;
    }
    case 9:
      return `{"exists":${r.pick(['true', 'false', '"yes"', '1'])}}`;
    case 10:
      return `{"cidr":${jsonString(r.pick(['10.0.0.0/8', '10.0.0.0/33', '::/0', '2001:db8::/129', 'x/8', '1.2.3.4']))}}`;
    case 11:
      return `{${jsonString(r.pick(['unknown-op', 'prefix', 'numeric']))}:${jsonValue(r, 1)}}`;
    case 12:
      return '{}';
    default:
      return `{"prefix":"a","suffix":"b"}`;
  }
}

const PATTERN_KEYS = ['source', 'type', 'id', 'subject', 'data', 'time', 'region', 'specversion'];

/** An EventBridge pattern object, `depthLeft` levels of nesting at most. */
export function pattern(r: Random, depthLeft = 3): string {
  if (!r.strict && r.chance(0.02)) return deepJson(r, depth(r));
  if (!r.strict && r.chance(0.03)) return jsonValue(r, 2);
  const n = r.int(r.strict ? 1 : 0, 4);
  const members: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = r.chance(0.85) ? r.pick(PATTERN_KEYS) : r.pick(HOSTILE_KEYS);
    let value: string;
    if (key === '$or' || (r.chance(0.05) && depthLeft > 0)) {
      const alternatives = r.int(r.strict ? 2 : 0, 3);
      value = `[${Array.from({ length: alternatives }, () => pattern(r, depthLeft - 1)).join(',')}]`;
      members.push(`"$or":${value}`);
      continue;
    }
    if ((key === 'data' || r.chance(0.1)) && depthLeft > 0) value = pattern(r, depthLeft - 1);
    else if (!r.strict && r.chance(0.05)) value = jsonValue(r, 1);
    else value = `[${Array.from({ length: r.int(r.strict ? 1 : 0, 4) }, () => matcher(r)).join(',')}]`;
    members.push(`${jsonString(key)}:${value}`);
  }
  return `{${members.join(',')}}`;
}

// ---------- CESQL ----------

const IDENTIFIERS = [
  'source',
  'type',
  'id',
  'subject',
  'time',
  'region',
  'data',
  'data.total',
  'data.region',
  'x',
  'specversion',
];
const FUNCTIONS = [
  'ABS',
  'LENGTH',
  'CONCAT',
  'CONCAT_WS',
  'LOWER',
  'UPPER',
  'TRIM',
  'LEFT',
  'RIGHT',
  'SUBSTRING',
  'INT',
  'BOOL',
  'STRING',
  'IS_INT',
  'IS_BOOL',
  'NOPE',
];
const BINARY = ['=', '!=', '<>', '<', '<=', '>', '>=', 'AND', 'OR', 'XOR', '+', '-', '*', '/', '%'];

function sqlLiteral(r: Random): string {
  return r.pick([
    () => String(r.int(-5, 1000)),
    () => r.pick(['2147483647', '2147483648', '-2147483648', '-2147483649', '99999999999999999999', '0']),
    () => `'${hostileString(r).replaceAll("'", "''")}'`,
    () => `"${hostileString(r).replaceAll('"', '\\"')}"`,
    () => r.pick(['TRUE', 'FALSE', 'true', "'%'", "'a%b_c'", "'\\'", "'it''s'"]),
  ])();
}

function sqlExpr(r: Random, depthLeft: number): string {
  if (depthLeft <= 0) return r.chance(0.5) ? sqlLiteral(r) : r.pick(IDENTIFIERS);
  switch (r.int(0, 8)) {
    case 0:
      return sqlLiteral(r);
    case 1:
      return r.pick(IDENTIFIERS);
    case 2:
      return `${sqlExpr(r, depthLeft - 1)} ${r.pick(BINARY)} ${sqlExpr(r, depthLeft - 1)}`;
    case 3:
      return `${r.pick(['NOT ', '-', 'NOT NOT '])}${sqlExpr(r, depthLeft - 1)}`;
    case 4:
      return `${r.pick(IDENTIFIERS)} ${r.chance(0.3) ? 'NOT ' : ''}LIKE ${sqlLiteral(r)}`;
    case 5:
      return `${sqlExpr(r, depthLeft - 1)} ${r.chance(0.3) ? 'NOT ' : ''}IN (${Array.from({ length: r.int(0, 4) }, () => sqlLiteral(r)).join(', ')})`;
    case 6:
      return `EXISTS ${r.pick(IDENTIFIERS)}`;
    case 7:
      return `${r.pick(FUNCTIONS)}(${Array.from({ length: r.int(0, 3) }, () => sqlExpr(r, depthLeft - 1)).join(', ')})`;
    default:
      return `(${sqlExpr(r, depthLeft - 1)})`;
  }
}

/** A CESQL filter: a generated expression, sometimes mutated at the character level, sometimes very deep. */
export function filter(r: Random): string {
  const deep = !r.strict && r.chance(0.03);
  if (deep) {
    const n = depth(r);
    return r.pick([
      () => `${'('.repeat(n)}TRUE${')'.repeat(n)}`,
      () => `${'NOT '.repeat(n)}TRUE`,
      () => `${'-'.repeat(n)}1 = 1`,
      () => `${'ABS('.repeat(n)}1${')'.repeat(n)} = 1`,
      () => Array.from({ length: Math.min(n, 20000) }, () => '1').join(' + '),
    ])();
  }
  let text = sqlExpr(r, r.int(0, 4));
  if (!r.strict && r.chance(0.2)) {
    const at = r.int(0, text.length);
    text =
      text.slice(0, at) +
      r.pick(['(', ')', "'", '"', ',', ' AND', '%', '\\', '\u0000', '💥', '']) +
      text.slice(at + 1);
  }
  return text;
}

// ---------- Rules and targets ----------

/** Filters that compile, for rules meant to get past validation. */
const STRICT_FILTERS = [
  "region = 'eu'",
  'data.total > 100',
  "source LIKE 'urn:%'",
  "type IN ('com.fuzz.created', 'com.fuzz.updated')",
  'EXISTS subject',
  "NOT (LENGTH(id) > 3) OR UPPER(type) = 'X'",
];

const URLS = [
  'http://127.0.0.1:1/hook',
  'http://localhost:1/',
  'http://[::1]:1/x',
  'https://127.0.0.1:1/',
  'http://fuzz.invalid/hook',
  'ftp://127.0.0.1:1/',
  'not a url',
  'http://user:pass@127.0.0.1:1/',
  'http://127.0.0.1:99999/',
  '',
];

function retry(r: Random): string {
  return object(r, [
    ['maxAttempts', () => r.pick(['1', '2', '0', '-1', '1e9', '1.5'])],
    ['maxAgeSeconds', () => r.pick(['1', '60', '0', '86400', '1e20'])],
    [
      'backoff',
      () =>
        object(r, [
          ['kind', () => jsonString(r.pick(['exponential', 'fixed', 'linear', '']))],
          ['initialMs', () => r.pick(['1', '1000', '0', '-5'])],
          ['maxMs', () => r.pick(['10', '300000', '0', '1e300'])],
          ['jitter', () => r.pick(['true', 'false', '"no"'])],
        ]),
    ],
  ]);
}

function input(r: Random): string {
  return object(r, [
    [
      'paths',
      () =>
        `{"a":${jsonString(r.pick(['$.data.total', '$.id', '$', '$..x', '$.data[0]', 'data', '$.__proto__']))}}`,
    ],
    [
      'template',
      () => jsonString(r.pick(['{"a": <a>}', '<a>', '"<a>"', '<missing>', '<<a>>', '{"a": <a', ''])),
    ],
  ]);
}

function target(r: Random, i: number): string {
  const type = r.weighted([
    [5, 'http'],
    [3, 'function'],
    [1, 'kafka'],
    [1, 'bus'],
    [r.strict ? 0 : 1, 'sms'],
  ]);
  const members: Array<readonly [string, () => string]> = [
    ['id', () => jsonString(r.strict || r.chance(0.9) ? `t${i}` : hostileString(r))],
    ['type', () => jsonString(type)],
  ];
  if (r.chance(0.3))
    members.push(['delivery', () => jsonString(r.pick(['at-least-once', 'exactly-once', 'at-most-once']))]);
  if (r.strict) {
    // A short retry so that failing deliveries end in dead letters within the run.
    if (r.chance(0.5))
      members.push(['retry', () => '{"maxAttempts":2,"backoff":{"kind":"fixed","initialMs":10}}']);
    if (r.chance(0.2)) members.push(['concurrency', () => r.pick(['1', '16'])]);
    if (r.chance(0.2)) members.push(['timeoutMs', () => r.pick(['100', '1000'])]);
    if (r.chance(0.1)) members.push(['input', () => '{"paths":{"a":"$.id"},"template":"{\\"a\\": <a>}"}']);
  } else {
    if (r.chance(0.3)) members.push(['retry', () => retry(r)]);
    if (r.chance(0.2))
      members.push(['concurrency', () => r.pick(['1', '16', '1024', '1025', '0', '-1', '1.5'])]);
    if (r.chance(0.2)) members.push(['timeoutMs', () => r.pick(['1', '100', '10000', '0', '1e12'])]);
    if (r.chance(0.2)) members.push(['input', () => input(r)]);
  }
  if (type === 'http' || type === 'bus') {
    members.push(['url', () => jsonString(r.strict ? r.pick(URLS.slice(0, 4)) : r.pick(URLS))]);
    if (type === 'http' && !r.strict) {
      if (r.chance(0.3)) members.push(['method', () => jsonString(r.pick(['POST', 'PUT', 'GET', 'post']))]);
      if (r.chance(0.3)) members.push(['mode', () => jsonString(r.pick(['binary', 'structured', 'batch']))]);
      if (r.chance(0.3)) {
        members.push([
          'headers',
          () =>
            `{${jsonString(r.pick(['x-a', 'ce-id', 'content-type', 'Host', 'bad header', '']))}:${hostileStringText(r)}}`,
        ]);
      }
      if (r.chance(0.2)) {
        members.push([
          'batch',
          () =>
            `{"maxSize":${r.pick(['1', '10', '1000', '1001', '0'])},"windowMs":${r.pick(['0', '10', '60000', '60001'])}}`,
        ]);
      }
    }
  } else if (type === 'function') {
    members.push([
      'function',
      () => jsonString(r.strict || r.chance(0.7) ? r.pick(FUNCTION_NAMES) : hostileString(r)),
    ]);
  } else if (type === 'kafka') {
    members.push([
      'topic',
      () => jsonString(r.strict ? 'fuzz-topic' : r.pick(['fuzz-topic', 'a b', '', '.', 'x'.repeat(250)])),
    ]);
    members.push([
      'brokers',
      () =>
        `[${jsonString(r.strict ? '127.0.0.1:1' : r.pick(['127.0.0.1:1', 'localhost:1', 'nohost', '']))}]`,
    ]);
  }
  return object(r, members, r.strict ? 1 : 0.95);
}

/** The body of `PUT /rules/{name}`. */
export function rule(r: Random): string {
  if (r.strict) {
    return object(
      r,
      [
        ['description', () => hostileStringText(r)],
        ['enabled', () => r.pick(['true', 'false'])],
        ['pattern', () => pattern(r)],
        ...(r.chance(0.2) ? ([['filter', () => jsonString(r.pick(STRICT_FILTERS))]] as const) : []),
        ['targets', () => `[${Array.from({ length: r.int(1, 3) }, (_, i) => target(r, i)).join(',')}]`],
      ],
      0.9,
    );
  }
  const targets = r.weighted([
    [10, () => `[${Array.from({ length: r.int(1, 3) }, (_, i) => target(r, i)).join(',')}]`],
    [1, () => '[]'],
    [1, () => `[${Array.from({ length: 11 }, (_, i) => target(r, i)).join(',')}]`],
    [1, () => jsonValue(r, 1)],
  ]);
  return object(r, [
    ['description', () => (r.chance(0.9) ? hostileStringText(r) : jsonString('d'.repeat(513)))],
    ['enabled', () => r.pick(['true', 'false', '"true"', '1'])],
    ['pattern', () => pattern(r)],
    ['filter', () => jsonString(filter(r))],
    ['targets', targets],
  ]);
}

// ---------- Names ----------

/** Valid rule names, including ones that are also names of Object.prototype members. */
export const RULE_NAMES = [
  'r1',
  'r2',
  'fz.rule',
  'A-b_c',
  'x'.repeat(64),
  '__proto__',
  'constructor',
  'toString',
];
export const FUNCTION_NAMES = ['fn1', 'fn2', 'constructor', 'toString', 'hasOwnProperty'];

/** Path segments that are not plain names: bad percent-encoding, encoded slashes, dots, surrogates, lengths. */
export const ODD_SEGMENTS = [
  '%',
  '%zz',
  '%2',
  '%2F',
  'a%2Fb',
  '%252F',
  '%00',
  '%C0%AF',
  '%ED%A0%80',
  '%F4%90%80%80',
  '%E2%82',
  '%FF',
  '..',
  '.',
  '%2e%2e',
  '%20',
  '%E2%80%AE',
  'x'.repeat(65),
  'x'.repeat(5000),
  'é',
  '\u00ff',
  '__proto__',
  'constructor',
  '[object%20Object]',
  'a;b',
  'a,b',
  "a'b",
  'a"b',
  '<x>',
  '~',
];

export function segment(r: Random, valid: readonly string[]): string {
  if (r.strict || r.chance(0.8)) return encodeURIComponent(r.pick(valid));
  return r.chance(0.7)
    ? r.pick(ODD_SEGMENTS)
    : encodeURIComponent(hostileString(r).replace(/[\ud800-\udfff]/g, 'x'));
}

// ---------- Function sources ----------

export function functionSource(r: Random): string {
  return r.pick([
    'export async function handler(event) { return undefined; }',
    'export const handler = async (event: { id: string }): Promise<void> => { void event; };',
    'export async function handler(event) {',
    'export function handler( {',
    '}}}}',
    '',
    ' ',
    'export default 1;',
    'module.exports.handler = () => {};',
    'import fs from "node:fs"; export async function handler() { fs.readFileSync("/etc/passwd"); }',
    'import x from "does-not-exist"; export const handler = () => x;',
    'export const handler = 1;',
    'PK\u0003\u0004junk',
    '\u0000\u0001\u0002',
    'export async function handler() { throw new Error("boom"); }',
    `export async function handler() { return ${jsonString('x'.repeat(1000))}.length; }`,
    'export const handler = async () => { const a = []; a.length = 1e10; };',
    '/* 💥 \ud800 */ export async function handler() {}',
  ]);
}
