import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { lookupHash, personalDataKeys } from '../../src/privacy/personalData.ts';
import { fen } from '../benefits/support.ts';
import { payContribution, seedUnit, type MemberSetup, type SettlementSpec } from '../benefits/seed.ts';
import { decideStay, enrolledLastYear, rulesForYearAndLast } from '../benefits/renewalScene.ts';

/**
 * Cover bought after the illness through a renewal. A member was enrolled last year; this year
 * nobody renewed them. In March they have an inpatient stay (10,000.00 CNY their own part). In
 * November their unit's operator enrols them for the year — dated that very day, nothing
 * back-dated, by `enrolMember` or a roster row with an empty date. The renewal keeps last year's
 * chain start (no waiting period), and the rules alone paid the March stay 6,000.00 CNY: the
 * enrolment made eight months after the stay covered it, where the same operator naming March as
 * the enrolment's date is refused BACKDATED (30 days at most), and a first enrolment would have
 * waited 90 days from November.
 *
 * Refused by the rules (src/benefits/rules/engine.ts lateRenewalDate): a renewal dated beyond the
 * year's first day by more than the back-dating limit covers stays settled, and (where the
 * admission day is known) begun, from its own date on (NO_ENROLMENT: not enrolled then); a member
 * renewed while in hospital is not covered for that stay. A renewal made before its year
 * (December's roster, dated 1 January), or within the limit of its first day, still covers the
 * whole year without a waiting period.
 */

// 2 November of this year (China time): every day named falls in this plan year whatever day the tests run.
vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: new Date(`${new Date().getUTCFullYear()}-11-02T04:00:00Z`) });

let db: TestDatabase;
let gw: TestGateway;
const year = Number(chinaToday().slice(0, 4));
const day = (monthDay: string, y = year) => `${y}-${monthDay}`;
const TODAY = day('11-02');
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };
const ADMIN = { role: 'ADMIN', sub: 'admin-renewal' } as const;
const CREDIT_CODE = withCreditCodeCheck('91350583MA4444444');
const OPERATOR = { role: 'UNIT_OPERATOR', unit: CREDIT_CODE, sub: 'operator-renewal' } as const;
// A stay in March of this year: INPATIENT pays 60 % of 10,000.00 (PUBLIC).
const MARCH_STAY = { psn: '10,000.00', setlTime: `${day('03-10')} 10:00:00` };
const ENROL = `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) {
  enrolment { id enrolledOn firstEnrolledOn waitingPeriodEndsOn } userErrors { field code message } } }`;

let unitId = 0;
let serial = 0;

/** A member of the unit, through the API, enrolled last year from 5 January (written as that year's roster left it). */
async function lastYearsMember(): Promise<number> {
  serial += 1;
  const created = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "黄志强", idNumber: $n }) { member { id } userErrors { message } } }`,
    { u: toGlobalId('Unit', unitId), n: withResidentIdCheck(`35058319820${String(400 + serial)}00${serial}`) });
  expect(created.data.createMember.userErrors).toEqual([]);
  const memberId = localId('id', created.data.createMember.member.id, 'Member');
  await enrolledLastYear(db.pool, memberId, unitId, year);
  return memberId;
}

const decide = (m: MemberSetup, stay: SettlementSpec) => decideStay(db.pool, m, stay, OPTIONS);

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  // The default rules (90 days of waiting, 30 of back-dating) for last year and this one.
  await rulesForYearAndLast(db.pool, { ...loadRuleSet('default-2025'), id: 'renewal-rules', version: 1, planYears: [year - 1, year] }, year);
  const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "石狮某机关", planType: PUBLIC }) { unit { id } } }`, { c: CREDIT_CODE });
  unitId = localId('id', unit.data.createUnit.unit.id, 'Unit');
  await confirmUnitTerms(gw, unit.data.createUnit.unit.id);
  // The unit has paid this year (more than it owes): the contribution is no reason to refuse.
  await payContribution(db.pool, unitId, year);
});
afterAll(async () => {
  vi.useRealTimers();
  await gw?.close();
  await db?.drop();
});

