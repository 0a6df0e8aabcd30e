import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parsePreviewInput, previewBenefits } from '../../src/benefits/preview.ts';
import { DomainError } from '../../src/kernel/errors.ts';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The preview input of docs/design.md (Contracts), verbatim. */
const EXAMPLE = fileURLToPath(new URL('./fixtures/jinjiang-preview.json', import.meta.url));
const example = () => JSON.parse(readFileSync(EXAMPLE, 'utf8'));
const rules = loadRuleSet('jinjiang-example');

async function hub(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/hub.mjs', ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

function problemsOf(json: unknown): string[] {
  try {
    parsePreviewInput(json, rules);
    return [];
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return error.problems.map((p) => `${p.field}: ${p.reason}`);
  }
}

describe('preview input', () => {
  it('reads the docs/design.md example into engine input, the contribution counted as paid', () => {
    expect(parsePreviewInput(example(), rules)).toEqual({
      settlement: {
        setlId: 'S1', medType: '21', setlTime: '2025-06-01 10:00:00', diagnoses: ['I34.0'],
        amountsFen: {
          medfee_sumamt: 24_320_000, fund_pay_sumamt: 10_650_000, psn_part_amt: 13_670_000, fulamt_ownpay_amt: 5_270_000, overlmt_selfpay: 0,
        },
      },
      enrolment: { planYear: 2025, plan: 'PUBLIC', specialDisease: true, firstEnrolledOn: '2020-01-01', contributionPaid: true },
      planYearTotals: { INPATIENT: 0, CRITICAL: 0, MAJOR_DISEASE: 0, outOfPocket: 0 },
      priorDiseaseGroups: [],
    });
  });
  it('counts missing totals as zero and accepts JSON numbers', () => {
    const json = example();
    json.planYearTotals = { outOfPocket: 1234.5 };
    json.settlement.overlmt_selfpay = 0;
    delete json.priorDiseaseGroups;
    const parsed = parsePreviewInput(json, rules);
    expect(parsed.planYearTotals).toEqual({ INPATIENT: 0, CRITICAL: 0, MAJOR_DISEASE: 0, outOfPocket: 123_450 });
    expect(parsed.priorDiseaseGroups).toEqual([]);
  });
  it('names every field in trouble', () => {
    const json = example();
    json.settlement.psn_part_amt = 'abc';
    json.settlement.setl_time = '2025-06-01';
    delete json.settlement.fulamt_ownpay_amt;
    json.settlement.diagnoses = ['I34.0', 'heart'];
    json.plan = 'STATE';
    json.planYearTotals.INPATEINT = '1.00';
    json.planYearTotals.CRITICAL = '-5.00';
    expect(problemsOf(json)).toEqual([
      'settlement.setl_time: must be yyyy-MM-dd HH:mm:ss',
      'settlement.psn_part_amt: is not an amount in CNY ("abc")',
      'settlement.fulamt_ownpay_amt: is required (rule set jinjiang-example uses it)',
      'settlement.diagnoses[1]: must be an ICD-10 code such as I34.0',
      'plan: must be PUBLIC or PRIVATE',
      'planYearTotals.INPATEINT: is not a total (INPATIENT, CRITICAL, MAJOR_DISEASE, PROVINCIAL_SUBSIDY, outOfPocket)',
      'planYearTotals.CRITICAL: must not be negative',
    ]);
  });
  it('reads the add-on\'s own start and the admission day for its waiting period, naming either when it is not a date', () => {
    const json = example();
    json.specialDiseaseAddedOn = '2025-03-01';
    json.settlement.begndate = '2025-05-20 08:30:00';
    const parsed = parsePreviewInput(json, rules);
    expect([parsed.enrolment!.specialDiseaseAddedOn, parsed.settlement.admittedOn]).toEqual(['2025-03-01', '2025-05-20']);
    // The published case admitted within the add-on's waiting period: no lump sum.
    expect(previewBenefits(rules, json).reasonCodes).toEqual(['ADD_ON_WAITING_PERIOD']);
    json.specialDiseaseAddedOn = '2025-3-1';
    json.settlement.begndate = 'May 20';
    expect(problemsOf(json)).toEqual([
      'specialDiseaseAddedOn: must be a date yyyy-MM-dd',
      'settlement.begndate: must be a date yyyy-MM-dd (or yyyy-MM-dd HH:mm:ss)',
    ]);
  });
  it('refuses amounts that contradict the platform identities', () => {
    const json = example();
    json.settlement.medfee_sumamt = '243200.01';
    expect(problemsOf(json)).toEqual(['settlement.medfee_sumamt: is 243200.01, but fund_pay_sumamt + psn_part_amt = 243200.00']);
    json.settlement.medfee_sumamt = '243300.00';
    json.settlement.hosp_part_amt = '100.00';
    json.settlement.acct_pay = '700.00';
    json.settlement.psn_cash_pay = '136000.00';
    expect(problemsOf(json)).toEqual([]);
    json.settlement.psn_cash_pay = '135000.00';
    expect(problemsOf(json)).toEqual(['settlement.psn_part_amt: is 136700.00, but acct_pay + psn_cash_pay = 135700.00']);
  });
});

describe('hub benefits preview', () => {
  it('prints only the result JSON for the docs/design.md example', async () => {
    const { code, stdout } = await hub('benefits', 'preview', '--rules', 'jinjiang-example', '--input', EXAMPLE);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ ruleSet: 'jinjiang-example', eligible: true, reasons: [], totalFen: 9_880_000, memberPaysFen: 3_790_000 });
    expect(result.lines.map((l: { programme: string; amountFen: number }) => [l.programme, l.amountFen])).toEqual([
      ['INPATIENT', 1_680_000], ['CRITICAL', 7_200_000], ['MAJOR_DISEASE', 1_000_000],
    ]);
    expect(result.lines[0]).toMatchObject({ basisFen: 8_400_000, explanation: expect.stringContaining('基数 84,000.00 × 20% = 16,800.00') });
  });

  it('exits 2 naming the field of a bad amount, with nothing on stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'preview-'));
    const json = example();
    json.settlement.psn_part_amt = 'abc';
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(json));
    const { code, stdout, stderr } = await hub('benefits', 'preview', '--rules', 'jinjiang-example', '--input', join(dir, 'bad.json'));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('settlement.psn_part_amt');
  });

  it('exits 2 on an unknown rule set and on a missing option', async () => {
    const [unknown, missing] = await Promise.all([
      hub('benefits', 'preview', '--rules', 'default-1999', '--input', EXAMPLE),
      hub('benefits', 'preview', '--rules', 'default-2025'),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--rules: unknown rule set default-1999');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--input');
  });
});
