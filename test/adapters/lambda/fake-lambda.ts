/**
 * A stand-in for the AWS Lambda REST API (2015-03-31) on 127.0.0.1: records every request, stores deployment
 * packages, and runs an invoked function's zip in this process (unzipped to a temp dir, `index.handler`).
 * Only the Lambda service is faked; its request and response shapes follow the AWS Lambda API reference.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readZip } from '../../../lib/adapters/workers/zip.ts';
import { tempDir } from '../../helpers/paths.ts';

export interface LambdaRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The body parsed as JSON, when it is JSON. */
  readonly json: unknown;
}

export interface StoredFunction {
  configuration: Record<string, unknown>;
  zip: Buffer;
  tags: Record<string, string>;
  invocations: number;
}

export interface FakeLambda {
  /** `http://127.0.0.1:<port>` — pass to `new LambdaClient({ endpoint })`. */
  readonly endpoint: string;
  readonly requests: LambdaRequest[];
  readonly functions: Map<string, StoredFunction>;
  close(): Promise<void>;
}

const BASE = '/2015-03-31/functions';

function sha256Base64(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64');
}

function lambdaTime(): string {
  return new Date().toISOString().replace('Z', '+0000');
}

export async function startFakeLambda(
  options: { region?: string; account?: string } = {},
): Promise<FakeLambda> {
  const region = options.region ?? 'us-east-1';
  const account = options.account ?? '123456789012';
  const requests: LambdaRequest[] = [];
  const functions = new Map<string, StoredFunction>();
  const modules = new Map<string, Promise<{ handler: (payload: unknown) => Promise<unknown> }>>();
  const root = tempDir('junction-fake-lambda-');

  function loadHandler(fn: StoredFunction) {
    const sha = fn.configuration.CodeSha256 as string;
    let loaded = modules.get(sha);
    if (!loaded) {
      const dir = join(root.path, createHash('sha256').update(sha).digest('hex').slice(0, 16));
      for (const [name, data] of readZip(fn.zip)) {
        mkdirSync(dirname(join(dir, name)), { recursive: true });
        writeFileSync(join(dir, name), data);
      }
      const [file, exported] = String(fn.configuration.Handler).split('.') as [string, string];
      loaded = import(pathToFileURL(join(dir, `${file}.mjs`)).href).then((m) => ({ handler: m[exported] }));
      modules.set(sha, loaded);
    }
    return loaded;
  }

  function configurationOf(
    name: string,
    body: Record<string, unknown>,
    zip: Buffer,
  ): Record<string, unknown> {
    return {
      FunctionName: name,
      FunctionArn: `arn:aws:lambda:${region}:${account}:function:${name}`,
      Runtime: body.Runtime,
      Role: body.Role,
      Handler: body.Handler,
      CodeSize: zip.byteLength,
      CodeSha256: sha256Base64(zip),
      Description: body.Description ?? '',
      Timeout: body.Timeout ?? 3,
      MemorySize: body.MemorySize ?? 128,
      LastModified: lambdaTime(),
      Version: '$LATEST',
      PackageType: 'Zip',
      Architectures: body.Architectures ?? ['x86_64'],
      State: 'Active',
      LastUpdateStatus: 'Successful',
      RevisionId: randomUUID(),
    };
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
      } catch {
        json = undefined;
      }
      const request: LambdaRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        json,
      };
      requests.push(request);
      const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        const text = value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
        res.writeHead(status, {
          'content-type': 'application/json',
          'x-amzn-requestid': randomUUID(),
          ...headers,
        });
        res.end(text);
      };
      const error = (status: number, type: string, message: string) =>
        send(status, { Type: 'User', message }, { 'x-amzn-errortype': type });
      void handle(request, send, error).catch((e: Error) => error(500, 'ServiceException', e.message));
    });
  });

  async function handle(
    request: LambdaRequest,
    send: (status: number, value: unknown, headers?: Record<string, string>) => void,
    error: (status: number, type: string, message: string) => void,
  ): Promise<void> {
    const { method, path } = request;
    const body = (request.json ?? {}) as Record<string, unknown>;
    if (method === 'POST' && path === BASE) {
      const name = String(body.FunctionName);
      if (functions.has(name))
        return error(409, 'ResourceConflictException', `Function already exist: ${name}`);
      const code = body.Code as { ZipFile?: string } | undefined;
      const zip = Buffer.from(code?.ZipFile ?? '', 'base64');
      const configuration = configurationOf(name, body, zip);
      functions.set(name, {
        configuration,
        zip,
        tags: (body.Tags ?? {}) as Record<string, string>,
        invocations: 0,
      });
      return send(201, configuration);
    }
    if (method === 'GET' && (path === BASE || path === `${BASE}/`)) {
      const all = [...functions.values()].map((f) => f.configuration);
      const start = Number(request.query.get('Marker') ?? 0);
      const max = Number(request.query.get('MaxItems') ?? 50);
      const page = all.slice(start, start + max);
      const next = start + max < all.length ? String(start + max) : undefined;
      return send(200, { Functions: page, ...(next === undefined ? {} : { NextMarker: next }) });
    }
    const match = /^\/2015-03-31\/functions\/([^/]+)(\/[a-z]+)?$/.exec(path);
    if (!match) return error(404, 'UnknownOperationException', `no operation at ${method} ${path}`);
    const name = decodeURIComponent(match[1] ?? '');
    const sub = match[2] ?? '';
    const fn = functions.get(name);
    if (!fn)
      return error(
        404,
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${region}:${account}:function:${name}`,
      );
    if (method === 'GET' && sub === '') {
      return send(200, {
        Configuration: fn.configuration,
        Code: { RepositoryType: 'S3', Location: 'https://example.invalid/code' },
        Tags: fn.tags,
      });
    }
    if (method === 'GET' && sub === '/configuration') return send(200, fn.configuration);
    if (method === 'PUT' && sub === '/code') {
      fn.zip = Buffer.from(String(body.ZipFile ?? ''), 'base64');
      fn.configuration = {
        ...fn.configuration,
        CodeSize: fn.zip.byteLength,
        CodeSha256: sha256Base64(fn.zip),
        LastModified: lambdaTime(),
      };
      return send(200, fn.configuration);
    }
    if (method === 'PUT' && sub === '/configuration') {
      fn.configuration = {
        ...fn.configuration,
        ...(body.Timeout === undefined ? {} : { Timeout: body.Timeout }),
        ...(body.MemorySize === undefined ? {} : { MemorySize: body.MemorySize }),
        LastModified: lambdaTime(),
      };
      return send(200, fn.configuration);
    }
    if (method === 'DELETE' && sub === '') {
      functions.delete(name);
      return send(204, undefined);
    }
    if (method === 'POST' && sub === '/invocations') {
      fn.invocations++;
      const { handler } = await loadHandler(fn);
      const timeoutMs = Number(fn.configuration.Timeout) * 1000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      try {
        const result = await Promise.race([handler(request.json), timedOut]);
        if (result === 'timeout') {
          const seconds = (timeoutMs / 1000).toFixed(2);
          return send(
            200,
            {
              errorType: 'Sandbox.Timedout',
              errorMessage: `RequestId: ${randomUUID()} Error: Task timed out after ${seconds} seconds`,
            },
            { 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' },
          );
        }
        return send(200, JSON.stringify(result ?? null), { 'x-amz-executed-version': '$LATEST' });
      } catch (e) {
        const err = e as Error;
        return send(
          200,
          {
            errorType: err.name ?? 'Error',
            errorMessage: err.message ?? String(e),
            trace: String(err.stack ?? '').split('\n'),
          },
          { 'x-amz-function-error': 'Unhandled', 'x-amz-executed-version': '$LATEST' },
        );
      } finally {
        clearTimeout(timer);
      }
    }
    return error(404, 'UnknownOperationException', `no operation at ${method} ${path}`);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    functions,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          root.remove();
          resolve();
        });
      }),
  };
}
