/**
 * The API fuzzer's request generator: input `index` of `seed` is one HTTP request to one endpoint of docs/api.md,
 * built from the grammars in grammar.ts and then, sometimes, mutated (method, path, headers or body bytes).
 */
import {
  cloudEvent,
  eventId,
  extensionName,
  FUNCTION_NAMES,
  filter,
  functionSource,
  ODD_SEGMENTS,
  pattern,
  RULE_NAMES,
  rule,
  SOURCES,
  segment,
  TYPES,
} from './grammar.ts';
import { Random } from './random.ts';
import {
  deepJson,
  depth,
  hostileString,
  hostileStringText,
  jsonObject,
  jsonString,
  jsonValue,
  mutateBytes,
  numberText,
  timeText,
  utf8,
} from './values.ts';

export interface FuzzRequest {
  /** The endpoint it aims at, as the summary table names it (e.g. `POST /events binary`). */
  readonly endpoint: string;
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  /** In order; a name may repeat (duplicate headers). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
  /** The EventBridge-compatible endpoint: its 4xx bodies are `{"__type", "message"}`, not `{"error"}`. */
  readonly aws: boolean;
}

/** What the generators share for one input. */
interface Draft {
  endpoint: string;
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: string | Uint8Array;
  aws?: boolean;
  /** Whether the body is JSON text (then byte mutations are worth trying). */
  json?: boolean;
}

const ALL_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'FOO', 'M-SEARCH'];

/** A header value undici will send: printable Latin-1 (non-ASCII UTF-8 goes as its Latin-1 bytes) or junk. */
function headerValue(r: Random): string {
  const text = r.chance(0.5) ? hostileString(r) : r.pick(['', ' ', '\t', 'a'.repeat(9000), 'x,y', '"q"']);
  const bytes = Buffer.from(text.replace(/[\ud800-\udfff]/g, '\ufffd'), 'utf8').toString('latin1');
  return bytes.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
}

function query(pairs: Array<[string, string]>): string {
  if (pairs.length === 0) return '';
  return `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`;
}

/** A query value, percent-encoded or raw odd encoding. */
function queryValue(r: Random, valid: () => string): string {
  if (r.chance(0.7)) return encodeURIComponent(valid());
  return r.pick(ODD_SEGMENTS);
}

function binaryEvent(r: Random, index: number): Draft {
  const headers: Array<[string, string]> = [];
  const put = (name: string, value: string) => {
    if (r.strict) {
      headers.push([name, value]);
      return;
    }
    if (r.chance(0.96)) headers.push([name, r.chance(0.05) ? headerValue(r) : value]);
    if (r.chance(0.02)) headers.push([name, headerValue(r)]); // duplicate
  };
  put(
    'ce-specversion',
    r.strict
      ? '1.0'
      : r.weighted([
          [20, '1.0'],
          [1, '0.3'],
          [1, '1.1'],
        ]),
  );
  put(
    'ce-id',
    r.strict ? `fz-${index}` : encodeURIComponent(eventId(r, index).replace(/[\ud800-\udfff]/g, 'x')),
  );
  put('ce-source', r.pick(SOURCES));
  put('ce-type', r.pick(TYPES));
  if (r.chance(0.3)) put('ce-time', r.pick(['2026-01-01T00:00:00Z', '2026-02-30T00:00:00Z', 'now', '']));
  if (r.chance(0.2)) put('ce-subject', r.pick(['%E2%82%AC', '%', '%zz', '%ED%A0%80', 'plain', '"quoted"']));
  if (r.chance(0.2)) put(`ce-${extensionName(r).toLowerCase()}`, headerValue(r));
  if (!r.strict && r.chance(0.05)) put('ce-', 'x');
  if (!r.strict && r.chance(0.05)) put('ce-data', 'x');
  const contentType = r.strict
    ? r.pick(['application/json', 'text/plain', ''])
    : r.weighted([
        [6, 'application/json'],
        [2, 'text/plain; charset=utf-8'],
        [1, 'application/octet-stream'],
        [1, 'application/cloudevents'],
        [1, 'application/cloudevents+xml'],
        [1, 'application/json; charset=latin1'],
        [1, ';;;'],
        [1, 'application/json; charset="'],
        [2, ''],
      ]);
  if (contentType !== '') headers.push(['content-type', contentType]);
  const body = r.weighted<() => string>([
    [6, () => jsonObject(r, 2)],
    [2, () => jsonValue(r, 3)],
    [1, () => ''],
    [r.strict ? 0 : 1, () => deepJson(r, depth(r))],
    [1, () => 'z'.repeat(r.pick([1, 1000, 100_000, 1_048_577]))],
  ])();
  return { endpoint: 'POST /events binary', method: 'POST', path: '/events', headers, body, json: true };
}

