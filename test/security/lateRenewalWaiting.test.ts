import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { lookupHash, personalDataKeys } from '../../src/privacy/personalData.ts';
import { fen } from '../benefits/support.ts';
import { payContribution, seedUnit, type MemberSetup, type SettlementSpec } from '../benefits/seed.ts';
import { decideStay, enrolledLastYear, rulesForYearAndLast } from '../benefits/renewalScene.ts';

/**
 * Cover bought for a known illness by a late renewal. A member enrolled last year is not renewed
 * from January to May; in June, when they learn they must go into hospital, their unit's operator
 * renews them, dated that day (nothing back-dated, so nothing to refuse). The renewal kept last
 * year's chain, so a stay begun and settled after its date was paid at once, where a new member
 * enrolled that day waits 90 days. A renewal dated beyond the year's first day by more than the
 * back-dating limit is a gap: it waits the waiting period from its own date (WAITING_PERIOD), by
 * `enrolMember` and by a roster row alike, and Enrolment.waitingPeriodEndsOn says so. December's
 * roster, dated 1 January, is no gap: covered at once.
 *
 * A late renewal continuing last year's SPECIAL_DISEASE add-on gives it again on its own date: a
 * cancer stay begun in the gap's waiting period and settled after it passes the general waiting
 * period (which reads the settlement's date) but not the add-on's (the admission's), so it is paid
 * INPATIENT without the lump sum (ADD_ON_WAITING_PERIOD), where it was paid both.
 */

// 2 June of this year (China time): every day named falls in this plan year whatever day the tests run.
vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: new Date(`${new Date().getUTCFullYear()}-06-02T04:00:00Z`) });

let db: TestDatabase;
let gw: TestGateway;
const year = Number(chinaToday().slice(0, 4));
const day = (monthDay: string, y = year) => `${y}-${monthDay}`;
const TODAY = day('06-02');
const RULES = { ...loadRuleSet('default-2025'), id: 'late-renewal-rules', version: 1, planYears: [year - 1, year] };
const { waitingDays } = RULES.eligibility;
// The first day a renewal made today covers, as a first enrolment made today would.
const COVERED_FROM = addDays(TODAY, waitingDays);
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };
const ADMIN = { role: 'ADMIN', sub: 'admin-late-renewal' } as const;
const CREDIT_CODE = withCreditCodeCheck('91350583MA5555555');
const OPERATOR = { role: 'UNIT_OPERATOR', unit: CREDIT_CODE, sub: 'operator-late-renewal' } as const;
// A stay begun and settled after the renewal, within its waiting period; INPATIENT pays 60 % of 10,000.00 (PUBLIC).
const STAY_IN_WAITING = { psn: '10,000.00', admittedOn: day('06-10'), setlTime: `${day('06-20')} 10:00:00` };
const STAY_AFTER_WAITING = { psn: '10,000.00', admittedOn: COVERED_FROM, setlTime: `${addDays(COVERED_FROM, 5)} 10:00:00` };
// A cancer stay: INPATIENT 60 % of (10,000.00 − 5,000.00 own-pay) = 3,000.00 (PUBLIC); the first cancer diagnosis' lump sum.
const CANCER = { psn: '10,000.00', ownpay: '5,000.00', diagnoses: ['C34.1'] };
const LUMP_SUM = RULES.programmes.MAJOR_DISEASE!.diseaseGroups.find((g) => g.code === 'CANCER')!.lumpSumFen;
const ADD_ON_COVERED_FROM = addDays(TODAY, RULES.eligibility.specialDiseaseWaitingDays);
const ENROL = `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) {
  enrolment { id enrolledOn firstEnrolledOn waitingPeriodEndsOn } userErrors { field code message } } }`;

let unitId = 0;

