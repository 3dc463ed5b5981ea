/** TLS and SASL against a real broker (its own, with SSL and SASL_PLAINTEXT listeners). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { KafkaSaslOptions } from '../../../lib/adapters/kafka/index.ts';
import { createKafkaEventLog } from '../../../lib/adapters/kafka/index.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import { makeEvents } from '../../helpers/events.ts';
import { type Broker, startBroker } from '../../kafka/broker.ts';
import { kafkaSkip } from '../../kafka/env.ts';

describe('Kafka EventLog over TLS and SASL (its own broker)', { skip: kafkaSkip }, () => {
  let broker: Broker;
  before(async () => {
    broker = await startBroker({ saslUsers: { alice: 'alice-secret' }, tls: true });
  });
  after(async () => {
    await broker?.remove();
  });

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    test(`appends and reads back signed in with ${mechanism}`, async () => {
      const sasl: KafkaSaslOptions = { mechanism, username: 'alice', password: 'alice-secret' };
      const log = await createKafkaEventLog({
        bootstrap: [broker.saslBootstrap!],
        topic: `sasl-${randomUUID()}`,
        partitions: 1,
        sasl,
      });
      try {
        const events = makeEvents(3, () => ({ source: 'urn:test:sasl' }));
        await log.append(events);
        const read = await log.read(0, 0, 10);
        assert.deepEqual(
          read.map((r) => r.event.id),
          events.map((e) => e.id),
        );
      } finally {
        await log.close();
      }
    });
  }

  test('appends and reads back over TLS, trusting the broker certificate', async () => {
    const log = await createKafkaEventLog({
      bootstrap: [broker.tlsBootstrap!],
      topic: `tls-${randomUUID()}`,
      partitions: 1,
      tls: { ca: broker.tlsCa! },
    });
    try {
      const events = makeEvents(2, () => ({ source: 'urn:test:tls' }));
      await log.append(events);
      assert.deepEqual(
        (await log.read(0, 0, 10)).map((r) => r.event.id),
        events.map((e) => e.id),
      );
    } finally {
      await log.close();
    }
  });

  test('refuses a broker whose certificate it does not trust', async () => {
    const error = await createKafkaEventLog({
      bootstrap: [broker.tlsBootstrap!],
      topic: `tls-${randomUUID()}`,
      tls: true,
      appendTimeoutMs: 3000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof JunctionError, String(error));
    assert.equal(error.code, 'BufferUnavailable');
    assert.match(error.message, /certificate/i);
  });

  test('refuses a wrong password with BufferUnavailable naming the failure', async () => {
    const error = await createKafkaEventLog({
      bootstrap: [broker.saslBootstrap!],
      topic: `sasl-${randomUUID()}`,
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'wrong' },
      appendTimeoutMs: 3000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof JunctionError, String(error));
    assert.equal(error.code, 'BufferUnavailable');
    assert.match(error.message, /auth/i);
  });
});
