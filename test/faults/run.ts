import { parseArgs } from 'node:util';
import { describeRun, runOnce, startInfrastructure, type RunOptions } from './harness.ts';

/**
 * `npm run faults -- [--runs N] [--seed S] [--short]`: a seeded fault campaign (harness.ts).
 * The first seed is --seed, else FAULTS_SEED, else 1; it is printed first, so any run replays.
 * Prints one line per run and the summary `N runs, M faults injected, 0 lost, 0 duplicated, 0 wrong
 * amounts`; exits 1 naming the seed to replay when anything went wrong.
 */
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    seed: { type: 'string', default: process.env.FAULTS_SEED ?? '1' },
    short: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const firstSeed = Number(values.seed);
if (!Number.isSafeInteger(firstSeed)) throw new Error(`the seed must be a whole number, not ${values.seed}`);
const options: Omit<RunOptions, 'seed'> = values.short
  ? { members: 150, settlements: 200, workers: 2, faultPhaseMs: 12_000, faultEveryMs: 1_200, settleMs: 90_000, batchSize: 5 }
  : { members: 600, settlements: 800, workers: 3, faultPhaseMs: 30_000, faultEveryMs: 1_500, settleMs: 120_000, batchSize: 10 };

process.env.NODE_ENV ??= 'test'; // `npm run faults` configures itself as the tests do (src/config.ts needs NODE_ENV)
console.log(`fault campaign: seed ${firstSeed}, ${runs} run(s)${values.short ? ', short' : ''} (replay: FAULTS_SEED=${firstSeed} npm run faults -- --runs ${runs}${values.short ? ' --short' : ''})`);
const infra = await startInfrastructure();
let faults = 0;
let lost = 0;
let duplicated = 0;
let wrong = 0;
const failed: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const seed = firstSeed + i;
    const result = await runOnce(infra, { ...options, seed });
    console.log(describeRun(result));
    for (const problem of result.problems) console.log(`  ${problem}`);
    faults += result.faultCount;
    lost += result.lost;
    duplicated += result.duplicated;
    wrong += result.wrongAmounts;
    if (result.problems.length) failed.push(seed);
  }
} finally {
  await infra.stop();
}
console.log(`${runs} runs, ${faults} faults injected, ${lost} lost, ${duplicated} duplicated, ${wrong} wrong amounts`);
if (failed.length) {
  console.log(`replay a failed run: npm run faults -- --runs 1 --seed ${failed[0]}${values.short ? ' --short' : ''} (failed seeds: ${failed.join(', ')})`);
  process.exit(1);
}
process.exit(0);
