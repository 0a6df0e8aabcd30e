import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateBenefits, ZERO_TOTALS, type PlanYearTotals } from '../../src/benefits/rules/engine.ts';
import { applyRatio } from '../../src/benefits/rules/engine.ts';
import { validateRuleSet, type RuleSet } from '../../src/benefits/rules/ruleSet.ts';
import { previewBenefits } from '../../src/benefits/preview.ts';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { enrolment, fen, settlement } from './support.ts';

/** Programme conditions, funders, the provincial subsidy and the condolence section (pure). */
const example = (name: string) => JSON.parse(readFileSync(new URL(`../../src/benefits/ruleSets/examples/${name}.json`, import.meta.url), 'utf8'));
const parsed = (json: unknown): RuleSet => {
  const checked = validateRuleSet(json);
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.ruleSet;
};
const fieldsOf = (json: unknown) => {
  const checked = validateRuleSet(json);
  return checked.ok ? [] : checked.errors.map((e) => e.field);
};
const CASE = { psn: '136,700.00', ownpay: '52,700.00', diagnoses: ['I34.0'], setlTime: '2026-06-01 10:00:00' };

describe('stored versions read as before', () => {
  it('a rule set without funders, conditions or condolence reads with UNION, no condition and no condolence', () => {
    const rules = loadRuleSet('default-2025');
    expect(rules.programmes.INPATIENT!.funder).toBe('UNION');
    expect(rules.programmes.INPATIENT!.when).toBeUndefined();
    expect(rules.condolence).toBeUndefined();
  });
});

