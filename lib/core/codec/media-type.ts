/**
 * Media types (RFC 2046, syntax of RFC 9110 §8.3.1): a linear parser, and the payload kind Junction maps
 * each type to (JSON value, text string, or opaque bytes).
 */

export interface MediaType {
  /** `type/subtype`, lower case. */
  readonly essence: string;
  readonly type: string;
  readonly subtype: string;
  /** Parameters by lower-case name; values unquoted, case kept. */
  readonly params: ReadonlyMap<string, string>;
}

/** How a payload of this media type is held in the event: JSON value in `data`, string in `data`, or bytes. */
export type PayloadKind = 'json' | 'text' | 'binary';

const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1;
}

function isToken(code: number): boolean {
  return code < 128 && TOKEN[code] === 1;
}

/** Parses `type/subtype; name=value…`, or returns `undefined` when it is not a valid media type. */
export function parseMediaType(text: string): MediaType | undefined {
  const n = text.length;
  let i = 0;
  while (i < n && isToken(text.charCodeAt(i))) i++;
  if (i === 0 || i >= n || text.charCodeAt(i) !== 0x2f) return undefined;
  const type = text.slice(0, i).toLowerCase();
  const subStart = ++i;
  while (i < n && isToken(text.charCodeAt(i))) i++;
  if (i === subStart) return undefined;
  const subtype = text.slice(subStart, i).toLowerCase();
  const params = new Map<string, string>();
  while (i < n) {
    i = skipSpace(text, i);
    if (i >= n) break;
    if (text.charCodeAt(i) !== 0x3b) return undefined;
    i = skipSpace(text, i + 1);
    const nameStart = i;
    while (i < n && isToken(text.charCodeAt(i))) i++;
    if (i === nameStart || i >= n || text.charCodeAt(i) !== 0x3d) return undefined;
    const name = text.slice(nameStart, i).toLowerCase();
    i++;
    let value: string;
    if (i < n && text.charCodeAt(i) === 0x22) {
      const quoted = readQuoted(text, i);
      if (quoted === undefined) return undefined;
      value = quoted.value;
      i = quoted.end;
    } else {
      const valueStart = i;
      while (i < n && isToken(text.charCodeAt(i))) i++;
      if (i === valueStart) return undefined;
      value = text.slice(valueStart, i);
    }
    params.set(name, value);
  }
  return { essence: `${type}/${subtype}`, type, subtype, params };
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i++;
  return i;
}

function readQuoted(text: string, start: number): { value: string; end: number } | undefined {
  let value = '';
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return { value, end: i + 1 };
    if (code === 0x5c) {
      i++;
      if (i >= text.length) return undefined;
      value += text[i];
    } else if (code < 0x20 && code !== 0x09) return undefined;
    else value += text[i];
  }
  return undefined;
}

const TEXT_TYPES: ReadonlySet<string> = new Set([
  'application/xml',
  'application/yaml',
  'application/x-yaml',
  'application/x-www-form-urlencoded',
  'application/javascript',
  'application/graphql',
]);

const kindCache = new Map<string, PayloadKind | null>();
const KIND_CACHE_LIMIT = 512;

/**
 * The payload kind of a datacontenttype; `undefined` (absent) means JSON, as the JSON format says.
 * JSON: `*\/json`, `*\/*+json`. Text: `text/*`, `*\/xml`, `*\/*+xml` and a few textual `application/*`
 * types, when the charset (if any) is UTF-8 or US-ASCII. Everything else: bytes. `null` when invalid.
 */
export function payloadKind(contentType: string | undefined): PayloadKind | null {
  if (contentType === undefined) return 'json';
  // Events come in runs of one content type: one comparison instead of hashing the string for the map.
  if (contentType === lastType) return lastKind;
  let kind = kindCache.get(contentType);
  if (kind === undefined) {
    kind = computeKind(contentType);
    if (kindCache.size >= KIND_CACHE_LIMIT) kindCache.clear();
    kindCache.set(contentType, kind);
  }
  lastType = contentType;
  lastKind = kind;
  return kind;
}

let lastType: string | undefined;
let lastKind: PayloadKind | null = null;

function computeKind(contentType: string): PayloadKind | null {
  const media = parseMediaType(contentType);
  if (media === undefined) return null;
  const { type, subtype } = media;
  if (subtype === 'json' || subtype.endsWith('+json')) return 'json';
  const charset = media.params.get('charset')?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii')
    return 'binary';
  if (type === 'text' || subtype === 'xml' || subtype.endsWith('+xml') || TEXT_TYPES.has(media.essence)) {
    return 'text';
  }
  return 'binary';
}

/** Whether `text` is a valid media type (cached, so repeated content types cost a map lookup). */
export function isMediaType(text: string): boolean {
  return payloadKind(text) !== null;
}
