/**
 * The input transformer of rule targets: EventBridge's InputPath and InputTransformer (a paths map and a
 * template with `<var>` placeholders), with EventBridge's quoting rules and Junction's predefined variables.
 * Paths that start with a member of EventBridge's envelope (`$.detail.…`, `$.detail-type`, `$.account`, …) read the
 * event in EventBridge's shape (lib/core/eventbridge-shape.ts); the others read the CloudEvent.
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
 */
import { serializeEvent } from './cloudevent.ts';
import type { CloudEvent } from './cloudevent-types.ts';
import { rawDataText } from './codec/raw-data.ts';
import { JunctionError } from './errors.ts';
import { type ArnContext, DEFAULT_ARN_CONTEXT, ruleArn } from './eventbridge-api.ts';
import {
  EVENTBRIDGE_MEMBERS,
  eventBridgeEnvelope,
  eventBridgeEvent,
  eventBridgeJson,
} from './eventbridge-shape.ts';
import type { TargetFormat, TargetInput } from './rule-types.ts';

export interface TransformContext {
  readonly ruleName: string;
  readonly targetId: string;
  /** When the bus accepted the event (RFC 3339); the event's `time` when absent. */
  readonly ingestionTime?: string;
  /** The account and region of `<aws.events.rule-arn>` and of the EventBridge shape. @default DEFAULT_ARN_CONTEXT */
  readonly arn?: ArnContext;
  /** The rule's bus: `<aws.events.rule-arn>` is `…:rule/<bus>/<name>` on a named bus. @default 'default' */
  readonly bus?: string;
}

export interface CompileInputOptions {
  /**
   * The shape paths read: `cloudevents` (the default) reads EventBridge's envelope names (`$.detail…`) in the
   * EventBridge shape and everything else (`$`, `$.data…`, `$.type`) in the CloudEvent; `eventbridge` reads every
   * path in the EventBridge shape, as EventBridge does.
   */
  readonly format?: TargetFormat;
}

export type InputTransform = (
  event: CloudEvent,
  context: TransformContext,
) => { body: string; contentType: 'application/json' | 'text/plain' };

export type Step = string | number;

/** Most variables in a paths map, as EventBridge allows. */
export const MAX_INPUT_PATHS = 100;
/** Longest template, in characters. */
export const MAX_TEMPLATE_LENGTH = 8192;

const VARIABLE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const PLACEHOLDER = /<([A-Za-z0-9_.-]+)>/g;

type Predefined =
  | 'event'
  | 'event-json'
  | 'eventbridge-envelope'
  | 'eventbridge-json'
  | 'rule-name'
  | 'rule-arn'
  | 'target-id'
  | 'ingestion-time';

/** The predefined variables: Junction's (the CloudEvent) and EventBridge's (the event in EventBridge's shape). */
const PREDEFINED: ReadonlyMap<string, Predefined> = new Map([
  ['junction.event', 'event'],
  ['junction.event.json', 'event-json'],
  ['junction.rule-name', 'rule-name'],
  ['junction.target-id', 'target-id'],
  ['junction.event.ingestion-time', 'ingestion-time'],
  ['aws.events.event', 'eventbridge-envelope'],
  ['aws.events.event.json', 'eventbridge-json'],
  ['aws.events.rule-name', 'rule-name'],
  ['aws.events.rule-arn', 'rule-arn'],
  ['aws.events.event.ingestion-time', 'ingestion-time'],
]);

/** JSON text inserted as it is (the data's own text: big integers keep their digits). */
class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** `JSON.rawJSON` and the reviver's source text (Node 22; not in the ES2023 lib TypeScript is given). */
const PreciseJson = JSON as unknown as {
  parse(
    text: string,
    reviver: (key: string, value: unknown, context: { source?: string }) => unknown,
  ): unknown;
  rawJSON(text: string): object;
  isRawJSON(value: unknown): boolean;
};

/**
 * JSON text parsed with every number that `JSON.parse` would change (beyond a double's digits) kept as its own text
 * (a raw JSON value, which `JSON.stringify` writes as that text).
 */
function parsePrecisely(text: string): unknown {
  return PreciseJson.parse(text, (_key, value, context) =>
    typeof value === 'number' && context.source !== undefined && context.source !== String(value)
      ? PreciseJson.rawJSON(context.source)
      : value,
  );
}

/** A parsed path: the shape it reads and its steps. */
interface Path {
  readonly eventBridge: boolean;
  readonly steps: readonly Step[];
}

function compilePath(text: string, format: TargetFormat): Path {
  const steps = parseJsonPath(text);
  const first = steps[0];
  const eventBridge =
    format === 'eventbridge' || (typeof first === 'string' && EVENTBRIDGE_MEMBERS.has(first));
  return { eventBridge, steps };
}

/** The shapes of one event a render reads, each made once and only when read. */
class Shapes {
  readonly #event: CloudEvent;
  readonly #context: TransformContext;
  #eventBridge: Record<string, unknown> | undefined;
  #data: { value: unknown } | undefined;
  constructor(event: CloudEvent, context: TransformContext) {
    this.#event = event;
    this.#context = context;
  }

