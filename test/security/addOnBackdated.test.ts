import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { log } from '../../src/log.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import type { RosterImportJob } from '../../src/members/queue.ts';
import { rosterImportProcessor } from '../../jobs/members.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember, seedMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';

/**
 * Cover given to an enrolment after the fact (audit C). A unit operator gives a member's existing
 * 2025 enrolment — made in January 2025 without the SPECIAL_DISEASE add-on (职工特病), paid for as
 * such — the add-on in December 2026, once the member's 2025 cancer stay is known: through
 * `enrolMember` or a roster row. The enrolment keeps its date, so the add-on counted from January
 * 2025 and the late stay was decided by the rules alone with the 6,000.00 CNY MAJOR_DISEASE lump
 * sum. The same cover asked as a new enrolment is BACKDATED, a rule only an ADMIN overrides
 * (docs/trust-model.md: a UNIT_OPERATOR never overrides an enrolment rule).
 *
 * Refused by eligibility at enrolment (src/benefits/rules/enrolment.ts `addedCover`,
 * src/members/eligibility.ts): a targeted group (重点群体, which a programme may pay alone) a change
 * adds to an existing enrolment is judged for back-dating from the enrolment's date as a new
 * enrolment on that date is: BACKDATED beyond `maxBackdatingDays` or in a plan year that has ended.
 * The add-on turned on starts on the day it is given (enrolments.special_disease_from) and pays only
 * stays admitted after its own waiting period (addOnStartDate.test.ts), so it no longer counts from
 * the enrolment's date: it is refused BACKDATED only in a plan year that has ended, where it could
 * cover nothing unless back-dated. Each on the cover's own field (`input.specialDisease` /
 * `input.memberCategories`, roster column `special_disease` / `member_categories`), overridden only
 * by an ADMIN with a reason, which back-dates the add-on to the enrolment's date. Turning cover off,
 * and a row that repeats what is recorded, stay as they were.
 */

let db: TestDatabase;
let gw: TestGateway;
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };
const ADMIN = { role: 'ADMIN', sub: 'admin-addon' } as const;
const ENROL = `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { enrolment { id specialDisease memberCategories enrolledOn override { rules reason } } userErrors { field code message } } }`;
// A stay of 2025 (a plan year that has ended), a first cancer diagnosis.
const CANCER_STAY = { psn: '10,000.00', ownpay: '5,000.00', diagnoses: ['C34.1'], setlTime: '2025-11-20 10:00:00' };

const operatorOf = (m: Pick<MemberSetup, 'creditCode' | 'unitId'>) => ({ role: 'UNIT_OPERATOR', unit: m.creditCode, sub: `operator-${m.unitId}` }) as const;
const enrolInput = (memberId: number, extra: Record<string, unknown>) =>
  ({ memberId: toGlobalId('Member', memberId), planYear: 2025, enrolledOn: '2025-01-01', plan: 'PUBLIC', ...extra });
const stored = async (enrolmentId: number) => (await db.pool.query(
  `SELECT special_disease, special_disease_from, member_categories, to_char(enrolled_on, 'YYYY-MM-DD') AS enrolled_on, override_rules FROM enrolments WHERE id = $1`, [enrolmentId],
)).rows[0];

let unitSeq = 0;
/** A PUBLIC unit made through the API, with one member (by ID number, for rosters) enrolled as `enrolment` says. */
async function rosterMember(enrolment: { year: number; enrolledOn: string; specialDisease?: boolean; categories?: string[] }) {
  unitSeq += 1;
  const code = withCreditCodeCheck(`91350500MA${String(7700000 + unitSeq)}`);
  const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "泉州某机关", planType: PUBLIC }) { unit { id } } }`, { c: code });
  await confirmUnitTerms(gw, unit.data.createUnit.unit.id);
  const idNumber = withResidentIdCheck(`3505821980010${String(1000 + unitSeq)}`);
  const created = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "林芳", idNumber: $n }) { member { id } } }`,
    { u: unit.data.createUnit.unit.id, n: idNumber });
  const memberId = localId('id', created.data.createMember.member.id, 'Member');
  const { rows: [e] } = await db.pool.query<{ id: number }>(
    `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on, member_categories)
     SELECT id, unit_id, $2, 'PUBLIC', $3, $4, $4, $5 FROM members WHERE id = $1 RETURNING id`,
    [memberId, enrolment.year, enrolment.specialDisease ?? false, enrolment.enrolledOn, enrolment.categories ?? []]);
  return { code, idNumber, enrolmentId: e!.id };
}

