import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { fingerprints } from '../support/fingerprint.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { importUploadedRoster } from '../../src/members/rosterImport.ts';

/**
 * Attacks on eligibility at enrolment (issue 17): skipping the waiting period by back-dating,
 * enrolling someone past working age, and overriding the rules without being ADMIN or without a
 * real reason. Every refusal leaves the stored enrolments, members and audit log as they were.
 */

let db: TestDatabase;
let gw: TestGateway;
let unitA: string;
const UNIT_A = withCreditCodeCheck('91350500MA2222222'); // PRIVATE
const UNIT_B = withCreditCodeCheck('91350500MA3333333'); // PRIVATE
const ADMIN = { role: 'ADMIN' } as const;
const OPERATOR_A = { role: 'UNIT_OPERATOR', unit: UNIT_A } as const;
const OPERATOR_B = { role: 'UNIT_OPERATOR', unit: UNIT_B } as const;
const today = chinaToday();
const year = Number(today.slice(0, 4));
// Back-dated whatever the day: a date of last year's (an enrolment's date falls in its plan year), long past the limit.
const lastYear = year - 1;
const lastJune = `${lastYear}-06-01`;
const TABLES = ['members', 'enrolments', 'audit_log'] as const;

const ENROL = `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { enrolment { id override { rules } } userErrors { field code message } } }`;
const CREATE = `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "吴强", idNumber: $n }) { member { id } userErrors { message } } }`;

