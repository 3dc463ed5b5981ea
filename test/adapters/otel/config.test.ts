/** Where traces go: the option, JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT, the standard OTEL_* variables; off otherwise. */
import assert from 'node:assert/strict';
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
    });
    assert.equal(otlpTarget('http://c:4318/v1/traces/', {})?.url, 'http://c:4318/v1/traces');
    assert.deepEqual(otlpTarget(undefined, { JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: 'https://j:4318/' }), {
      url: 'https://j:4318/v1/traces',
      from: 'JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT',
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
        (error) => isJunctionError(error) && error.code === 'InvalidRequest' && error.field === field,
      );
    }
  });

  test('a configured endpoint gives an OpenTelemetry tracer', async () => {
    const tracer = await tracerFromConfig('http://127.0.0.1:9/', {}, {});
    assert.equal(tracer.enabled, true);
    await tracer.close();
  });
});
