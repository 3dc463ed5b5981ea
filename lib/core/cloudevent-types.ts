/**
 * The CloudEvent value as Junction holds it: the JSON event format's shape (context attributes at the top
 * level, payload in `data`, or in `data_base64` when it is binary), validated once at the edge and frozen.
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */

/** The types an extension attribute can take in JSON (the spec's Boolean, Integer, String, Binary, URI, …). */
export type ExtensionValue = string | number | boolean;

export interface CloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly datacontenttype?: string;
  readonly dataschema?: string;
  readonly subject?: string;
  /** RFC 3339, exactly as the producer sent it. */
  readonly time?: string;
  /** JSON data (any JSON value), or text data as a string. Absent when `data_base64` is present. */
  readonly data?: unknown;
  /** Binary data, base64 (RFC 4648). Absent when `data` is present. */
  readonly data_base64?: string;
  /** Extension attributes, lower-case alphanumeric names. */
  readonly [extension: string]: unknown;
}

/** The attributes the spec defines (everything else on the object is an extension, data aside). */
export const CONTEXT_ATTRIBUTES: ReadonlySet<string> = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'datacontenttype',
  'dataschema',
  'subject',
  'time',
]);

/** The key that identifies an event across the bus: `(source, id)` as the spec says. */
export function eventKey(event: Pick<CloudEvent, 'source' | 'id'>): string {
  return `${event.source}\u0000${event.id}`;
}

/** The partition key of an event: the `partitionkey` extension, else `source`. */
export function partitionKeyOf(event: CloudEvent): string {
  const key = event.partitionkey;
  return typeof key === 'string' && key.length > 0 ? key : event.source;
}
