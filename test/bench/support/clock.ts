/**
 * Milliseconds on the clock every process of this machine shares: Linux's `CLOCK_MONOTONIC` (`process.hrtime`).
 * Latencies measured across processes (a load generator's send, a receiver's arrival) are differences of it.
 * `performance.timeOrigin + performance.now()` is not: `timeOrigin` is the wall clock when each process started, so a
 * wall-clock step between two processes' starts (the VM's clock jumps) puts the step into every latency between them.
 * latency-probe.ts and functions.ts's STAMP run as user functions, so they spell the same clock out themselves.
 */
export const sharedNow = (): number => Number(process.hrtime.bigint()) / 1e6;
