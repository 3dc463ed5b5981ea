/** The Kafka EventLog against a real broker: the shared EventLog suite (a fresh topic per test). */
import { randomUUID } from 'node:crypto';
import { describe } from 'node:test';
import { createMemoryDedupStore } from '../../../lib/adapters/kafka/dedup.ts';
import { createKafkaEventLog } from '../../../lib/adapters/kafka/index.ts';
import type { Clock } from '../../../lib/ports.ts';
import { kafkaSkip, testKafka } from '../../kafka/env.ts';
import { eventLogSuite } from '../../ports/event-log.suite.ts';

/** Real time plus an offset the suite can move forward. */
function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}

describe('Kafka EventLog', { skip: kafkaSkip }, () => {
  if (testKafka === undefined) return;
  const bootstrap = [testKafka];
  eventLogSuite(
    'KafkaEventLog (shared suite)',
    async () => {
      const topic = `junction-test-${randomUUID()}`;
      const clock = movableClock();
      const dedup = createMemoryDedupStore({ clock });
      const open = () =>
        createKafkaEventLog({ bootstrap, topic, partitions: 3, dedup, clock, retryBaseMs: 50 });
      return {
        log: await open(),
        reopen: open,
        advanceClock: (ms) => clock.advance(ms),
        cleanup: async () => undefined,
      };
    },
    { groupMembers: true },
  );
});
