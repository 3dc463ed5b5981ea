/**
 * Reads the machine-checked parts of the docs: the ```http examples of docs/api.md (request, then the expected
 * response), the endpoints and error codes the prose names, and the ```ts snippets of README.md and docs/*.md.
 * The format is described in docs/api.md ("How the examples are checked").
 */
import { readFileSync } from 'node:fs';

/**
 * The wildcard of an example: `"…"` stands for any value; `…` in text or a header for any run of characters.
 * `"{{name}}"` in a documented JSON answer stands for any value too, and captures it for later requests.
 */
export const ANY = '…';

export interface ExampleMessage {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface HttpExample {
  /** `docs/api.md:123`, the line of the opening fence. */
  readonly where: string;
  /** Words after ```http, e.g. `eventually`. */
  readonly flags: ReadonlySet<string>;
  readonly method: string;
  /** The path with its query, as sent. */
  readonly target: string;
  readonly request: ExampleMessage;
  readonly status: number;
  readonly response: ExampleMessage;
}

interface Fence {
  readonly info: string;
  readonly line: number;
  readonly lines: readonly string[];
  /** The nearest non-blank line before the fence (for `<!-- run -->` style markers). */
  readonly before: string;
}

/** Every fenced block of a markdown text, with its info string and the line of its opening fence. */
export function fences(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  const found: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    // CommonMark: a fence is three or more backticks and an info string without backticks.
    const open = /^(`{3,})([^`]*)$/.exec(lines[i] as string);
    if (!open) continue;
    const close = new RegExp(`^${open[1]}\`*\\s*$`);
    let before = '';
    for (let j = i - 1; j >= 0 && before === ''; j--) before = (lines[j] as string).trim();
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !close.test(lines[j] as string)) body.push(lines[j++] as string);
    if (j >= lines.length) throw new Error(`line ${i + 1}: the fence opened here is never closed`);
    found.push({ info: (open[2] as string).trim(), line: i + 1, lines: body, before });
    i = j;
  }
  return found;
}

function headerLines(lines: readonly string[], where: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`${where}: "${line}" is not a header line (name: value)`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** Splits `head lines, blank line, body` (a message without a blank line has an empty body). */
function message(lines: readonly string[], where: string): ExampleMessage {
  const blank = lines.findIndex((l) => l.trim() === '');
  const head = blank === -1 ? lines : lines.slice(0, blank);
  const body = blank === -1 ? [] : lines.slice(blank + 1);
  return { headers: headerLines(head, where), body: body.join('\n').trim() };
}

/** The ```http blocks of a markdown file: `METHOD /path`, headers, body, then `HTTP/1.1 NNN`, headers, body. */
export function httpExamples(file: string, label = file): HttpExample[] {
  return fences(readFileSync(file, 'utf8'))
    .filter((f) => f.info === 'http' || f.info.startsWith('http '))
    .map((f) => {
      const where = `${label}:${f.line}`;
      const [first = '', ...rest] = f.lines;
      const start = /^([A-Z]+) (\/\S*)$/.exec(first);
      if (!start) throw new Error(`${where}: an example starts with "METHOD /path", not "${first}"`);
      const split = rest.findIndex((l) => /^HTTP\/1\.1 \d{3}\b/.test(l));
      if (split === -1) throw new Error(`${where}: the example has no "HTTP/1.1 NNN" response line`);
      const status = Number((rest[split] as string).slice(9, 12));
      return {
        where,
        flags: new Set(f.info.split(/\s+/).slice(1)),
        method: start[1] as string,
        target: start[2] as string,
        request: message(rest.slice(0, split), where),
        status,
        response: message(rest.slice(split + 1), where),
      };
    });
}

export interface Endpoint {
  readonly method: string;
  /** The path template as written, e.g. `/rules/{name}` (query removed). */
  readonly path: string;
  readonly where: string;
}

/**
 * Every endpoint the prose names as `` `METHOD /path…` `` (code spans starting with an HTTP method), outside
 * fenced blocks.
 */
export function documentedEndpoints(file: string, label = file): Endpoint[] {
  const text = readFileSync(file, 'utf8');
  const found = new Map<string, Endpoint>();
  let inFence = false;
  text.split('\n').forEach((line, i) => {
    if (/^```[^`]*$/.test(line)) inFence = !inFence;
    if (inFence) return;
    for (const m of line.matchAll(/`(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS) (\/[^`\s?]*)/g)) {
      const key = `${m[1]} ${m[2]}`;
      if (!found.has(key))
        found.set(key, { method: m[1] as string, path: m[2] as string, where: `${label}:${i + 1}` });
    }
  });
  return [...found.values()];
}

