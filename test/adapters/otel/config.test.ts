/** Where traces go: the option, JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT, the standard OTEL_* variables; off otherwise. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { otlpTarget, tracerFromConfig } from '../../../lib/adapters/otel/index.ts';
import { isJunctionError } from '../../../lib/core/errors.ts';
import { noopTracer } from '../../../lib/ports.ts';

describe('OTLP endpoint configuration', () => {
  test('off without any setting', async () => {
    assert.equal(otlpTarget(undefined, {}), undefined);
    assert.equal(otlpTarget('  ', { OTEL_EXPORTER_OTLP_ENDPOINT: '' }), undefined);
    assert.equal(await tracerFromConfig(undefined, {}, {}), noopTracer);
  });

  test('base URLs get /v1/traces; the traces variable is used as it is', () => {
    assert.deepEqual(otlpTarget('http://c:4318', {}), {
      url: 'http://c:4318/v1/traces',
      from: 'otlpEndpoint',
      protocol: 'http/json',
    });
    assert.equal(otlpTarget('http://c:4318/v1/traces/', {})?.url, 'http://c:4318/v1/traces');
    assert.deepEqual(otlpTarget(undefined, { JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: 'https://j:4318/' }), {
      url: 'https://j:4318/v1/traces',
      from: 'JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT',
      protocol: 'http/json',
    });
    assert.equal(
      otlpTarget(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318/custom' })?.url,
      'http://t:4318/custom',
    );
    assert.equal(
      otlpTarget(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://o:4318' })?.url,
      'http://o:4318/v1/traces',
    );
  });

  test('the option wins, then Junction’s variable, then the traces variable, then the base one', () => {
    const env = {
      JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/v1/traces',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://o',
    };
    assert.equal(otlpTarget('http://opt', env)?.from, 'otlpEndpoint');
    assert.equal(otlpTarget(undefined, env)?.from, 'JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT');
    const { JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: _, ...standard } = env;
    assert.equal(otlpTarget(undefined, standard)?.from, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  });

  test('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none keep it off', () => {
    assert.equal(otlpTarget('http://c', { OTEL_SDK_DISABLED: 'true' }), undefined);
    assert.equal(otlpTarget('http://c', { OTEL_TRACES_EXPORTER: 'none' }), undefined);
    assert.ok(otlpTarget('http://c', { OTEL_SDK_DISABLED: 'false' }));
  });

  test('a value that is not an http(s) URL is refused, naming the setting', () => {
    for (const [option, env, field] of [
      ['not a url', {}, 'otlpEndpoint'],
      [undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://c' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    ] as const) {
      assert.throws(
        () => otlpTarget(option, env),
        (error) =>
          isJunctionError(error) &&
          error.code === 'InvalidRequest' &&
          error.field === field &&
          // The value as it was set, not the traces URL made from it.
          !error.message.includes('/v1/traces'),
      );
    }
  });

  test('the protocol: the option, then Junction’s variable, then the traces one, then the general one', () => {
    const env = {
      JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://o:4318',
    };
    assert.equal(otlpTarget(undefined, {}, undefined), undefined, 'a protocol alone turns nothing on');
    assert.equal(
      otlpTarget(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://o:4318' })?.protocol,
      'http/json',
    );
    assert.equal(otlpTarget(undefined, env, 'GRPC ')?.protocol, 'grpc');
    assert.equal(otlpTarget(undefined, env)?.protocol, 'http/protobuf');
    const { JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL: _, ...standard } = env;
    assert.equal(otlpTarget(undefined, standard)?.protocol, 'grpc');
    const { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: __, ...general } = standard;
    assert.equal(otlpTarget(undefined, general)?.protocol, 'http/json');
  });

  test('over gRPC the endpoint is the collector’s URL as it is; over HTTP with protobuf it gets /v1/traces', () => {
    assert.deepEqual(otlpTarget('http://c:4317', {}, 'grpc'), {
      url: 'http://c:4317',
      from: 'otlpEndpoint',
      protocol: 'grpc',
    });
    assert.equal(
      otlpTarget(undefined, {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://o:4317',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      })?.url,
      'https://o:4317',
    );
    assert.equal(otlpTarget('http://c:4318', {}, 'http/protobuf')?.url, 'http://c:4318/v1/traces');
  });

  test('a protocol it does not know is refused, naming the setting and the accepted values', () => {
    for (const [option, env, field] of [
      ['thrift', {}, 'otlpProtocol'],
      [undefined, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
      [undefined, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'json' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'],
    ] as const) {
      assert.throws(
        () => otlpTarget('http://c:4318', env, option),
        (error) =>
          isJunctionError(error) &&
          error.code === 'InvalidRequest' &&
          error.field === field &&
          /http\/json, http\/protobuf, grpc/.test(error.message),
      );
    }
  });

  test('a configured endpoint gives an OpenTelemetry tracer', async () => {
    const tracer = await tracerFromConfig('http://127.0.0.1:9/', {}, {});
    assert.equal(tracer.enabled, true);
    await tracer.close();
    for (const protocol of ['http/protobuf', 'grpc']) {
      const other = await tracerFromConfig('http://127.0.0.1:9', {}, {}, protocol);
      assert.equal(other.enabled, true, protocol);
      await other.close();
    }
  });

  test('OTLP/HTTP bodies are JSON by default and protobuf with http/protobuf (a receiver on 127.0.0.1 reads them)', async () => {
    const received: Array<{ url: string; type: string; bytes: number }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          url: String(req.url),
          type: String(req.headers['content-type']),
          bytes: Buffer.concat(chunks).length,
        });
        res.writeHead(200, { 'content-type': String(req.headers['content-type']) }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const protocol of [undefined, 'http/protobuf'] as const) {
        const tracer = await tracerFromConfig(base, {}, {}, protocol);
        tracer.startSpan('ingest', { kind: 'server' }).end();
        await tracer.flush();
        await tracer.close();
      }
      assert.deepEqual(
        received.map((r) => [r.url, r.type]),
        [
          ['/v1/traces', 'application/json'],
          ['/v1/traces', 'application/x-protobuf'],
        ],
      );
      assert.ok(received.every((r) => r.bytes > 0));
    } finally {
      server.close();
    }
  });
});
