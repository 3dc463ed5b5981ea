/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1: accepts `POST /v1/traces` in the `http/json` protocol (gzip or not),
 * decodes the spans, and answers as the OTLP spec says (200, an empty `ExportTraceServiceResponse`). `hang: true`
 * makes it a collector that never answers (it reads each request, then keeps the connection open).
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One decoded span, ids in lower-case hex. */
export interface CollectedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's enum: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly events: ReadonlyArray<{ name: string; attributes: Readonly<Record<string, unknown>> }>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  readonly status: { code: number; message?: string };
  readonly resource: Readonly<Record<string, unknown>>;
}

export interface OtlpCollector {
  /** The base endpoint (`http://127.0.0.1:port`); the exporter posts to `${url}/v1/traces`. */
  readonly url: string;
  readonly spans: CollectedSpan[];
  /** Export requests received (answered or, when hanging, not). */
  readonly requests: number;
  /** Requests that could not be decoded (a test asserts there are none). */
  readonly malformed: string[];
  /** Bytes of export request bodies received. */
  readonly bytes: number;
  close(): Promise<void>;
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
};

function decodeValue(v: OtlpValue | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(decodeValue);
  return undefined;
}

function attributes(list: Array<{ key: string; value?: OtlpValue }> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) out[a.key] = decodeValue(a.value);
  return out;
}

/** OTLP/JSON ids are hex; a base64 id (the protobuf JSON mapping) is turned into hex. */
function hexId(id: string | undefined, bytes: number): string {
  if (id === undefined || id === '') return '';
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(id)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

/**
 * `hang`: never answers. `decode: false`: answers at once without decoding (spans stay empty; `requests` and
 * `bytes` count), so that a benchmark's receiver costs its machine little.
 */
export async function startOtlpCollector(
  options: { hang?: boolean; decode?: boolean } = {},
): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const malformed: string[] = [];
  const hanging: ServerResponse[] = [];
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (options.decode !== false) chunks.push(c);
    });
    req.on('end', () => {
      requests++;
      if (options.hang) {
        hanging.push(res);
        return;
      }
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      if (options.decode === false) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      try {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        if (!String(req.headers['content-type']).startsWith('application/json')) {
          throw new Error(`content type ${req.headers['content-type']}, not http/json`);
        }
        const parsed = JSON.parse(body.toString('utf8'));
        for (const rs of parsed.resourceSpans ?? []) {
          const resource = attributes(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: hexId(s.traceId, 16),
                spanId: hexId(s.spanId, 8),
                parentSpanId: hexId(s.parentSpanId, 8),
                name: s.name,
                kind: s.kind,
                attributes: attributes(s.attributes),
                events: (s.events ?? []).map((e: { name: string; attributes?: [] }) => ({
                  name: e.name,
                  attributes: attributes(e.attributes),
                })),
                status: {
                  code: s.status?.code ?? 0,
                  ...(s.status?.message ? { message: s.status.message } : {}),
                },
                resource,
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (error) {
        malformed.push((error as Error).message);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    get requests() {
      return requests;
    },
    get bytes() {
      return bytes;
    },
    malformed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
