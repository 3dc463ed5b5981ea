/** What a log holds, read back after a crash test: how many times each event id is in it, over every partition. */
import type { EventLog } from '../../../lib/ports.ts';

export async function idCountsInLog(log: EventLog): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let p = 0; p < log.partitions; p++) {
    for (let offset = 0; ; ) {
      const records = await log.read(p, offset, 1000);
      if (records.length === 0) break;
      for (const r of records) counts.set(r.event.id, (counts.get(r.event.id) ?? 0) + 1);
      offset = (records.at(-1)?.offset ?? offset) + 1;
    }
  }
  return counts;
}
