/**
 * The CloudEvents Kafka protocol binding for the log's records: structured mode by default, binary mode
 * as an option; the record key is `partitionkey`, else `source` (the event itself is never changed).
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md
 */
import {
  isAttributeName,
  serializeEvent,
  show,
  validateEvent,
  validateEventParts,
  validateScannedEvent,
} from '../cloudevent.ts';
import type { CloudEvent } from '../cloudevent-types.ts';
import { CONTEXT_ATTRIBUTES, partitionKeyOf } from '../cloudevent-types.ts';
import { JunctionError } from '../errors.ts';
import { scanEventBody } from './event-scan.ts';
import { decodeJsonText, parseJson } from './json.ts';
import { payloadFromBytes, payloadToBytes } from './payload.ts';
import { decodeUtf8, encodeUtf8 } from './utf8.ts';

export interface KafkaRecord {
  readonly key: string;
  readonly value: Uint8Array;
  readonly headers: Array<[string, Uint8Array]>;
}

export interface KafkaRecordInput {
  readonly key?: Uint8Array | string | null;
  readonly value: Uint8Array | null;
  readonly headers: ReadonlyArray<readonly [string, Uint8Array]> | ReadonlyMap<string, Uint8Array>;
}

const STRUCTURED_HEADER: readonly [string, Uint8Array] = [
  'content-type',
  encodeUtf8('application/cloudevents+json; charset=utf-8'),
];
const EMPTY = new Uint8Array(0);

/**
 * An event as a Kafka record. Structured (default): the JSON format as the value and a `content-type`
 * header. Binary: the data as the value, `content-type` = datacontenttype, every other attribute a
 * `ce_<name>` header (UTF-8, not percent-encoded). An event without data has an empty value.
 */
export function toKafkaRecord(event: CloudEvent, mode: 'structured' | 'binary' = 'structured'): KafkaRecord {
  const key = partitionKeyOf(event);
  if (mode === 'structured') {
    return {
      key,
      value: encodeUtf8(serializeEvent(event)),
      headers: [[STRUCTURED_HEADER[0], STRUCTURED_HEADER[1]]],
    };
  }
  const headers: Array<[string, Uint8Array]> = [];
  for (const name of Object.keys(event)) {
    if (name === 'data' || name === 'data_base64' || name === 'datacontenttype') continue;
    const value = event[name];
    if (value === undefined || value === null) continue;
    headers.push([`ce_${name}`, encodeUtf8(String(value))]);
  }
  const { contentType, body } = payloadToBytes(event);
  if (contentType !== undefined) headers.push(['content-type', encodeUtf8(contentType)]);
  return { key, value: body, headers };
}

/**
 * The event a Kafka record carries, in either mode (chosen by the `content-type` header, matched
 * case-insensitively). The key is not read: it is not part of the event. Throws `InvalidEvent`,
 * `InvalidJson` or `UnsupportedMediaType`.
 */
export function fromKafkaRecord(record: KafkaRecordInput): CloudEvent {
  const headers = collectHeaders(record.headers);
  const contentType = contentTypeOf(headers);
  if (contentType !== undefined && contentType.slice(0, 23).toLowerCase() === 'application/cloudevents') {
    const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
    if (essence !== 'application/cloudevents+json') {
      throw new JunctionError(
        'UnsupportedMediaType',
        `Kafka record content type ${show(contentType)} is not readable: only application/cloudevents+json (structured) or binary mode`,
        { field: 'content-type' },
      );
    }
    if (record.value === null || record.value.length === 0) {
      throw new JunctionError('InvalidEvent', 'a structured-mode Kafka record has an empty value');
    }
    const scanned = scanEventBody(record.value, undefined, 'record value');
    if (scanned !== undefined) return validateScannedEvent(scanned);
    return validateEvent(parseJson(decodeJsonText(record.value, 'record value'), 'record value'));
  }
  const raw: Record<string, unknown> = {};
  const extensions = new Map<string, unknown>();
  for (const [name, value] of headers) {
    if (name.length <= 3 || !name.startsWith('ce_')) continue;
    const attribute = name.slice(3);
    if (attribute === 'datacontenttype') continue; // some producers repeat it; content-type is authoritative
    if (!isAttributeName(attribute) || attribute === 'data') {
      throw new JunctionError('InvalidEvent', `the header ${name} does not name a valid attribute`, {
        field: attribute,
      });
    }
    if (CONTEXT_ATTRIBUTES.has(attribute)) raw[attribute] = value;
    else extensions.set(attribute, value);
  }
  const legacyType = headers.get('ce_datacontenttype');
  const dataType = contentType ?? legacyType;
  if (dataType !== undefined) raw.datacontenttype = dataType;
  const payload = payloadFromBytes(dataType, record.value ?? EMPTY);
  if (payload.data !== undefined) raw.data = payload.data;
  else if (payload.data_base64 !== undefined) raw.data_base64 = payload.data_base64;
  return validateEventParts(raw, extensions);
}

/** Header values decoded as UTF-8 by name (names kept as sent); a repeated name or non-UTF-8 value is an error. */
function collectHeaders(input: KafkaRecordInput['headers']): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, bytes] of input) {
    const field = name.startsWith('ce_') ? name.slice(3) : name;
    if (out.has(name)) {
      throw new JunctionError('InvalidEvent', `the Kafka header ${name} appears more than once`, { field });
    }
    const value = decodeUtf8(bytes);
    if (value === undefined) {
      throw new JunctionError('InvalidEvent', `the Kafka header ${name} is not valid UTF-8`, { field });
    }
    out.set(name, value);
  }
  return out;
}

/** The `content-type` header, its name matched case-insensitively. */
function contentTypeOf(headers: ReadonlyMap<string, string>): string | undefined {
  const exact = headers.get('content-type');
  if (exact !== undefined) return exact;
  for (const [name, value] of headers) if (name.toLowerCase() === 'content-type') return value;
  return undefined;
}
