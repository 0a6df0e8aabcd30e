import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { RuleSetCache, loadRuleSet } from '../../src/benefits/catalogue.ts';
import { approveRuleSetProposal, proposeRuleSet, proposeRuleSetAssignment } from '../../src/benefits/ruleSetProposals.ts';

/**
 * The rule set judging a change to an existing enrolment is picked by the day the caller names.
 * An organisation's plan year has two versions of its rule set: version 1 (30 days of back-dating)
 * from 1 January, version 2 (366 days) from 1 May. A member's enrolment of the year, dated in
 * February, falls under version 1. A unit operator adds a targeted group to it in June, naming an
 * `enrolledOn` in June: the enrolment keeps its February date, but the June day picked version 2,
 * whose 366 days let the group count from February. (The SPECIAL_DISEASE add-on asked with it is not
 * back-dated: it starts on the day it is given, whichever version is in force.)
 *
 * Refused: an existing enrolment is judged by the rule set in force on its own date (as a roster
 * row's added cover is, src/members/eligibility.ts), whatever day the caller names; a new enrolment
 * is judged by the set in force on the day it is made for.
 */

// Mid-June of this year, so that every day named falls in one plan year whatever day the tests run.
vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: new Date(`${new Date().getUTCFullYear()}-06-15T04:00:00Z`) });

let db: TestDatabase;
let gw: TestGateway;
const cache = new RuleSetCache();
const ADMIN = { role: 'ADMIN', sub: 'admin-pick' } as const;
const year = Number(chinaToday().slice(0, 4));
const day = (monthDay: string) => `${year}-${monthDay}`;
const CREDIT_CODE = withCreditCodeCheck('91350582MA3333333');
const OPERATOR = { role: 'UNIT_OPERATOR', unit: CREDIT_CODE, sub: 'operator-pick' } as const;
let unitId = '';

const ENROL = `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) {
  enrolment { id enrolledOn specialDisease memberCategories } userErrors { field code message } } }`;

