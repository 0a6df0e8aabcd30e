import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { adjustClaimLine, rejectClaim } from '../../src/benefits/review.ts';
import { decideAppeal, fileAppeal } from '../../src/appeals/service.ts';
import { redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { fen } from '../benefits/support.ts';
import { approveAsRead, claimOf, payContribution, seedEnrolledMember, seedSettlement, totalsOf } from '../benefits/seed.ts';
import { keys } from '../payouts/support.ts';
import { upholdTotal } from '../appeals/support.ts';

/**
 * AUDIT: an upheld appeal pays a member's CRITICAL threshold twice. A claim decided again (an appeal
 * upheld) keeps its old id but is figured last, against the year with every later claim counted, so
 * it takes the year's top slice. When a reviewer later lowers an earlier line, the waiting claims
 * after it are figured again "after the claims decided before them" — read by claim id
 * (store.heldBefore / waitingClaimsAfter), which counts the upheld claim as decided before them:
 * the waiting claim is given the top slice too.
 *
 * default-2025, CRITICAL: 50 % of the running out-of-pocket R above 50,000.00.
 * A 60,000.00 (self-funded), B 10,000.00 (INPATIENT 6,000.00, out-of-pocket 4,000.00), C 60,000.00.
 * The year's R is 124,000.00: CRITICAL for the year is 50 % × 74,000.00 = 37,000.00, whatever the order.
 *
 * The same happens with no appeal at all: a claim refused because the unit had not paid yet is
 * decided again by the sweeper once the unit pays (CONTRIBUTION_PAID), also last, under its old id.
 */
const R1 = { subject: 'reviewer-1', role: 'REVIEWER' };
const R2 = { subject: 'reviewer-2', role: 'REVIEWER' };
const R3 = { subject: 'reviewer-3', role: 'REVIEWER' };
const FILER = { subject: 'admin-filer', role: 'ADMIN' };
const cache = new RuleSetCache();
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

describe('AUDIT: an appeal upheld, then an earlier line lowered by 0.01', () => {
  it('pays the member-year CRITICAL 37,000.00 as the rules say, not 60,000.00', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const a = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-03-01 10:00:00' });
    const b = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-04-01 10:00:00' });
    const c = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-05-01 10:00:00' });
    for (const id of [a, b, c]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0, ruleSets: cache });
    const claimA = (await claimOf(db.pool, a))!.id;
    const claimB = (await claimOf(db.pool, b))!.id;
    const claimC = (await claimOf(db.pool, c))!.id;

    // Reviewer 1 rejects A; the member's appeal is upheld by reviewer 2: A is decided again, last, against B and C.
    await rejectClaim(db.pool, R1, UNSCOPED, claimA, 'the discharge summary is missing');
    const appeal = await fileAppeal(db.pool, keys, FILER, UNSCOPED, { days: 60, holidays: [] }, { claimId: claimA, reason: 'the summary is attached now', attachments: [] });
    await decideAppeal(db.pool, cache, R2, UNSCOPED, appeal.id, 'UPHOLD', 'the summary shows the stay', await upholdTotal(db.pool, claimA, cache));
    const afterAppeal = { a: (await claimOf(db.pool, a))!.amounts.CRITICAL, c: (await claimOf(db.pool, c))!.amounts.CRITICAL };
    // Control: so far the year pays 37,000.00 (A the top slice 30,000.00, C 7,000.00).
    expect(afterAppeal).toEqual({ a: fen('30,000.00'), c: fen('7,000.00') });

    // Reviewer 3 takes one fen off B's INPATIENT line: C, waiting after B, is figured again.
    const { rows: [line] } = await db.pool.query<{ id: number }>(
      `SELECT id FROM benefit_lines WHERE claim_id = $1 AND programme = 'INPATIENT'`, [claimB]);
    await adjustClaimLine(db.pool, R3, UNSCOPED, line!.id, fen('5,999.99'), 'one fen of the invoice is not covered');
    // Reviewer 1 approves B and C (neither adjusted by them).
    await approveAsRead(db.pool, R1, claimB);
    await approveAsRead(db.pool, R1, claimC);

    const paid = await approvedCritical(m.memberId);
    expect({ critical: paid, c: (await claimOf(db.pool, c))!.amounts.CRITICAL, totals: (await totalsOf(db.pool, m.memberId)).CRITICAL })
      .toEqual({ critical: fen('37,000.00'), c: fen('7,000.00'), totals: fen('37,000.00') });
  });
});

/** What the member's APPROVED claims pay under CRITICAL. */
async function approvedCritical(memberId: number): Promise<number> {
  return (await db.pool.query<{ fen: number }>(
      `SELECT coalesce(sum(coalesce(l.adjusted_fen, l.amount_fen)), 0)::int AS fen FROM benefit_lines l JOIN claims c ON c.id = l.claim_id
        WHERE c.member_id = $1 AND c.status = 'APPROVED' AND l.programme = 'CRITICAL'`, [memberId])).rows[0]!.fen;
}

describe('AUDIT: a claim decided again once the unit paid late, then an earlier line lowered by 0.01', () => {
  it('pays the member-year CRITICAL 37,000.00 as the rules say, not 60,000.00', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', paid: false });
    const a = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-03-01 10:00:00' });
    await adjudicateSettlements(db.pool, [a], { autoApproveMaxFen: 0, ruleSets: cache });
    const claimA = (await claimOf(db.pool, a))!;
    expect(claimA.reasonCodes).toEqual(['CONTRIBUTION_UNPAID']);

    // The unit pays; the next stays are decided; the sweeper then decides A again (last, against B and C).
    await payContribution(db.pool, m.unitId, 2025);
    const b = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-04-01 10:00:00' });
    const c = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-05-01 10:00:00' });
    for (const id of [b, c]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0, ruleSets: cache });
    expect(await redecideIfFactsChanged(db.pool, claimA.id, { ruleSets: cache, autoApproveMaxFen: 0 })).toMatchObject({ after: 'PENDING_REVIEW' });
    // Control: so far the year pays 37,000.00 (A the top slice 30,000.00, C 7,000.00).
    expect({ a: (await claimOf(db.pool, a))!.amounts.CRITICAL, c: (await claimOf(db.pool, c))!.amounts.CRITICAL }).toEqual({ a: fen('30,000.00'), c: fen('7,000.00') });

    const claimB = (await claimOf(db.pool, b))!.id;
    const { rows: [line] } = await db.pool.query<{ id: number }>(
      `SELECT id FROM benefit_lines WHERE claim_id = $1 AND programme = 'INPATIENT'`, [claimB]);
    await adjustClaimLine(db.pool, R3, UNSCOPED, line!.id, fen('5,999.99'), 'one fen of the invoice is not covered');
    for (const id of [claimA.id, claimB, (await claimOf(db.pool, c))!.id]) await approveAsRead(db.pool, R1, id);

    expect({ critical: await approvedCritical(m.memberId), c: (await claimOf(db.pool, c))!.amounts.CRITICAL, totals: (await totalsOf(db.pool, m.memberId)).CRITICAL })
      .toEqual({ critical: fen('37,000.00'), c: fen('7,000.00'), totals: fen('37,000.00') });
  });
});
