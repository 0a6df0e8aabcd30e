import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { log } from '../../src/log.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import type { RosterImportJob } from '../../src/members/queue.ts';
import { rosterImportProcessor } from '../../jobs/members.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, payContribution, seedEnrolledMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';

/**
 * The SPECIAL_DISEASE add-on (职工特病) has its own start (enrolments.special_disease_from). Turned on
 * for an existing enrolment — by `enrolMember` or a roster row — it starts on the hub's today, so it
 * is not back-dated (no BACKDATED refusal however old the enrolment is), and the programmes needing
 * it (MAJOR_DISEASE) pay only stays ADMITTED after its own waiting period (the rule set's
 * `eligibility.specialDiseaseWaitingDays`, 90 days). A unit turning the add-on on for a member already
 * in hospital with cancer gets no lump sum for that stay, however late it is settled: the attack of
 * addOnBackdated.test.ts stays closed. An add-on enrolled with the enrolment keeps its date and
 * waits no more than before.
 */

let db: TestDatabase;
let gw: TestGateway;
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };
const ADMIN = { role: 'ADMIN', sub: 'admin-addon-start' } as const;
const ENROL = `mutation($i: EnrolMemberInput!) {
  enrolMember(input: $i) { enrolment { id specialDisease specialDiseaseFrom enrolledOn override { rules } } userErrors { field code message } } }`;
const HEADER = 'name,id_number,unit_credit_code,plan_year,plan,special_disease,enrolled_on';
const CLAIM = `query($id: ID!) { claim(id: $id) { status reasons { code text { zh en } } lines { programme } } }`;

const stored = async (enrolmentId: number) => (await db.pool.query<{ special_disease: boolean; special_disease_from: string | null; override_rules: string[] }>(
  `SELECT special_disease, special_disease_from, override_rules FROM enrolments WHERE id = $1`, [enrolmentId],
)).rows[0]!;

let unitSeq = 0;
/** A PUBLIC unit made through the API with one member, enrolled for `year` on `enrolledOn` without the add-on, its contribution paid. */
async function enrolledMember(year: number, enrolledOn: string): Promise<MemberSetup & { idNumber: string }> {
  unitSeq += 1;
  const code = withCreditCodeCheck(`91350500MA${String(7800000 + unitSeq)}`);
  const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "泉州某机关", planType: PUBLIC }) { unit { id } } }`, { c: code });
  await confirmUnitTerms(gw, unit.data.createUnit.unit.id);
  const idNumber = withResidentIdCheck(`3505821981020${String(1000 + unitSeq)}`);
  const created = await gw.query(ADMIN, `mutation($u: ID!, $n: String!) { createMember(input: { unitId: $u, name: "陈静", idNumber: $n }) { member { id } } }`,
    { u: unit.data.createUnit.unit.id, n: idNumber });
  const memberId = localId('id', created.data.createMember.member.id, 'Member');
  const { rows: [e] } = await db.pool.query<{ id: number; unitId: number }>(
    `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
     SELECT id, unit_id, $2, 'PUBLIC', false, $3, $3 FROM members WHERE id = $1 RETURNING id, unit_id AS "unitId"`,
    [memberId, year, enrolledOn]);
  await payContribution(db.pool, e!.unitId, year);
  return { unitId: e!.unitId, creditCode: code, memberId, enrolmentId: e!.id, idNumber };
}
const operatorOf = (m: Pick<MemberSetup, 'creditCode' | 'unitId'>) => ({ role: 'UNIT_OPERATOR', unit: m.creditCode, sub: `operator-${m.unitId}` }) as const;
const newImport = async () =>
  (await db.pool.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('r.csv', '\\x', 'test') RETURNING id`)).rows[0]!.id;