let serial = 10;
async function newMember(): Promise<string> {
  serial += 1;
  const r = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "蔡志明", idNumber: $n }) { member { id } userErrors { message } } }`,
    { u: unitId, n: withResidentIdCheck(`350582198503${String(serial).padStart(2, '0')}12${serial % 10}`) });
  expect(r.data.createMember.userErrors).toEqual([]);
  return r.data.createMember.member.id;
}

/** A member enrolled in the year on `enrolledOn`, without the add-on or a group (as a roster of that day made it). */
async function enrolledMember(enrolledOn: string): Promise<{ memberId: string; enrolmentId: number }> {
  const memberId = await newMember();
  const { rows: [e] } = await db.pool.query<{ id: number }>(
    `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
     SELECT id, unit_id, $2, 'PRIVATE', false, $3, $3 FROM members WHERE id = $1 RETURNING id`,
    [localId('id', memberId, 'Member'), year, enrolledOn]);
  return { memberId, enrolmentId: e!.id };
}

const stored = async (enrolmentId: number) => (await db.pool.query(
  `SELECT special_disease, member_categories, to_char(enrolled_on, 'YYYY-MM-DD') AS enrolled_on FROM enrolments WHERE id = $1`, [enrolmentId],
)).rows[0];

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  const { rows: [org] } = await db.pool.query<{ id: number }>(`INSERT INTO organisations (code, name, level, created_by) VALUES ('PK', '某县总工会', 'COUNTY', 'test') RETURNING id`);
  const unit = await gw.query(ADMIN, `mutation($i: CreateUnitInput!) { createUnit(input: $i) { unit { id } userErrors { field message } } }`,
    { i: { creditCode: CREDIT_CODE, name: '某县单位', planType: 'PRIVATE', organisationId: toGlobalId('Organisation', org!.id) } });
  expect(unit.data.createUnit.userErrors).toEqual([]);
  unitId = unit.data.createUnit.unit.id;
  await confirmUnitTerms(gw, unitId);

  const adminA = { subject: 'admin-a', role: 'ADMIN' } as const;
  const adminB = { subject: 'admin-b', role: 'ADMIN' } as const;
  const { version: _v, ...base } = loadRuleSet('default-2025');
  // Two versions of one rule set, each governing the organisation's year from its own day.
  for (const [maxBackdatingDays, effectiveFrom] of [[30, day('01-01')], [366, day('05-01')]] as const) {
    const published = await approveRuleSetProposal(db.pool, cache, adminB, UNSCOPED, {
      proposalId: (await proposeRuleSet(db.pool, cache, adminA, UNSCOPED, {
        definition: { ...base, id: 'pick-enrolment', planYears: [year], enrolment: { ...base.enrolment, maxBackdatingDays } },
      })).id,
    });
    await approveRuleSetProposal(db.pool, cache, adminB, UNSCOPED, {
      proposalId: (await proposeRuleSetAssignment(db.pool, cache, adminA, UNSCOPED, {
        organisationId: org!.id, planYear: year, ruleSetId: 'pick-enrolment', version: published.ruleSetVersion!, effectiveFrom,
      })).id,
    });
  }
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
  vi.useRealTimers();
});

describe('enrolMember on an existing enrolment', () => {
  it('is judged by the version in force on the enrolment\'s date, not on the day the caller names', async () => {
    const { memberId, enrolmentId } = await enrolledMember(day('02-02'));
    const r = await gw.query(OPERATOR, ENROL, {
      i: { memberId, planYear: year, enrolledOn: day('06-01'), plan: 'PRIVATE', specialDisease: true, memberCategories: ['HARDSHIP'] },
    });
    expect(r.data.enrolMember.enrolment).toBeNull();
    expect(r.data.enrolMember.userErrors).toEqual([{
      field: 'input.memberCategories', code: 'INVALID',
      message: expect.stringContaining(`BACKDATED: the targeted group HARDSHIP added on ${day('06-15')} would count from the enrolment's date ${day('02-02')}, 133 days before, more than the 30 days allowed`),
    }]);
    expect(await stored(enrolmentId)).toEqual({ special_disease: false, member_categories: [], enrolled_on: day('02-02') });
  });

  it('an enrolment dated under the lenient version keeps it, whatever earlier day the caller names', async () => {
    const { memberId, enrolmentId } = await enrolledMember(day('05-02'));
    const r = await gw.query(OPERATOR, ENROL, { i: { memberId, planYear: year, enrolledOn: day('02-02'), plan: 'PRIVATE', specialDisease: true } });
    expect(r.data.enrolMember.userErrors).toEqual([]);
    expect(await stored(enrolmentId)).toEqual({ special_disease: true, member_categories: [], enrolled_on: day('05-02') });
  });
});

describe('control: a new enrolment', () => {
  it('is judged by the version in force on the day it is made for', async () => {
    // 36 days back: within version 2's limit (from 1 May), beyond version 1's.
    const lenient = await gw.query(OPERATOR, ENROL, { i: { memberId: await newMember(), planYear: year, enrolledOn: day('05-10'), plan: 'PRIVATE' } });
    expect(lenient.data.enrolMember).toMatchObject({ enrolment: { enrolledOn: day('05-10') }, userErrors: [] });
    // 56 days back, before 1 May: version 1's 30 days.
    const strict = await gw.query(OPERATOR, ENROL, { i: { memberId: await newMember(), planYear: year, enrolledOn: day('04-20'), plan: 'PRIVATE' } });
    expect(strict.data.enrolMember).toEqual({
      enrolment: null,
      userErrors: [{ field: 'input.enrolledOn', code: 'INVALID', message: expect.stringContaining(`BACKDATED: ${day('04-20')} is 56 days before ${day('06-15')}, more than the 30 days allowed`) }],
    });
  });
});
