import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { adjustClaimLine, rejectClaim } from '../../src/benefits/review.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember, seedSettlement, totalsOf } from '../benefits/seed.ts';

/**
 * Claims still waiting for a reviewer are figured again when an earlier claim of their member-year
 * releases what it held (refigureWaitingAfter). Each was figured against the year as it stands now,
 * less itself: later claims' out-of-pocket counted toward its threshold, so each waiting claim was
 * paid the year's top slice of CRITICAL again (two stays of 60,000.00 paid 60,000.00, not 35,000.00;
 * one fen taken off an earlier line paid 23,000.00 more). The thresholds now count the claims decided
 * before it; the annual caps still count every other claim.
 */
const A = { subject: 'reviewer-a', role: 'REVIEWER' as const };
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

describe('a claim rejected while two later claims of the member-year wait (CRITICAL, default-2025)', () => {
  it('the two waiting claims are figured again in decision order: together they pay 50 % of R above 50,000, not more', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    // Each stay: psn 60,000.00 all fully self-funded → INPATIENT 0, out-of-pocket 60,000.00.
    const stay = (setlTime: string) => ({ psn: '60,000.00', ownpay: '60,000.00', setlTime });
    const first = await seedSettlement(db.pool, m, stay('2025-03-01 10:00:00'));
    const second = await seedSettlement(db.pool, m, stay('2025-04-01 10:00:00'));
    const third = await seedSettlement(db.pool, m, stay('2025-05-01 10:00:00'));
    for (const id of [first, second, third]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0 });
    // R 0 → 60k → 120k → 180k: CRITICAL 5,000.00, 30,000.00, 30,000.00; all wait for a reviewer.
    expect((await claimOf(db.pool, first))!.amounts.CRITICAL).toBe(fen('5,000.00'));
    expect((await claimOf(db.pool, second))!.amounts.CRITICAL).toBe(fen('30,000.00'));
    expect((await claimOf(db.pool, third))!.amounts.CRITICAL).toBe(fen('30,000.00'));

    // The first stay is rejected (not the member's stay): the year is the second and the third only.
    await rejectClaim(db.pool, A, UNSCOPED, (await claimOf(db.pool, first))!.id, 'not a stay of the member');

    // R 0 → 60k → 120k: the second pays 50 % × 10,000 = 5,000.00, the third 50 % × 60,000 = 30,000.00; together 35,000.00.
    const secondNow = (await claimOf(db.pool, second))!;
    const thirdNow = (await claimOf(db.pool, third))!;
    const paid = secondNow.amounts.CRITICAL! + thirdNow.amounts.CRITICAL!;
    expect({ second: secondNow.amounts.CRITICAL, third: thirdNow.amounts.CRITICAL, paid })
      .toEqual({ second: fen('5,000.00'), third: fen('30,000.00'), paid: fen('35,000.00') });
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ CRITICAL: fen('35,000.00'), outOfPocket: fen('120,000.00'), claims: 2 });
  });

  it('a reviewer lowering an earlier claim\'s INPATIENT line by 0.01 leaves a waiting claim\'s CRITICAL line at 7,000.00 (it was raised to 30,000.00)', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    // X: psn 10,000.00 → INPATIENT 6,000.00, R 4,000.00. W2, W3: psn 60,000.00 fully self-funded → R +60,000.00 each.
    const x = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-03-01 10:00:00' });
    const w2 = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-04-01 10:00:00' });
    const w3 = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-05-01 10:00:00' });
    for (const id of [x, w2, w3]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0 });
    // R 4,000 → 64,000 → 124,000: W2 CRITICAL 50 % × 14,000 = 7,000.00; W3 50 % × 60,000 = 30,000.00.
    expect((await claimOf(db.pool, w2))!.amounts.CRITICAL).toBe(fen('7,000.00'));
    expect((await claimOf(db.pool, w3))!.amounts.CRITICAL).toBe(fen('30,000.00'));

    const { rows: [line] } = await db.pool.query<{ id: number }>(
      `SELECT l.id FROM benefit_lines l JOIN claims c ON c.id = l.claim_id WHERE c.settlement_id = $1 AND l.programme = 'INPATIENT'`, [x]);
    await adjustClaimLine(db.pool, A, UNSCOPED, line!.id, fen('5,999.99'), 'one fen of the invoice is not covered');

    // The running out-of-pocket total keeps the computed figures (review.ts): R is unchanged, so is every CRITICAL line.
    const w2Now = (await claimOf(db.pool, w2))!.amounts.CRITICAL!;
    const w3Now = (await claimOf(db.pool, w3))!.amounts.CRITICAL!;
    expect({ w2: w2Now, w3: w3Now, paid: w2Now + w3Now }).toEqual({ w2: fen('7,000.00'), w3: fen('30,000.00'), paid: fen('37,000.00') });
  });
});
