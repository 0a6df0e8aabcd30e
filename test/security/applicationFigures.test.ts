import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { matchAndContinue } from '../../src/settlements/matchingStep.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { payContribution, seedUnit } from '../benefits/seed.ts';
import { ACCEPT, feedStay, memberOf, seedApplicant, stay, submit, type Applicant } from '../applications/support.ts';

/**
 * One stay, two sets of figures. The same-stay rule compares totals, so an application whose
 * member misread (or overstated) the total on the settlement sheet, accepted by a reviewer and
 * paid, was paid again when the platform reported the stay with its own figures; and a stay the
 * platform had reported and paid could be applied for again with another total. Now whichever of
 * the two is decided second waits for a reviewer, its warning naming the other.
 */
const started = lazyTestGateway();
const NO_LIMIT = { autoApproveMaxFen: Number.MAX_SAFE_INTEGER };
const reviewer = { role: 'REVIEWER' as const, sub: 'reviewer-qian' };

async function matchAndAdjudicate(db: pg.Pool, ids: number[]) {
  await matchAndContinue(db, ids, []);
  await adjudicateSettlements(db, ids, NO_LIMIT);
}

async function claimOf(db: pg.Pool, settlementId: number) {
  const { rows } = await db.query<{ status: string; warnings: string[] }>(`SELECT status, warnings FROM claims WHERE settlement_id = $1`, [settlementId]);
  return rows[0];
}

async function feedSettlementOf(db: pg.Pool, applicant: Applicant): Promise<{ id: number; status: string }> {
  const { rows } = await db.query(
    `SELECT id, status FROM settlements WHERE source = 'feed' AND certno_hash = (SELECT id_number_hash FROM members WHERE id = $1) ORDER BY id DESC LIMIT 1`,
    [applicant.memberId],
  );
  return rows[0];
}

/** Submits and accepts an application for `s`; answers its settlement's id. */
async function acceptedApplication(applicant: Applicant, s: ReturnType<typeof stay>): Promise<number> {
  const { gw } = await started();
  const filed = await submit(gw, memberOf(applicant), { stay: s });
  expect(filed.userErrors).toEqual([]);
  const accepted = (await gw.query(reviewer, ACCEPT, { id: filed.application.id })).data.acceptApplication;
  expect(accepted.userErrors).toEqual([]);
  return localId('id', accepted.application.settlement.id, 'Settlement');
}

