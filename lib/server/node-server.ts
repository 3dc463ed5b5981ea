/** Serves an `App` on node:http: reads bodies within a size limit, translates requests and responses. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
}

export interface RunningServer {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, response: ApiResponse): void {
  const body = typeof response.body === 'string' ? Buffer.from(response.body) : response.body;
  res.writeHead(response.status, { ...response.headers, 'content-length': String(body.byteLength) });
  res.end(body);
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

/**
 * The raw answer to a request Node's parser refused before the app saw it (unknown method, bad characters in the
 * path, headers over Node's 16 KiB limit): the API's JSON error body, then the connection closes.
 */
function malformed(error: NodeJS.ErrnoException): string {
  const overflow = error.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify(
    overflow
      ? new JunctionError('PayloadTooLarge', 'the request headers are larger than the limit of 16 KiB', {
          field: 'headers',
        }).toJSON()
      : new JunctionError(
          'InvalidRequest',
          `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'}): check the method, path and headers`,
        ).toJSON(),
  );
  const status = overflow ? '431 Request Header Fields Too Large' : '400 Bad Request';
  return `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** Reads the body, or answers undefined (after replying 413) when it is over the limit. */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
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
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
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
        headers: req.headersDistinct,
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
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (socket.writable) socket.end(malformed(error));
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
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