  get options(): { arn: ArnContext; ingestionTime?: string } {
    const ingestionTime = this.ingestionTime;
    return {
      arn: this.#context.arn ?? DEFAULT_ARN_CONTEXT,
      ...(ingestionTime === undefined ? {} : { ingestionTime }),
    };
  }

  get ingestionTime(): string | undefined {
    return this.#context.ingestionTime ?? this.#event.time;
  }

  /** The value at a path; the data's own text (as `RawJson`) for the whole event or the whole data/detail. */
  resolve(path: Path): unknown {
    const { steps } = path;
    const event = this.#event;
    if (steps.length === 0) {
      return new RawJson(path.eventBridge ? eventBridgeJson(event, this.options) : serializeEvent(event));
    }
    const raw = rawDataText(event);
    if (raw !== undefined && steps[0] === (path.eventBridge ? 'detail' : 'data')) {
      if (steps.length === 1) return new RawJson(raw);
      // Below the data: its text parsed once, numbers a double cannot hold kept as written.
      this.#data ??= { value: parsePrecisely(raw) };
      return resolvePath(this.#data.value, steps.slice(1));
    }
    if (!path.eventBridge) return resolvePath(event, steps);
    this.#eventBridge ??= eventBridgeEvent(event, this.options);
    return resolvePath(this.#eventBridge, steps);
  }
}

function invalid(path: string, message: string): never {
  throw new JunctionError('InvalidRule', `${path}: ${message}`, { path });
}

/** Parses `$`, `$.a.b`, `$.a[0]`, `$['a.b']` into steps; throws a message for anything else. */
export function parseJsonPath(text: string): Step[] {
  if (typeof text !== 'string' || !text.startsWith('$'))
    throw new Error(`a path must start with '$', received ${JSON.stringify(text)}`);
  const steps: Step[] = [];
  let i = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      const m = /^[^.[\]]+/.exec(text.slice(i + 1));
      if (m === null) throw new Error(`empty name at offset ${i + 1} in ${JSON.stringify(text)}`);
      steps.push(m[0]);
      i += 1 + m[0].length;
    } else if (c === '[') {
      const rest = text.slice(i);
      const index = /^\[(\d+)\]/.exec(rest);
      const quoted = /^\[(?:'([^']*)'|"([^"]*)")\]/.exec(rest);
      if (index !== null) {
        steps.push(Number(index[1]));
        i += index[0].length;
      } else if (quoted !== null) {
        steps.push(quoted[1] ?? quoted[2] ?? '');
        i += quoted[0].length;
      } else
        throw new Error(
          `unsupported bracket at offset ${i} in ${JSON.stringify(text)} (use [n] or ['name'])`,
        );
    } else throw new Error(`unexpected ${JSON.stringify(c)} at offset ${i} in ${JSON.stringify(text)}`);
  }
  return steps;
}

/** The value at a parsed path, or undefined when the event has nothing there. */
export function resolvePath(value: unknown, steps: readonly Step[]): unknown {
  let at: unknown = value;
  for (const step of steps) {
    if (at === null || typeof at !== 'object' || PreciseJson.isRawJSON(at)) return undefined;
    if (typeof step === 'number') {
      if (!Array.isArray(at)) return undefined;
      at = at[step];
    } else {
      if (Array.isArray(at) || !Object.hasOwn(at, step)) return undefined;
      at = (at as Record<string, unknown>)[step];
    }
  }
  return at;
}

/** A template split into literal text and placeholders, each placeholder knowing whether it sits in a JSON string. */
interface Piece {
  readonly text?: string;
  readonly variable?: string;
  readonly quoted?: boolean;
}

function splitTemplate(template: string, json: boolean, known: (name: string) => boolean): Piece[] {
  const pieces: Piece[] = [];
  let inString = false;
  let last = 0;
  let scanned = 0;
  const advance = (to: number): void => {
    for (let i = scanned; i < to; i++) {
      const c = template[i];
      if (c === '\\' && inString) i++;
      else if (c === '"') inString = !inString;
    }
    scanned = Math.max(scanned, to);
  };
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1] as string;
    if (!known(name)) continue;
    advance(m.index);
    pieces.push({ text: template.slice(last, m.index) });
    pieces.push({ variable: name, quoted: json && inString });
    last = m.index + m[0].length;
    scanned = last;
  }
  pieces.push({ text: template.slice(last) });
  return pieces;
}

function jsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  return value === undefined ? 'null' : (JSON.stringify(value) ?? 'null');
}

/** Inside a JSON string: the value's text, escaped for that string (strings without their quotes). */
function quotedText(value: unknown): string {
  if (value === undefined || value === null) return '';
  const raw = typeof value === 'string' ? value : jsonText(value);
  return JSON.stringify(raw).slice(1, -1);
}

/** In a text template: strings as they are, anything else as JSON. */
function plainText(value: unknown): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : jsonText(value);
}