let working: string;
const snapshot = () => fingerprints(db.pool, TABLES);

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  for (const code of [UNIT_A, UNIT_B]) {
    const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "晋江某鞋业有限公司", planType: PRIVATE }) { unit { id } } }`, { c: code });
    await confirmUnitTerms(gw, unit.data.createUnit.unit.id);
    if (code === UNIT_A) unitA = unit.data.createUnit.unit.id;
  }
  const member = await gw.query(ADMIN, CREATE, { u: unitA, n: withResidentIdCheck('35058219860202011') });
  working = member.data.createMember.member.id;
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('overriding eligibility rules', () => {
  it('a unit operator (own or other unit) and SERVICE cannot override: FORBIDDEN, nothing written', async () => {
    const before = await snapshot();
    const input = { memberId: working, planYear: lastYear, enrolledOn: lastJune, override: { rules: ['BACKDATED'], reason: '补录去年的名册' } };
    for (const caller of [OPERATOR_A, { role: 'SERVICE' } as const]) {
      const r = await gw.query(caller, ENROL, { i: input });
      expect(r.errors?.[0]?.extensions?.code, caller.role).toBe('FORBIDDEN');
      expect(r.data?.enrolMember ?? null).toBeNull();
    }
    // Another unit's operator does not even learn the member exists.
    const other = await gw.query(OPERATOR_B, ENROL, { i: input });
    expect(other.data.enrolMember.userErrors).toEqual([{ field: 'input.memberId', code: 'NOT_FOUND', message: 'member not found' }]);
    // Without the override the operator's back-dated enrolment is refused as any other.
    const plain = await gw.query(OPERATOR_A, ENROL, { i: { memberId: working, planYear: lastYear, enrolledOn: lastJune } });
    expect(plain.data.enrolMember.userErrors).toEqual([expect.objectContaining({ field: 'input.enrolledOn', message: expect.stringContaining('BACKDATED') })]);
    expect(await snapshot()).toEqual(before);
  });

  it('an ADMIN\'s override needs a real reason: empty, blank, too short, oversized or unstorable is refused', async () => {
    const before = await snapshot();
    const cases: [string, string][] = [
      ['', 'input.override.reason: say why (at least 4 characters)'],
      ['   \t  ', 'input.override.reason: say why (at least 4 characters)'],
      [' 补录 ', 'input.override.reason: say why (at least 4 characters)'],
      ['补'.repeat(501), 'input.override.reason: must be at most 500 characters'],
    ];
    for (const [reason, message] of cases) {
      const r = await gw.query(ADMIN, ENROL, { i: { memberId: working, planYear: lastYear, enrolledOn: lastJune, override: { rules: ['BACKDATED'], reason } } });
      expect(r.data.enrolMember, JSON.stringify(reason).slice(0, 20)).toEqual({ enrolment: null, userErrors: [{ field: 'input.override.reason', code: 'INVALID', message }] });
    }
    const nul = await gw.query(ADMIN, ENROL, { i: { memberId: working, planYear: lastYear, enrolledOn: lastJune, override: { rules: ['BACKDATED'], reason: '补录\u0000名册' } } });
    expect(nul.data.enrolMember.userErrors).toEqual([expect.objectContaining({ field: 'input.override.reason' })]);
    const noRules = await gw.query(ADMIN, ENROL, { i: { memberId: working, planYear: lastYear, enrolledOn: lastJune, override: { rules: [], reason: '补录去年的名册' } } });
    expect(noRules.data.enrolMember.userErrors).toEqual([{ field: 'input.override.rules', code: 'INVALID', message: 'input.override.rules: name the rules to override' }]);
    const forged = await gw.query(ADMIN, ENROL, { i: { memberId: working, planYear: year, override: { rules: ['EVERYTHING'], reason: '补录去年的名册' } } });
    expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await snapshot()).toEqual(before);
  });

  it('a replayed override changes nothing more: one enrolment, the override as first recorded', async () => {
    const created = await gw.query(ADMIN, CREATE, { u: unitA, n: withResidentIdCheck('35058219930303021') });
    const memberId = created.data.createMember.member.id;
    const input = { memberId, planYear: lastYear, enrolledOn: lastJune, override: { rules: ['BACKDATED'], reason: '补录，经工会审批' } };
    const first = await gw.query(ADMIN, ENROL, { i: input });
    const again = await gw.query(ADMIN, ENROL, { i: input });
    expect(again.data.enrolMember).toEqual(first.data.enrolMember);
    expect(first.data.enrolMember.enrolment.override).toEqual({ rules: ['BACKDATED'] });
    const rows = await db.pool.query(`SELECT e.enrolled_on, e.override_rules FROM enrolments e WHERE e.member_id = $1`, [Number(Buffer.from(memberId, 'base64url').toString().split(':')[1])]);
    expect(rows.rows).toEqual([{ enrolled_on: lastJune, override_rules: ['BACKDATED'] }]);
  });

  it('an override only ever covers what it names: a back-dating override does not let a wrong plan through', async () => {
    const r = await gw.query(ADMIN, ENROL, { i: { memberId: working, planYear: lastYear, plan: 'PUBLIC', enrolledOn: lastJune, override: { rules: ['BACKDATED'], reason: '补录，经审批' } } });
    expect(r.data.enrolMember.userErrors).toEqual([expect.objectContaining({ field: 'input.plan', message: expect.stringContaining('PLAN_MISMATCH') })]);
  });
});

describe('enrolling in a plan year that has ended', () => {
  it('is refused to a unit operator (the date must fall in the year; in it, BACKDATED however near its end); an ADMIN overrides with a reason', async () => {
    const created = await gw.query(ADMIN, CREATE, { u: unitA, n: withResidentIdCheck('35058219940404031') });
    const memberId = created.data.createMember.member.id;
    // Enrolled the year before: an enrolment of last year made now would carry that chain's start and pay all of last year.
    const before = await gw.query(ADMIN, ENROL, { i: { memberId, planYear: lastYear - 1, enrolledOn: `${lastYear - 1}-01-05`, override: { rules: ['BACKDATED'], reason: '补录前年的名册' } } });
    expect(before.data.enrolMember.userErrors).toEqual([]);
    const snap = await snapshot();
    const onToday = await gw.query(OPERATOR_A, ENROL, { i: { memberId, planYear: lastYear } });
    expect(onToday.data.enrolMember).toEqual({
      enrolment: null, userErrors: [{ field: 'input.enrolledOn', code: 'INVALID', message: `input.enrolledOn: must fall in the plan year ${lastYear} (${lastYear}-01-01 to ${lastYear}-12-31)` }],
    });
    const yearEnd = await gw.query(OPERATOR_A, ENROL, { i: { memberId, planYear: lastYear, enrolledOn: `${lastYear}-12-31` } });
    expect(yearEnd.data.enrolMember.userErrors).toEqual([{ field: 'input.enrolledOn', code: 'INVALID', message: expect.stringMatching(/^input\.enrolledOn: BACKDATED: /) }]);
    expect(await snapshot()).toEqual(snap);

    const overridden = await gw.query(ADMIN, ENROL, { i: { memberId, planYear: lastYear, enrolledOn: `${lastYear}-12-31`, override: { rules: ['BACKDATED'], reason: '经工会审批补录' } } });
    expect(overridden.data.enrolMember).toMatchObject({ enrolment: { override: { rules: ['BACKDATED'] } }, userErrors: [] });
  });
});

describe('an over-age ID number', () => {
  const overAge = withResidentIdCheck('35052119560303011'); // a man of 60y3m from 2016-06-03

  it('registered with createMember cannot then be enrolled, by its operator or by an ADMIN', async () => {
    const created = await gw.query(OPERATOR_A, CREATE, { u: unitA, n: overAge });
    const memberId = created.data.createMember.member.id;
    const before = await snapshot();
    for (const caller of [OPERATOR_A, ADMIN]) {
      const r = await gw.query(caller, ENROL, { i: { memberId, planYear: year } });
      expect(r.data.enrolMember.userErrors).toEqual([expect.objectContaining({ field: 'input.memberId', message: expect.stringContaining('WORKING_AGE') })]);
    }
    const forced = await gw.query(ADMIN, ENROL, { i: { memberId, planYear: year, override: { rules: ['BACKDATED', 'PLAN_MISMATCH'], reason: '单位坚持要求入会' } } });
    expect(forced.data.enrolMember.userErrors).toEqual([expect.objectContaining({ field: 'input.memberId', message: expect.stringContaining('WORKING_AGE') })]);
    expect(await snapshot()).toEqual(before);
  });

  it('cannot be slipped in through a roster, even among good rows, or with in_service and enrolled_on forged', async () => {
    const good = withResidentIdCheck('35052119910909021');
    const csv = 'name,id_number,plan_year,enrolled_on,in_service\n'
      + `周一,${good},${year},,\n`
      + `周二,${withResidentIdCheck('35052119400404031')},${year},,true\n`
      + `周三,${withResidentIdCheck('35052119450505041')},${lastYear},${lastYear}-01-01,true\n`;
    const started = await gw.query(OPERATOR_A, `mutation($csv: String!) { importRoster(input: { fileName: "r.csv", csv: $csv }) { rosterImport { id } userErrors { message } } }`, { csv });
    const id = started.data.importRoster.rosterImport.id as string;
    await importUploadedRoster(db.pool, gw.keys, Number(Buffer.from(id, 'base64url').toString().split(':')[1]));
    const status = await gw.query(OPERATOR_A, `query($id: ID!) { rosterImport(id: $id) { rowsInserted rowsRejected enrolmentsCreated errors { row field reason } } }`, { id });
    expect(status.data.rosterImport.rowsInserted).toBe(1);
    expect(status.data.rosterImport.enrolmentsCreated).toBe(1);
    expect(status.data.rosterImport.errors.map((e: { row: number; field: string; reason: string }) => [e.row, e.field, e.reason.split(':')[0]])).toEqual([
      [3, 'id_number', 'WORKING_AGE'], [4, 'enrolled_on', 'BACKDATED'], [4, 'id_number', 'WORKING_AGE'], // stored errors come by row, then field
    ]);
    const stored = await db.pool.query(`SELECT count(*)::int AS n FROM members WHERE name IN ('周二', '周三')`);
    expect(stored.rows[0].n).toBe(0);
  });

  it('a roster cannot back-date past the limit either: the worker measures from its own today', async () => {
    const backDated = addDays(today, -31);
    const csv = `name,id_number,plan_year,enrolled_on\n周四,${withResidentIdCheck('35052119920101051')},${backDated.slice(0, 4)},${backDated}\n`;
    const started = await gw.query(OPERATOR_A, `mutation($csv: String!) { importRoster(input: { fileName: "r.csv", csv: $csv }) { rosterImport { id } } }`, { csv });
    const id = started.data.importRoster.rosterImport.id as string;
    await importUploadedRoster(db.pool, gw.keys, Number(Buffer.from(id, 'base64url').toString().split(':')[1]));
    const status = await gw.query(OPERATOR_A, `query($id: ID!) { rosterImport(id: $id) { rowsRejected errors { field reason } } }`, { id });
    expect(status.data.rosterImport).toEqual({ rowsRejected: 1, errors: [{ field: 'enrolled_on', reason: expect.stringMatching(/^BACKDATED: /) }] });
  });
});
