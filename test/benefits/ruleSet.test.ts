import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listRuleSets, loadRuleSet, RuleSetCache } from '../../src/benefits/catalogue.ts';
import type { RuleSetRow } from '../../src/benefits/model.ts';
import type { Queryable } from '../../src/kernel/transaction.ts';
import { icd10InRange, isIcd10Code } from '../../src/benefits/rules/icd10.ts';
import { SETTLEMENT_AMOUNT_FIELDS, SETTLEMENT_AMOUNT_LABELS, settlementFieldsUsed, validateRuleSet } from '../../src/benefits/rules/ruleSet.ts';
import { AMOUNT_FIELDS } from '../../src/settlements/model.ts';
import { DomainError } from '../../src/kernel/errors.ts';
import { percent } from '../../src/benefits/rules/explain.ts';

const shipped = (name: string) => JSON.parse(readFileSync(new URL(`../../src/benefits/ruleSets/${name}.json`, import.meta.url), 'utf8'));
const fieldsOf = (json: unknown) => {
  const result = validateRuleSet(json);
  return result.ok ? [] : result.errors.map((e) => e.field);
};

describe('shipped rule sets', () => {
  it('lists and loads default-2025 and jinjiang-example', () => {
    expect(listRuleSets().map((rs) => `${rs.id} v${rs.version}`)).toEqual(['default-2025 v1', 'jinjiang-example v1']);
    const rules = loadRuleSet('default-2025');
    expect(loadRuleSet('default-2025', 1)).toEqual(rules);
    expect(rules.planYears).toEqual([2025]);
  });
  it('default-2025 holds exactly the figures of docs/design.md', () => {
    const { eligibility, enrolment, medTypePrefixes, programmes, stackingOrder, capAtPersonalPart } = loadRuleSet('default-2025');
    // The add-on's own waiting period is not in the file: the default every version without it reads.
    expect(eligibility).toEqual({ waitingDays: 90, requireContributionPaid: true, coverage: 'ENROLMENT_ORDER', specialDiseaseWaitingDays: 90 });
    expect(enrolment).toEqual({
      minimumAge: { years: 16, months: 0 }, maximumAge: { M: { years: 60, months: 3 }, F: { years: 55, months: 3 } },
      requireInService: true, maxBackdatingDays: 30, planFollowsUnit: true,
    });
    expect(medTypePrefixes).toEqual(['2']);
    expect(programmes.INPATIENT).toMatchObject({ ratioBp: { PUBLIC: 6000, PRIVATE: 5000 }, annualCapFen: 50_000_00 });
    expect(programmes.CRITICAL).toMatchObject({ ratioBp: { PUBLIC: 5000, PRIVATE: 5000 }, thresholdFen: 50_000_00, annualCapFen: 150_000_00 });
    expect(programmes.MAJOR_DISEASE).toMatchObject({ requiresSpecialDisease: true });
    expect(programmes.MAJOR_DISEASE!.diseaseGroups).toEqual([
      { code: 'CANCER', name: { zh: '恶性肿瘤', en: 'cancer' }, icd10: [{ from: 'C00', to: 'C97' }], lumpSumFen: 6_000_00 },
    ]);
    expect(stackingOrder).toEqual(['INPATIENT', 'CRITICAL', 'MAJOR_DISEASE']);
    expect(capAtPersonalPart).toBe(true);
    expect(settlementFieldsUsed(loadRuleSet('default-2025')).sort()).toEqual(['fulamt_ownpay_amt', 'overlmt_selfpay', 'psn_part_amt']);
  });
  it('names the unknown rule set and the known ones', () => {
    expect(() => loadRuleSet('nope')).toThrow(DomainError);
    expect(() => loadRuleSet('nope')).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', field: '--rules' }));
    expect(() => loadRuleSet('default-2025', 7)).toThrow('--rules: unknown rule set default-2025 version 7 (known: default-2025, jinjiang-example)');
  });
  it('reads the settlement amount fields the settlements model stores, under the same labels', () => {
    // The engine names them itself (a pure core imports no domain): the two lists must stay one.
    expect(SETTLEMENT_AMOUNT_FIELDS).toEqual(AMOUNT_FIELDS.map((f) => f.field));
    expect(Object.entries(SETTLEMENT_AMOUNT_LABELS).map(([field, { zh, en }]) => [field, `${zh} ${en}`])).toEqual(AMOUNT_FIELDS.map((f) => [f.field, f.label]));
  });
});

