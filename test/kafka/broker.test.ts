/** The test broker tool: starts a real broker, stops it, and starts it again on the same data and port. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { startBroker } from './broker.ts';
import { javaAvailable } from './fetch.ts';

const skip = javaAvailable() || process.env.CI === 'true' ? false : 'no Kafka broker: Java not found';

async function topicsOf(bootstrap: string): Promise<string[]> {
  const admin = new Admin({ clientId: 'broker-test', bootstrapBrokers: [bootstrap] });
  try {
    return await admin.listTopics();
  } finally {
    await admin.close();
  }
}

test('a stopped broker starts again on the same port and keeps its topics', {
  skip,
  timeout: 180_000,
}, async () => {
  const first = await startBroker();
  try {
    const admin = new Admin({ clientId: 'broker-test', bootstrapBrokers: [first.bootstrap] });
    await admin.createTopics({ topics: ['kept'], partitions: 2, replicas: 1 });
    await admin.close();
    await first.stop();

    const second = await startBroker({
      dir: first.dir,
      port: first.port,
      controllerPort: first.controllerPort,
    });
    assert.equal(second.bootstrap, first.bootstrap);
    assert.notEqual(second.pid, first.pid);
    assert.ok((await topicsOf(second.bootstrap)).includes('kept'));
    await second.stop();
  } finally {
    await first.remove();
  }
});
