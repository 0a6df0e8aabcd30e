import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { importRoster } from '../../src/members/rosterImport.ts';

/**
 * Eligibility at enrolment through the API and the roster (issue 17): enrolMember names each broken
 * rule in userErrors and stores nothing; an ADMIN overrides BACKDATED and PLAN_MISMATCH with a
 * reason, which the enrolment shows and the audit log keeps; a roster row that breaks a rule is
 * rejected with the rule in its reason. Back-dating is measured from today (the gateway's clock):
 * dates here are counted from chinaToday(), the limit is default-2025's 30 days.
 */

// The server's today is read from the clock: set to mid-December of this year, so that the dates
// up to 200 days back fall in this plan year whatever day the tests run (an enrolment's date falls in its year).
vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: new Date(`${new Date().getUTCFullYear()}-12-15T04:00:00Z`) });

let db: TestDatabase;
let gw: TestGateway;
let unitId: string;
const UNIT = withCreditCodeCheck('12350500MB1111111'); // PUBLIC
const ADMIN = { role: 'ADMIN', sub: 'admin-lin' } as const;
const OPERATOR = { role: 'UNIT_OPERATOR', unit: UNIT } as const;
const today = chinaToday();
const year = Number(today.slice(0, 4));

const ENROL = `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) {
  enrolment { id plan specialDisease enrolledOn override { rules reason by { subject role } at } }
  userErrors { field code message } } }`;

let serial = 100;
/** A new member of the unit; `born` yyyyMMdd, odd `sex` digit a man. */
async function newMember(born: string, sex: 'M' | 'F' = 'M'): Promise<{ id: string; idNumber: string }> {
  serial += 1;
  const idNumber = withResidentIdCheck(`350521${born}${String(serial).slice(-2)}${sex === 'M' ? '1' : '2'}`);
  const r = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "郑伟", idNumber: $n }) { member { id } userErrors { message } } }`, { u: unitId, n: idNumber });
  expect(r.data.createMember.userErrors).toEqual([]);
  return { id: r.data.createMember.member.id, idNumber };
}

async function enrolmentCount(): Promise<number> {
  return (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM enrolments')).rows[0]!.n;
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "泉州市第十中学", planType: PUBLIC }) { unit { id } } }`, { c: UNIT });
  unitId = unit.data.createUnit.unit.id;
  await confirmUnitTerms(gw, unitId);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
  vi.useRealTimers();
});