function structuredEvent(r: Random, index: number): Draft {
  const contentType = r.weighted([
    [10, 'application/cloudevents+json'],
    [3, 'application/cloudevents+json; charset=utf-8'],
    [1, 'APPLICATION/CLOUDEVENTS+JSON'],
    [1, 'application/cloudevents+json; charset=latin1'],
    [1, 'application/cloudevents+json;;'],
    [1, 'application/cloudevents+json; charset="utf-8"; x'],
  ]);
  const headers: Array<[string, string]> = [['content-type', contentType]];
  if (r.chance(0.05)) headers.push(['content-type', 'application/json']);
  if (r.chance(0.1)) headers.push(['ce-id', 'binary-header-in-structured-mode']);
  const body = r.chance(0.9) ? cloudEvent(r, index) : r.chance(0.5) ? jsonValue(r, 3) : deepJson(r, depth(r));
  return { endpoint: 'POST /events structured', method: 'POST', path: '/events', headers, body, json: true };
}

function batchEvents(r: Random, index: number): Draft {
  const contentType = r.pick([
    'application/cloudevents-batch+json',
    'application/cloudevents-batch+json; charset=utf-8',
    'application/cloudevents-batch+xml',
  ]);
  const count = r.weighted([
    [20, () => r.length(20)],
    [1, () => 1000],
    [1, () => 1001],
  ])();
  const body = r.weighted<() => string>([
    [
      10,
      () => `[${Array.from({ length: count }, (_, i) => cloudEvent(r, index * 10_000 + i, true)).join(',')}]`,
    ],
    [1, () => jsonValue(r, 2)],
    [1, () => `[${Array.from({ length: count }, () => jsonValue(r, 1)).join(',')}]`],
    [1, () => deepJson(r, depth(r))],
  ])();
  return {
    endpoint: 'POST /events batch',
    method: 'POST',
    path: '/events',
    headers: [['content-type', contentType]],
    body,
    json: true,
  };
}

/** The start of a time range: strict inputs use the last minutes (so that replays stay small). */
function from(r: Random): string {
  return r.strict ? String(Date.now() - r.int(1_000, 120_000)) : timeText(r);
}

function to(r: Random): string {
  return r.strict ? String(Date.now() + 1_000) : timeText(r);
}

function json(endpoint: string, method: string, path: string, body: string): Draft {
  return { endpoint, method, path, headers: [['content-type', 'application/json']], body, json: true };
}

function putRule(r: Random): Draft {
  return json('PUT /rules/{name}', 'PUT', `/rules/${segment(r, RULE_NAMES)}`, rule(r));
}

function simulate(r: Random): Draft {
  const body =
    !r.strict && r.chance(0.05)
      ? jsonValue(r, 2)
      : `{"from":${from(r)},"to":${to(r)}${r.chance(0.5) ? `,"pattern":${pattern(r)}` : ''}${
          r.chance(0.3) ? `,"filter":${jsonString(filter(r))}` : ''
        }${r.chance(0.3) ? `,"sample":${numberText(r)}` : ''}}`;
  return json('POST /rules/{name}/simulate', 'POST', `/rules/${segment(r, RULE_NAMES)}/simulate`, body);
}

