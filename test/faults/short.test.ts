import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The short fault run CI does (`npm run faults -- --short --runs 1`): the whole pipeline with
 * worker processes killed and paused, Redis and PostgreSQL restarted, the bank timing out,
 * dropping, duplicating and reordering answers and its connections stalled or reset — and at the
 * end nothing lost, nothing paid twice, no wrong amount, every statement reconciled. FAULTS_SEED
 * when set, else a new seed each run; the seed is printed and named in any failure, with the
 * command to replay it.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('fault harness, short run', () => {
  it('loses nothing, pays nothing twice and no wrong amount while faults are injected, a standing payment policy in force', () => {
    const seed = process.env.FAULTS_SEED ? Number(process.env.FAULTS_SEED) : 1 + Math.floor(Math.random() * 100_000);
    const replay = `seed ${seed}; replay: FAULTS_SEED=${seed} npx vitest run test/faults/short.test.ts`;
    console.log(`fault run: ${replay}`);
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'test/faults/run.ts', '--short', '--runs', '1', '--seed', String(seed)], {
      cwd: ROOT, encoding: 'utf8', timeout: 280_000, env: { ...process.env, LOG_LEVEL: 'fatal' },
    });
    const output = `${replay}\n${run.error ? `${run.error.message}\n` : ''}${run.stdout}${run.stderr}`;
    expect(output, output).toContain('1 runs');
    expect(output, output).toMatch(/1 runs, [1-9]\d* faults injected, 0 lost, 0 duplicated, 0 wrong amounts/);
    // A standing payment policy was in force: some payouts went out under it, the rest by approval.
    expect(output, output).toMatch(/claims paid, [1-9]\d* payouts released by the standing policy/);
    expect(run.status, output).toBe(0);
  }, 300_000);
});
