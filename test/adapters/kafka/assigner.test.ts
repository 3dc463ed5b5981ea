/** The consumer-group assignor: each topic's partitions go round-robin to the members subscribed to that topic only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterMetadata, ExtendedGroupProtocolSubscription } from '@platformatic/kafka';
import { subscribedRoundRobin } from '../../../lib/adapters/kafka/assigner.ts';

function members(subscriptions: Record<string, string[]>): Map<string, ExtendedGroupProtocolSubscription> {
  return new Map(
    Object.entries(subscriptions).map(([memberId, topics]) => [
      memberId,
      { memberId, topics } as ExtendedGroupProtocolSubscription,
    ]),
  );
}

function metadata(partitions: Record<string, number>): ClusterMetadata {
  return {
    topics: new Map(Object.entries(partitions).map(([topic, count]) => [topic, { partitionsCount: count }])),
  } as unknown as ClusterMetadata;
}

/** member → topic → partitions, from the assignor's answer. */
function assigned(answer: ReturnType<typeof subscribedRoundRobin>): Record<string, Record<string, number[]>> {
  return Object.fromEntries(
    answer.map((m) => [
      m.memberId,
      Object.fromEntries([...m.assignments.values()].map((a) => [a.topic, [...a.partitions]])),
    ]),
  );
}

test('gives each topic only to its subscribers, round-robin in member-id order, and every partition once', () => {
  const group = members({ b1: ['bus-b'], a2: ['bus-a'], a1: ['bus-a'], x: ['bus-a', 'bus-b'] });
  // The client passes the leader's own topics only: the assignor must not rely on them.
  const answer = subscribedRoundRobin('a1', group, new Set(['bus-a']), metadata({ 'bus-a': 6, 'bus-b': 3 }));
  assert.deepEqual(assigned(answer), {
    a1: { 'bus-a': [0, 3] },
    a2: { 'bus-a': [1, 4] },
    b1: { 'bus-b': [0, 2] },
    x: { 'bus-a': [2, 5], 'bus-b': [1] },
  });
});

test('answers every member, with nothing for a member whose topic has no metadata or no partitions left', () => {
  const group = members({ m1: ['t'], m2: ['t'], m3: ['t'], lost: ['gone'] });
  const answer = assigned(subscribedRoundRobin('m1', group, new Set(['t']), metadata({ t: 2 })));
  assert.deepEqual(answer, { lost: {}, m1: { t: [0] }, m2: { t: [1] }, m3: {} });
});