const decide = (m: MemberSetup, stay: SettlementSpec) => decideStay(db.pool, m, stay, OPTIONS);

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  await rulesForYearAndLast(db.pool, RULES, year);
  const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "石狮某局", planType: PUBLIC }) { unit { id } } }`, { c: CREDIT_CODE });
  unitId = localId('id', unit.data.createUnit.unit.id, 'Unit');
  await confirmUnitTerms(gw, unit.data.createUnit.unit.id);
  await payContribution(db.pool, unitId, year);
});
afterAll(async () => {
  vi.useRealTimers();
  await gw?.close();
  await db?.drop();
});

describe('a late renewal is a gap: it waits its own waiting period', () => {
  it('by enrolMember, dated the day it is made: a stay begun and settled in its waiting period is WAITING_PERIOD, one after it paid', async () => {
    const created = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "王丽", idNumber: $n }) { member { id } userErrors { message } } }`,
      { u: toGlobalId('Unit', unitId), n: withResidentIdCheck('35058319850707033') });
    const memberId = localId('id', created.data.createMember.member.id, 'Member');
    await enrolledLastYear(db.pool, memberId, unitId, year);

    const r = await gw.query(OPERATOR, ENROL, { i: { memberId: toGlobalId('Member', memberId), planYear: year, enrolledOn: TODAY } });
    expect(r.data.enrolMember.userErrors).toEqual([]);
    // Still last year's chain, but its waiting period runs from its own date, as the rules read it.
    expect(r.data.enrolMember.enrolment).toMatchObject({ enrolledOn: TODAY, firstEnrolledOn: day('01-05', year - 1), waitingPeriodEndsOn: addDays(COVERED_FROM, -1) });
    const m = { unitId, creditCode: CREDIT_CODE, memberId, enrolmentId: localId('id', r.data.enrolMember.enrolment.id, 'Enrolment') };

    expect(await decide(m, STAY_IN_WAITING)).toEqual({ status: 'INELIGIBLE', reasonCodes: ['WAITING_PERIOD'], totalFen: 0 });
    expect(await decide(m, STAY_AFTER_WAITING)).toEqual({ status: 'APPROVED', reasonCodes: [], totalFen: fen('6,000.00') });
  });

  it('by a roster row with an empty date alike; December\'s roster for the year, dated 1 January, covers at once', async () => {
    const keys = personalDataKeys(Buffer.alloc(32, 7).toString('base64'));
    const unit = await seedUnit(db.pool, 'PUBLIC');
    await payContribution(db.pool, unit.id, year);
    const late = withResidentIdCheck('35058319860808044');
    const early = withResidentIdCheck('35058319870909055');
    const roster = async (planYear: number, today: string, ...ids: string[]) => {
      const { rows: [i] } = await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('r.csv', '\\x', 'operator-roster') RETURNING id`);
      const csv = `name,id_number,unit_credit_code,plan_year,plan,enrolled_on\n${ids.map((id) => `王丽,${id},${unit.creditCode},${planYear},PUBLIC,`).join('\n')}\n`;
      expect(await importRoster(db.pool, keys, csv, { importId: i!.id, today })).toMatchObject({ rowsRejected: 0 });
    };
    const setupOf = async (idNumber: string): Promise<MemberSetup> => {
      const { rows: [row] } = await db.pool.query<{ memberId: number; enrolmentId: number }>(
        `SELECT m.id AS "memberId", e.id AS "enrolmentId" FROM members m JOIN enrolments e ON e.member_id = m.id AND e.plan_year = $2 WHERE m.id_number_hash = $1`,
        [lookupHash(keys, idNumber), year]);
      return { unitId: unit.id, creditCode: unit.creditCode, ...row! };
    };
    await roster(year - 1, day('01-05', year - 1), late, early);
    await roster(year, day('12-15', year - 1), early);
    await roster(year, TODAY, late);

    expect(await decide(await setupOf(late), STAY_IN_WAITING)).toEqual({ status: 'INELIGIBLE', reasonCodes: ['WAITING_PERIOD'], totalFen: 0 });
    expect(await decide(await setupOf(early), STAY_IN_WAITING)).toEqual({ status: 'APPROVED', reasonCodes: [], totalFen: fen('6,000.00') });
  });

  it('with last year\'s add-on continued: a cancer stay begun in the waiting and settled after it is paid without the lump sum; one begun after the add-on\'s waiting with it', async () => {
    const created = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "王丽", idNumber: $n }) { member { id } userErrors { message } } }`,
      { u: toGlobalId('Unit', unitId), n: withResidentIdCheck('35058319880101066') });
    const memberId = localId('id', created.data.createMember.member.id, 'Member');
    await enrolledLastYear(db.pool, memberId, unitId, year, true);

    const r = await gw.query(OPERATOR, ENROL, { i: { memberId: toGlobalId('Member', memberId), planYear: year, specialDisease: true, enrolledOn: TODAY } });
    expect(r.data.enrolMember.userErrors).toEqual([]);
    const m = { unitId, creditCode: CREDIT_CODE, memberId, enrolmentId: localId('id', r.data.enrolMember.enrolment.id, 'Enrolment') };

    const begunInWaiting = { ...CANCER, admittedOn: day('06-10'), setlTime: `${addDays(COVERED_FROM, 5)} 10:00:00` };
    expect(await decide(m, begunInWaiting)).toEqual({ status: 'APPROVED', reasonCodes: ['ADD_ON_WAITING_PERIOD'], totalFen: fen('3,000.00') });
    const begunAfter = { ...CANCER, admittedOn: ADD_ON_COVERED_FROM, setlTime: `${addDays(ADD_ON_COVERED_FROM, 10)} 10:00:00` };
    expect(await decide(m, begunAfter)).toEqual({ status: 'APPROVED', reasonCodes: [], totalFen: fen('3,000.00') + LUMP_SUM });
  });
});
