/** A user function for the latency benchmark: notes how long after the client sent the event it started. */
import { appendFileSync } from 'node:fs';

export function handler(event: { data?: { sentAt?: number; file?: string } }): void {
  // The clock the load generator stamps `sentAt` with (support/clock.ts), spelled out: a user function imports nothing local.
  const started = Number(process.hrtime.bigint()) / 1e6;
  const { sentAt, file } = event.data ?? {};
  if (typeof sentAt === 'number' && typeof file === 'string')
    appendFileSync(file, `${(started - sentAt).toFixed(3)}\n`);
}
