import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { loadRuleSet, RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { replayYear } from '../../src/benefits/replay.ts';
import { adjustClaimLine, rejectClaim } from '../../src/benefits/review.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { fen } from '../benefits/support.ts';
import { approveAsRead, claimOf, payContribution, seedEnrolledMember, seedSettlement, totalsOf } from '../benefits/seed.ts';

/**
 * Claims still waiting for a reviewer are figured again when an earlier claim of their member-year
 * releases what it held (refigureWaitingAfter). Each was figured against the year as it stands now,
 * less itself: later claims' out-of-pocket counted toward its threshold, so each waiting claim was
 * paid the year's top slice of CRITICAL again (two stays of 60,000.00 paid 60,000.00, not 35,000.00;
 * one fen taken off an earlier line paid 23,000.00 more). The thresholds now count the claims decided
 * before it; the annual caps still count every other claim.
 */
const A = { subject: 'reviewer-a', role: 'REVIEWER' as const };
const B = { subject: 'reviewer-b', role: 'REVIEWER' as const };
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

describe('the order a member-year\'s claims were figured in (claims.figured_seq)', () => {
  it('a waiting claim figured again keeps its place: a claim approved after it is not counted before it later', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    // X, Y: psn 10,000.00 → INPATIENT 6,000.00, R 4,000.00 each. W, C: psn 60,000.00 fully self-funded → R +60,000.00 each.
    const x = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-02-01 10:00:00' });
    const y = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-03-01 10:00:00' });
    const w = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-04-01 10:00:00' });
    const c = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-05-01 10:00:00' });
    for (const id of [x, y, w, c]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0 });
    // R 4,000 → 8,000 → 68,000 → 128,000: W CRITICAL 9,000.00, C 30,000.00; C is approved.
    await approveAsRead(db.pool, A, (await claimOf(db.pool, c))!.id);

    // Y rejected: W is figured again after X alone, R 4,000 → 64,000: 7,000.00, in its place (before C).
    await rejectClaim(db.pool, A, UNSCOPED, (await claimOf(db.pool, y))!.id, 'not a stay of the member');
    expect((await claimOf(db.pool, w))!.amounts.CRITICAL).toBe(fen('7,000.00'));
    // One fen off X: W is figured again after X, not after C too (that paid it the slice C holds, 30,000.00).
    const { rows: [line] } = await db.pool.query<{ id: number }>(
      `SELECT l.id FROM benefit_lines l JOIN claims c ON c.id = l.claim_id WHERE c.settlement_id = $1 AND l.programme = 'INPATIENT'`, [x]);
    await adjustClaimLine(db.pool, B, UNSCOPED, line!.id, fen('5,999.99'), 'one fen of the invoice is not covered');

    const wNow = (await claimOf(db.pool, w))!.amounts.CRITICAL!;
    const cNow = (await claimOf(db.pool, c))!.amounts.CRITICAL!;
    // R 124,000.00 for the year: CRITICAL 50 % × 74,000.00 = 37,000.00.
    expect({ w: wNow, c: cNow, paid: wNow + cNow }).toEqual({ w: fen('7,000.00'), c: fen('30,000.00'), paid: fen('37,000.00') });
    expect((await totalsOf(db.pool, m.memberId)).CRITICAL).toBe(fen('37,000.00'));
  });

  it('replay figures a claim decided again where it was figured, after the claims it was decided again after', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', paid: false });
    // A is refused (the unit had not paid); once it pays, B and C are decided, then A again: last, against both.
    const a = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-03-01 10:00:00' });
    await adjudicateSettlements(db.pool, [a], { autoApproveMaxFen: 0 });
    await payContribution(db.pool, m.unitId, 2025);
    const b = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-04-01 10:00:00' });
    const c = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-05-01 10:00:00' });
    for (const id of [b, c]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0 });
    expect(await redecideIfFactsChanged(db.pool, (await claimOf(db.pool, a))!.id, { autoApproveMaxFen: 0, ruleSets: new RuleSetCache() }))
      .toMatchObject({ after: 'PENDING_REVIEW' });
    // R 4,000 → 64,000 → 124,000: C 7,000.00, A 30,000.00.
    expect({ a: (await claimOf(db.pool, a))!.amounts.CRITICAL, c: (await claimOf(db.pool, c))!.amounts.CRITICAL })
      .toEqual({ a: fen('30,000.00'), c: fen('7,000.00') });

    // Under the rule set that decided them, nothing changes (in claim id order, A took 5,000.00 and C 30,000.00).
    const report = await replayYear(db.pool, loadRuleSet('default-2025'), 2025);
    expect(report.differences.filter((d) => d.memberId === m.memberId)).toEqual([]);
  });
});
