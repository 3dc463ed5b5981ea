/**
 * The partition assignor of Junction's consumer groups. The client's default (round-robin) hands the partitions of
 * every topic any member subscribed to round-robin over ALL members of the group: two buses on different topics
 * sharing a group name (two deployments on one cluster, both with the default `junction-router`) would each be handed
 * partitions of the other's topic, drop them (a member reads its own topic only) and leave them unconsumed. This one
 * gives each topic's partitions only to the members subscribed to that topic, round-robin in member-id order, as
 * Kafka's own assignors do.
 */
import type { GroupPartitionsAssigner } from '@platformatic/kafka';

export const subscribedRoundRobin: GroupPartitionsAssigner = (_current, members, _leaderTopics, metadata) => {
  const ids = [...members.keys()].sort();
  const byMember = new Map(ids.map((id) => [id, new Map<string, { topic: string; partitions: number[] }>()]));
  // Every topic some member subscribed to (the client passes the leader's own only; its metadata covers them all).
  const topics = new Set([...members.values()].flatMap((member) => member.topics ?? []));
  for (const topic of [...topics].sort()) {
    const subscribers = ids.filter((id) => members.get(id)?.topics?.includes(topic) === true);
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    if (subscribers.length === 0) continue;
    for (let partition = 0; partition < count; partition++) {
      const assigned = byMember.get(subscribers[partition % subscribers.length] as string);
      let entry = assigned?.get(topic);
      if (entry === undefined) {
        entry = { topic, partitions: [] };
        assigned?.set(topic, entry);
      }
      entry.partitions.push(partition);
    }
  }
  return ids.map((memberId) => ({ memberId, assignments: byMember.get(memberId) ?? new Map() }));
};
