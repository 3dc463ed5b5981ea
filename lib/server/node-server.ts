/**
 * Serves an `App` on node:http (or HTTPS with HTTP/2 and HTTP/1.1 on node:http2 when given a certificate): reads
 * bodies within a size limit, translates requests and responses.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { JunctionError } from '../core/errors.ts';
import type { ApiResponse, App } from './app.ts';

export interface NodeServerOptions {
  readonly app: App;
  /** @default 8080 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Largest request body accepted, in bytes (the batch limit). @default 10485760 (10 MiB) */
  readonly maxBodyBytes?: number;
  /** Serve HTTPS (HTTP/2, and HTTP/1.1 for older clients) with this PEM certificate and key. @default plain HTTP */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
}

export interface RunningServer {
  readonly server: Server | Http2SecureServer;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

function send(res: Res, response: ApiResponse): void {
  const body = typeof response.body === 'string' ? Buffer.from(response.body) : response.body;
  const headers: Record<string, string> = { ...response.headers, 'content-length': String(body.byteLength) };
  // HTTP/2 has no connection header (sending one is an error there).
  if ('stream' in res) delete headers.connection;
  (res as ServerResponse).writeHead(response.status, headers);
  res.end(body);
}

/** Lower-case header names to values; HTTP/2 requests keep their pseudo-headers (`:authority`). */
function headersOf(req: Req): Record<string, string | string[] | undefined> {
  if ('headersDistinct' in req) return req.headersDistinct;
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) out[name] = value;
  return out;
}

function tooLarge(limit: number): ApiResponse {
  const error = new JunctionError(
    'PayloadTooLarge',
    `the request body is larger than the limit of ${limit} bytes`,
  );
  return {
    status: 413,
    headers: { 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify(error.toJSON()),
  };
}

/** Reads the body, or answers undefined (after replying 413) when it is over the limit. */
function readBody(req: Req, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

export function serve(options: NodeServerOptions): Promise<RunningServer> {
  const { app } = options;
  const limit = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const handler = (req: Req, res: Res): void => {
    void (async () => {
      const body = await readBody(req, limit);
      if (body === undefined) {
        send(res, tooLarge(limit));
        req.resume();
        return;
      }
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const path = q === -1 ? raw : raw.slice(0, q);
      const response = await app({
        method: req.method ?? 'GET',
        path,
        query: new URLSearchParams(q === -1 ? '' : raw.slice(q + 1)),
        headers: headersOf(req),
        body,
      });
      send(res, response);
    })().catch((error: unknown) => {
      if (!res.headersSent) {
        send(res, {
          status: 500,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ error: { code: 'Internal', message: String(error) } }),
        });
      } else {
        res.destroy();
      }
    });
  };
  const server: Server | Http2SecureServer =
    options.tls === undefined
      ? createServer({ keepAliveTimeout: 65_000 }, handler)
      : createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: true }, handler);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error: Error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = options.host ?? '127.0.0.1';
      resolve({
        server,
        port,
        url: `${options.tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const socket of sockets) socket.destroy();
          }),
      });
    });
  });
}
