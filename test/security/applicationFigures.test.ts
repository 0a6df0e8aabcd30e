import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecideClaim, redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { approveClaim, rejectClaim } from '../../src/benefits/review.ts';
import { approveClaim as approveStoredClaim, lockClaim, lockMemberApprovals, lockMemberYear } from '../../src/benefits/store.ts';
import { decideAppeal, fileAppeal } from '../../src/appeals/service.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { DomainError } from '../../src/kernel/errors.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { matchAndContinue } from '../../src/settlements/matchingStep.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { payContribution, seedEnrolment, seedUnit } from '../benefits/seed.ts';
import { commitOnceWaitedOn } from '../support/db.ts';
import { ACCEPT, feedStay, memberOf, seedApplicant, stay, submit, type Applicant } from '../applications/support.ts';
import { upholdTotal } from '../appeals/support.ts';

/**
 * One stay, two sets of figures. The same-stay rule compares totals and days exactly, so an
 * application whose member misread (or overstated) the sheet, accepted by a reviewer and paid, was
 * paid again when the platform reported the stay with its own figures; and a stay the platform had
 * reported and paid could be applied for again with another total. Now, while the other's claim may
 * still pay, whichever of the two is decided second waits for a reviewer, its warning naming the
 * other; it is never approved in bulk, approved beside an approved one only with a note, and an
 * appeal is not upheld past it.
 */
const started = lazyTestGateway();
const NO_LIMIT = { autoApproveMaxFen: Number.MAX_SAFE_INTEGER };
const reviewer = { role: 'REVIEWER' as const, sub: 'reviewer-qian' };
/** Other figures for the same stay: 1,000.00 more than the sheet's. */
const MISREAD = { totalFeesFen: 4_234_567, fundsTotalFen: 3_000_000 };

async function matchAndAdjudicate(db: pg.Pool, ids: number[], options = NO_LIMIT) {
  await matchAndContinue(db, ids, []);
  await adjudicateSettlements(db, ids, options);
}

async function claimOf(db: pg.Pool, settlementId: number) {
  const { rows } = await db.query<{ id: number; status: string; warnings: string[]; totalFen: number }>(
    `SELECT id, status, warnings, total_fen AS "totalFen" FROM claims WHERE settlement_id = $1`, [settlementId],
  );
  return rows[0]!;
}

