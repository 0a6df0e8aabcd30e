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
 * Cover bought for a known illness by a first add-on on a renewal. A member enrolled last year
 * without the SPECIAL_DISEASE add-on learns of a cancer in December; their unit renews them on
 * 1 January with the add-on, for the first time. The add-on came with the enrolment, so it counted
 * from the renewal's date, and the renewal keeps last year's chain: no waiting period of any kind,
 * and the rules alone paid the cancer lump sum (MAJOR_DISEASE) for a stay in January.
 *
 * The add-on has its own chain (enrolments.special_disease_since, 0067): taken for the first time
 * on a renewal, by `enrolMember` or a roster row, it waits `eligibility.specialDiseaseWaitingDays`
 * from its start (ADD_ON_WAITING_PERIOD, the lump sum only; INPATIENT is paid); continued from last
 * year's enrolment, which had it, it keeps its start and pays at once.
 */

// 2 January of this year (China time): the renewal dated 1 January is within the back-dating limit.
vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: new Date(`${new Date().getUTCFullYear()}-01-02T04:00:00Z`) });

let db: TestDatabase;
let gw: TestGateway;
const year = Number(chinaToday().slice(0, 4));
const day = (monthDay: string, y = year) => `${y}-${monthDay}`;
const RULES = { ...loadRuleSet('default-2025'), id: 'add-on-renewal-rules', version: 1, planYears: [year - 1, year] };
const ADD_ON_COVERED_FROM = addDays(day('01-01'), RULES.eligibility.specialDiseaseWaitingDays);
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };
const ADMIN = { role: 'ADMIN', sub: 'admin-add-on-renewal' } as const;
// A cancer stay: INPATIENT 60 % of (10,000.00 − 5,000.00 own-pay) = 3,000.00 (PUBLIC); the first cancer diagnosis' lump sum.
const CANCER = { psn: '10,000.00', ownpay: '5,000.00', diagnoses: ['C34.1'] };
const INPATIENT = fen('3,000.00');
const LUMP_SUM = RULES.programmes.MAJOR_DISEASE!.diseaseGroups.find((g) => g.code === 'CANCER')!.lumpSumFen;
const JANUARY_STAY = { ...CANCER, admittedOn: day('01-10'), setlTime: `${day('01-20')} 10:00:00` };
const STAY_AFTER_WAITING = { ...CANCER, admittedOn: ADD_ON_COVERED_FROM, setlTime: `${addDays(ADD_ON_COVERED_FROM, 10)} 10:00:00` };
const ENROL = `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { enrolment { id specialDiseaseFrom } userErrors { field code message } } }`;

let serial = 0;

const decide = (m: MemberSetup, stay: SettlementSpec) => decideStay(db.pool, m, stay, OPTIONS);

/** A unit made through the API with a member enrolled last year from 5 January, with or without the add-on; this year paid. */
async function lastYearsMember(specialDisease: boolean): Promise<{ unitId: number; creditCode: string; memberId: number }> {
  serial += 1;
  const creditCode = withCreditCodeCheck(`91350583MA${String(6600000 + serial)}`);
  const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "晋江某机关", planType: PUBLIC }) { unit { id } } }`, { c: creditCode });
  const unitId = localId('id', unit.data.createUnit.unit.id, 'Unit');
  await confirmUnitTerms(gw, unit.data.createUnit.unit.id);
  const created = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "林峰", idNumber: $n }) { member { id } userErrors { message } } }`,
    { u: toGlobalId('Unit', unitId), n: withResidentIdCheck(`35058219800${String(300 + serial)}01${serial}`) });
  expect(created.data.createMember.userErrors).toEqual([]);
  const memberId = localId('id', created.data.createMember.member.id, 'Member');
  await enrolledLastYear(db.pool, memberId, unitId, year, specialDisease);
  await payContribution(db.pool, unitId, year);
  return { unitId, creditCode, memberId };
}

