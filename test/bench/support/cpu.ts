/** CPU time of a process, for rates per CPU-second in the benchmarks. */
import { readFileSync } from 'node:fs';

/**
 * The CPU seconds (user + system) a process has used, from /proc (Linux); undefined elsewhere. Events per CPU
 * second of the bus is the steadier measure on a shared machine: wall-clock rates move with what else runs.
 */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}