/** The applicant's latest settlement from `source`. */
async function latestOf(db: pg.Pool, applicant: Applicant, source = 'feed'): Promise<number> {
  const { rows } = await db.query(
    `SELECT id FROM settlements WHERE source = $2 AND certno_hash = (SELECT id_number_hash FROM members WHERE id = $1) ORDER BY id DESC LIMIT 1`,
    [applicant.memberId, source],
  );
  return rows[0].id;
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

/** An application with the misread figures, accepted and approved; answers its settlement's id. */
async function paidApplication(applicant: Applicant, dates: { admittedOn: string; dischargedOn: string }): Promise<number> {
  const { db } = await started();
  const applied = await acceptedApplication(applicant, stay(dates, MISREAD));
  await matchAndAdjudicate(db.pool, [applied]);
  expect((await claimOf(db.pool, applied)).status).toBe('APPROVED');
  return applied;
}

/**
 * One stay over 1 January, two claims in two plan years (the member enrolled and its unit paid for
 * both): the member's application with the misread figures, discharged 31 December and waiting for a
 * reviewer, and the platform's record discharged 1 January, held beside it.
 */
async function twinsOverNewYear(admittedOn: string): Promise<{ applicant: Applicant; applied: number; feed: number }> {
  const { db, gw } = await started();
  const applicant = await seedApplicant(db.pool, gw.keys);
  await seedEnrolment(db.pool, applicant.memberId, applicant.unitId, { year: 2026 });
  await payContribution(db.pool, applicant.unitId, 2026);
  const applied = await acceptedApplication(applicant, stay({ admittedOn, dischargedOn: '2025-12-31' }, MISREAD));
  await matchAndAdjudicate(db.pool, [applied], { autoApproveMaxFen: 0 });
  await feedStay(db.pool, gw.keys, applicant, stay({ admittedOn, dischargedOn: '2026-01-01' }));
  const feed = await latestOf(db.pool, applicant);
  await matchAndAdjudicate(db.pool, [feed]);
  return { applicant, applied, feed };
}

describe('one stay reported with other figures by the platform and by an application', () => {
  it('the platform\'s copy of a paid application\'s stay, with the sheet\'s true total, waits for a reviewer naming the application', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-03-02', dischargedOn: '2025-03-12' };
    const applied = await paidApplication(applicant, dates);

    const fed = await feedStay(db.pool, gw.keys, applicant, stay(dates));
    expect(fed.toMatch).toHaveLength(1);
    const feed = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [feed]);
    expect(await claimOf(db.pool, feed)).toMatchObject({
      status: 'PENDING_REVIEW',
      warnings: [expect.stringMatching(new RegExp(
        `^settlement ${applied} \\(APP-\\d+ from applications, total 42,345.67, its claim APPROVED\\) may be the same stay \\(hospital H44010600001, discharged 2025-03-12\\)`,
      ))],
    });
  });

  it('an application for a stay the platform reported and paid, with another total, waits for a reviewer naming the platform\'s settlement', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-04-14', dischargedOn: '2025-04-20' };
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [feed]);
    expect((await claimOf(db.pool, feed)).status).toBe('APPROVED');

    const applied = await acceptedApplication(applicant, stay(dates, MISREAD));
    await matchAndAdjudicate(db.pool, [applied]);
    const claim = await claimOf(db.pool, applied);
    expect(claim.status).toBe('PENDING_REVIEW');
    expect(claim.warnings).toEqual([expect.stringContaining(`settlement ${feed} (`)]);
    expect(claim.warnings[0]).toContain('from feed, total 32,345.67, its claim APPROVED) may be the same stay (hospital H44010600001, discharged 2025-04-20)');
  });

  it('both decided in one batch: each waits for a reviewer', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-05-05', dischargedOn: '2025-05-09' };
    const applied = await acceptedApplication(applicant, stay(dates, MISREAD));
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [applied, feed]);
    expect(await claimOf(db.pool, applied)).toMatchObject({ status: 'PENDING_REVIEW', warnings: [expect.stringContaining('its claim not decided yet')] });
    expect((await claimOf(db.pool, feed)).status).toBe('PENDING_REVIEW');
  });

  it('a misread admission day, with the sheet\'s total or another, or a discharge day the platform gives only as a settlement after midnight, is held too', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    // The member wrote 03-03 for 03-02: with the same total the feed's copy is no DUPLICATE either.
    for (const amounts of [{}, MISREAD]) {
      const dischargedOn = amounts === MISREAD ? '2025-03-22' : '2025-03-12';
      const applied = await acceptedApplication(applicant, stay({ admittedOn: '2025-03-03', dischargedOn }, amounts));
      await matchAndAdjudicate(db.pool, [applied]);
      await feedStay(db.pool, gw.keys, applicant, stay({ admittedOn: '2025-03-02', dischargedOn }), { begndate: '2025-03-02', enddate: dischargedOn });
      const feed = await latestOf(db.pool, applicant);
      await matchAndAdjudicate(db.pool, [feed]);
      expect(await claimOf(db.pool, feed), JSON.stringify(amounts)).toMatchObject({ status: 'PENDING_REVIEW', warnings: [expect.stringContaining(`settlement ${applied} (`)] });
    }
    // No enddate, settled 40 minutes after the discharge day the application gives.
    const applied = await paidApplication(applicant, { admittedOn: '2025-04-02', dischargedOn: '2025-04-12' });
    await feedStay(db.pool, gw.keys, applicant, stay({ dischargedOn: '2025-04-12' }), { setl_time: '2025-04-13 00:40:00' });
    const feed = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [feed]);
    expect(await claimOf(db.pool, feed)).toMatchObject({ status: 'PENDING_REVIEW', warnings: [expect.stringContaining(`settlement ${applied} (`)] });
  });

  it('a platform record naming no hospital, whose copy from another source names it, is held', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-05-12', dischargedOn: '2025-05-20' };
    const applied = await paidApplication(applicant, dates);
    const setlId = 'F4455667788';
    await feedStay(db.pool, gw.keys, applicant, stay(dates), { setl_id: setlId, fixmedins_code: null });
    const original = await latestOf(db.pool, applicant);
    await feedStay(db.pool, gw.keys, applicant, stay(dates), { setl_id: setlId }, 'hospital-file');
    const copy = await latestOf(db.pool, applicant, 'hospital-file');
    await matchAndContinue(db.pool, [original, copy], []);
    const { rows } = await db.pool.query(`SELECT status, duplicate_of_id AS "duplicateOf" FROM settlements WHERE id = $1`, [copy]);
    expect(rows).toEqual([{ status: 'DUPLICATE', duplicateOf: original }]);
    await adjudicateSettlements(db.pool, [original], NO_LIMIT);
    expect(await claimOf(db.pool, original)).toMatchObject({ status: 'PENDING_REVIEW', warnings: [expect.stringContaining(`settlement ${applied} (`)] });
  });

  it('a platform record naming no hospital, nor any copy of it, is held beside an application of that day', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const first = { admittedOn: '2025-08-03', dischargedOn: '2025-08-11' };
    const applied = await paidApplication(applicant, first);
    await feedStay(db.pool, gw.keys, applicant, stay(first), { fixmedins_code: null });
    const feed = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [feed]);
    const held = await claimOf(db.pool, feed);
    expect(held.status).toBe('PENDING_REVIEW');
    expect(held.warnings).toEqual([expect.stringContaining(`settlement ${applied} (`)]);
    expect(held.warnings[0]).toContain('may be the same stay (hospital H44010600001, which one of the two does not name, discharged 2025-08-11)');
  });

  it('an application beside a paid platform record naming no hospital is held', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const second = { admittedOn: '2025-09-07', dischargedOn: '2025-09-15' };
    await feedStay(db.pool, gw.keys, applicant, stay(second), { fixmedins_code: null });
    const paid = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [paid]);
    expect(await claimOf(db.pool, paid)).toMatchObject({ status: 'APPROVED', warnings: [] });
    const late = await acceptedApplication(applicant, stay(second, MISREAD));
    await matchAndAdjudicate(db.pool, [late]);
    expect(await claimOf(db.pool, late)).toMatchObject({ status: 'PENDING_REVIEW', warnings: [expect.stringContaining(`settlement ${paid} (`)] });
  });

  it('a visit whose record names no hospital and whose copy names another, or a visit on another day, holds nothing back', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    // Outpatient visits: two inpatient stays a day apart are held whichever hospitals they name (applicationHospital.test.ts).
    const dates = { admittedOn: '2025-10-14', dischargedOn: '2025-10-14', medicalType: '11' };
    const applied = await paidApplication(applicant, dates);
    // Its copy from another source says it was another hospital.
    await feedStay(db.pool, gw.keys, applicant, stay(dates), { setl_id: 'F5566778899', fixmedins_code: null });
    const elsewhere = await latestOf(db.pool, applicant);
    await feedStay(db.pool, gw.keys, applicant, stay(dates), { setl_id: 'F5566778899', fixmedins_code: 'H44010600002' }, 'hospital-file');
    const copy = await latestOf(db.pool, applicant, 'hospital-file');
    await matchAndContinue(db.pool, [elsewhere, copy], []);
    await adjudicateSettlements(db.pool, [elsewhere], NO_LIMIT);
    expect(await claimOf(db.pool, elsewhere)).toMatchObject({ status: 'APPROVED', warnings: [] });
    // Another visit, two days later.
    const later = { admittedOn: '2025-10-16', dischargedOn: '2025-10-16', medicalType: '11' };
    await feedStay(db.pool, gw.keys, applicant, stay(later), { fixmedins_code: null });
    const other = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [other]);
    expect(await claimOf(db.pool, other)).toMatchObject({ status: 'APPROVED', warnings: [] });
    expect(await claimOf(db.pool, applied)).toMatchObject({ status: 'APPROVED', warnings: [] });
  });

  it('another stay, a visit at another hospital, or one whose other settlement\'s claim was rejected is paid without a warning', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const applied = await paidApplication(applicant, { admittedOn: '2025-06-01', dischargedOn: '2025-06-08' });
    const others = [
      stay({ admittedOn: '2025-06-09', dischargedOn: '2025-06-10' }),
      // An outpatient visit elsewhere on the discharge day (an inpatient stay elsewhere then is held: applicationHospital.test.ts).
      stay({ admittedOn: '2025-06-08', dischargedOn: '2025-06-08', hospitalCode: 'H44010600002', medicalType: '11' }),
    ];
    for (const other of others) {
      await feedStay(db.pool, gw.keys, applicant, other, { begndate: other.admittedOn, enddate: other.dischargedOn });
      const feed = await latestOf(db.pool, applicant);
      await matchAndAdjudicate(db.pool, [feed]);
      expect(await claimOf(db.pool, feed), JSON.stringify(other)).toMatchObject({ status: 'APPROVED', warnings: [] });
    }
    expect(await claimOf(db.pool, applied)).toMatchObject({ status: 'APPROVED', warnings: [] });

    // A reviewer rejected the platform's record of a stay as the duplicate of an application waiting
    // for review: that application is no longer held back by it (it pays nothing).
    const dates = { admittedOn: '2025-07-01', dischargedOn: '2025-07-05' };
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [feed], { autoApproveMaxFen: 0 });
    await rejectClaim(db.pool, { subject: 'reviewer-a', role: 'REVIEWER' }, UNSCOPED, (await claimOf(db.pool, feed)).id, '与会员申请为同一次住院');
    const second = await acceptedApplication(applicant, stay(dates, MISREAD));
    await matchAndAdjudicate(db.pool, [second]);
    expect(await claimOf(db.pool, second)).toMatchObject({ status: 'APPROVED', warnings: [] });
  });

  it('both refused while the unit had not paid, then decided again when it pays: the second decided waits for a reviewer', async () => {
    const { db, gw } = await started();
    const unit = await seedUnit(db.pool);
    const applicant = await seedApplicant(db.pool, gw.keys, unit.id);
    const dates = { admittedOn: '2025-07-01', dischargedOn: '2025-07-06' };
    const applied = await acceptedApplication(applicant, stay(dates, MISREAD));
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [applied]);
    await matchAndAdjudicate(db.pool, [feed]);
    expect((await claimOf(db.pool, applied)).status).toBe('INELIGIBLE');
    expect((await claimOf(db.pool, feed)).status).toBe('INELIGIBLE');

    await payContribution(db.pool, unit.id);
    const ruleSets = new RuleSetCache();
    expect(await redecideIfFactsChanged(db.pool, (await claimOf(db.pool, applied)).id, { ruleSets, ...NO_LIMIT })).toMatchObject({ after: 'APPROVED' });
    expect(await redecideIfFactsChanged(db.pool, (await claimOf(db.pool, feed)).id, { ruleSets, ...NO_LIMIT })).toMatchObject({ before: 'INELIGIBLE', after: 'PENDING_REVIEW' });
    expect((await claimOf(db.pool, feed)).warnings).toEqual([expect.stringContaining(`settlement ${applied} (`)]);
  });

  it('a held claim is refused in a bulk approval, and approved beside an approved one only on its own, with a note', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-08-11', dischargedOn: '2025-08-15' };
    const applied = await paidApplication(applicant, dates);
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await latestOf(db.pool, applicant);
    // Another claim waiting for review, of another stay: the bulk approval still approves it.
    await feedStay(db.pool, gw.keys, applicant, stay({ admittedOn: '2025-09-01', dischargedOn: '2025-09-04' }));
    const other = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [feed, other], { autoApproveMaxFen: 0 });
    const read = [await claimOf(db.pool, feed), await claimOf(db.pool, other)];
    const ids = read.map((c) => toGlobalId('Claim', c.id));
    const checkedTotalsFen = read.map((c) => c.totalFen);

    const bulk = await gw.query(reviewer, `mutation($input: ApproveClaimsInput!) {
      approveClaims(input: $input) { results { claimId claim { status } userErrors { field code message } } } }`, { input: { claimIds: ids, checkedTotalsFen } });
    expect(bulk.data.approveClaims.results).toEqual([
      { claimId: ids[0], claim: null, userErrors: [{ field: 'input.claimIds[0]', code: 'CONFLICT', message: expect.stringContaining(`not among others: settlement ${applied} (`) }] },
      { claimId: ids[1], claim: { status: 'APPROVED' }, userErrors: [] },
    ]);
    const APPROVE = `mutation($id: ID!, $total: Fen!, $note: String) { approveClaim(input: { claimId: $id, checkedTotalFen: $total, note: $note }) { claim { status } userErrors { field code message } } }`;
    const bare = await gw.query(reviewer, APPROVE, { id: ids[0], total: checkedTotalsFen[0] });
    expect(bare.data.approveClaim).toEqual({
      claim: null, userErrors: [{ field: 'input.note', code: 'INVALID', message: expect.stringContaining('say in the note how that was checked') }],
    });
    const noted = await gw.query(reviewer, APPROVE, { id: ids[0], total: checkedTotalsFen[0], note: '已与医院核实：为两次住院' });
    expect(noted.data.approveClaim).toEqual({ claim: { status: 'APPROVED' }, userErrors: [] });
  });

  it('two reviewers approving at once the two claims of a stay over 1 January (two plan years): the second waits for the first, then needs a note', async () => {
    const { db } = await started();
    const { applicant, applied, feed } = await twinsOverNewYear('2025-12-22');
    const { rows: claims } = await db.pool.query<{ id: number; planYear: number; status: string; totalFen: number }>(
      `SELECT id, plan_year AS "planYear", status, total_fen AS "totalFen" FROM claims WHERE settlement_id = ANY($1::bigint[]) ORDER BY settlement_id`, [[applied, feed]],
    );
    expect(claims.map((c) => [c.planYear, c.status])).toEqual([[2025, 'PENDING_REVIEW'], [2026, 'PENDING_REVIEW']]);
    const [first, second] = claims as [typeof claims[0], typeof claims[0]];

    // One reviewer's approval of the application's claim, caught before its commit (as approveClaim takes its locks) ...
    const { work } = await commitOnceWaitedOn(db.pool, async (held) => {
      const tx = held as unknown as Tx;
      await lockMemberYear(tx, applicant.memberId, first.planYear);
      await lockClaim(tx, first.id);
      await lockMemberApprovals(tx, applicant.memberId);
      await approveStoredClaim(tx, first.id, 'reviewer-zhao', null);
    }, () => approveClaim(db.pool, { subject: 'reviewer-sun', role: 'REVIEWER' }, UNSCOPED, second.id, second.totalFen, null));
    // ... while another approves the platform's: it waited, saw the first approved, and asks for a note.
    await expect(work).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.note' });
    const { rows: after } = await db.pool.query<{ status: string }>(`SELECT status FROM claims WHERE id = ANY($1::bigint[]) ORDER BY id`, [[first.id, second.id]]);
    expect(after.map((c) => c.status)).toEqual(['APPROVED', 'PENDING_REVIEW']);
  });

  it('the two refused claims of a stay over 1 January decided again at once (two appeals upheld): the second waits for the first, then is refused', async () => {
    const { db } = await started();
    const { applied, feed } = await twinsOverNewYear('2025-12-23');
    const [first, second] = await Promise.all([claimOf(db.pool, applied), claimOf(db.pool, feed)]);
    for (const claim of [first, second]) await rejectClaim(db.pool, { subject: 'reviewer-a', role: 'REVIEWER' }, UNSCOPED, claim.id, '缺材料');

    const upheld = (subject: string) => ({ actor: { subject, role: 'REVIEWER' as const }, cause: 'APPEAL' as const, approve: true, ruleSets: new RuleSetCache() });
    const { work } = await commitOnceWaitedOn(db.pool, async (held) => {
      await redecideClaim(held as unknown as Tx, first.id, upheld('reviewer-zhao'));
    }, () => inTransaction(db.pool, (tx) => redecideClaim(tx, second.id, upheld('reviewer-sun'))));
    await expect(work).rejects.toMatchObject({ code: 'CONFLICT', field: 'input.decision' });
    expect([(await claimOf(db.pool, applied)).status, (await claimOf(db.pool, feed)).status]).toEqual(['APPROVED', 'REJECTED']);
  });

  it('an appeal is not upheld while another claim of the stay may pay', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-10-02', dischargedOn: '2025-10-12' };
    // The platform's record first, rejected by a reviewer (papers missing) and appealed.
    await feedStay(db.pool, gw.keys, applicant, stay(dates));
    const feed = await latestOf(db.pool, applicant);
    await matchAndAdjudicate(db.pool, [feed], { autoApproveMaxFen: 0 });
    const feedClaim = await claimOf(db.pool, feed);
    await rejectClaim(db.pool, { subject: 'reviewer-a', role: 'REVIEWER' }, UNSCOPED, feedClaim.id, '缺出院小结');
    const appeal = await fileAppeal(db.pool, gw.keys, { subject: 'admin-zhang', role: 'ADMIN' }, UNSCOPED, { days: 45, holidays: [] },
      { claimId: feedClaim.id, reason: '已补交出院小结，请求复核', attachments: [] });
    // Meanwhile the member applied with its own figures: with the platform's claim rejected, nothing holds it back.
    const applied = await acceptedApplication(applicant, stay(dates, MISREAD));
    await matchAndAdjudicate(db.pool, [applied]);
    expect((await claimOf(db.pool, applied)).status).toBe('APPROVED');

    // Held by the member's own claim of the stay: no figure shows (null), and what the reviewer names does not matter.
    expect(await upholdTotal(db.pool, feedClaim.id)).toBeNull();
    const uphold = () => decideAppeal(db.pool, new RuleSetCache(), { subject: 'reviewer-b', role: 'REVIEWER' }, UNSCOPED, appeal.id, 'UPHOLD', '材料齐全，予以支持', 0);
    const refused = await uphold().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: 'CONFLICT', field: 'input.decision', message: expect.stringContaining(`settlement ${applied} (`) });
    expect((await claimOf(db.pool, feed)).status).toBe('REJECTED');
  });
});