describe('one stay reported with other figures by the platform and by an application', () => {
  it('the platform\'s copy of a paid application\'s stay, with the sheet\'s true total, waits for a reviewer naming the application', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-03-02', dischargedOn: '2025-03-12' };
    // The member wrote 1,000.00 more than the sheet says; the reviewer did not see it.
    const applied = await acceptedApplication(applicant, stay(dates, { totalFeesFen: 4_234_567, fundsTotalFen: 3_000_000 }));
    await matchAndAdjudicate(db.pool, [applied]);
    expect((await claimOf(db.pool, applied))!.status).toBe('APPROVED');

    const fed = await feedStay(db.pool, gw.keys, applicant, stay(dates));
    expect(fed.toMatch).toHaveLength(1);
    const feed = await feedSettlementOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [feed.id]);
    const claim = await claimOf(db.pool, feed.id);
    expect(claim).toEqual({
      status: 'PENDING_REVIEW',
      warnings: [expect.stringMatching(new RegExp(`^settlement ${applied} \\(APP-\\d+ from applications, total 42,345.67\\) may be the same stay \\(hospital H44010600001, discharged 2025-03-12\\)`))],
    });
  });

  it('an application for a stay the platform reported and paid, with another total, waits for a reviewer naming the platform\'s settlement', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-04-14', dischargedOn: '2025-04-20' };
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await feedSettlementOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [feed.id]);
    expect((await claimOf(db.pool, feed.id))!.status).toBe('APPROVED');

    const applied = await acceptedApplication(applicant, stay(dates, { totalFeesFen: 3_300_000, fundsTotalFen: 2_065_433 }));
    await matchAndAdjudicate(db.pool, [applied]);
    expect(await claimOf(db.pool, applied)).toEqual({
      status: 'PENDING_REVIEW',
      warnings: [expect.stringContaining(`settlement ${feed.id} (`)],
    });
    expect((await claimOf(db.pool, applied))!.warnings[0]).toContain('from feed, total 32,345.67) may be the same stay (hospital H44010600001, discharged 2025-04-20)');
  });

  it('both decided in one batch: each waits for a reviewer', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-05-05', dischargedOn: '2025-05-09' };
    const applied = await acceptedApplication(applicant, stay(dates, { totalFeesFen: 3_300_000, fundsTotalFen: 2_065_433 }));
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await feedSettlementOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [applied, feed.id]);
    expect((await claimOf(db.pool, applied))!.status).toBe('PENDING_REVIEW');
    expect((await claimOf(db.pool, feed.id))!.status).toBe('PENDING_REVIEW');
  });

  it('another stay of the member, an outpatient visit on the discharge day, or a stay at another hospital is paid without a warning', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const applied = await acceptedApplication(applicant, stay({ admittedOn: '2025-06-01', dischargedOn: '2025-06-08' }));
    await matchAndAdjudicate(db.pool, [applied]);
    const others = [
      stay({ admittedOn: '2025-06-01', dischargedOn: '2025-06-09' }, { totalFeesFen: 3_300_000, fundsTotalFen: 2_065_433 }),
      stay({ admittedOn: '2025-06-08', dischargedOn: '2025-06-08', medicalType: '11' }, { totalFeesFen: 3_300_000, fundsTotalFen: 2_065_433 }),
      stay({ admittedOn: '2025-06-01', dischargedOn: '2025-06-08', hospitalCode: 'H44010600002' }, { totalFeesFen: 3_300_000, fundsTotalFen: 2_065_433 }),
    ];
    for (const other of others) {
      await feedStay(db.pool, gw.keys, applicant, other, { begndate: other.admittedOn, enddate: other.dischargedOn });
      const feed = await feedSettlementOf(db.pool, applicant);
      await matchAndAdjudicate(db.pool, [feed.id]);
      expect(await claimOf(db.pool, feed.id), JSON.stringify(other)).toMatchObject({ warnings: [] });
      expect((await claimOf(db.pool, feed.id))!.status).not.toBe('PENDING_REVIEW');
    }
    expect(await claimOf(db.pool, applied)).toEqual({ status: 'APPROVED', warnings: [] });
  });

  it('both refused while the unit had not paid, then decided again when it pays: each waits for a reviewer, neither is paid at once', async () => {
    const { db, gw } = await started();
    const unit = await seedUnit(db.pool);
    const applicant = await seedApplicant(db.pool, gw.keys, unit.id);
    const dates = { admittedOn: '2025-07-01', dischargedOn: '2025-07-06' };
    const applied = await acceptedApplication(applicant, stay(dates, { totalFeesFen: 3_300_000, fundsTotalFen: 2_065_433 }));
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await feedSettlementOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [applied]);
    await matchAndAdjudicate(db.pool, [feed.id]);
    expect((await claimOf(db.pool, applied))!.status).toBe('INELIGIBLE');
    expect((await claimOf(db.pool, feed.id))!.status).toBe('INELIGIBLE');

    await payContribution(db.pool, unit.id);
    const ruleSets = new RuleSetCache();
    for (const settlementId of [applied, feed.id]) {
      const { rows: [claim] } = await db.pool.query(`SELECT id FROM claims WHERE settlement_id = $1`, [settlementId]);
      expect(await redecideIfFactsChanged(db.pool, claim.id, { ruleSets, ...NO_LIMIT })).toMatchObject({ before: 'INELIGIBLE', after: 'PENDING_REVIEW' });
    }
    expect((await claimOf(db.pool, applied))!.warnings).toEqual([expect.stringContaining(`settlement ${feed.id} (`)]);
    expect((await claimOf(db.pool, feed.id))!.warnings).toEqual([expect.stringContaining(`settlement ${applied} (`)]);
  });

  it('a claim held for another settlement of its stay is refused in a bulk approval, naming it, and approved only on its own', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-08-11', dischargedOn: '2025-08-15' };
    const applied = await acceptedApplication(applicant, stay(dates, { totalFeesFen: 3_300_000, fundsTotalFen: 2_065_433 }));
    await matchAndAdjudicate(db.pool, [applied]);
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await feedSettlementOf(db.pool, applicant);
    // Another claim waiting for review, of another stay: the bulk approval still approves it.
    await feedStay(db.pool, gw.keys, applicant, stay({ admittedOn: '2025-09-01', dischargedOn: '2025-09-04' }));
    const other = await feedSettlementOf(db.pool, applicant);
    await matchAndContinue(db.pool, [feed.id, other.id], []);
    await adjudicateSettlements(db.pool, [feed.id, other.id], { autoApproveMaxFen: 0 });
    const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM claims WHERE settlement_id = ANY($1) ORDER BY settlement_id`, [[feed.id, other.id]]);
    const ids = rows.map((r) => toGlobalId('Claim', r.id));

    const bulk = await gw.query(reviewer, `mutation($input: ApproveClaimsInput!) {
      approveClaims(input: $input) { results { claimId claim { status } userErrors { field code message } } } }`, { input: { claimIds: ids } });
    expect(bulk.data.approveClaims.results).toEqual([
      { claimId: ids[0], claim: null, userErrors: [{ field: 'input.claimIds[0]', code: 'CONFLICT', message: expect.stringContaining(`not among others: settlement ${applied} (`) }] },
      { claimId: ids[1], claim: { status: 'APPROVED' }, userErrors: [] },
    ]);
    const alone = await gw.query(reviewer, `mutation($id: ID!, $note: String) { approveClaim(input: { claimId: $id, note: $note }) { claim { status } userErrors { message } } }`,
      { id: ids[0], note: '已与医院核实：为两次住院' });
    expect(alone.data.approveClaim).toEqual({ claim: { status: 'APPROVED' }, userErrors: [] });
  });
});
