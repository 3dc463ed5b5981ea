/**
 * Serves an `App` on node:http (or HTTPS with HTTP/2 and HTTP/1.1 on node:http2 when given a certificate), as an
 * edge facing the network: body limits (answered, not reset), a connection cap, header/request/idle timeouts (408),
 * and a malformed request answered 400 after what came before it.
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
  /** Connections open at once; more are dropped as they arrive. @default 1024 */
  readonly maxConnections?: number;
  /** Time to receive a request's headers before answering 408. @default 10000 */
  readonly headersTimeoutMs?: number;
  /** Time to receive a whole request (headers and body) before answering 408. @default 60000 */
  readonly requestTimeoutMs?: number;
  /** How long a keep-alive connection may sit idle between requests. @default 65000 */
  readonly idleTimeoutMs?: number;
  /**
   * Serve HTTPS (HTTP/2, and HTTP/1.1 for older clients) with this PEM certificate and key. Over TLS the idle
   * timeout closes a silent connection; the 408 answers are plain HTTP's. @default plain HTTP
   */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /**
   * Listen on this Unix socket instead of `host`:`port` (a bus in a process of its own serves the deployment's
   * front door there); `url` is then `unix:<path>` and `port` 0. @default none
   */
  readonly socketPath?: string;
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
  if (response.stream !== undefined) {
    void sendStream(res, response, response.stream);
    return;
  }
  const body = response.body;
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  const headers: Record<string, string> = { ...response.headers, 'content-length': String(length) };
  // HTTP/2 has no connection header (sending one is an error there).
  if ('stream' in res) delete headers.connection;
  (res as ServerResponse).writeHead(response.status, headers);
  // A string body goes out with the head in one write; a Buffer would make it two (corked, then a writev).
  res.end(body);
}

/**
 * Writes a streaming answer (server-sent events): the headers and `body` at once, then each chunk as it comes, waiting
 * for the socket to drain when the client reads slowly; the stream is aborted when the client goes away (or the
 * server closes its connections), and the answer ends when the stream does.
 */
async function sendStream(
  res: Res,
  response: ApiResponse,
  stream: NonNullable<ApiResponse['stream']>,
): Promise<void> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  res.once('close', stop);
  const headers: Record<string, string> = { ...response.headers };
  if ('stream' in res) delete headers.connection;
  (res as ServerResponse).writeHead(response.status, headers);
  if (response.body.length > 0) (res as ServerResponse).write(response.body);
  try {
    for await (const chunk of stream(abort.signal)) {
      if (abort.signal.aborted) break;
      if (!(res as ServerResponse).write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            abort.signal.removeEventListener('abort', done);
            resolve();
          };
          res.on('drain', done);
          abort.signal.addEventListener('abort', done, { once: true });
        });
      }
    }
    if (!abort.signal.aborted) res.end();
  } catch {
    // The stream failed after the headers went out: all that is left is to cut the connection.
    res.destroy();
  } finally {
    res.off('close', stop);
    abort.abort();
  }
}

/** Lower-case header names to values; HTTP/2 requests keep their pseudo-headers (`:authority`). */
function headersOf(req: Req): Record<string, string | string[] | undefined> {
  if ('headersDistinct' in req) {
    // Node has already built `headers` (its server reads `host` and `expect` from it). When no name came twice, each
    // value there is the one sent, and building `headersDistinct` (an array per header) would be a second pass.
    const headers = req.headers;
    let names = 0;
    for (const _ in headers) names++;
    return names * 2 === req.rawHeaders.length ? headers : req.headersDistinct;
  }
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

/**
 * Reads the body, or answers undefined when it is over the limit. An oversized body is read to its end and
 * discarded (up to another `limit` bytes) so that the 413 that follows reaches a client still sending — closing a
 * connection with unread data resets it, and the client loses the answer. Past that, the answer is sent anyway.
 */
function readBody(req: Req, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length']);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > limit;
    if (over && declared > 2 * limit) return resolve(undefined);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (over) {
        if (size > 2 * limit) {
          req.removeAllListeners('data');
          resolve(undefined);
        }
        return;
      }
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) resolve(undefined);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/**
 * A malformed request: answered 400 (431 for oversized headers) with a JSON error and closed — after the answer to the request before it on the connection (a
 * pipelined valid request was stored and gets its 2xx). A timed-out one gets 408 the same way.
 */
function onClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const answer = timedOut
    ? 'HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'
    : malformed(error);
  const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  const finish = () => {
    if (socket.writable) socket.end(answer);
    else socket.destroy();
  };
  // A timed-out request's own (unwritten) response is the pending one: the 408 takes its place.
  if (pending && !pending.writableFinished && !timedOut) {
    pending.once('finish', finish);
    pending.once('close', finish);
  } else {
    finish();
  }
}

function listenError(error: NodeJS.ErrnoException, port: number, host: string): Error {
  if (error.code === 'EADDRINUSE') {
    return new JunctionError(
      'InvalidRequest',
      `port ${port} is in use — stop the other process or pass --port N`,
      { field: 'port' },
    );
  }
  if (error.code === 'EACCES') {
    return new JunctionError(
      'InvalidRequest',
      `port ${port} needs privileges this process does not have — pass --port N above 1023`,
      { field: 'port' },
    );
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new JunctionError('InvalidRequest', `cannot listen on ${host}: no such local address`, {
      field: 'host',
    });
  }
  return error;
}

export function serve(options: NodeServerOptions): Promise<RunningServer> {
  const { app } = options;
  const limit = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(options.requestTimeoutMs ?? 60_000, headersTimeout);
  const handler = (req: Req, res: Res): void => {
    void (async () => {
      const body = await readBody(req, limit);
      if (body === undefined) {
        send(res, tooLarge(limit));
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
  const idle = options.idleTimeoutMs ?? 65_000;
  const server: Server | Http2SecureServer =
    options.tls === undefined
      ? createServer(
          {
            keepAliveTimeout: idle,
            headersTimeout,
            requestTimeout,
            // How often the timeouts above are checked (node's default, 30 s, would make them late by that much).
            connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersTimeout / 4))),
          },
          handler,
        )
      : createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: true }, handler);
  if (options.tls !== undefined) server.setTimeout(idle);
  server.maxConnections = options.maxConnections ?? 1024;
  server.on('clientError', onClientError);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const port = options.port ?? 8080;
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => reject(listenError(error, port, host));
    server.once('error', failed);
    const close = () =>
      new Promise<void>((done) => {
        server.close(() => done());
        for (const socket of sockets) socket.destroy();
      });
    if (options.socketPath !== undefined) {
      const path = options.socketPath;
      server.off('error', failed);
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve({ server, port: 0, url: `unix:${path}`, close });
      });
      return;
    }
    server.listen(port, host, () => {
      server.off('error', failed);
      const { port: bound } = server.address() as AddressInfo;
      resolve({
        server,
        port: bound,
        url: `${options.tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${bound}`,
        close,
      });
    });
  });
}