/**
 * Validates a target's `input` once (at rule creation) and returns the function that renders the delivered
 * body. Errors are `JunctionError('InvalidRule')` with `path` under `pathPrefix` (e.g. `targets[0].input`).
 */
export function compileInput(
  input: TargetInput,
  pathPrefix = 'input',
  options: CompileInputOptions = {},
): InputTransform {
  const format = options.format ?? 'cloudevents';
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    invalid(
      pathPrefix,
      `input must be an object with path, or paths and template, received ${JSON.stringify(input)}`,
    );
  }
  const unknownKeys = Object.keys(input).filter((k) => !['path', 'paths', 'template'].includes(k));
  if (unknownKeys.length > 0)
    invalid(`${pathPrefix}.${unknownKeys[0]}`, 'unknown input setting (allowed: path, paths, template)');
  if (input.path !== undefined) {
    if (input.paths !== undefined || input.template !== undefined) {
      invalid(pathPrefix, 'path (InputPath) cannot be combined with paths/template (InputTransformer)');
    }
    let path: Path;
    try {
      path = compilePath(input.path, format);
    } catch (error) {
      return invalid(`${pathPrefix}.path`, (error as Error).message);
    }
    return (event, context) => ({
      body: jsonText(new Shapes(event, context).resolve(path)),
      contentType: 'application/json',
    });
  }
  if (input.template === undefined) {
    invalid(
      pathPrefix,
      input.paths === undefined
        ? 'input needs path, or a template (with optional paths)'
        : 'paths needs a template',
    );
  }
  if (typeof input.template !== 'string') {
    invalid(
      `${pathPrefix}.template`,
      `the template must be a string, received ${JSON.stringify(input.template)}`,
    );
  }
  if (input.template.length > MAX_TEMPLATE_LENGTH) {
    invalid(`${pathPrefix}.template`, `the template is longer than ${MAX_TEMPLATE_LENGTH} characters`);
  }
  const variables = new Map<string, Path>();
  const paths = input.paths ?? {};
  if (paths === null || typeof paths !== 'object' || Array.isArray(paths)) {
    invalid(
      `${pathPrefix}.paths`,
      `paths must map variable names to paths, received ${JSON.stringify(paths)}`,
    );
  }
  const names = Object.keys(paths);
  if (names.length > MAX_INPUT_PATHS)
    invalid(`${pathPrefix}.paths`, `at most ${MAX_INPUT_PATHS} variables, received ${names.length}`);
  for (const name of names) {
    const at = `${pathPrefix}.paths.${name}`;
    if (!VARIABLE.test(name))
      invalid(at, `variable names use letters, digits, '_', '-' and '.', received ${JSON.stringify(name)}`);
    if (name.startsWith('junction.') || name.startsWith('aws.')) {
      invalid(at, `variable names starting with "junction." or "aws." are reserved for predefined variables`);
    }
    try {
      variables.set(name, compilePath(paths[name] as string, format));
    } catch (error) {
      invalid(at, (error as Error).message);
    }
  }
  const template = input.template;
  const trimmed = template.trim();
  const json = trimmed.startsWith('{') || trimmed.startsWith('[') || trimmed.startsWith('"');
  const known = (name: string): boolean => variables.has(name) || PREDEFINED.has(name);
  const pieces = splitTemplate(template, json, known);
  if (json) {
    const probe = pieces.map((p) => p.text ?? (p.quoted ? 'x' : 'null')).join('');
    try {
      JSON.parse(probe);
    } catch {
      invalid(
        `${pathPrefix}.template`,
        `a template that starts like JSON must be valid JSON once placeholders are filled: ${template.slice(0, 120)}`,
      );
    }
  }
  return (event, context) => {
    const shapes = new Shapes(event, context);
    const value = (name: string): unknown => {
      const path = variables.get(name);
      if (path !== undefined) return shapes.resolve(path);
      switch (PREDEFINED.get(name)) {
        case 'event':
          return new RawJson(serializeEvent(event)); // the producer's own data text, when it arrived as JSON
        case 'event-json':
          return serializeEvent(event);
        case 'eventbridge-envelope':
          return eventBridgeEnvelope(event, shapes.options);
        case 'eventbridge-json':
          return new RawJson(eventBridgeJson(event, shapes.options));
        case 'rule-name':
          return context.ruleName;
        case 'rule-arn':
          return ruleArn(context.arn ?? DEFAULT_ARN_CONTEXT, context.ruleName, context.bus);
        case 'target-id':
          return context.targetId;
        default:
          return shapes.ingestionTime ?? new Date().toISOString();
      }
    };
    let body = '';
    for (const p of pieces) {
      if (p.variable === undefined) body += p.text ?? '';
      else if (!json) body += plainText(value(p.variable));
      else body += p.quoted ? quotedText(value(p.variable)) : jsonText(value(p.variable));
    }
    return { body, contentType: json ? 'application/json' : 'text/plain' };
  };
}
