import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { fen } from '../benefits/support.ts';
import { quanzhouHardshipRules } from '../benefits/hardshipRules.ts';
import { claimOf, payContribution, seedSettlement, seedUnit } from '../benefits/seed.ts';

/**
 * Audit finding: the four eyes on a member's targeted groups (0057, attack 101) are kept for
 * `setEnrolmentCategories` and `enrolMember`, but a roster import sets the same groups
 * (`member_categories` column) without recording its importer in `enrolments.categories_set_by`
 * (mergeStagedEnrolments writes member_categories only). So one ADMIN imports a roster putting a
 * member in HARDSHIP (困难职工), the member's stay is decided with a 72,000.00 CNY CRITICAL line that
 * only HARDSHIP members are paid, and the same ADMIN approves it: one person made the line payable
 * and approved it, exactly what `enrolMember` and `setEnrolmentCategories` refuse.
 */

let db: TestDatabase;
let gw: TestGateway;
const cache = new RuleSetCache();
/** Up to 10,000.00 CNY the rules approve alone: a stay with a CRITICAL line waits for a reviewer. */
const REVIEW = { autoApproveMaxFen: fen('10,000.00'), ruleSets: cache };
const CASE = { psn: '136,700.00', ownpay: '52,700.00', funds: '106,500.00', diagnoses: ['I34.0'], setlTime: '2026-06-01 10:00:00' };
const ADMIN = { role: 'ADMIN', org: 'QZ', sub: 'qz-admin-roster' } as const;
const IMPORT = `mutation($input: ImportRosterInput!) { importRoster(input: $input) { rosterImport { id } userErrors { field code message } } }`;
const APPROVE = `mutation($input: ApproveClaimInput!) { approveClaim(input: $input) { claim { status decidedBy } userErrors { field code message } } }`;
let qz = 0;

