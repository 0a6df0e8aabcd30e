import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { insertRunningRosterImport } from '../../src/members/store.ts';
import { RuleSetCache, loadRuleSet } from '../../src/benefits/catalogue.ts';
import { approveRuleSetProposal, proposeRuleSet, proposeRuleSetAssignment } from '../../src/benefits/ruleSetProposals.ts';

/**
 * Enrolments are judged by the rule set that will decide their claims: the one their unit's
 * organisation has for the plan year on the enrolment date. 晋江 (JJ) allows 90 days of back-dating
 * and no waiting period; a unit of the hub's own union keeps the 30 days and 90 waiting days of the
 * rule set governing the year hub-wide. Dates are counted from chinaToday().
 */

// The server's today is read from the clock: set to mid-June of this year, so that 60 days back and
// today fall in one plan year whatever day the tests run (an enrolment's date falls in its year).
vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: new Date(`${new Date().getUTCFullYear()}-06-15T04:00:00Z`) });

let db: TestDatabase;
let gw: TestGateway;
const cache = new RuleSetCache();
const ADMIN = { role: 'ADMIN', sub: 'admin-lin' } as const;
const today = chinaToday();
const year = Number(today.slice(0, 4));
const sixtyDaysAgo = addDays(today, -60);
const JJ_UNIT = withCreditCodeCheck('91350582MA1111111');
const UNION_UNIT = withCreditCodeCheck('91350500MA2222222');
const units: Record<string, string> = {};

const ENROL = `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) {
  enrolment { id enrolledOn waitingPeriodEndsOn } userErrors { field code message } } }`;

let serial = 10;
async function newMember(creditCode: string): Promise<{ id: string; idNumber: string }> {
  serial += 1;
  const idNumber = withResidentIdCheck(`350582198503${String(serial).padStart(2, '0')}12${serial % 10}`);
  const r = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "蔡志明", idNumber: $n }) { member { id } userErrors { message } } }`,
    { u: units[creditCode], n: idNumber });
  expect(r.data.createMember.userErrors).toEqual([]);
  return { id: r.data.createMember.member.id, idNumber };
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  const { rows: [jj] } = await db.pool.query<{ id: number }>(`INSERT INTO organisations (code, name, level, created_by) VALUES ('JJ', '晋江市总工会', 'COUNTY', 'test') RETURNING id`);
  for (const [code, organisation] of [[JJ_UNIT, toGlobalId('Organisation', jj!.id)], [UNION_UNIT, null]] as const) {
    const r = await gw.query(ADMIN, `mutation($i: CreateUnitInput!) { createUnit(input: $i) { unit { id } userErrors { field message } } }`,
      { i: { creditCode: code, name: `单位${code.slice(-4)}`, planType: 'PRIVATE', ...(organisation ? { organisationId: organisation } : {}) } });
    expect(r.data.createUnit.userErrors).toEqual([]);
    units[code] = r.data.createUnit.unit.id;
    await confirmUnitTerms(gw, r.data.createUnit.unit.id);
  }
  // The year hub-wide: default-2025's rules. JJ's own: 90 days back, no waiting period.
  const { version: _v, ...base } = loadRuleSet('default-2025');
  const publish = async (definition: Record<string, unknown>) => approveRuleSetProposal(db.pool, cache, { subject: 'admin-b', role: 'ADMIN' }, UNSCOPED, {
    proposalId: (await proposeRuleSet(db.pool, cache, { subject: 'admin-a', role: 'ADMIN' }, UNSCOPED, { definition })).id,
  });
  const jjRules = await publish({ ...base, id: 'jj-enrolment', planYears: [year], eligibility: { ...base.eligibility, waitingDays: 0 }, enrolment: { ...base.enrolment, maxBackdatingDays: 90 } });
  await publish({ ...base, id: 'hub-enrolment', planYears: [year] }); // newest covering the year: governs it hub-wide
  await approveRuleSetProposal(db.pool, cache, { subject: 'admin-b', role: 'ADMIN' }, UNSCOPED, {
    proposalId: (await proposeRuleSetAssignment(db.pool, cache, { subject: 'admin-a', role: 'ADMIN' }, UNSCOPED, {
      organisationId: jj!.id, planYear: year, ruleSetId: jjRules.ruleSetId, version: jjRules.ruleSetVersion!, effectiveFrom: `${year - 1}-01-01`,
    })).id,
  });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
  vi.useRealTimers();
});

describe('enrolment rules follow the organisation', () => {
  it('enrolMember: 60 days back is within JJ\'s 90 (no waiting period), beyond the hub-wide 30 (BACKDATED)', async () => {
    const inJinjiang = await newMember(JJ_UNIT);
    const jj = await gw.query(ADMIN, ENROL, { i: { memberId: inJinjiang.id, planYear: year, enrolledOn: sixtyDaysAgo } });
    expect(jj.data.enrolMember.userErrors).toEqual([]);
    expect(jj.data.enrolMember.enrolment).toMatchObject({ enrolledOn: sixtyDaysAgo, waitingPeriodEndsOn: null });

    const elsewhere = await newMember(UNION_UNIT);
    const other = await gw.query(ADMIN, ENROL, { i: { memberId: elsewhere.id, planYear: year, enrolledOn: sixtyDaysAgo } });
    expect(other.data.enrolMember.enrolment).toBeNull();
    expect(other.data.enrolMember.userErrors).toEqual([{ field: 'input.enrolledOn', code: 'INVALID', message: expect.stringMatching(/^input\.enrolledOn: BACKDATED/) }]);
    // Enrolled today instead, the hub-wide 90 waiting days apply.
    const renewed = await gw.query(ADMIN, ENROL, { i: { memberId: elsewhere.id, planYear: year } });
    expect(renewed.data.enrolMember.enrolment.waitingPeriodEndsOn).toBe(addDays(today, 89));
  });

  it('a roster row is judged the same way, per unit', async () => {
    const header = 'name,id_number,unit_credit_code,plan_year,enrolled_on\n';
    const rows = [JJ_UNIT, UNION_UNIT].map((code, i) => `林晓${i},${withResidentIdCheck(`35058219900${i + 1}0512${i}`)},${code},${year},${sixtyDaysAgo}\n`);
    const importId = await insertRunningRosterImport(db.pool, { fileName: 'roster.csv', defaultUnitId: null, createdBy: 'test' });
    const result = await importRoster(db.pool, gw.keys, header + rows.join(''), { importId, today });
    expect(result.rowsInserted).toBe(1);
    expect(result.errors).toEqual([expect.objectContaining({ row: 3, field: 'enrolled_on', reason: expect.stringMatching(/BACKDATED/) })]);
  });
});