describe('a renewal made after the stay', () => {
  it('control: the operator cannot date an enrolment back to the stay (BACKDATED)', async () => {
    const memberId = await lastYearsMember();
    const r = await gw.query(OPERATOR, ENROL, { i: { memberId: toGlobalId('Member', memberId), planYear: year, enrolledOn: day('03-01') } });
    expect(r.data.enrolMember.enrolment).toBeNull();
    expect(r.data.enrolMember.userErrors).toEqual([expect.objectContaining({ field: 'input.enrolledOn', message: expect.stringMatching(/^input\.enrolledOn: BACKDATED/) })]);
  });

  it('by enrolMember, dated the day it is made, does not cover a stay of March: NO_ENROLMENT, nothing paid', async () => {
    const memberId = await lastYearsMember();
    const r = await gw.query(OPERATOR, ENROL, { i: { memberId: toGlobalId('Member', memberId), planYear: year, enrolledOn: TODAY } });
    expect(r.data.enrolMember.userErrors).toEqual([]);
    // A renewal: last year's chain start; late, so it waits from its own date (lateRenewalWaiting.test.ts).
    expect(r.data.enrolMember.enrolment).toMatchObject({ enrolledOn: TODAY, firstEnrolledOn: day('01-05', year - 1) });
    const m = { unitId, creditCode: CREDIT_CODE, memberId, enrolmentId: localId('id', r.data.enrolMember.enrolment.id, 'Enrolment') };

    expect(await decide(m, MARCH_STAY)).toEqual({ status: 'INELIGIBLE', reasonCodes: ['NO_ENROLMENT'], totalFen: 0 });
    // Renewed while in hospital: a stay begun before the renewal and settled on its day is not covered either.
    expect(await decide(m, { psn: '10,000.00', setlTime: `${TODAY} 11:00:00`, admittedOn: day('10-20') })).toEqual({ status: 'INELIGIBLE', reasonCodes: ['NO_ENROLMENT'], totalFen: 0 });
    // A stay from its date on waits the renewal's own waiting period (lateRenewalWaiting.test.ts).
    expect(await decide(m, { psn: '10,000.00', setlTime: `${TODAY} 15:00:00`, admittedOn: TODAY })).toEqual({ status: 'INELIGIBLE', reasonCodes: ['WAITING_PERIOD'], totalFen: 0 });
  });

  it('by a roster row with an empty date does not cover it either; December\'s roster for the year covers it from 1 January', async () => {
    const keys = personalDataKeys(Buffer.alloc(32, 9).toString('base64'));
    const unit = await seedUnit(db.pool, 'PUBLIC');
    await payContribution(db.pool, unit.id, year);
    const late = withResidentIdCheck('35058319830505011');
    const early = withResidentIdCheck('35058319840606022');
    const roster = async (planYear: number, today: string, ...ids: string[]) => {
      const { rows: [i] } = await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('r.csv', '\\x', 'operator-roster') RETURNING id`);
      const csv = `name,id_number,unit_credit_code,plan_year,plan,enrolled_on\n${ids.map((id) => `黄志强,${id},${unit.creditCode},${planYear},PUBLIC,`).join('\n')}\n`;
      expect(await importRoster(db.pool, keys, csv, { importId: i!.id, today })).toMatchObject({ rowsRejected: 0 });
    };
    const setupOf = async (idNumber: string): Promise<MemberSetup> => {
      const { rows: [row] } = await db.pool.query<{ memberId: number; enrolmentId: number }>(
        `SELECT m.id AS "memberId", e.id AS "enrolmentId" FROM members m JOIN enrolments e ON e.member_id = m.id AND e.plan_year = $2 WHERE m.id_number_hash = $1`,
        [lookupHash(keys, idNumber), year]);
      return { unitId: unit.id, creditCode: unit.creditCode, ...row! };
    };
    // Both enrolled last year from 5 January.
    await roster(year - 1, day('01-05', year - 1), late, early);
    // One renewed in December for the year (dated 1 January), the other only in November (dated that day).
    await roster(year, day('12-15', year - 1), early);
    await roster(year, TODAY, late);

    const lateSetup = await setupOf(late);
    const enrolment = await db.pool.query(`SELECT to_char(enrolled_on, 'YYYY-MM-DD') AS "enrolledOn", to_char(first_enrolled_on, 'YYYY-MM-DD') AS "firstEnrolledOn" FROM enrolments WHERE id = $1`, [lateSetup.enrolmentId]);
    expect(enrolment.rows[0]).toEqual({ enrolledOn: TODAY, firstEnrolledOn: day('01-05', year - 1) });
    expect(await decide(lateSetup, MARCH_STAY)).toEqual({ status: 'INELIGIBLE', reasonCodes: ['NO_ENROLMENT'], totalFen: 0 });
    expect(await decide(await setupOf(early), MARCH_STAY)).toEqual({ status: 'APPROVED', reasonCodes: [], totalFen: fen('6,000.00') });
  });
});
