/** CPU time of a process (or of each of its threads), for rates per CPU-second in the benchmarks. */
import { readdirSync, readFileSync } from 'node:fs';
import { statField } from '../../../lib/server/proc-stat.ts';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS = 100;

/**
 * utime + stime in seconds from the text of a /proc `stat` file (a process's, or a thread's under `task/`). The
 * fields are counted after the command name, which may hold spaces: utime is field 14, stime field 15.
 */
function statCpuSeconds(stat: string): number {
  return (statField(stat, 14) + statField(stat, 15)) / TICKS;
}

/**
 * The CPU seconds (user + system) a process has used, from /proc (Linux); undefined elsewhere. Events per CPU
 * second of the bus is the steadier measure on a shared machine: wall-clock rates move with what else runs.
 */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** `cpuSeconds` for a process that must be there: throws naming the process otherwise. */
export function requiredCpuSeconds(pid: number): number {
  const seconds = cpuSeconds(pid);
  if (seconds === undefined) throw new Error(`cannot read the CPU time of process ${pid} from /proc`);
  return seconds;
}

/** The CPU seconds each thread of a process has used, by `<tid>:<name>` (threads that end meanwhile are left out). */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      out.set(`${tid}:${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}`, statCpuSeconds(stat));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/**
 * A thread's context switches so far, from `/proc/<pid>/task/<tid>/status`: voluntary (it waited: for I/O, a lock, a
 * timer) and involuntary (another thread took its core); undefined when the thread is gone.
 */
export function contextSwitches(
  pid: number,
  tid = pid,
): { voluntary: number; involuntary: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
  } catch {
    return undefined;
  }
}
