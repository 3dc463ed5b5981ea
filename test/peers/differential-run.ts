/**
 * `npm run differential -- --cases=200000 --seed=N [--show=20]`: a long run of the seeded differential between
 * Junction's pattern matchers and event-ruler (test/peers/differential.ts). Prints the counts, the cases the policy
 * list excluded, and the first mismatches; exits 1 when there is any mismatch.
 */

import { runDifferential } from './differential.ts';
import { startEventRuler } from './event-ruler.ts';

function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const value = Number(arg.slice(name.length + 3));
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, received ${arg}\n`);
    process.exit(2);
  }
  return value;
}

const cases = option('cases', 20_000);
const seed = option('seed', Date.now() % 2 ** 31);
const show = option('show', 20);
const peer = await startEventRuler();
try {
  const started = Date.now();
  const result = await runDifferential(peer, seed, cases, startEventRuler);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `seed ${seed}: ${result.cases} cases (${result.valid} valid patterns, ${result.matches} matches) in ${seconds} s against event-ruler ${peer.version} on ${peer.runtime}`,
  );
  console.log(`differences excluded by the policy list: ${JSON.stringify(result.excluded)}`);
  console.log(`mismatches: ${result.mismatches.length}`);
  for (const m of result.mismatches.slice(0, show)) {
    console.log(
      `#${m.index} ${m.kind}\n  pattern ${m.case.pattern}\n  event   ${m.case.event}\n  junction ${JSON.stringify(m.junction)}\n  event-ruler ${JSON.stringify(m.ruler)}`,
    );
  }
  process.exitCode = result.mismatches.length > 0 ? 1 : 0;
} finally {
  await peer.close();
}