const newImport = async () =>
  (await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('r.csv', '\\x', 'test') RETURNING id`)).rows[0]!.id;
const HEADER = 'name,id_number,unit_credit_code,plan_year,plan,special_disease,enrolled_on,member_categories';

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('the SPECIAL_DISEASE add-on given to an enrolment after the fact', () => {
  it('control: the same cover as a new enrolment of 2025 is refused BACKDATED for a unit operator', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', specialDisease: false });
    const newcomer = await seedMember(db.pool, m.unitId);
    const r = await gw.query(operatorOf(m), ENROL, { i: enrolInput(newcomer, { specialDisease: true }) });
    expect(r.data.enrolMember.enrolment).toBeNull();
    expect(r.data.enrolMember.userErrors[0]).toMatchObject({ field: 'input.enrolledOn', message: expect.stringMatching(/^input\.enrolledOn: BACKDATED: 2025-01-01 is \d+ days before/) });
  });

  it('is refused to a unit operator in a plan year that has ended (on input.specialDisease), and pays no lump sum for a stay before it', async () => {
    // Enrolled in January 2025 without the add-on (paid for as such), as the unit's roster said then.
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', specialDisease: false });
    // Later (today, after 2025): the unit knows the member had cancer in 2025; it adds the add-on to the 2025 enrolment.
    const r = await gw.query(operatorOf(m), ENROL, { i: enrolInput(m.memberId, { specialDisease: true }) });
    expect(r.data.enrolMember.enrolment).toBeNull();
    // The add-on would start today, after every stay of 2025: only back-dated would it cover one.
    expect(r.data.enrolMember.userErrors).toEqual([{
      field: 'input.specialDisease', code: 'INVALID',
      message: expect.stringMatching(/^input\.specialDisease: BACKDATED: the plan year 2025 ended on 2025-12-31, before \d{4}-\d\d-\d\d: adding the SPECIAL_DISEASE add-on to its enrolment now is back-dated/),
    }]);
    expect(await stored(m.enrolmentId)).toEqual({ special_disease: false, special_disease_from: null, member_categories: [], enrolled_on: '2025-01-01', override_rules: [] });

    // The stay arrives late: decided on the enrolment as it is, without the lump sum — as for a member left alone.
    for (const setup of [m, await seedEnrolledMember(db.pool, { plan: 'PUBLIC', specialDisease: false })]) {
      const stay = await seedSettlement(db.pool, setup, CANCER_STAY);
      await adjudicateSettlements(db.pool, [stay], OPTIONS);
      const claim = (await claimOf(db.pool, stay))!;
      expect({ status: claim.status, inpatient: claim.amounts.INPATIENT, majorDisease: claim.amounts.MAJOR_DISEASE ?? 0 })
        .toEqual({ status: 'APPROVED', inpatient: fen('3,000.00'), majorDisease: 0 });
    }
  });

  it('an ADMIN gives it only by overriding BACKDATED with a reason, recorded on the enrolment; turning it off needs nothing', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', specialDisease: false });
    const plain = await gw.query(ADMIN, ENROL, { i: enrolInput(m.memberId, { specialDisease: true }) });
    expect(plain.data.enrolMember.userErrors).toEqual([expect.objectContaining({ field: 'input.specialDisease', message: expect.stringMatching(/^input\.specialDisease: BACKDATED/) })]);
    // A unit operator cannot override (as for a new enrolment).
    const byOperator = await gw.query(operatorOf(m), ENROL, { i: enrolInput(m.memberId, { specialDisease: true, override: { rules: ['BACKDATED'], reason: '补办特病附加' } }) });
    expect(byOperator.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await stored(m.enrolmentId)).special_disease).toBe(false);

    const overridden = await gw.query(ADMIN, ENROL, { i: enrolInput(m.memberId, { specialDisease: true, override: { rules: ['BACKDATED'], reason: '单位2025年已缴特病费用，漏报' } }) });
    expect(overridden.data.enrolMember).toMatchObject({
      enrolment: { specialDisease: true, enrolledOn: '2025-01-01', override: { rules: ['BACKDATED'], reason: '单位2025年已缴特病费用，漏报' } }, userErrors: [],
    });
    // Back-dated to the enrolment's date: no waiting period of its own.
    expect((await stored(m.enrolmentId)).special_disease_from).toBe('2025-01-01');
    const audit = await db.pool.query(`SELECT reason, details->'overridden' AS overridden FROM audit_log WHERE action = 'enrolment.update' AND target_id = $1`, [String(m.enrolmentId)]);
    expect(audit.rows).toEqual([{ reason: '单位2025年已缴特病费用，漏报', overridden: [expect.objectContaining({ rule: 'BACKDATED' })] }]);

    // Asked again as recorded, or off: no cover added, nothing to override; a unit operator may.
    const again = await gw.query(operatorOf(m), ENROL, { i: enrolInput(m.memberId, { specialDisease: true }) });
    expect(again.data.enrolMember.userErrors).toEqual([]);
    expect((await stored(m.enrolmentId)).special_disease_from).toBe('2025-01-01');
    const off = await gw.query(operatorOf(m), ENROL, { i: enrolInput(m.memberId, { specialDisease: false }) });
    expect(off.data.enrolMember).toMatchObject({ enrolment: { specialDisease: false }, userErrors: [] });
    expect((await stored(m.enrolmentId)).special_disease_from).toBeNull();
  });

  it('is refused to a unit operator\'s roster row as well (the same cover from January 2025, given in a file later)', async () => {
    const { code, idNumber, enrolmentId } = await rosterMember({ year: 2025, enrolledOn: '2025-01-01' });
    const operator = { role: 'UNIT_OPERATOR', unit: code, sub: 'operator-roster' } as const;
    const started = await gw.query(operator, `mutation($input: ImportRosterInput!) { importRoster(input: $input) { rosterImport { id } userErrors { field code message } } }`, {
      input: { fileName: 'roster-2025.csv', csv: `name,id_number,plan_year,plan,special_disease,enrolled_on\n林芳,${idNumber},2025,PUBLIC,true,2025-01-01\n` },
    });
    expect(started.data.importRoster.userErrors).toEqual([]);
    const importId = localId('id', started.data.importRoster.rosterImport.id, 'RosterImport');
    await rosterImportProcessor(db.pool, gw.keys, log)({ data: { importId } } as Job<RosterImportJob>);
    const { rows: [imported] } = await db.pool.query(`SELECT rows_rejected AS rejected FROM roster_imports WHERE id = $1`, [importId]);
    const { rows: errors } = await db.pool.query(`SELECT row_number AS row, field, reason FROM roster_import_errors WHERE import_id = $1`, [importId]);
    expect({ rowsRejected: imported.rejected, specialDisease: (await stored(enrolmentId)).special_disease }).toEqual({ rowsRejected: 1, specialDisease: false });
    expect(errors).toEqual([{ row: 2, field: 'special_disease', reason: expect.stringMatching(/^BACKDATED: the plan year 2025 ended on 2025-12-31, before .*: adding the SPECIAL_DISEASE add-on to its enrolment now is back-dated/) }]);
  });

  it('a roster row of the current year starts the add-on on the import\'s day, neither from the enrolment\'s date nor from its own enrolled_on', async () => {
    // Before, the first row was refused (the add-on counted from 2026-01-05, 176 days back) and the
    // second counted from 2026-06-10: now both start on 2026-06-30, with the add-on's own waiting period.
    const early = await rosterMember({ year: 2026, enrolledOn: '2026-01-05' });
    const recent = await rosterMember({ year: 2026, enrolledOn: '2026-06-10' });
    const csv = `${HEADER}\n林芳,${early.idNumber},${early.code},2026,PUBLIC,true,2026-06-20,\n林芳,${recent.idNumber},${recent.code},2026,PUBLIC,true,2026-06-20,\n`;
    const result = await importRoster(db.pool, gw.keys, csv, { importId: await newImport(), today: '2026-06-30' });
    expect(result).toMatchObject({ rowsRejected: 0, enrolmentsCreated: 0, errors: [] });
    for (const { enrolmentId } of [early, recent]) {
      expect(await stored(enrolmentId)).toMatchObject({ special_disease: true, special_disease_from: '2026-06-30', override_rules: [] });
    }
  });

  it('a roster row repeating the add-on recorded, or turning it off, is accepted in a plan year that has ended', async () => {
    const kept = await rosterMember({ year: 2025, enrolledOn: '2025-01-01', specialDisease: true });
    const off = await rosterMember({ year: 2025, enrolledOn: '2025-01-01', specialDisease: true });
    const csv = `${HEADER}\n林芳,${kept.idNumber},${kept.code},2025,PUBLIC,true,2025-01-01,\n林芳,${off.idNumber},${off.code},2025,PUBLIC,false,2025-01-01,\n`;
    const result = await importRoster(db.pool, gw.keys, csv, { importId: await newImport(), today: '2026-12-01' });
    expect(result).toMatchObject({ rowsRejected: 0, errors: [] });
    expect([await stored(kept.enrolmentId), await stored(off.enrolmentId)]).toMatchObject([
      { special_disease: true, special_disease_from: '2025-01-01' }, { special_disease: false, special_disease_from: null },
    ]);
  });
});

describe('a targeted group given to an enrolment after the fact', () => {
  it('is refused to a unit operator in a plan year that has ended, through enrolMember and a roster row, on the categories\' field', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', specialDisease: false });
    const r = await gw.query(operatorOf(m), ENROL, { i: enrolInput(m.memberId, { memberCategories: ['HARDSHIP'] }) });
    expect(r.data.enrolMember).toEqual({
      enrolment: null,
      userErrors: [{ field: 'input.memberCategories', code: 'INVALID', message: expect.stringMatching(/^input\.memberCategories: BACKDATED: the targeted group HARDSHIP added on .* would count from the enrolment's date 2025-01-01/) }],
    });
    expect((await stored(m.enrolmentId)).member_categories).toEqual([]);

    // Enrolled late in December 2025 (within the 30 days of a day in January 2026), but the plan year has ended.
    const { code, idNumber, enrolmentId } = await rosterMember({ year: 2025, enrolledOn: '2025-12-20', categories: ['SANITATION'] });
    const row = (categories: string) => `${HEADER}\n林芳,${idNumber},${code},2025,PUBLIC,false,2025-12-20,${categories}\n`;
    const result = await importRoster(db.pool, gw.keys, row('SANITATION;MODEL_WORKER'), { importId: await newImport(), today: '2026-01-05' });
    expect(result).toMatchObject({ rowsRejected: 1 });
    expect(result.errors).toEqual([{ row: 2, field: 'member_categories', reason: expect.stringMatching(/^BACKDATED: the plan year 2025 ended on 2025-12-31, before 2026-01-05: adding the targeted group MODEL_WORKER to its enrolment now is back-dated/) }]);
    expect((await stored(enrolmentId)).member_categories).toEqual(['SANITATION']);

    // Keeping (an empty cell, or the same group) adds no cover: accepted.
    for (const categories of ['', 'SANITATION']) {
      expect(await importRoster(db.pool, gw.keys, row(categories), { importId: await newImport(), today: '2026-01-05' })).toMatchObject({ rowsRejected: 0 });
    }
    // Removing a group through enrolMember adds no cover either.
    const cleared = await gw.query(operatorOf(m), ENROL, { i: enrolInput(m.memberId, { memberCategories: [] }) });
    expect(cleared.data.enrolMember.userErrors).toEqual([]);
    expect((await stored(enrolmentId)).member_categories).toEqual(['SANITATION']);
  });
});
