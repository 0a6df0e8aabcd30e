import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { addDays } from '../../src/kernel/time.ts';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { insertShippedRuleSets } from '../../src/benefits/store.ts';
import { evaluateBenefits, ZERO_TOTALS } from '../../src/benefits/rules/engine.ts';
import { validateRuleSet, type RuleSet } from '../../src/benefits/rules/ruleSet.ts';

/**
 * Enrolment.waitingPeriodEndsOn is the last day of the waiting period, with the waiting days of the
 * rule set governing the enrolment's plan year: the rule engine refuses a settlement on that day
 * (WAITING_PERIOD) and not on the next.
 */

let db: TestDatabase;
let gw: TestGateway;
let unitId: string;
const ADMIN = { role: 'ADMIN' } as const;

const ENROL = `mutation($m: ID!, $y: Int!, $on: Date!) {
  enrolMember(input: { memberId: $m, planYear: $y, enrolledOn: $on, override: { rules: [BACKDATED], reason: "test: enrols in past plan years" } }) { enrolment { firstEnrolledOn waitingPeriodEndsOn } userErrors { message } } }`;

/** A rule set like default-2025, for `planYears`, with another waiting period. */
function variant(id: string, planYears: number[], waitingDays: number): RuleSet {
  const base = loadRuleSet('default-2025');
  const checked = validateRuleSet({ ...base, id, version: 1, planYears, eligibility: { ...base.eligibility, waitingDays } });
  if (!checked.ok) throw new Error(checked.errors.map((e) => `${e.field}: ${e.reason}`).join('; '));
  return checked.ruleSet;
}

/** Publishes `ruleSet` and assigns it to its plan years (as benefits' publishing does). */
async function publish(ruleSet: RuleSet): Promise<void> {
  await insertShippedRuleSets(db.pool, [ruleSet]);
  for (const year of ruleSet.planYears) {
    await db.pool.query(`INSERT INTO plan_year_rule_sets (plan_year, rule_set_id, assigned_by) VALUES ($1, $2, 'test')`, [year, ruleSet.id]);
  }
}

let serial = 0;
async function newMember(): Promise<string> {
  serial += 1;
  const idNumber = withResidentIdCheck(`35050219880808${String(serial).padStart(3, '0')}`);
  const r = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "林芳", idNumber: $n }) { member { id } userErrors { message } } }`, { u: unitId, n: idNumber });
  expect(r.data.createMember.userErrors).toEqual([]);
  return r.data.createMember.member.id;
}

async function enrol(memberId: string, planYear: number, enrolledOn: string) {
  const r = await gw.query(ADMIN, ENROL, { m: memberId, y: planYear, on: enrolledOn });
  expect(r.data.enrolMember.userErrors).toEqual([]);
  return r.data.enrolMember.enrolment as { firstEnrolledOn: string; waitingPeriodEndsOn: string | null };
}

/** The engine's eligibility reasons for a settlement at `setlTime` under `ruleSet`. */
function reasonCodes(ruleSet: RuleSet, planYear: number, firstEnrolledOn: string, setlTime: string): string[] {
  return evaluateBenefits(ruleSet, {
    settlement: { medType: '21', setlTime, diagnoses: [], amountsFen: { psn_part_amt: 1_000_000, fulamt_ownpay_amt: 0, overlmt_selfpay: 0 } },
    enrolment: { planYear, plan: 'PUBLIC', specialDisease: false, firstEnrolledOn, contributionPaid: true },
    planYearTotals: ZERO_TOTALS,
    priorDiseaseGroups: [],
  }).reasonCodes;
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "泉州市第九中学", planType: PUBLIC }) { unit { id } } }`,
    { c: withCreditCodeCheck('12350500MB7654321') });
  unitId = unit.data.createUnit.unit.id;
  await confirmUnitTerms(gw, unitId);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('waitingPeriodEndsOn', () => {
  it('is the last day the engine refuses for the waiting period of the plan year\'s rule set (default-2025: 90 days)', async () => {
    const enrolment = await enrol(await newMember(), 2025, '2025-03-01');
    // 2025-03-01 + 90 days is 2025-05-30, the first covered day: the period ends the day before.
    expect(enrolment).toEqual({ firstEnrolledOn: '2025-03-01', waitingPeriodEndsOn: '2025-05-29' });
    const rules = loadRuleSet('default-2025');
    expect(reasonCodes(rules, 2025, '2025-03-01', '2025-05-29 23:59:59')).toEqual(['WAITING_PERIOD']);
    expect(reasonCodes(rules, 2025, '2025-03-01', '2025-05-30 00:00:00')).toEqual([]);
  });

  it('takes the waiting days of the rule set assigned to the plan year, not a fixed 90', async () => {
    const shortWait = variant('short-wait', [2027], 30);
    await publish(shortWait);
    const enrolment = await enrol(await newMember(), 2027, '2027-02-10');
    expect(enrolment.waitingPeriodEndsOn).toBe(addDays('2027-02-10', 29));
    expect(enrolment.waitingPeriodEndsOn).toBe('2027-03-11');
    expect(reasonCodes(shortWait, 2027, '2027-02-10', '2027-03-11 23:59:59')).toEqual(['WAITING_PERIOD']);
    expect(reasonCodes(shortWait, 2027, '2027-02-10', '2027-03-12 00:00:00')).toEqual([]);
  });

  it('goes on into a renewal when the chain began within the waiting period, as the engine counts it', async () => {
    const member = await newMember();
    await enrol(member, 2024, '2024-12-01');
    // The chain began 2024-12-01: 90 days end on 2025-02-28, inside the renewed plan year.
    expect(await enrol(member, 2025, '2025-01-01')).toEqual({ firstEnrolledOn: '2024-12-01', waitingPeriodEndsOn: '2025-02-28' });
    const rules = loadRuleSet('default-2025');
    expect(reasonCodes(rules, 2025, '2024-12-01', '2025-02-28 23:59:59')).toEqual(['WAITING_PERIOD']);
    expect(reasonCodes(rules, 2025, '2024-12-01', '2025-03-01 00:00:00')).toEqual([]);
  });

  it('is null for a renewal without a gap, and under a rule set without a waiting period', async () => {
    const member = await newMember();
    await enrol(member, 2025, '2025-03-01');
    expect(await enrol(member, 2026, '2026-01-01')).toEqual({ firstEnrolledOn: '2025-03-01', waitingPeriodEndsOn: null });

    await publish(variant('no-wait', [2028], 0));
    expect(await enrol(await newMember(), 2028, '2028-01-05')).toEqual({ firstEnrolledOn: '2028-01-05', waitingPeriodEndsOn: null });
  });
});
