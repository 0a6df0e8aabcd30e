import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { rejectClaim } from '../../src/benefits/review.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { approveAsRead, claimOf, seedEnrolledMember, seedReversal, seedSettlement, totalsOf } from '../benefits/seed.ts';

/**
 * The attack (an audit's finding): a waiting claim approved on figures a voided stay made. Stay A is
 * decided first; a later stay B, waiting for a reviewer, is figured with A's out-of-pocket counted
 * and so climbs over the critical-illness threshold. The platform then reverses A (冲销) for good.
 * A reviewer's rejection of A figures B again without it (EARLIER_CLAIM_RELEASED), but the
 * reversal left B as it was: the reviewer approved, and the bank paid, a CRITICAL line that only
 * the void stay earned.
 *
 * default-2025, CRITICAL: 50 % of the running out-of-pocket above 50,000.00. A 60,000.00 (10,000.00
 * in the list: INPATIENT 60 %), B 40,000.00 self-funded. What B pays without A is read from a
 * member who has only B.
 */
const R1 = { subject: 'reviewer-1', role: 'REVIEWER' };
const R2 = { subject: 'reviewer-2', role: 'REVIEWER' };
const cache = new RuleSetCache();
// Every paying claim waits for a reviewer.
const options = { autoApproveMaxFen: 0, ruleSets: cache };
const STAY_A = { psn: '60,000.00', ownpay: '50,000.00', setlTime: '2025-03-01 10:00:00' };
const STAY_B = { psn: '40,000.00', ownpay: '40,000.00', setlTime: '2025-04-01 10:00:00' };
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

/** B's claim as a member who never had stay A gets it. */
async function bAlone() {
  const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  const b = await seedSettlement(db.pool, m, STAY_B);
  await adjudicateSettlements(db.pool, [b], options);
  return { claim: (await claimOf(db.pool, b))!, totals: await totalsOf(db.pool, m.memberId) };
}

/** A member with A then B decided, both waiting for a reviewer; B crossed the threshold with A counted. */
async function twoWaitingStays() {
  const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  const a = await seedSettlement(db.pool, m, STAY_A);
  const b = await seedSettlement(db.pool, m, STAY_B);
  for (const id of [a, b]) await adjudicateSettlements(db.pool, [id], options);
  const alone = await bAlone();
  const claimB = (await claimOf(db.pool, b))!;
  // Control: B waits, paying more under CRITICAL than it does without A.
  expect(claimB.status).toBe('PENDING_REVIEW');
  expect(claimB.amounts.CRITICAL).toBeGreaterThan(alone.claim.amounts.CRITICAL ?? 0);
  return { m, a, b, alone };
}

describe('a stay the platform reverses (冲销) while a later claim of its year waits for review', () => {
  it('figures the waiting claim again without the reversed stay, so its reviewer approves what it is due', async () => {
    const { m, a, b, alone } = await twoWaitingStays();

    const reversal = await seedReversal(db.pool, m, a);
    await adjudicateSettlements(db.pool, [reversal], options);
    expect((await claimOf(db.pool, a))!.status).toBe('CANCELLED');

    const waiting = (await claimOf(db.pool, b))!;
    expect({ status: waiting.status, amounts: waiting.amounts, totalFen: waiting.totalFen })
      .toEqual({ status: 'PENDING_REVIEW', amounts: alone.claim.amounts, totalFen: alone.claim.totalFen });
    // The history says why it changed, as after a rejection.
    const { rows: history } = await db.pool.query<{ cause: string }>(
      `SELECT cause FROM claim_redecisions WHERE claim_id = $1 ORDER BY id`, [waiting.id]);
    expect(history.map((h) => h.cause)).toEqual(['EARLIER_CLAIM_RELEASED']);

    // The reviewer's approval pays B's own figures; the year holds only B.
    await approveAsRead(db.pool, R1, waiting.id);
    expect((await claimOf(db.pool, b))!.amounts).toEqual(alone.claim.amounts);
    expect(await totalsOf(db.pool, m.memberId)).toEqual(alone.totals);
  });

  it('leaves the waiting claim as a reviewer\'s rejection of the earlier stay leaves it', async () => {
    const reversed = await twoWaitingStays();
    await adjudicateSettlements(db.pool, [await seedReversal(db.pool, reversed.m, reversed.a)], options);

    const rejected = await twoWaitingStays();
    await rejectClaim(db.pool, R2, UNSCOPED, (await claimOf(db.pool, rejected.a))!.id, 'the stay is not covered');

    const figures = async (s: { m: { memberId: number }; b: number }) => {
      const c = (await claimOf(db.pool, s.b))!;
      return { status: c.status, amounts: c.amounts, totals: await totalsOf(db.pool, s.m.memberId) };
    };
    expect(await figures(reversed)).toEqual(await figures(rejected));
  });

  it('a stay in the reversal\'s batch is decided after the waiting claim was figured again, and the year adds up', async () => {
    const STAY_C = { psn: '50,000.00', ownpay: '50,000.00', setlTime: '2025-05-01 10:00:00' };
    const { m, a, b } = await twoWaitingStays();
    const c = await seedSettlement(db.pool, m, STAY_C);
    await adjudicateSettlements(db.pool, [await seedReversal(db.pool, m, a), c], options);

    // A member who never had stay A: B, then C.
    const control = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const controlB = await seedSettlement(db.pool, control, STAY_B);
    const controlC = await seedSettlement(db.pool, control, STAY_C);
    for (const id of [controlB, controlC]) await adjudicateSettlements(db.pool, [id], options);

    const year = async (memberId: number, ids: number[]) => ({
      claims: await Promise.all(ids.map(async (id) => (await claimOf(db.pool, id))!.amounts)),
      totals: await totalsOf(db.pool, memberId),
    });
    expect(await year(m.memberId, [b, c])).toEqual(await year(control.memberId, [controlB, controlC]));
  });
});