beforeAll(async () => {
  db = await freshDatabase();
  ({ qz } = await quanzhouHardshipRules(db.pool, cache));
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('four eyes on targeted groups set by a roster import', () => {
  it('the ADMIN whose roster put the member in HARDSHIP cannot approve the CRITICAL line it made payable', async () => {
    const unit = await quanzhouUnit();
    await payContribution(db.pool, unit.id, 2026);

    // The ADMIN's roster: a new member enrolled for 2026 with the add-on, in HARDSHIP.
    const idNumber = withResidentIdCheck('35052119850312011');
    const csv = 'name,id_number,unit_credit_code,plan_year,plan,special_disease,enrolled_on,member_categories\n'
      + `陈建国,${idNumber},${unit.creditCode},2026,PRIVATE,true,2026-01-05,HARDSHIP\n`;
    const started = await gw.query(ADMIN, IMPORT, { input: { fileName: 'roster.csv', csv, unitId: toGlobalId('Unit', unit.id) } });
    expect(started.data.importRoster.userErrors).toEqual([]);
    const importId = localId('id', started.data.importRoster.rosterImport.id, 'RosterImport');
    // The worker's import of that file, on the day the file says (the import's own stored settings).
    const result = await importRoster(db.pool, gw.keys, csv, { importId, defaultUnitId: unit.id, onlyOrganisationId: qz, today: '2026-01-05' });
    expect(result).toMatchObject({ enrolmentsCreated: 1 });

    const { rows: [enrolment] } = await db.pool.query<{ id: number; memberId: number; categories: string[]; setBy: string[] }>(
      `SELECT e.id, e.member_id AS "memberId", e.member_categories AS categories, e.categories_set_by AS "setBy"
         FROM enrolments e JOIN members m ON m.id = e.member_id WHERE m.unit_id = $1`, [unit.id],
    );
    expect(enrolment!.categories).toEqual(['HARDSHIP']);

    // The stay: a 72,000.00 CRITICAL line, only because of HARDSHIP; it waits for a reviewer.
    const settlementId = await seedSettlement(db.pool, { unitId: unit.id, creditCode: unit.creditCode, memberId: enrolment!.memberId, enrolmentId: enrolment!.id }, CASE);
    await adjudicateSettlements(db.pool, [settlementId], REVIEW);
    const claim = (await claimOf(db.pool, settlementId))!;
    expect({ status: claim.status, critical: claim.amounts.CRITICAL }).toEqual({ status: 'PENDING_REVIEW', critical: fen('72,000.00') });

    // Whoever set the groups cannot approve the line they made payable alone (as after enrolMember or setEnrolmentCategories).
    const own = await gw.query(ADMIN, APPROVE, { input: { claimId: toGlobalId('Claim', claim.id), checkedTotalFen: claim.totalFen, note: '已核' } });
    expect(own.data.approveClaim.userErrors).toEqual([
      { field: 'input.claimId', code: 'CONFLICT', message: expect.stringContaining('qz-admin-roster set the targeted groups') },
    ]);
    const { rows: [after] } = await db.pool.query(`SELECT status, decided_by FROM claims WHERE id = $1`, [claim.id]);
    expect(after).toEqual({ status: 'PENDING_REVIEW', decided_by: null });
    // Nor can anyone writing the row: the setter is on the enrolment's record (categories_set_by).
    expect(enrolment!.setBy).toContain('qz-admin-roster');
  });

  it('a roster changing the groups of a recorded enrolment adds its importer, once; one leaving them as recorded adds no one', async () => {
    const unit = await quanzhouUnit();
    const file = rosterOf(unit.creditCode, withResidentIdCheck('35052119850312029'));

    // Enrolled in no group: nobody set any.
    expect(await importedBy('admin-c', unit.id, file(false, ''))).toEqual({ categories: [], setBy: [] });
    // Put in HARDSHIP by a later roster: its importer set them.
    expect(await importedBy('admin-d', unit.id, file(false, 'HARDSHIP'))).toEqual({ categories: ['HARDSHIP'], setBy: ['admin-d'] });
    // The add-on changed, the groups kept (an empty cell) or given as recorded: that importer set none.
    expect(await importedBy('admin-e', unit.id, file(true, ''))).toEqual({ categories: ['HARDSHIP'], setBy: ['admin-d'] });
    expect(await importedBy('admin-e', unit.id, file(false, 'HARDSHIP'))).toEqual({ categories: ['HARDSHIP'], setBy: ['admin-d'] });
    // Groups changed again by the same importer: named once; taking a group away is setting them too.
    expect(await importedBy('admin-d', unit.id, file(false, 'HARDSHIP;SANITATION'))).toEqual({ categories: ['HARDSHIP', 'SANITATION'], setBy: ['admin-d'] });
    expect(await importedBy('admin-e', unit.id, file(false, 'SANITATION'))).toEqual({ categories: ['SANITATION'], setBy: ['admin-d', 'admin-e'] });
  });

  it('the trigger keeping the setters runs only on a write changing them, not on every enrolment a roster updates', async () => {
    const unit = await quanzhouUnit();
    await importedBy('admin-c', unit.id, rosterOf(unit.creditCode, withResidentIdCheck('35052119850312037'))(false, 'HARDSHIP'));
    // The roster merge names categories_set_by on each enrolment it updates, most of them keeping it (0064).
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL track_functions = 'pl'`);
      const calls = async () => (await client.query<{ n: number }>(
        `SELECT coalesce(sum(calls), 0)::int AS n FROM pg_stat_xact_user_functions WHERE funcname = 'enrolments_keep_category_setters'`,
      )).rows[0]!.n;
      const kept = await client.query(
        `UPDATE enrolments SET special_disease = NOT special_disease, categories_set_by = categories_set_by WHERE unit_id = $1`, [unit.id],
      );
      expect({ rows: kept.rowCount, calls: await calls() }).toEqual({ rows: 1, calls: 0 });
      // A write dropping a setter still runs it, and keeps them all (0057).
      await client.query(`UPDATE enrolments SET categories_set_by = '{}' WHERE unit_id = $1`, [unit.id]);
      expect(await calls()).toBe(1);
      expect((await client.query(`SELECT categories_set_by FROM enrolments WHERE unit_id = $1`, [unit.id])).rows).toEqual([
        { categories_set_by: ['admin-c'] },
      ]);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});

/** A unit of Quanzhou whose members the rules' CRITICAL line may pay. */
async function quanzhouUnit() {
  const unit = await seedUnit(db.pool, 'PRIVATE', qz); // NON_PUBLIC, as a PRIVATE unit is registered
  return unit;
}

/** A roster of one member of the unit enrolled for 2026: with the add-on or not, in these groups (`;`-separated, empty keeps them). */
function rosterOf(creditCode: string, idNumber: string) {
  return (specialDisease: boolean, categories: string) => 'name,id_number,unit_credit_code,plan_year,plan,special_disease,enrolled_on,member_categories\n'
    + `陈建国,${idNumber},${creditCode},2026,PRIVATE,${specialDisease},2026-01-05,${categories}\n`;
}

/** `subject`'s (an ADMIN's) import of `csv`, then the enrolment of the unit's member: its groups and who set them. */
async function importedBy(subject: string, unitId: number, csv: string) {
  const { rows: [started] } = await db.pool.query<{ id: number }>(
    `INSERT INTO roster_imports (file_name, sha256, created_by, created_by_role) VALUES ('roster.csv', '\\x', $1, 'ADMIN') RETURNING id`, [subject],
  );
  await importRoster(db.pool, gw.keys, csv, { importId: started!.id, today: '2026-01-05' });
  const { rows: [enrolment] } = await db.pool.query(
    `SELECT e.member_categories AS categories, e.categories_set_by AS "setBy" FROM enrolments e JOIN members m ON m.id = e.member_id WHERE m.unit_id = $1`,
    [unitId],
  );
  return enrolment;
}