function patternTest(r: Random, index: number): Draft {
  const members: string[] = [];
  if (r.chance(0.8)) members.push(`"pattern":${pattern(r)}`);
  if (r.chance(0.3))
    members.push(`"filter":${r.strict || r.chance(0.9) ? jsonString(filter(r)) : jsonValue(r, 1)}`);
  if (r.strict || r.chance(0.95))
    members.push(`"event":${r.strict || r.chance(0.8) ? cloudEvent(r, index) : jsonValue(r, 3)}`);
  const body = !r.strict && r.chance(0.03) ? deepJson(r, depth(r)) : `{${members.join(',')}}`;
  return json('POST /patterns/test', 'POST', '/patterns/test', body);
}

function putFunction(r: Random): Draft {
  const q: Array<[string, string]> = [];
  if (r.chance(0.3)) q.push(['timeoutMs', r.pick(['100', '0', '-1', '1e3', '999999999999999', 'abc', ''])]);
  if (r.chance(0.3)) q.push(['memoryMb', r.pick(['64', '0', '1', '100000', '1.5', ''])]);
  return {
    endpoint: 'PUT /functions/{name}',
    method: 'PUT',
    path: `/functions/${segment(r, FUNCTION_NAMES)}${query(q)}`,
    headers: [['content-type', r.pick(['text/javascript', 'application/typescript', 'application/zip', ''])]],
    body: functionSource(r),
  };
}

function deadLetters(r: Random): Draft {
  const q: Array<[string, string]> = [];
  if (r.chance(0.3)) q.push(['rule', queryValue(r, () => r.pick(RULE_NAMES))]);
  if (r.chance(0.2)) q.push(['target', queryValue(r, () => 't0')]);
  if (r.chance(0.2)) q.push(['from', queryValue(r, () => JSON.parse(timeText(r)) as string)]);
  if (r.chance(0.2)) q.push(['to', queryValue(r, () => JSON.parse(timeText(r)) as string)]);
  for (let i = r.length(3); i > 0; i--) q.push(['id', queryValue(r, () => `fz-${r.int(0, 100)}`)]);
  if (r.chance(0.3))
    q.push(['limit', r.pick(['0', '1', '100', '1000', '1000000', '999999999999999', '-1', '1.5', 'x', ''])]);
  if (r.chance(0.05)) q.push([r.pick(['%zz', '__proto__', 'limit', '']), r.pick(['%', '1', ''])]);
  return {
    endpoint: 'GET /dead-letters',
    method: 'GET',
    path: `/dead-letters${query(q)}`,
    headers: [],
    body: '',
  };
}

function redrive(r: Random): Draft {
  const body = r.pick([
    () => '{"all":true}',
    () => `{"rule":${jsonString(r.pick(RULE_NAMES))}}`,
    () =>
      `{"ids":[${Array.from({ length: r.length(5) }, () => jsonString(`fz-${r.int(0, 100)}`)).join(',')}]}`,
    () => `{"ids":${jsonValue(r, 1)}}`,
    () => `{"rule":${jsonValue(r, 1)},"all":${jsonValue(r, 0)}}`,
    () => '{}',
    () => '',
    () => jsonValue(r, 2),
  ])();
  return json('POST /dead-letters/redrive', 'POST', '/dead-letters/redrive', body);
}

function replay(r: Random): Draft {
  const body =
    !r.strict && r.chance(0.05)
      ? jsonValue(r, 2)
      : `{"from":${from(r)},"to":${to(r)}${r.chance(0.5) ? `,"rule":${jsonString(r.pick(RULE_NAMES))}` : ''}${
          r.chance(0.3) ? `,"name":${hostileStringText(r)}` : ''
        }}`;
  return json('POST /replays', 'POST', '/replays', body);
}

function trace(r: Random, index: number): Draft {
  const id = r.chance(0.8) ? encodeURIComponent(`fz-${r.int(0, Math.max(0, index))}`) : segment(r, ['fz-1']);
  const q: Array<[string, string]> = r.chance(0.6) ? [['source', queryValue(r, () => r.pick(SOURCES))]] : [];
  return {
    endpoint: 'GET /events/{id}/trace',
    method: 'GET',
    path: `/events/${id}/trace${query(q)}`,
    headers: [],
    body: '',
  };
}