/** Renewed for this year, dated 1 January, with the add-on, by the unit's operator through enrolMember. */
async function renewedWithAddOn(specialDiseaseLastYear: boolean): Promise<MemberSetup> {
  const m = await lastYearsMember(specialDiseaseLastYear);
  const operator = { role: 'UNIT_OPERATOR', unit: m.creditCode, sub: `operator-${m.unitId}` } as const;
  const r = await gw.query(operator, ENROL, { i: { memberId: toGlobalId('Member', m.memberId), planYear: year, plan: 'PUBLIC', specialDisease: true, enrolledOn: day('01-01') } });
  expect(r.data.enrolMember).toEqual({ enrolment: { id: expect.any(String), specialDiseaseFrom: day('01-01') }, userErrors: [] });
  return { ...m, enrolmentId: localId('id', r.data.enrolMember.enrolment.id, 'Enrolment') };
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  await rulesForYearAndLast(db.pool, RULES, year);
});
afterAll(async () => {
  vi.useRealTimers();
  await gw?.close();
  await db?.drop();
});

describe('an add-on taken for the first time with a renewal waits its own waiting period', () => {
  it('by enrolMember: a January cancer stay is paid INPATIENT, not the lump sum (ADD_ON_WAITING_PERIOD); a stay admitted after the waiting is', async () => {
    const m = await renewedWithAddOn(false);
    expect(await decide(m, JANUARY_STAY)).toEqual({ status: 'APPROVED', reasonCodes: ['ADD_ON_WAITING_PERIOD'], totalFen: INPATIENT });
    expect(await decide(m, STAY_AFTER_WAITING)).toEqual({ status: 'APPROVED', reasonCodes: [], totalFen: INPATIENT + LUMP_SUM });
  });

  it('control: an add-on continued from last year\'s enrolment keeps its start and pays the January stay at once', async () => {
    const m = await renewedWithAddOn(true);
    expect(await decide(m, JANUARY_STAY)).toEqual({ status: 'APPROVED', reasonCodes: [], totalFen: INPATIENT + LUMP_SUM });
  });

  it('by December\'s roster renewing with the add-on: the first-timer waits, the one continuing it does not', async () => {
    const keys = personalDataKeys(Buffer.alloc(32, 5).toString('base64'));
    const unit = await seedUnit(db.pool, 'PUBLIC');
    await payContribution(db.pool, unit.id, year);
    const first = withResidentIdCheck('35058219810101066');
    const continuing = withResidentIdCheck('35058219820202077');
    const roster = async (planYear: number, today: string, rows: [string, boolean][]) => {
      const { rows: [i] } = await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('r.csv', '\\x', 'operator-roster') RETURNING id`);
      const csv = `name,id_number,unit_credit_code,plan_year,plan,special_disease,enrolled_on\n${rows.map(([id, addOn]) => `林峰,${id},${unit.creditCode},${planYear},PUBLIC,${addOn},`).join('\n')}\n`;
      expect(await importRoster(db.pool, keys, csv, { importId: i!.id, today })).toMatchObject({ rowsRejected: 0 });
    };
    const setupOf = async (idNumber: string): Promise<MemberSetup> => {
      const { rows: [row] } = await db.pool.query<{ memberId: number; enrolmentId: number }>(
        `SELECT m.id AS "memberId", e.id AS "enrolmentId" FROM members m JOIN enrolments e ON e.member_id = m.id AND e.plan_year = $2 WHERE m.id_number_hash = $1`,
        [lookupHash(keys, idNumber), year]);
      return { unitId: unit.id, creditCode: unit.creditCode, ...row! };
    };
    await roster(year - 1, day('01-05', year - 1), [[first, false], [continuing, true]]);
    await roster(year, day('12-15', year - 1), [[first, true], [continuing, true]]);

    expect(await decide(await setupOf(first), JANUARY_STAY)).toEqual({ status: 'APPROVED', reasonCodes: ['ADD_ON_WAITING_PERIOD'], totalFen: INPATIENT });
    expect(await decide(await setupOf(continuing), JANUARY_STAY)).toEqual({ status: 'APPROVED', reasonCodes: [], totalFen: INPATIENT + LUMP_SUM });
  });
});
