import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { evaluateBenefits, ZERO_TOTALS, type BenefitInput, type BenefitResult, type EnrolmentFacts, type PlanYearTotals, type SettlementFacts } from '../../src/benefits/rules/engine.ts';
import { PROGRAMMES, validateRuleSet, type RuleSet } from '../../src/benefits/rules/ruleSet.ts';

/** Rule sets: the shipped ones and random valid ones (ratios, thresholds, caps, lump sums, formulas). */
const basisFormulas = [
  { add: ['psn_part_amt'], subtract: ['fulamt_ownpay_amt', 'overlmt_selfpay'] },
  { add: ['psn_part_amt'], subtract: [] },
  // Bases that can exceed psn_part_amt, so INPATIENT itself may be cut.
  { add: ['medfee_sumamt'], subtract: ['fund_pay_sumamt'] },
  { add: ['medfee_sumamt'], subtract: [] },
];
const cap = fc.option(fc.integer({ min: 0, max: 20_000_000 }), { nil: null });
const ratio = fc.integer({ min: 0, max: 10_000 });
const randomRuleSet: fc.Arbitrary<RuleSet> = fc
  .record({
    basis: fc.constantFrom(...basisFormulas),
    inpatientRatio: fc.record({ PUBLIC: ratio, PRIVATE: ratio }),
    criticalRatio: fc.record({ PUBLIC: ratio, PRIVATE: ratio }),
    thresholdFen: fc.integer({ min: 0, max: 10_000_000 }),
    caps: fc.tuple(cap, cap, cap),
    lumpSums: fc.tuple(fc.integer({ min: 0, max: 2_000_000 }), fc.integer({ min: 0, max: 2_000_000 })),
    requiresSpecialDisease: fc.boolean(),
    waitingDays: fc.integer({ min: 0, max: 120 }),
  })
  .map((r) => {
    const checked = validateRuleSet({
      id: 'random', version: 1, planYears: [2025],
      eligibility: { waitingDays: r.waitingDays, requireContributionPaid: true },
      medTypePrefixes: ['2'],
      programmes: {
        INPATIENT: { basis: r.basis, ratioBp: r.inpatientRatio, annualCapFen: r.caps[0] },
        CRITICAL: {
          outOfPocket: { add: ['psn_part_amt'], lessProgrammes: ['INPATIENT'] },
          thresholdFen: r.thresholdFen, ratioBp: r.criticalRatio, annualCapFen: r.caps[1],
        },
        MAJOR_DISEASE: {
          requiresSpecialDisease: r.requiresSpecialDisease, annualCapFen: r.caps[2],
          diseaseGroups: [
            { code: 'CANCER', name: { zh: '恶性肿瘤', en: 'cancer' }, icd10: [{ from: 'C00', to: 'C97' }], lumpSumFen: r.lumpSums[0] },
            { code: 'HEART_VALVE', name: { zh: '心脏瓣膜病', en: 'heart valve disease' }, icd10: [{ from: 'I34', to: 'I37' }], lumpSumFen: r.lumpSums[1] },
          ],
        },
      },
      stackingOrder: ['INPATIENT', 'CRITICAL', 'MAJOR_DISEASE'],
      capAtPersonalPart: true,
    });
    if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
    return checked.ruleSet;
  });
const ruleSet = fc.oneof(fc.constant(loadRuleSet('default-2025')), fc.constant(loadRuleSet('jinjiang-example')), randomRuleSet);

/** Consistent settlements: medfee = funds + psn; ownpay + overlmt ≤ psn. Up to 200,000 CNY patient burden. */
const claim: fc.Arbitrary<SettlementFacts> = fc
  .record({
    psn: fc.integer({ min: 0, max: 20_000_000 }),
    funds: fc.integer({ min: 0, max: 20_000_000 }),
    ownpayPermille: fc.integer({ min: 0, max: 1000 }),
    overlmtPermille: fc.integer({ min: 0, max: 1000 }),
    medType: fc.constantFrom('21', '22', '28', '11', '14'),
    day: fc.integer({ min: 0, max: 364 }),
    diagnoses: fc.subarray(['C34.1', 'C50.9', 'I34.0', 'I35.1', 'J18.9', 'K35.8']),
  })
  .map((c) => {
    const ownpay = Math.floor((c.psn * c.ownpayPermille) / 1000);
    const overlmt = Math.floor(((c.psn - ownpay) * c.overlmtPermille) / 1000);
    const setlTime = `${new Date(Date.UTC(2025, 0, 1 + c.day)).toISOString().slice(0, 10)} 10:00:00`;
    return {
      medType: c.medType, setlTime, diagnoses: c.diagnoses,
      amountsFen: { psn_part_amt: c.psn, fund_pay_sumamt: c.funds, medfee_sumamt: c.funds + c.psn, fulamt_ownpay_amt: ownpay, overlmt_selfpay: overlmt },
    };
  });

const member: fc.Arbitrary<EnrolmentFacts> = fc.record({
  planYear: fc.constant(2025),
  plan: fc.constantFrom('PUBLIC' as const, 'PRIVATE' as const),
  specialDisease: fc.boolean(),
  firstEnrolledOn: fc.constantFrom('2019-07-01', '2025-01-01', '2025-03-15'),
  contributionPaid: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
});

