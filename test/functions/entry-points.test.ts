/** The entry points in functions/: each exports `handler`, and importing one builds nothing (the cold start is lazy). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

describe('functions/ entry points', () => {
  it('export a handler function and read no configuration at import', async () => {
    const saved = process.env.JUNCTION_KAFKA_BOOTSTRAP;
    delete process.env.JUNCTION_KAFKA_BOOTSTRAP;
    try {
      for (const name of ['ingest', 'router', 'api', 'scheduler', 'connector']) {
        const module = (await import(`../../functions/${name}.ts`)) as { handler?: unknown };
        assert.equal(typeof module.handler, 'function', `functions/${name}.ts exports handler`);
      }
    } finally {
      if (saved !== undefined) process.env.JUNCTION_KAFKA_BOOTSTRAP = saved;
    }
  });

  it('answer a request that needs no engine without building one', async () => {
    const { handler } = (await import('../../functions/ingest.ts')) as {
      handler: (event: unknown) => Promise<{ statusCode: number }>;
    };
    const result = await handler({
      version: '2.0',
      rawPath: '/rules',
      headers: {},
      requestContext: { stage: '$default', http: { method: 'GET', path: '/rules' } },
      isBase64Encoded: false,
    });
    assert.equal(result.statusCode, 404);
  });

  it('fail the invocation, naming the variable, when the environment is incomplete', async () => {
    const keys = ['JUNCTION_KAFKA_BOOTSTRAP', 'JUNCTION_KAFKA_CLUSTER_ARN'] as const;
    const saved = keys.map((k) => process.env[k]);
    for (const k of keys) delete process.env[k];
    try {
      const { handler } = (await import('../../functions/scheduler.ts')) as {
        handler: () => Promise<unknown>;
      };
      await assert.rejects(handler(), { code: 'InvalidRequest', field: 'JUNCTION_KAFKA_CLUSTER_ARN' });
    } finally {
      keys.forEach((k, i) => {
        if (saved[i] !== undefined) process.env[k] = saved[i];
      });
    }
  });
});
