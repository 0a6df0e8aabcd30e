import { createPool } from '../db/pool.ts';
import { replayYear } from './replay.ts';
import { ensureShippedRuleSets, ruleSetOf, storedRuleSet } from './ruleSetStore.ts';

/**
 * `hub benefits replay --rules ID [--version N] --year YYYY`: prints (JSON on stdout) how the
 * decided claims of the plan year would change under that rule set, per claim and in total.
 * Changes nothing. Exit 2 for an unknown rule set or a bad year.
 */
export async function replayBenefits(ruleSetId: string, version: string | undefined, year: string): Promise<number> {
  const planYear = Number(year);
  if (!/^\d{4}$/.test(year)) {
    console.error(`--year: must be a plan year such as 2025 (got ${year})`);
    return 2;
  }
  if (version !== undefined && !/^[1-9]\d*$/.test(version)) {
    console.error(`--version: must be a version number (got ${version})`);
    return 2;
  }
  const db = createPool({ max: 2 });
  try {
    await ensureShippedRuleSets(db);
    const row = await storedRuleSet(db, ruleSetId, version === undefined ? null : Number(version));
    if (!row) {
      console.error(`--rules: unknown rule set ${ruleSetId}${version === undefined ? '' : ` version ${version}`}`);
      return 2;
    }
    const report = await replayYear(db, ruleSetOf(row), planYear);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  } finally {
    await db.end();
  }
}