describe('programme conditions', () => {
  const jinjiang = parsed(example('jinjiang-2026'));
  const facts = (unitType: 'NON_PUBLIC' | 'STATE_OWNED') => enrolment({ planYear: 2026, specialDisease: true, unitType, memberCategories: [] });

  it('pays CRITICAL only to members of the unit types listed, and says why otherwise, without refusing the claim', () => {
    const inside = evaluateBenefits(jinjiang, { settlement: settlement(CASE), enrolment: facts('NON_PUBLIC'), planYearTotals: ZERO_TOTALS, priorDiseaseGroups: [] });
    const outside = evaluateBenefits(jinjiang, { settlement: settlement(CASE), enrolment: facts('STATE_OWNED'), planYearTotals: ZERO_TOTALS, priorDiseaseGroups: [] });
    expect(inside.lines.map((l) => [l.programme, l.amountFen])).toEqual([['INPATIENT', fen('16,800.00')], ['CRITICAL', fen('72,000.00')], ['MAJOR_DISEASE', fen('10,000.00')]]);
    expect(outside.eligible).toBe(true);
    expect(outside.lines.map((l) => l.programme)).toEqual(['INPATIENT', 'MAJOR_DISEASE']);
    expect(outside.reasonCodes).toEqual(['PROGRAMME_CONDITION_NOT_MET']);
    expect(outside.reasons[0]!.text.en).toContain('STATE_OWNED');
    // R grows all the same: the member's out-of-pocket does not depend on what the programme pays.
    expect(outside.planYearTotalsAfter.outOfPocket).toBe(inside.planYearTotalsAfter.outOfPocket);
  });

  it('reads member categories: any one listed qualifies', () => {
    const rules = parsed({ ...example('jinjiang-2026'), programmes: { ...example('jinjiang-2026').programmes, CRITICAL: {
      ...example('jinjiang-2026').programmes.CRITICAL, when: { memberCategories: ['SANITATION', 'NEW_EMPLOYMENT_FORM'] } } } });
    const run = (memberCategories: ('SANITATION' | 'HARDSHIP' | 'NEW_EMPLOYMENT_FORM')[]) => evaluateBenefits(rules, {
      settlement: settlement(CASE), enrolment: enrolment({ planYear: 2026, specialDisease: true, memberCategories }), planYearTotals: ZERO_TOTALS, priorDiseaseGroups: [],
    }).lines.some((l) => l.programme === 'CRITICAL');
    expect([run(['NEW_EMPLOYMENT_FORM']), run(['HARDSHIP']), run([]), run(['HARDSHIP', 'SANITATION'])]).toEqual([true, false, false, true]);
  });

  it('names the targeted groups a paying line depends on, with a warning; a line paying 0 or a unit-type condition depends on none', () => {
    const rules = parsed({ ...example('jinjiang-2026'), programmes: { ...example('jinjiang-2026').programmes, CRITICAL: {
      ...example('jinjiang-2026').programmes.CRITICAL, when: { memberCategories: ['HARDSHIP', 'SANITATION'] } } } });
    const run = (claim: typeof CASE | { psn: string; setlTime: string }, memberCategories: ('HARDSHIP' | 'SANITATION' | 'MODEL_WORKER')[]) => evaluateBenefits(rules, {
      settlement: settlement(claim), enrolment: enrolment({ planYear: 2026, specialDisease: true, memberCategories }), planYearTotals: ZERO_TOTALS, priorDiseaseGroups: [],
    });
    const paid = run(CASE, ['MODEL_WORKER', 'HARDSHIP']);
    expect(paid.lines.find((l) => l.programme === 'CRITICAL')).toMatchObject({ amountFen: fen('72,000.00'), targetedGroups: ['HARDSHIP'] });
    expect(paid.lines.filter((l) => l.targetedGroups).map((l) => l.programme)).toEqual(['CRITICAL']);
    expect(paid.dependsOnGroups).toEqual(['HARDSHIP']);
    expect(paid.warnings).toEqual([expect.stringMatching(/^CRITICAL pays 72,000\.00 only to members in the targeted groups HARDSHIP of this member's enrolment/)]);
    // Under CRITICAL's threshold its line pays 0: nothing depends on the group.
    const belowThreshold = run({ psn: '5,000.00', setlTime: CASE.setlTime }, ['HARDSHIP']);
    expect(belowThreshold.lines.find((l) => l.programme === 'CRITICAL')).toMatchObject({ amountFen: 0, targetedGroups: ['HARDSHIP'] });
    expect({ groups: belowThreshold.dependsOnGroups, warnings: belowThreshold.warnings }).toEqual({ groups: [], warnings: [] });
    // Outside the groups, or under a condition on the unit's type only, no line depends on them.
    expect(run(CASE, ['MODEL_WORKER']).dependsOnGroups).toEqual([]);
    expect(evaluateBenefits(jinjiang, { settlement: settlement(CASE), enrolment: { ...facts('NON_PUBLIC'), memberCategories: ['HARDSHIP'] }, planYearTotals: ZERO_TOTALS, priorDiseaseGroups: [] }))
      .toMatchObject({ dependsOnGroups: [], warnings: [] });
  });

  it('the preview takes unitType and memberCategories, naming a bad one', () => {
    const input = {
      settlement: { med_type: '21', setl_time: CASE.setlTime, psn_part_amt: '136700.00', fulamt_ownpay_amt: '52700.00', overlmt_selfpay: '0', diagnoses: ['I34.0'] },
      plan: 'PRIVATE', specialDisease: true, firstEnrolledOn: '2020-01-01',
    };
    expect(previewBenefits(jinjiang, { ...input, unitType: 'NON_PUBLIC' }).lines.map((l) => l.programme)).toContain('CRITICAL');
    expect(previewBenefits(jinjiang, input).lines.map((l) => l.programme)).not.toContain('CRITICAL');
    expect(() => previewBenefits(jinjiang, { ...input, unitType: 'PRIVATE_FIRM', memberCategories: ['ASTRONAUT'] }, 'input')).toThrow(/input\.unitType/);
  });
});

describe('the provincial subsidy', () => {
  const quanzhou = parsed(example('quanzhou-2026'));
  const config = quanzhou.programmes.PROVINCIAL_SUBSIDY!;

  it('pays its ratio above its threshold of R less the CRITICAL lines, funded by FJ, after the city\'s lines', () => {
    const result = evaluateBenefits(quanzhou, { settlement: settlement(CASE), enrolment: enrolment({ planYear: 2026, specialDisease: true }), planYearTotals: ZERO_TOTALS, priorDiseaseGroups: [] });
    const amount = (p: string) => result.lines.find((l) => l.programme === p)?.amountFen ?? 0;
    const rP = result.planYearTotalsAfter.outOfPocket - amount('CRITICAL');
    expect(amount('PROVINCIAL_SUBSIDY')).toBe(applyRatio(Math.max(0, rP - config.thresholdFen), config.ratioBp.PUBLIC));
    expect(amount('PROVINCIAL_SUBSIDY')).toBeGreaterThan(0);
    expect(result.lines.at(-1)).toMatchObject({ programme: 'PROVINCIAL_SUBSIDY', funder: 'FJ' });
    expect(result.lines.filter((l) => l.programme !== 'PROVINCIAL_SUBSIDY').every((l) => l.funder === 'UNION')).toBe(true);
    expect(result.planYearTotalsAfter.PROVINCIAL_SUBSIDY).toBe(amount('PROVINCIAL_SUBSIDY'));
  });

  it('pays the same over a year however the stays are split (cumulative rounding), and stops at its cap', () => {
    const year = (stays: string[], start: PlanYearTotals = ZERO_TOTALS) => {
      let totals = start;
      for (const psn of stays) {
        totals = evaluateBenefits(quanzhou, {
          settlement: settlement({ psn, setlTime: '2026-03-01 10:00:00' }), enrolment: enrolment({ planYear: 2026 }), planYearTotals: totals, priorDiseaseGroups: [],
        }).planYearTotalsAfter;
      }
      return totals.PROVINCIAL_SUBSIDY ?? 0;
    };
    expect(year(['100,000.00', '100,000.00', '33,333.33'])).toBe(year(['233,333.33']));
    expect(year(['2,000,000.00'])).toBe(config.annualCapFen);
  });

  it('pays the year no threshold slice twice when an earlier stay leaves the year after a later one was decided', () => {
    const decide = (psn: string, totals: PlanYearTotals) => evaluateBenefits(quanzhou, {
      settlement: settlement({ psn, ownpay: psn, setlTime: '2026-03-01 10:00:00' }), enrolment: enrolment({ planYear: 2026 }), planYearTotals: totals, priorDiseaseGroups: [],
    });
    const amount = (result: ReturnType<typeof decide>, p: string) => result.lines.find((l) => l.programme === p)?.amountFen ?? 0;
    // A (R 50,000.00: PROVINCIAL 20 % × 20,000.00), then B (R 90,000.00: CRITICAL 20,000.00, R_p 70,000.00).
    const a = decide('50,000.00', ZERO_TOTALS);
    const b = decide('40,000.00', a.planYearTotalsAfter);
    expect([amount(a, 'PROVINCIAL_SUBSIDY'), amount(b, 'CRITICAL'), amount(b, 'PROVINCIAL_SUBSIDY')]).toEqual([fen('4,000.00'), fen('20,000.00'), fen('4,000.00')]);
    // A leaves the year (reversed): its out-of-pocket and lines go; B keeps what it was paid. The stay is settled again.
    const withoutA = { ...b.planYearTotalsAfter, outOfPocket: b.planYearTotalsAfter.outOfPocket - fen('50,000.00'), PROVINCIAL_SUBSIDY: fen('4,000.00') };
    const again = decide('50,000.00', withoutA);
    // The year (B and the stay again): R 90,000.00, CRITICAL 20,000.00 (B's), R_p 70,000.00, PROVINCIAL 8,000.00.
    expect({ critical: amount(again, 'CRITICAL'), provincial: amount(again, 'PROVINCIAL_SUBSIDY') }).toEqual({ critical: 0, provincial: fen('4,000.00') });
    expect(again.lines.find((l) => l.programme === 'CRITICAL')!.explanation.en).toContain('at most 0.00');
  });

  it('is refused without CRITICAL before it, or deducting what R already excludes', () => {
    const rs = example('quanzhou-2026');
    expect(fieldsOf({ ...rs, stackingOrder: ['INPATIENT', 'PROVINCIAL_SUBSIDY', 'CRITICAL', 'MAJOR_DISEASE'] })).toEqual(expect.arrayContaining(['programmes.PROVINCIAL_SUBSIDY']));
    const twice = structuredClone(rs);
    twice.programmes.PROVINCIAL_SUBSIDY.lessProgrammes = ['INPATIENT'];
    expect(fieldsOf(twice)).toEqual(['programmes.PROVINCIAL_SUBSIDY.lessProgrammes.0']);
    const badFunder = structuredClone(rs);
    badFunder.programmes.PROVINCIAL_SUBSIDY.funder = 'fj';
    expect(fieldsOf(badFunder)).toEqual(['programmes.PROVINCIAL_SUBSIDY.funder']);
  });
});

describe('the condolence section', () => {
  it('defaults its funder and reasons, and names a bad field', () => {
    const rs = example('quanzhou-2026');
    expect(parsed(rs).condolence).toEqual({ perCaseCapFen: 200000, annualCapFenPerWorker: 500000, funder: 'UNION', reasons: ['SERIOUS_ILLNESS', 'DEATH', 'HARDSHIP', 'ACCIDENT'] });
    expect(fieldsOf({ ...rs, condolence: { ...rs.condolence, reasons: ['BIRTHDAY'] } })).toEqual(['condolence.reasons.0']);
    expect(fieldsOf({ ...rs, condolence: { perCaseCapFen: -1, annualCapFenPerWorker: 0 } })).toEqual(['condolence.perCaseCapFen']);
  });
});