function amz(r: Random, index: number): Draft {
  const target = r.weighted([
    [6, 'AWSEvents.PutEvents'],
    [3, 'AWSEvents.TestEventPattern'],
    [1, r.pick(['AWSEvents.PutRule', '', 'AWSEvents.', 'putevents', 'x'.repeat(200)])],
  ]);
  const entry = () => {
    const detail = r.chance(0.8) ? jsonObject(r, 2) : r.pick(['', 'not json', deepJson(r, 100), '1e999']);
    const members = [
      `"Source":${r.chance(0.8) ? jsonString(r.pick(SOURCES)) : hostileStringText(r)}`,
      `"DetailType":${r.chance(0.8) ? jsonString(r.pick(TYPES)) : hostileStringText(r)}`,
      `"Detail":${r.chance(0.95) ? jsonString(detail) : jsonValue(r, 1)}`,
    ];
    if (r.chance(0.3)) members.push(`"Time":${timeText(r)}`);
    if (r.chance(0.2))
      members.push(`"Resources":${r.chance(0.7) ? `[${hostileStringText(r)}]` : jsonValue(r, 1)}`);
    if (r.chance(0.2)) members.push(`"EventBusName":${hostileStringText(r)}`);
    if (r.chance(0.1)) members.push(`"TraceHeader":${hostileStringText(r)}`);
    return `{${members.filter(() => r.chance(0.95)).join(',')}}`;
  };
  let body: string;
  if (target === 'AWSEvents.TestEventPattern') {
    const event = `{"id":${jsonString(`fz-${index}`)},"source":${jsonString(r.pick(SOURCES))},"detail-type":"t","account":"1","region":"eu-west-1","time":"2026-01-01T00:00:00Z","resources":[],"detail":${jsonObject(r, 2)}}`;
    body = `{"EventPattern":${r.chance(0.9) ? jsonString(pattern(r)) : jsonValue(r, 1)},"Event":${
      r.chance(0.9) ? jsonString(r.chance(0.8) ? event : jsonValue(r, 2)) : jsonValue(r, 1)
    }}`;
  } else {
    const count = r.weighted([
      [10, () => r.int(0, 5)],
      [1, () => 10],
      [1, () => 11],
    ])();
    body = r.chance(0.9)
      ? `{"Entries":[${Array.from({ length: count }, entry).join(',')}]}`
      : jsonValue(r, 2);
  }
  const headers: Array<[string, string]> = [
    ['content-type', r.pick(['application/x-amz-json-1.1', 'application/json', 'text/plain'])],
    ['x-amz-target', target],
  ];
  if (r.chance(0.03)) headers.push(['x-amz-target', 'AWSEvents.TestEventPattern']);
  return {
    endpoint: `POST / ${target === 'AWSEvents.PutEvents' || target === 'AWSEvents.TestEventPattern' ? target : '(unknown target)'}`,
    method: 'POST',
    path: '/',
    headers,
    body,
    aws: true,
    json: true,
  };
}

function simple(endpoint: string): (r: Random) => Draft {
  const [method, path] = endpoint.split(' ') as [string, string];
  return (r) => {
    const real = path
      .replace('{name}', segment(r, path.startsWith('/rules') ? RULE_NAMES : FUNCTION_NAMES))
      .replace('{id}', segment(r, ['fz-1']));
    return { endpoint, method, path: real, headers: [], body: '' };
  };
}

