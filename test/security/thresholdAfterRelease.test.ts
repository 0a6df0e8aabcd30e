import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { rejectClaim } from '../../src/benefits/review.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { fen } from '../benefits/support.ts';
import { approveAsRead, claimOf, seedEnrolledMember, seedReversal, seedSettlement, totalsOf } from '../benefits/seed.ts';

/**
 * The attack (an audit's finding): the critical-illness threshold paid again once an earlier stay leaves the year. A later
 * stay is decided with the earlier one's out-of-pocket counted toward the threshold; the earlier one
 * then leaves the year (the platform reverses it, 冲销, or a reviewer rejects it) and takes its
 * out-of-pocket with it, but the later claim, decided, keeps what it was paid above the threshold.
 * The next stay of the year (the reversed one settled again, 重新结算, or any other) then climbs
 * over the threshold a second time and is paid that slice again.
 *
 * default-2025, CRITICAL: 50 % of the running out-of-pocket R above 50,000.00.
 * A 50,000.00 self-funded (R at the threshold), B 40,000.00 self-funded (CRITICAL 20,000.00).
 * With A (or its re-settlement) and B the year's R is 90,000.00: CRITICAL for the year is
 * 50 % × 40,000.00 = 20,000.00, which B holds already; the re-settlement was paid 20,000.00 more.
 */
const R1 = { subject: 'reviewer-1', role: 'REVIEWER' };
const R2 = { subject: 'reviewer-2', role: 'REVIEWER' };
const cache = new RuleSetCache();
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

/** What the member's claims still standing (not rejected or cancelled) pay under CRITICAL. */
async function standingCritical(memberId: number): Promise<number> {
  return (await db.pool.query<{ fen: number }>(
    `SELECT coalesce(sum(coalesce(l.adjusted_fen, l.amount_fen)), 0)::int AS fen FROM benefit_lines l JOIN claims c ON c.id = l.claim_id
      WHERE c.member_id = $1 AND c.status IN ('APPROVED', 'PENDING_REVIEW') AND l.programme = 'CRITICAL'`, [memberId])).rows[0]!.fen;
}

describe('an earlier stay leaves the year after a later one was paid above the threshold', () => {
  it('a stay the platform reverses (冲销) and settles again (重新结算) is not paid the threshold slice B holds', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const options = { autoApproveMaxFen: fen('100,000.00'), ruleSets: cache };
    const a = await seedSettlement(db.pool, m, { psn: '50,000.00', ownpay: '50,000.00', setlTime: '2025-03-01 10:00:00' });
    const b = await seedSettlement(db.pool, m, { psn: '40,000.00', ownpay: '40,000.00', setlTime: '2025-04-01 10:00:00' });
    for (const id of [a, b]) await adjudicateSettlements(db.pool, [id], options);
    // Control: B crossed the threshold with A counted, and was approved by the rules.
    expect(await claimOf(db.pool, b)).toMatchObject({ status: 'APPROVED', amounts: { CRITICAL: fen('20,000.00') } });

    // The platform reverses A and settles the stay again with the same figures, in one feed page.
    const reversal = await seedReversal(db.pool, m, a);
    const again = await seedSettlement(db.pool, m, { psn: '50,000.00', ownpay: '50,000.00', setlTime: '2025-05-01 10:00:00' });
    await adjudicateSettlements(db.pool, [reversal, again], options);
    expect((await claimOf(db.pool, a))!.status).toBe('CANCELLED');

    expect({ again: (await claimOf(db.pool, again))!.amounts.CRITICAL, year: await standingCritical(m.memberId), totals: (await totalsOf(db.pool, m.memberId)).CRITICAL })
      .toEqual({ again: 0, year: fen('20,000.00'), totals: fen('20,000.00') });
  });

  it('a stay after a reviewer rejects an earlier waiting claim is not paid the threshold slice an approved claim holds', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const options = { autoApproveMaxFen: 0, ruleSets: cache };
    // A: INPATIENT 60 % × 10,000.00 = 6,000.00, out-of-pocket 54,000.00 (CRITICAL 2,000.00); B then R 94,000.00.
    const a = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '50,000.00', setlTime: '2025-03-01 10:00:00' });
    const b = await seedSettlement(db.pool, m, { psn: '40,000.00', ownpay: '40,000.00', setlTime: '2025-04-01 10:00:00' });
    for (const id of [a, b]) await adjudicateSettlements(db.pool, [id], options);
    // B is approved on its figures (CRITICAL 20,000.00, A counted); A is rejected after.
    await approveAsRead(db.pool, R1, (await claimOf(db.pool, b))!.id);
    await rejectClaim(db.pool, R2, UNSCOPED, (await claimOf(db.pool, a))!.id, 'the stay is not covered');
    expect(await claimOf(db.pool, b)).toMatchObject({ status: 'APPROVED', amounts: { CRITICAL: fen('20,000.00') } });

    // The next stay of the year: R goes from 40,000.00 (B) to 90,000.00, whose CRITICAL B holds already.
    const c = await seedSettlement(db.pool, m, { psn: '50,000.00', ownpay: '50,000.00', setlTime: '2025-05-01 10:00:00' });
    await adjudicateSettlements(db.pool, [c], options);

    expect({ c: (await claimOf(db.pool, c))!.amounts.CRITICAL, year: await standingCritical(m.memberId), totals: (await totalsOf(db.pool, m.memberId)).CRITICAL })
      .toEqual({ c: 0, year: fen('20,000.00'), totals: fen('20,000.00') });
  });

  it('control: with nothing released, a later stay is paid its growth above the threshold as before', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const options = { autoApproveMaxFen: fen('100,000.00'), ruleSets: cache };
    const a = await seedSettlement(db.pool, m, { psn: '50,000.00', ownpay: '50,000.00', setlTime: '2025-03-01 10:00:00' });
    const b = await seedSettlement(db.pool, m, { psn: '40,000.00', ownpay: '40,000.00', setlTime: '2025-04-01 10:00:00' });
    const c = await seedSettlement(db.pool, m, { psn: '50,000.00', ownpay: '50,000.00', setlTime: '2025-05-01 10:00:00' });
    for (const id of [a, b, c]) await adjudicateSettlements(db.pool, [id], options);
    // R 140,000.00: 50 % × 90,000.00 = 45,000.00 for the year, C the growth from 90,000.00, 25,000.00.
    expect({ c: (await claimOf(db.pool, c))!.amounts.CRITICAL, year: await standingCritical(m.memberId) })
      .toEqual({ c: fen('25,000.00'), year: fen('45,000.00') });
  });
});
