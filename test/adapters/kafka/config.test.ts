/** Kafka options: validation with the field and value named, defaults, and the client options for TLS and SASL. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KafkaEventLogOptions } from '../../../lib/adapters/kafka/config.ts';
import { clientConnectionOptions, resolveKafkaOptions } from '../../../lib/adapters/kafka/config.ts';
import { JunctionError } from '../../../lib/core/errors.ts';

const base = { bootstrap: ['127.0.0.1:9092'], topic: 'junction-events' } as const;

function rejects(options: unknown, field: string, shows: string): void {
  assert.throws(
    () => resolveKafkaOptions(options as KafkaEventLogOptions),
    (error: unknown) => {
      assert.ok(error instanceof JunctionError);
      assert.equal(error.code, 'InvalidRequest');
      assert.equal(error.field, field);
      assert.match(error.message, new RegExp(shows.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      return true;
    },
  );
}

test('applies the documented defaults', () => {
  const resolved = resolveKafkaOptions(base);
  assert.equal(resolved.partitions, 6);
  assert.equal(resolved.replication, 1);
  assert.equal(resolved.retentionMs, undefined);
  assert.equal(resolved.clientId, 'junction');
  assert.equal(resolved.appendTimeoutMs, 5000);
  assert.equal(resolved.tls, undefined);
  assert.equal(resolved.sasl, undefined);
});

test('rejects bad options naming the option and the value received', () => {
  rejects({ ...base, bootstrap: [] }, 'bootstrap', '[]');
  rejects({ ...base, bootstrap: ['localhost'] }, 'bootstrap', '"localhost"');
  rejects({ ...base, topic: 'has space' }, 'topic', '"has space"');
  rejects({ ...base, topic: '' }, 'topic', '""');
  rejects({ ...base, partitions: 0 }, 'partitions', '0');
  rejects({ ...base, replication: 1.5 }, 'replication', '1.5');
  rejects({ ...base, retentionMs: -2 }, 'retentionMs', '-2');
  rejects({ ...base, appendTimeoutMs: 0 }, 'appendTimeoutMs', '0');
  rejects({ ...base, tls: 'yes' }, 'tls', '"yes"');
  rejects({ ...base, dedup: {} }, 'dedup', '{}');
  rejects({ ...base, sasl: { mechanism: 'GSSAPI' } }, 'sasl.mechanism', '"GSSAPI"');
  rejects({ ...base, sasl: { mechanism: 'PLAIN', username: '', password: 'p' } }, 'sasl.username', '""');
  rejects({ ...base, sasl: { mechanism: 'AWS_MSK_IAM', region: 'Europe' } }, 'sasl.region', '"Europe"');
});

test('never shows a SASL password in an error', () => {
  assert.throws(
    () =>
      resolveKafkaOptions({ ...base, sasl: { mechanism: 'PLAIN', username: 'u', password: 42 } } as never),
    (error: unknown) => error instanceof JunctionError && !error.message.includes('42'),
  );
});

test('passes PLAIN and SCRAM credentials to the client', () => {
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    const client = clientConnectionOptions(
      resolveKafkaOptions({ ...base, tls: true, sasl: { mechanism, username: 'user', password: 'secret' } }),
      'producer',
    );
    assert.deepEqual(client.sasl, { mechanism, username: 'user', password: 'secret' });
    assert.deepEqual(client.tls, {});
    assert.equal(client.clientId, 'junction-producer');
    assert.deepEqual(client.bootstrapBrokers, ['127.0.0.1:9092']);
  }
});

test('passes TLS options through as given', () => {
  const tls = { ca: 'PEM', servername: 'broker.example.com' };
  assert.equal(clientConnectionOptions(resolveKafkaOptions({ ...base, tls }), 'admin').tls, tls);
  assert.equal(clientConnectionOptions(resolveKafkaOptions({ ...base, tls: false }), 'admin').tls, undefined);
});

test('turns MSK IAM into OAUTHBEARER with a signed token, over TLS by default', async () => {
  const calls: string[] = [];
  const client = clientConnectionOptions(
    resolveKafkaOptions({
      ...base,
      sasl: {
        mechanism: 'AWS_MSK_IAM',
        region: 'eu-west-1',
        generate: async ({ region }) => {
          calls.push(region);
          return { token: `signed-for-${region}`, expiryTime: Date.now() + 900_000 };
        },
      },
    }),
    'consumer',
  );
  assert.deepEqual(client.tls, {});
  assert.equal(client.sasl?.mechanism, 'OAUTHBEARER');
  const token = client.sasl !== undefined && 'token' in client.sasl ? client.sasl.token : undefined;
  assert.equal(typeof token, 'function');
  assert.equal(await (token as () => Promise<string>)(), 'signed-for-eu-west-1');
  assert.deepEqual(calls, ['eu-west-1']);
});

test('passes an OAUTHBEARER token provider through', async () => {
  const token = async () => 'opaque';
  const client = clientConnectionOptions(
    resolveKafkaOptions({ ...base, sasl: { mechanism: 'OAUTHBEARER', token } }),
    'admin',
  );
  assert.deepEqual(client.sasl, { mechanism: 'OAUTHBEARER', token });
});