describe('enrolMember', () => {
  it('refuses an over-age member with WORKING_AGE on input.memberId, storing nothing', async () => {
    const member = await newMember('19500101');
    const before = await enrolmentCount();
    const r = await gw.query(ADMIN, ENROL, { i: { memberId: member.id, planYear: year } });
    expect(r.data.enrolMember.enrolment).toBeNull();
    expect(r.data.enrolMember.userErrors).toEqual([
      { field: 'input.memberId', code: 'INVALID', message: expect.stringMatching(/^input\.memberId: WORKING_AGE: past working age on \d{4}-\d{2}-\d{2}: reached the retirement age of 60 years 3 months on 2010-04-01 /) },
    ]);
    // Nor does an ADMIN's override let it through: working age is never overridden.
    const forced = await gw.query(ADMIN, ENROL, { i: { memberId: member.id, planYear: year, override: { rules: ['WORKING_AGE'], reason: '单位坚持要求入会' } } });
    expect(forced.data.enrolMember.userErrors).toEqual([
      { field: 'input.override.rules', code: 'INVALID', message: 'input.override.rules: WORKING_AGE is never overridden' },
    ]);
    expect(await enrolmentCount()).toBe(before);
  });

  it('refuses an enrolment back-dated by more than 30 days with BACKDATED on input.enrolledOn; 30 days pass', async () => {
    const late = await newMember('19850312');
    const refused = await gw.query(OPERATOR, ENROL, { i: { memberId: late.id, planYear: year, enrolledOn: addDays(today, -31) } });
    expect(refused.data.enrolMember.userErrors).toEqual([
      { field: 'input.enrolledOn', code: 'INVALID', message: `input.enrolledOn: BACKDATED: ${addDays(today, -31)} is 31 days before ${today}, more than the 30 days allowed (入会日期${addDays(today, -31)}早于录入日${today}共31天，超过30天)` },
    ]);
    const onTime = await gw.query(OPERATOR, ENROL, { i: { memberId: late.id, planYear: year, enrolledOn: addDays(today, -30) } });
    expect(onTime.data.enrolMember).toEqual({
      enrolment: expect.objectContaining({ enrolledOn: addDays(today, -30), override: null }), userErrors: [],
    });
  });

  it('lets an ADMIN back-date with a reason: the enrolment shows the override and the audit log keeps the reason', async () => {
    const member = await newMember('19900615', 'F');
    const enrolledOn = addDays(today, -200);
    const reason = '2025年名册漏报，经工会审批补录';
    const r = await gw.query(ADMIN, ENROL, { i: { memberId: member.id, planYear: year, enrolledOn, override: { rules: ['BACKDATED', 'PLAN_MISMATCH'], reason } } });
    expect(r.data.enrolMember.userErrors).toEqual([]);
    // PLAN_MISMATCH was named but not broken (the plan is the unit's): only BACKDATED is recorded.
    expect(r.data.enrolMember.enrolment).toMatchObject({ enrolledOn, plan: 'PUBLIC', override: { rules: ['BACKDATED'], reason, by: { subject: 'admin-lin', role: 'ADMIN' } } });
    const enrolmentId = Number(Buffer.from(r.data.enrolMember.enrolment.id, 'base64url').toString().split(':')[1]);
    const audit = await db.pool.query(`SELECT actor, role, action, reason, details FROM audit_log WHERE target_type = 'Enrolment' AND target_id = $1`, [String(enrolmentId)]);
    expect(audit.rows).toEqual([expect.objectContaining({
      actor: 'admin-lin', role: 'ADMIN', action: 'enrolment.create', reason,
      details: expect.objectContaining({ overridden: [expect.objectContaining({ rule: 'BACKDATED' })] }),
    })]);

    // A later change adding no cover keeps the back-dating override (its date does not change) without
    // naming it again; one adding cover (the add-on) would count from that date: BACKDATED again.
    const changed = await gw.query(OPERATOR, ENROL, { i: { memberId: member.id, planYear: year, enrolledOn, specialDisease: false } });
    expect(changed.data.enrolMember).toMatchObject({ enrolment: { specialDisease: false, enrolledOn, override: { rules: ['BACKDATED'], reason } }, userErrors: [] });

    // The member sees their enrolment, not the staff's record of the override.
    const mine = await gw.query({ role: 'MEMBER', member: member.id }, `query($id: ID!) { member(id: $id) { enrolments { edges { node { planYear override { reason } } } } } }`, { id: member.id });
    expect(mine.data.member.enrolments.edges).toEqual([{ node: { planYear: year, override: null } }]);
  });

  it('refuses a plan other than the unit\'s type (PLAN_MISMATCH on input.plan) unless an ADMIN overrides it', async () => {
    const member = await newMember('19880808');
    const refused = await gw.query(OPERATOR, ENROL, { i: { memberId: member.id, planYear: year, plan: 'PRIVATE' } });
    expect(refused.data.enrolMember.userErrors).toEqual([
      { field: 'input.plan', code: 'INVALID', message: 'input.plan: PLAN_MISMATCH: plan PRIVATE is not the unit\'s plan type PUBLIC (方案PRIVATE与单位类型PUBLIC不符)' },
    ]);
    const overridden = await gw.query(ADMIN, ENROL, { i: { memberId: member.id, planYear: year, plan: 'PRIVATE', override: { rules: ['PLAN_MISMATCH'], reason: '单位改制，次年调整类型' } } });
    expect(overridden.data.enrolMember).toMatchObject({ enrolment: { plan: 'PRIVATE', override: { rules: ['PLAN_MISMATCH'] } }, userErrors: [] });
    // Changed back to the unit's plan: nothing is overridden any more.
    const back = await gw.query(OPERATOR, ENROL, { i: { memberId: member.id, planYear: year } });
    expect(back.data.enrolMember).toMatchObject({ enrolment: { plan: 'PUBLIC', override: null }, userErrors: [] });
  });

  it('refuses someone not in service (IN_SERVICE on input.inService), and every broken rule at once', async () => {
    const member = await newMember('19790101');
    const r = await gw.query(OPERATOR, ENROL, { i: { memberId: member.id, planYear: year, inService: false, plan: 'PRIVATE', enrolledOn: addDays(today, -40) } });
    expect(r.data.enrolMember.userErrors.map((e: { field: string; message: string }) => [e.field, e.message.split(':')[1]!.trim()])).toEqual([
      ['input.inService', 'IN_SERVICE'], ['input.enrolledOn', 'BACKDATED'], ['input.plan', 'PLAN_MISMATCH'],
    ]);
    const forced = await gw.query(ADMIN, ENROL, { i: { memberId: member.id, planYear: year, inService: false, override: { rules: ['IN_SERVICE'], reason: '离职前最后一个月' } } });
    expect(forced.data.enrolMember.userErrors).toEqual([
      { field: 'input.override.rules', code: 'INVALID', message: 'input.override.rules: IN_SERVICE is never overridden' },
    ]);
  });

  it('refuses an override from anyone but ADMIN (FORBIDDEN), storing nothing', async () => {
    const member = await newMember('19870405');
    const before = await enrolmentCount();
    for (const role of [OPERATOR, { role: 'SERVICE' } as const]) {
      const r = await gw.query(role, ENROL, { i: { memberId: member.id, planYear: year, enrolledOn: addDays(today, -100), override: { rules: ['BACKDATED'], reason: '补录，已审批' } } });
      expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect(await enrolmentCount()).toBe(before);
  });
});

describe('roster rows', () => {
  async function newImport(): Promise<number> {
    const { rows } = await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('r.csv', '\\x', 'test') RETURNING id`);
    return rows[0]!.id;
  }
  const DAY = '2025-03-31';

  it('are rejected with the rule named when they break one; good rows are kept, and the same file again changes nothing', async () => {
    const ids = {
      good: withResidentIdCheck('35052119860101031'),
      overAge: withResidentIdCheck('35052119600101041'), // a man: 60y3m on 2020-04-01
      womanOverAge: withResidentIdCheck('35052119690101052'), // a woman: 55y3m on 2024-04-01
      backdated: withResidentIdCheck('35052119870101061'),
      notInService: withResidentIdCheck('35052119880101071'),
      otherPlan: withResidentIdCheck('35052119890101081'),
    };
    const csv = 'name,id_number,unit_credit_code,plan_year,plan,enrolled_on,in_service\n'
      + `甲,${ids.good},${UNIT},2025,,2025-03-01,\n`
      + `乙,${ids.overAge},${UNIT},2025,,,\n`
      + `丙,${ids.womanOverAge},${UNIT},2025,,,是\n`
      + `丁,${ids.backdated},${UNIT},2025,,2025-02-28,\n`
      + `戊,${ids.notInService},${UNIT},2025,,,否\n`
      + `己,${ids.otherPlan},${UNIT},2025,PRIVATE,,\n`;
    const result = await importRoster(db.pool, gw.keys, csv, { importId: await newImport(), today: DAY });
    expect(result).toMatchObject({ rowsTotal: 6, rowsInserted: 1, rowsRejected: 5, enrolmentsCreated: 1 });
    expect(result.errors.map((e) => [e.row, e.field, e.reason.split(':')[0]])).toEqual([
      [3, 'id_number', 'WORKING_AGE'], [4, 'id_number', 'WORKING_AGE'], [5, 'enrolled_on', 'BACKDATED'], [6, 'in_service', 'IN_SERVICE'], [7, 'plan', 'PLAN_MISMATCH'],
    ]);
    expect(result.errors[0]!.reason).toBe('WORKING_AGE: past working age on 2025-03-31: reached the retirement age of 60 years 3 months on 2020-04-01 (入会日2025-03-31已达法定退休年龄60岁3个月（2020-04-01）)');
    // Nothing of a rejected row is stored: not even the member.
    const stored = await db.pool.query(`SELECT count(*)::int AS n FROM members WHERE name IN ('乙', '丙', '丁', '戊', '己')`);
    expect(stored.rows[0].n).toBe(0);

    // Months later the same file: the existing enrolment keeps its date, so its row is not back-dated.
    const again = await importRoster(db.pool, gw.keys, `name,id_number,unit_credit_code,plan_year,enrolled_on\n甲,${ids.good},${UNIT},2025,2025-03-01\n`, { importId: await newImport(), today: '2025-09-01' });
    expect(again).toMatchObject({ rowsTotal: 1, rowsRejected: 0, rowsUnchanged: 1, enrolmentsCreated: 0 });
  });

  it('through the API and the worker: an over-age row is rejected with the rule in the import\'s errors', async () => {
    const overAge = withResidentIdCheck('35052119550505011');
    const started = await gw.query(OPERATOR, `mutation($csv: String!) { importRoster(input: { fileName: "r.csv", csv: $csv }) { rosterImport { id } userErrors { message } } }`,
      { csv: `name,id_number,plan_year\n庚,${overAge},${year}\n` });
    const id = started.data.importRoster.rosterImport.id as string;
    const { importUploadedRoster } = await import('../../src/members/rosterImport.ts');
    await importUploadedRoster(db.pool, gw.keys, Number(Buffer.from(id, 'base64url').toString().split(':')[1]));
    const status = await gw.query(OPERATOR, `query($id: ID!) { rosterImport(id: $id) { status rowsRejected errors { row field reason } } }`, { id });
    expect(status.data.rosterImport).toMatchObject({ status: 'DONE', rowsRejected: 1, errors: [{ row: 2, field: 'id_number', reason: expect.stringMatching(/^WORKING_AGE: /) }] });
  });
});