const row = (m: { idNumber: string; creditCode: string }, year: number, specialDisease: boolean, enrolledOn: string) =>
  `${HEADER}\n陈静,${m.idNumber},${m.creditCode},${year},PUBLIC,${specialDisease},${enrolledOn}\n`;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('the add-on turned on for an existing enrolment starts that day', () => {
  it('through enrolMember: not BACKDATED however old the enrolment, from the hub\'s today, shown to clients; turned off, cleared', async () => {
    const year = Number(chinaToday().slice(0, 4));
    const m = await enrolledMember(year, `${year}-01-01`);
    const on = await gw.query(operatorOf(m), ENROL, { i: { memberId: toGlobalId('Member', m.memberId), planYear: year, plan: 'PUBLIC', specialDisease: true } });
    // The hub's today, read after the answer: the same day but across midnight.
    expect(on.data.enrolMember).toEqual({
      enrolment: { id: expect.any(String), specialDisease: true, specialDiseaseFrom: chinaToday(), enrolledOn: `${year}-01-01`, override: null }, userErrors: [],
    });
    expect(await stored(m.enrolmentId)).toEqual({ special_disease: true, special_disease_from: chinaToday(), override_rules: [] });

    const off = await gw.query(operatorOf(m), ENROL, { i: { memberId: toGlobalId('Member', m.memberId), planYear: year, plan: 'PUBLIC', specialDisease: false } });
    expect(off.data.enrolMember.enrolment).toMatchObject({ specialDisease: false, specialDiseaseFrom: null });
    expect(await stored(m.enrolmentId)).toMatchObject({ special_disease: false, special_disease_from: null });
  });

  it('through a unit operator\'s roster file (the worker): not BACKDATED, from the import\'s day', async () => {
    const year = Number(chinaToday().slice(0, 4));
    const m = await enrolledMember(year, `${year}-01-01`);
    const started = await gw.query(operatorOf(m), `mutation($input: ImportRosterInput!) { importRoster(input: $input) { rosterImport { id } userErrors { message } } }`, {
      input: { fileName: `roster-${year}.csv`, csv: `name,id_number,plan_year,plan,special_disease\n陈静,${m.idNumber},${year},PUBLIC,true\n` },
    });
    expect(started.data.importRoster.userErrors).toEqual([]);
    const importId = localId('id', started.data.importRoster.rosterImport.id, 'RosterImport');
    await rosterImportProcessor(db.pool, gw.keys, log)({ data: { importId } } as Job<RosterImportJob>);
    const { rows: [imported] } = await db.pool.query(`SELECT rows_rejected AS rejected, enrolments_created AS created FROM roster_imports WHERE id = $1`, [importId]);
    expect(imported).toEqual({ rejected: 0, created: 0 });
    expect(await stored(m.enrolmentId)).toEqual({ special_disease: true, special_disease_from: chinaToday(), override_rules: [] });
  });

  it('a row repeating the add-on keeps its start; turned off and on again it starts again', async () => {
    const m = await enrolledMember(2025, '2025-01-01');
    const imported = async (specialDisease: boolean, today: string) => {
      const result = await importRoster(db.pool, gw.keys, row(m, 2025, specialDisease, '2025-01-01'), { importId: await newImport(), today });
      expect(result).toMatchObject({ rowsRejected: 0, errors: [] });
      return (await stored(m.enrolmentId)).special_disease_from;
    };
    expect(await imported(true, '2025-06-01')).toBe('2025-06-01');
    expect(await imported(true, '2025-07-01')).toBe('2025-06-01');
    expect(await imported(false, '2025-07-02')).toBeNull();
    expect(await imported(true, '2025-08-01')).toBe('2025-08-01');
  });
});

