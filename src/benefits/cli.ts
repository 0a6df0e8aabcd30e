import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createPool } from '../db/pool.ts';
import { DomainError, invalid } from '../kernel/errors.ts';
import { previewBenefits, printedPreview } from './preview.ts';
import { replayYear } from './replay.ts';
import { ensureShippedRuleSets, loadRuleSet, ruleSetOf } from './catalogue.ts';
import { storedRuleSet } from './store.ts';

/**
 * `hub benefits …` (docs/design.md, Contracts): results go to stdout as JSON, nothing else does.
 * A bad input, an unknown rule set or a usage error is thrown: src/cliErrors.ts prints it, naming
 * the field, and exits 2.
 */
export function registerBenefitsCommands(program: Command): void {
  const benefits = program.command('benefits').description('benefit rules (versioned rule sets)');
  benefits
    .command('preview')
    .description('compute the benefit lines of one settlement under a rule set, as JSON on stdout')
    .requiredOption('--rules <id>', 'rule set id, e.g. default-2025 or jinjiang-example')
    .requiredOption('--input <file>', 'preview input JSON (settlement, plan, specialDisease, firstEnrolledOn, planYearTotals, priorDiseaseGroups, specialDiseaseAddedOn)')
    .action((options: { rules: string; input: string }) => {
      const json = readInput(options.input);
      const result = previewBenefits(loadRuleSet(options.rules), json);
      process.stdout.write(`${JSON.stringify(printedPreview(result), null, 2)}\n`);
    });
  benefits
    .command('replay')
    .description('recompute the decided claims of a plan year under another rule set and print the differences (JSON); changes nothing')
    .requiredOption('--rules <id>', 'rule set id (shipped or published)')
    .option('--version <n>', 'rule set version (default: the newest)')
    .requiredOption('--year <yyyy>', 'plan year, e.g. 2025')
    .action(async (options: { rules: string; version?: string; year: string }) => {
      await replayBenefits(options.rules, options.version, options.year);
    });
}

/** The preview input file as JSON. */
function readInput(inputPath: string): unknown {
  try {
    return JSON.parse(readFileSync(inputPath, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot be read as JSON (${(error as Error).message})`;
    throw new DomainError('BAD_USER_INPUT', `--input ${inputPath}: ${reason}`, '--input', reason);
  }
}

/**
 * `hub benefits replay --rules ID [--version N] --year YYYY`: prints (JSON on stdout) how the
 * decided claims of the plan year would change under that rule set, per claim and in total.
 * Changes nothing.
 */
async function replayBenefits(ruleSetId: string, version: string | undefined, year: string): Promise<void> {
  const planYear = Number(year);
  if (!/^\d{4}$/.test(year)) throw invalid('--year', `must be a plan year such as 2025 (got ${year})`);
  if (version !== undefined && !/^[1-9]\d*$/.test(version)) throw invalid('--version', `must be a version number (got ${version})`);
  const db = createPool({ max: 2 });
  try {
    await ensureShippedRuleSets(db);
    const row = await storedRuleSet(db, ruleSetId, version === undefined ? null : Number(version));
    if (!row) throw invalid('--rules', `unknown rule set ${ruleSetId}${version === undefined ? '' : ` version ${version}`}`);
    const report = await replayYear(db, ruleSetOf(row), planYear);
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await db.end();
  }
}