describe('RuleSetCache', () => {
  const row = (version: number): RuleSetRow => ({
    ruleSetId: 'default-2025', version, planYears: [2025], definition: { ...shipped('default-2025'), version },
    shipped: true, publishedAt: new Date(), publishedBy: 'shipped',
  });

  it('parses each stored version once', () => {
    const cache = new RuleSetCache();
    const first = cache.ruleSetOf(row(1));
    expect(cache.ruleSetOf(row(1))).toBe(first);
    expect(cache.ruleSetOf(row(2))).toMatchObject({ id: 'default-2025', version: 2 });
    // Another cache (another process, another database) parses for itself.
    expect(new RuleSetCache().ruleSetOf(row(1))).not.toBe(first);
  });

  it('inserts the shipped rule sets once, and again after a failed attempt', async () => {
    const statements: string[] = [];
    let down = true;
    const db = {
      query: async (text: string) => {
        statements.push(text);
        if (down) {
          down = false;
          throw new Error('connection refused');
        }
        return { rows: [], rowCount: 0 };
      },
    } as unknown as Queryable;
    const cache = new RuleSetCache();
    await expect(cache.ensureShipped(db)).rejects.toThrow('connection refused');
    await cache.ensureShipped(db);
    await cache.ensureShipped(db);
    expect(statements).toHaveLength(2);
    expect(statements[1]).toContain('INSERT INTO rule_sets');
  });
});

describe('validateRuleSet', () => {
  it('names the field of each problem', () => {
    const json = shipped('default-2025');
    json.programmes.INPATIENT.ratioBp.PUBLIC = 12_000;
    json.programmes.CRITICAL.thresholdFen = 100.5;
    json.programmes.MAJOR_DISEASE.diseaseGroups[0].icd10[0].to = 'cancer';
    json.eligibility.waitingDay = 90;
    json.eligibility.specialDiseaseWaitingDays = -1;
    expect(fieldsOf(json).sort()).toEqual([
      'eligibility',
      'eligibility.specialDiseaseWaitingDays',
      'programmes.CRITICAL.thresholdFen',
      'programmes.INPATIENT.ratioBp.PUBLIC',
      'programmes.MAJOR_DISEASE.diseaseGroups.0.icd10.0.to',
    ]);
  });
  it('checks the stacking order against the programmes and their dependencies', () => {
    const json = shipped('jinjiang-example');
    json.stackingOrder = ['CRITICAL', 'INPATIENT'];
    expect(fieldsOf(json)).toEqual(['stackingOrder', 'programmes.CRITICAL.outOfPocket.lessProgrammes.0']);
  });
  it('refuses a disease group defined twice and a reversed ICD-10 range', () => {
    const json = shipped('default-2025');
    const group = json.programmes.MAJOR_DISEASE.diseaseGroups[0];
    json.programmes.MAJOR_DISEASE.diseaseGroups.push({ ...group, icd10: [{ from: 'C97', to: 'C00' }] });
    expect(fieldsOf(json)).toEqual(['programmes.MAJOR_DISEASE.diseaseGroups.1.code', 'programmes.MAJOR_DISEASE.diseaseGroups.1.icd10.0']);
  });
});

describe('ICD-10 ranges', () => {
  it('places a subdivided code in its category', () => {
    const heartValve = { from: 'I34', to: 'I37' };
    expect(icd10InRange('I34.0', heartValve)).toBe(true);
    expect(icd10InRange('i37.9', heartValve)).toBe(true);
    expect(icd10InRange('I33.9', heartValve)).toBe(false);
    expect(icd10InRange('I38', heartValve)).toBe(false);
    const cancer = { from: 'C00', to: 'C97' };
    expect(icd10InRange('C00', cancer)).toBe(true);
    expect(icd10InRange('C34.900x001', cancer)).toBe(true); // the national 医保版 extension
    expect(icd10InRange('D00.0', cancer)).toBe(false);
    expect(icd10InRange('B99', cancer)).toBe(false);
  });
  it('recognises codes', () => {
    expect(['I34.0', 'C97', 'c34.900x001'].every(isIcd10Code)).toBe(true);
    expect(['I3', 'I34.', '34.0', 'zz'].some(isIcd10Code)).toBe(false);
  });
});

it('writes ratios as exact percentages', () => {
  expect([6000, 2000, 2550, 3333, 1, 0].map(percent)).toEqual(['60%', '20%', '25.5%', '33.33%', '0.01%', '0%']);
});