/** Whether a concrete path (query removed) fits a template whose `{name}` segments stand for any one segment. */
export function fitsTemplate(path: string, template: string): boolean {
  const pattern = template
    .split('/')
    .map((s) => (/^\{[^}]+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${pattern}$`).test(path.split('?')[0] as string);
}

/** `| 400 | `InvalidEvent`, `InvalidJson` | … |` rows of the tables under a heading: code → documented status. */
export function errorTable(file: string, heading: string): Map<string, number> {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`${file} has no heading "${heading}"`);
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(/\n#{1,2} /);
  const section = end === -1 ? rest : rest.slice(0, end);
  const codes = new Map<string, number>();
  for (const line of section.split('\n')) {
    const row = /^\|\s*(\d{3})\s*\|([^|]*)\|/.exec(line);
    if (!row) continue;
    for (const code of (row[2] as string).matchAll(/`([A-Za-z]+)`/g))
      codes.set(code[1] as string, Number(row[1]));
  }
  return codes;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether a text fits a documented one where each `…` stands for any run of characters. */
export function fitsText(actual: string, documented: string): boolean {
  const pattern = documented.split(ANY).map(escapeRegExp).join('[\\s\\S]*');
  return new RegExp(`^${pattern}$`).test(actual);
}

/** A documented JSON value `"{{name}}"`: it fits any value, and the value is captured as `name`. */
const CAPTURE = /^\{\{([A-Za-z][\w-]*)\}\}$/;

/** The name a documented value captures (`"{{admin-key}}"` → `admin-key`), or undefined. */
export function captureName(documented: unknown): string | undefined {
  return typeof documented === 'string' ? CAPTURE.exec(documented)?.[1] : undefined;
}

/**
 * The values an answer gives to the `"{{name}}"` placeholders of the documented body, walking both as
 * `shapeDifferences` does: name → the value as text (a string as it is, anything else as JSON).
 */
export function captures(actual: unknown, documented: unknown): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (a: unknown, d: unknown): void => {
    const name = captureName(d);
    if (name !== undefined) {
      if (a !== undefined) found.set(name, typeof a === 'string' ? a : JSON.stringify(a));
    } else if (Array.isArray(d)) {
      if (Array.isArray(a)) for (const [i, item] of d.entries()) walk(a[i], item);
    } else if (typeof d === 'object' && d !== null && typeof a === 'object' && a !== null) {
      for (const [k, v] of Object.entries(d)) walk((a as Record<string, unknown>)[k], v);
    }
  };
  walk(actual, documented);
  return found;
}

/** Replaces each `{{name}}` of a text with its captured value; an unknown name is an error naming `where`. */
export function substitute(text: string, values: ReadonlyMap<string, string>, where: string): string {
  return text.replace(/\{\{([A-Za-z][\w-]*)\}\}/g, (_, name: string) => {
    const value = values.get(name);
    if (value === undefined)
      throw new Error(
        `${where}: {{${name}}} is used before an example captured it ("{{${name}}}" in an answer)`,
      );
    return value;
  });
}

/** An example with the captured values put into its request: the target, the header values and the body. */
export function withCaptures(example: HttpExample, values: ReadonlyMap<string, string>): HttpExample {
  const put = (text: string) => substitute(text, values, example.where);
  return {
    ...example,
    target: put(example.target),
    request: {
      headers: Object.fromEntries(Object.entries(example.request.headers).map(([k, v]) => [k, put(v)])),
      body: put(example.request.body),
    },
  };
}

/**
 * The differences between an actual JSON value and a documented one (empty when it fits). `"…"` (and a capture,
 * `"{{name}}"`) fits any value;
 * an object fits only with exactly the documented keys unless it documents `"…": "…"` (more keys allowed); an
 * array fits element by element, and a last element `"…"` allows any further elements.
 */
export function shapeDifferences(actual: unknown, documented: unknown, path = '$'): string[] {
  if (documented === ANY || captureName(documented) !== undefined)
    return actual === undefined ? [`${path}: missing`] : [];
  if (Array.isArray(documented)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${JSON.stringify(actual)}`];
    const open = documented.length > 0 && documented[documented.length - 1] === ANY;
    const items = open ? documented.slice(0, -1) : documented;
    if (open ? actual.length < items.length : actual.length !== items.length) {
      return [`${path}: expected ${open ? 'at least ' : ''}${items.length} elements, got ${actual.length}`];
    }
    return items.flatMap((item, i) => shapeDifferences(actual[i], item, `${path}[${i}]`));
  }
  if (typeof documented === 'object' && documented !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) {
      return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    }
    const doc = documented as Record<string, unknown>;
    const act = actual as Record<string, unknown>;
    const differences = Object.keys(doc)
      .filter((k) => k !== ANY)
      .flatMap((k) =>
        k in act ? shapeDifferences(act[k], doc[k], `${path}.${k}`) : [`${path}.${k}: missing`],
      );
    if (!(ANY in doc)) {
      for (const k of Object.keys(act)) {
        if (!(k in doc)) differences.push(`${path}.${k}: not documented (${JSON.stringify(act[k])})`);
      }
    }
    return differences;
  }
  return Object.is(actual, documented)
    ? []
    : [`${path}: expected ${JSON.stringify(documented)}, got ${JSON.stringify(actual)}`];
}

export interface Snippet {
  readonly where: string;
  readonly code: string;
  /** `run` (the default) or `norun` with the reason given in `<!-- norun: why -->`. */
  readonly mode: 'run' | 'norun';
  readonly reason?: string;
}

/**
 * The ```ts blocks of a markdown file. Each runs as shown unless the line before it is `<!-- norun: reason -->`.
 */
export function tsSnippets(file: string, label = file): Snippet[] {
  return fences(readFileSync(file, 'utf8'))
    .filter((f) => f.info === 'ts' || f.info === 'typescript')
    .map((f) => {
      const norun = /^<!--\s*norun:\s*(.+?)\s*-->$/.exec(f.before);
      const where = `${label}:${f.line}`;
      const code = `${f.lines.join('\n')}\n`;
      return norun
        ? { where, code, mode: 'norun', reason: norun[1] as string }
        : { where, code, mode: 'run' };
    });
}
