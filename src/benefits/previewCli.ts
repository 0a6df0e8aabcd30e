import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parsePreviewInput, PreviewInputError } from './previewInput.ts';
import { loadRuleSet, UnknownRuleSetError } from './rules/catalogue.ts';
import { evaluateBenefits } from './rules/engine.ts';
import { replayBenefits } from './replayCli.ts';

/**
 * `hub benefits preview --rules ID --input FILE` (docs/design.md, Contracts): prints only the result
 * JSON on stdout. An input problem, an unknown rule set or a usage error goes to stderr, naming
 * the field, with exit code 2.
 */
export function registerBenefitsCommands(program: Command): void {
  const benefits = program.command('benefits').description('benefit rules (versioned rule sets)');
  benefits
    .command('preview')
    .description('compute the benefit lines of one settlement under a rule set, as JSON on stdout')
    .requiredOption('--rules <id>', 'rule set id, e.g. default-2025 or jinjiang-example')
    .requiredOption('--input <file>', 'preview input JSON (settlement, plan, specialDisease, firstEnrolledOn, planYearTotals, priorDiseaseGroups)')
    .action((options: { rules: string; input: string }) => {
      process.exitCode = previewBenefits(options.rules, options.input);
    });
  benefits
    .command('replay')
    .description('recompute the decided claims of a plan year under another rule set and print the differences (JSON); changes nothing')
    .requiredOption('--rules <id>', 'rule set id (shipped or published)')
    .option('--version <n>', 'rule set version (default: the newest)')
    .requiredOption('--year <yyyy>', 'plan year, e.g. 2025')
    .action(async (options: { rules: string; version?: string; year: string }) => {
      process.exitCode = await replayBenefits(options.rules, options.version, options.year);
    });
}

/** Exit code 0 with the result on stdout, or 2 with the problems on stderr. */
export function previewBenefits(ruleSetId: string, inputPath: string): number {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(inputPath, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot be read as JSON (${(error as Error).message})`;
    console.error(`--input ${inputPath}: ${reason}`);
    return 2;
  }
  try {
    const ruleSet = loadRuleSet(ruleSetId);
    const result = evaluateBenefits(ruleSet, parsePreviewInput(json, ruleSet));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UnknownRuleSetError) console.error(`--rules: ${error.message}`);
    else if (error instanceof PreviewInputError) console.error(error.message);
    else throw error;
    return 2;
  }
}