describe('claims under an add-on started after the enrolment', () => {
  it('a stay admitted before the add-on started, settled after its waiting period, gets no lump sum, and says why', async () => {
    // Enrolled on 1 January 2025 without the add-on; on 1 June the unit turns it on (the member is in
    // hospital with cancer since 20 May). Covered from 30 August for stays admitted from then on.
    const m = await enrolledMember(2025, '2025-01-01');
    expect(await importRoster(db.pool, gw.keys, row(m, 2025, true, '2025-01-01'), { importId: await newImport(), today: '2025-06-01' }))
      .toMatchObject({ rowsRejected: 0 });
    const cancer = { psn: '10,000.00', ownpay: '5,000.00', diagnoses: ['C34.1'] };
    const before = await seedSettlement(db.pool, m, { ...cancer, admittedOn: '2025-05-20', setlTime: '2025-10-15 10:00:00' });
    await adjudicateSettlements(db.pool, [before], OPTIONS);
    const refused = (await claimOf(db.pool, before))!;
    expect({ status: refused.status, amounts: refused.amounts, reasonCodes: refused.reasonCodes }).toEqual({
      status: 'APPROVED', amounts: { INPATIENT: fen('3,000.00'), CRITICAL: 0 }, reasonCodes: ['ADD_ON_WAITING_PERIOD'],
    });
    const { rows: [facts] } = await db.pool.query(`SELECT facts ->> 'specialDiseaseAddedOn' AS "addedOn" FROM claims WHERE id = $1`, [refused.id]);
    expect(facts).toEqual({ addedOn: '2025-06-01' });
    const { data } = await gw.query(ADMIN, CLAIM, { id: toGlobalId('Claim', refused.id) });
    expect(data.claim.reasons).toEqual([{
      code: 'ADD_ON_WAITING_PERIOD',
      text: {
        zh: '重大疾病一次性补助须在职工特病附加保障等待期满后入院：附加保障 2025-06-01 起参加，等待期 90 天，2025-08-30 起入院的住院方予补助；本次 2025-05-20 入院，本次不予发放',
        en: 'MAJOR_DISEASE requires a stay admitted after the SPECIAL_DISEASE add-on\'s waiting period: the add-on was given on 2025-06-01, with a 90-day waiting period, so it pays stays admitted from 2025-08-30; this stay was admitted on 2025-05-20',
      },
    }]);

    // A stay admitted after the waiting period is paid the lump sum (the group was not granted by the first).
    const after = await seedSettlement(db.pool, m, { ...cancer, admittedOn: '2025-09-01', setlTime: '2025-09-12 10:00:00' });
    await adjudicateSettlements(db.pool, [after], OPTIONS);
    const paid = (await claimOf(db.pool, after))!;
    expect({ status: paid.status, major: paid.amounts.MAJOR_DISEASE, reasonCodes: paid.reasonCodes })
      .toEqual({ status: 'APPROVED', major: fen('6,000.00'), reasonCodes: [] });
  });

  it('an add-on enrolled with the enrolment covers from its date, as before: a stay admitted before it and settled after is paid', async () => {
    // Raw rows get the enrolment's date (the trigger of 0065), as the migration gave existing ones.
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', specialDisease: true });
    expect(await stored(m.enrolmentId)).toMatchObject({ special_disease_from: '2025-01-01' });
    const stay = await seedSettlement(db.pool, m, { psn: '10,000.00', ownpay: '5,000.00', diagnoses: ['C34.1'], admittedOn: '2024-12-20', setlTime: '2025-01-15 10:00:00' });
    await adjudicateSettlements(db.pool, [stay], OPTIONS);
    const claim = (await claimOf(db.pool, stay))!;
    expect({ major: claim.amounts.MAJOR_DISEASE, reasonCodes: claim.reasonCodes }).toEqual({ major: fen('6,000.00'), reasonCodes: [] });

    // A new enrolment with the add-on, from a roster: from its own date.
    const fresh = await enrolledMember(2026, '2026-01-01');
    await db.pool.query(`DELETE FROM enrolments WHERE id = $1`, [fresh.enrolmentId]);
    expect(await importRoster(db.pool, gw.keys, row(fresh, 2026, true, '2026-01-01'), { importId: await newImport(), today: '2026-01-05' }))
      .toMatchObject({ rowsRejected: 0, enrolmentsCreated: 1 });
    const { rows: [created] } = await db.pool.query(
      `SELECT special_disease_from AS "from" FROM enrolments WHERE member_id = $1 AND plan_year = 2026`, [fresh.memberId]);
    expect(created).toEqual({ from: '2026-01-01' });
  });
});