interface Year {
  results: BenefitResult[];
  totals: PlanYearTotals;
  groups: string[];
}

/** One member's plan year: each claim sees the totals and granted groups the previous ones left. */
function simulateYear(rules: RuleSet, enrolment: EnrolmentFacts, claims: SettlementFacts[]): Year {
  let totals: PlanYearTotals = { ...ZERO_TOTALS };
  const groups: string[] = [];
  const results = claims.map((settlement) => {
    const input: BenefitInput = { settlement, enrolment, planYearTotals: totals, priorDiseaseGroups: [...groups] };
    const result = evaluateBenefits(rules, input);
    totals = result.planYearTotalsAfter;
    groups.push(...result.diseaseGroupsGranted);
    return result;
  });
  return { results, totals, groups };
}

const capOf = (rules: RuleSet, programme: (typeof PROGRAMMES)[number]) => rules.programmes[programme]?.annualCapFen ?? null;

describe('benefit engine properties', () => {
  it('no line is negative or fractional, and a claim never pays above its psn_part_amt', () => {
    fc.assert(
      fc.property(ruleSet, member, claim, (rules, enrolment, settlement) => {
        const result = evaluateBenefits(rules, { settlement, enrolment, planYearTotals: { ...ZERO_TOTALS }, priorDiseaseGroups: [] });
        const psn = settlement.amountsFen.psn_part_amt!;
        for (const line of result.lines) {
          expect(Number.isSafeInteger(line.amountFen) && line.amountFen >= 0).toBe(true);
          expect(Number.isSafeInteger(line.basisFen) && line.basisFen >= 0).toBe(true);
          expect(line.amountFen).toBeLessThanOrEqual(line.computedFen);
        }
        const sum = result.lines.reduce((s, l) => s + l.amountFen, 0);
        expect(result.totalFen).toBe(sum);
        expect(sum).toBeLessThanOrEqual(psn);
        expect(result.memberPaysFen).toBe(psn - sum);
        if (!result.eligible) expect(result.lines).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('over any year of claims, no annual cap is exceeded and the totals are the sums of the lines', () => {
    fc.assert(
      fc.property(ruleSet, member, fc.array(claim, { minLength: 1, maxLength: 12 }), (rules, enrolment, claims) => {
        const year = simulateYear(rules, enrolment, claims);
        for (const programme of PROGRAMMES) {
          const paid = year.results.flatMap((r) => r.lines).filter((l) => l.programme === programme).reduce((s, l) => s + l.amountFen, 0);
          expect(year.totals[programme] ?? 0).toBe(paid); // a programme added later is absent until it pays
          const cap = capOf(rules, programme);
          if (cap !== null) expect(paid).toBeLessThanOrEqual(cap);
        }
        for (const [i, result] of year.results.entries()) {
          expect(Number.isSafeInteger(result.totalFen)).toBe(true);
          expect(result.totalFen).toBeLessThanOrEqual(claims[i]!.amountsFen.psn_part_amt!);
        }
        expect(new Set(year.groups).size).toBe(year.groups.length); // each disease group at most once
      }),
      { numRuns: 300 },
    );
  });

  it('the order of a year\'s settlements changes no year-end total unless a cap binds', () => {
    let comparedWithoutCaps = 0;
    fc.assert(
      fc.property(
        ruleSet,
        member,
        fc.array(claim, { minLength: 2, maxLength: 6 }).chain((claims) => fc.tuple(fc.constant(claims), fc.shuffledSubarray(claims, { minLength: claims.length }))),
        (rules, enrolment, [claims, reordered]) => {
          const a = simulateYear(rules, enrolment, claims);
          const b = simulateYear(rules, enrolment, reordered);
          const capBound = [...a.results, ...b.results].some((r) => r.lines.some((l) => l.capsHit.length > 0));
          if (capBound) return;
          comparedWithoutCaps++;
          // CRITICAL rounds the entitlement to date down, so its year total is the ratio of R's final excess, whatever the order.
          expect(b.totals).toEqual(a.totals);
          expect([...b.groups].sort()).toEqual([...a.groups].sort());
        },
      ),
      { numRuns: 400 },
    );
    expect(comparedWithoutCaps).toBeGreaterThan(40); // the property was really exercised
  });

  it('CRITICAL pays the same over a year however R is split among claims (no cap)', () => {
    // The telescoping sum: total = floor(ratio × max(0, R_end − threshold)), exactly.
    const rules = loadRuleSet('default-2025');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5_000_001 }), { minLength: 1, maxLength: 10 }), (parts) => {
        const claims = parts.map((psn) => ({
          medType: '21', setlTime: '2025-05-01 10:00:00', diagnoses: [],
          amountsFen: { psn_part_amt: psn, fulamt_ownpay_amt: psn, overlmt_selfpay: 0 }, // basis 0: R grows by psn
        }));
        const year = simulateYear(rules, { planYear: 2025, plan: 'PUBLIC', specialDisease: false, firstEnrolledOn: '2020-01-01', contributionPaid: true }, claims);
        const rEnd = parts.reduce((s, p) => s + p, 0);
        expect(year.totals.outOfPocket).toBe(rEnd);
        expect(year.totals.CRITICAL).toBe(Math.min(15_000_000, Math.floor(Math.max(0, rEnd - 5_000_000) / 2)));
      }),
    );
  });
});