/** Any method on any known or unknown path: wrong methods, unknown routes, odd paths. */
function chaos(r: Random, index: number): Draft {
  const path = r.pick([
    '/',
    '/events',
    '/events/',
    '//events',
    '/events/fz-1',
    '/events/fz-1/trace/x',
    '/rules',
    '/rules/r1',
    '/rules/r1/simulate',
    '/rules/r1/simulate/x',
    '/rules/r1/x',
    '/patterns',
    '/patterns/test',
    '/patterns/x',
    '/functions',
    '/functions/fn1',
    '/functions/fn1/x',
    '/dead-letters',
    '/dead-letters/redrive',
    '/dead-letters/x',
    '/replays',
    '/replays/x',
    '/metrics',
    '/metrics/x',
    '/healthz',
    '/healthz/',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/%',
    '/%zz',
    '/%ED%A0%80',
    '/__proto__',
    '/constructor',
    `/${'a/'.repeat(2000)}`,
    `/x?${'a=1&'.repeat(2000)}`,
    '/events?%zz=%zz',
    '/*',
    '/\u00ff',
    '/?',
    '/#frag',
  ]);
  const method = r.pick(ALL_METHODS);
  const draft: Draft = { endpoint: 'any method, any path', method, path, headers: [], body: '' };
  if (method === 'POST' || method === 'PUT' || method === 'PATCH' || r.chance(0.1)) {
    draft.body = r.chance(0.7) ? jsonValue(r, 2) : cloudEvent(r, index);
    draft.headers.push([
      'content-type',
      r.pick(['application/json', 'application/cloudevents+json', 'text/plain']),
    ]);
    draft.json = true;
  }
  return draft;
}

type Generator = (r: Random, index: number) => Draft;

/** Each endpoint of docs/api.md with its share of the inputs (function deploys are rare: they run esbuild). */
const GENERATORS: ReadonlyArray<readonly [number, Generator]> = [
  [120, binaryEvent],
  [120, structuredEvent],
  [60, batchEvents],
  [60, (r) => amz(r, 0)],
  [60, putRule],
  [15, simple('GET /rules/{name}')],
  [15, simple('DELETE /rules/{name}')],
  [10, simple('GET /rules')],
  [25, simulate],
  [80, patternTest],
  [1, putFunction],
  [8, simple('GET /functions/{name}')],
  [4, simple('DELETE /functions/{name}')],
  [8, simple('GET /functions')],
  [20, deadLetters],
  [15, redrive],
  [12, replay],
  [30, trace],
  [10, simple('GET /metrics')],
  [10, simple('GET /healthz')],
  [5, simple('GET /')],
  [60, chaos],
];

/** Input `index` of run `seed`. */
export function generateRequest(seed: number, index: number): FuzzRequest {
  const r = new Random(seed, index);
  r.strict = r.chance(0.5);
  const generate = r.weighted(GENERATORS);
  const draft = generate(r, index);
  let body = typeof draft.body === 'string' ? utf8(draft.body) : draft.body;
  if (draft.json && !r.strict && r.chance(0.2)) body = mutateBytes(r, body);
  let method = draft.method;
  if (!r.strict && r.chance(0.05)) method = r.pick(ALL_METHODS);
  const headers = draft.headers;
  if (!r.strict && r.chance(0.1))
    headers.push([r.pick(['x-junk', 'accept', 'content-type', 'x-amz-target', 'ce-id']), headerValue(r)]);
  if (r.chance(0.002)) headers.push(['x-big', 'h'.repeat(17_000)]);
  return {
    endpoint: draft.endpoint,
    method,
    path: draft.path,
    headers,
    body,
    aws: draft.aws ?? false,
  };
}

/** Every endpoint label the generators use (the summary table lists each). */
export const ENDPOINTS = [
  'POST /events binary',
  'POST /events structured',
  'POST /events batch',
  'POST / AWSEvents.PutEvents',
  'POST / AWSEvents.TestEventPattern',
  'POST / (unknown target)',
  'PUT /rules/{name}',
  'GET /rules/{name}',
  'DELETE /rules/{name}',
  'GET /rules',
  'POST /rules/{name}/simulate',
  'POST /patterns/test',
  'PUT /functions/{name}',
  'GET /functions/{name}',
  'DELETE /functions/{name}',
  'GET /functions',
  'GET /dead-letters',
  'POST /dead-letters/redrive',
  'POST /replays',
  'GET /events/{id}/trace',
  'GET /metrics',
  'GET /healthz',
  'GET /',
  'any method, any path',
];
