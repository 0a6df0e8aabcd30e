import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type GraphQLResult, type TestGateway } from '../support/gateway.ts';
import { seedEnrolledMember, seedSettlement } from './seed.ts';
import { keys, setBankCard, settings } from '../payouts/support.ts';
import { withLuhnCheck } from '../../src/kernel/identifiers.ts';

/**
 * Issue 17, turnaround: each claim carries the time from receipt to decision and to payment against
 * the promise (5 and 10 working days by default), and staff see the open claims that broke it.
 * Expected dates are read off the 2025 calendar: 6 June 2025 is a Friday.
 */

let db: TestDatabase;
let gw: TestGateway;
const china = (local: string) => `${local}+08:00`;
const iso = (local: string) => new Date(china(local)).toISOString();

const TURNAROUND = 'receivedAt decidedAt paidAt toDecisionWorkingDays toPaymentWorkingDays decisionDueBy paymentDueBy decisionBreached paymentBreached';
const CLAIM = `query($id: ID!) { claim(id: $id) { status stage { zh en } turnaround { ${TURNAROUND} } } }`;
const BREACHES = `query($kinds: [TurnaroundBreachKind!], $first: Int, $after: String) {
  claimTurnaroundBreaches(kinds: $kinds, first: $first, after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`;

/** A claim of a new member, received and decided when given (China time); PENDING_REVIEW unless `approve`. */
async function claim(receivedAt: string, opts: { approve?: boolean; decidedAt?: string } = {}): Promise<number> {
  const member = await seedEnrolledMember(db.pool);
  await setBankCard(db.pool, member.memberId, withLuhnCheck(`622202140800${String(member.memberId).padStart(6, '0')}`));
  const settlementId = await seedSettlement(db.pool, member, { psn: '2,000.00' });
  await adjudicateSettlements(db.pool, [settlementId], { autoApproveMaxFen: opts.approve ? Number.MAX_SAFE_INTEGER : 0 });
  await db.pool.query(`UPDATE settlements SET received_at = $2 WHERE id = $1`, [settlementId, china(receivedAt)]);
  const { rows: [row] } = await db.pool.query<{ id: number; status: string }>(`SELECT id, status FROM claims WHERE settlement_id = $1`, [settlementId]);
  expect(row!.status).toBe(opts.approve ? 'APPROVED' : 'PENDING_REVIEW');
  if (opts.decidedAt) await db.pool.query(`UPDATE claims SET decided_at = $2 WHERE id = $1`, [row!.id, china(opts.decidedAt)]);
  return row!.id;
}

/** Pays a claim's payout at `paidAt` (China time), as the bank's status report would. */
async function pay(claimId: number, paidAt: string): Promise<void> {
  await planPayouts(db.pool, settings);
  await db.pool.query(`UPDATE payouts SET status = 'IN_BATCH' WHERE claim_id = $1`, [claimId]);
  await db.pool.query(`UPDATE payouts SET status = 'PAID', paid_at = $2 WHERE claim_id = $1`, [claimId, china(paidAt)]);
}

const turnaroundOf = async (claimId: number, who = gw) => (await who.query({ role: 'ADMIN' }, CLAIM, { id: toGlobalId('Claim', claimId) })).data.claim;

let late: number; // decided late, paid on time
let open: number; // undecided for months
let unpaid: number; // decided on time, never paid
let rejectedLate: number; // rejected after its due date: late, but closed
let fresh: number; // received today

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64') });
  late = await claim('2025-06-06T10:00:00', { approve: true, decidedAt: '2025-06-16T09:00:00' });
  await pay(late, '2025-06-20T15:00:00');
  open = await claim('2025-06-06T10:00:00');
  unpaid = await claim('2025-06-06T10:00:00', { approve: true, decidedAt: '2025-06-09T11:00:00' });
  rejectedLate = await claim('2025-06-06T10:00:00');
  await db.pool.query(
    `UPDATE claims SET status = 'REJECTED', decided_by = 'rev-1', decided_at = $2, decision_reason = 'not covered' WHERE id = $1`,
    [rejectedLate, china('2025-06-20T10:00:00')],
  );
  fresh = await claim(new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 19));
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('Claim.turnaround', () => {
  it('counts working days from receipt to decision and to payment, and which promise broke', async () => {
    expect(await turnaroundOf(late)).toEqual({
      status: 'APPROVED',
      stage: { zh: '已付款', en: 'Paid' },
      turnaround: {
        receivedAt: iso('2025-06-06T10:00:00'), decidedAt: iso('2025-06-16T09:00:00'), paidAt: iso('2025-06-20T15:00:00'),
        // 9–13 June and the 16th; 9–13 and 16–20 June.
        toDecisionWorkingDays: 6, toPaymentWorkingDays: 10,
        decisionDueBy: '2025-06-13', paymentDueBy: '2025-06-20', decisionBreached: true, paymentBreached: false,
      },
    });
  });

  it('an open claim past both due dates breaks both; a rejected one owes no payment', async () => {
    expect((await turnaroundOf(open))).toEqual({
      status: 'PENDING_REVIEW', stage: { zh: '审核中', en: 'Under review' },
      turnaround: {
        receivedAt: iso('2025-06-06T10:00:00'), decidedAt: null, paidAt: null, toDecisionWorkingDays: null, toPaymentWorkingDays: null,
        decisionDueBy: '2025-06-13', paymentDueBy: '2025-06-20', decisionBreached: true, paymentBreached: true,
      },
    });
    expect((await turnaroundOf(rejectedLate)).turnaround).toMatchObject({
      toDecisionWorkingDays: 10, decisionBreached: true, paymentDueBy: null, paymentBreached: false,
    });
    expect((await turnaroundOf(unpaid))).toMatchObject({
      stage: { en: 'Approved, waiting for payment' },
      turnaround: { toDecisionWorkingDays: 1, decisionBreached: false, paidAt: null, paymentBreached: true },
    });
  });

  it('a claim the rules refused is decided when they refused it: no promise broken, however long ago', async () => {
    const member = await seedEnrolledMember(db.pool, { paid: false });
    const settlementId = await seedSettlement(db.pool, member, { psn: '2,000.00' });
    await adjudicateSettlements(db.pool, [settlementId], { autoApproveMaxFen: 0 });
    // Received and refused 60 days ago: its decision's due date is long past.
    await db.pool.query(`UPDATE settlements SET received_at = received_at - interval '60 days' WHERE id = $1`, [settlementId]);
    const { rows: [refused] } = await db.pool.query<{ id: number }>(
      `UPDATE claims SET decided_at = decided_at - interval '60 days' WHERE settlement_id = $1 RETURNING id`, [settlementId]);
    const { status, turnaround } = await turnaroundOf(refused!.id);
    expect(status).toBe('INELIGIBLE');
    expect(turnaround.decidedAt).not.toBeNull();
    expect(turnaround.decisionDueBy < new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10)).toBe(true);
    expect(turnaround).toMatchObject({ decisionBreached: false, paymentDueBy: null, paymentBreached: false, paidAt: null });
  });

  it('a claim received today has broken nothing', async () => {
    const { turnaround } = await turnaroundOf(fresh);
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    expect(turnaround.decisionDueBy > today).toBe(true);
    expect(turnaround.paymentDueBy > turnaround.decisionDueBy).toBe(true);
    expect(turnaround).toMatchObject({ decisionBreached: false, paymentBreached: false });
  });

  it('follows the configured promise and holidays', async () => {
    // 9–13 June off: five working days from 6 June end on 20 June; a 1-day decision promise on the 16th.
    const other = await startTestGateway(db, {
      DECISION_PROMISE_WORKING_DAYS: '1', PAYMENT_PROMISE_WORKING_DAYS: '5',
      PROMISE_HOLIDAYS: '2025-06-09,2025-06-10,2025-06-11,2025-06-12,2025-06-13',
    });
    try {
      expect((await turnaroundOf(late, other)).turnaround).toMatchObject({
        decisionDueBy: '2025-06-16', decisionBreached: false, toDecisionWorkingDays: 1,
        paymentDueBy: '2025-06-20', paymentBreached: false, toPaymentWorkingDays: 5,
      });
    } finally {
      await other.close();
    }
  });
});

describe('claimTurnaroundBreaches', () => {
  const ids = (result: GraphQLResult) => result.data.claimTurnaroundBreaches.edges.map((e: { node: { id: string } }) => e.node.id);

  it('lists the open claims past a promise, oldest first, by kind', async () => {
    const all = await gw.query({ role: 'REVIEWER' }, BREACHES, {});
    expect(all.errors).toBeUndefined();
    // Closed claims (paid, rejected) and the fresh one are not listed, however late they were.
    expect(ids(all)).toEqual([open, unpaid].map((id) => toGlobalId('Claim', id)));
    expect(all.data.claimTurnaroundBreaches.totalCount).toBe(2);
    expect(ids(await gw.query({ role: 'AUDITOR' }, BREACHES, { kinds: ['DECISION'] }))).toEqual([toGlobalId('Claim', open)]);
    expect(ids(await gw.query({ role: 'FINANCE' }, BREACHES, { kinds: ['PAYMENT'] }))).toEqual([open, unpaid].map((id) => toGlobalId('Claim', id)));
  });

  it('pages with cursors', async () => {
    const first = await gw.query({ role: 'ADMIN' }, BREACHES, { first: 1 });
    expect(ids(first)).toEqual([toGlobalId('Claim', open)]);
    expect(first.data.claimTurnaroundBreaches.pageInfo.hasNextPage).toBe(true);
    const second = await gw.query({ role: 'ADMIN' }, BREACHES, { first: 1, after: first.data.claimTurnaroundBreaches.pageInfo.endCursor });
    expect(ids(second)).toEqual([toGlobalId('Claim', unpaid)]);
    expect(second.data.claimTurnaroundBreaches.pageInfo.hasNextPage).toBe(false);
  });

  it('leaves a claim off once it is decided and paid', async () => {
    await db.pool.query(`UPDATE claims SET status = 'APPROVED', decided_by = 'rev-2', decided_at = now() WHERE id = $1`, [open]);
    await pay(unpaid, '2025-07-01T10:00:00');
    const after = await gw.query({ role: 'ADMIN' }, BREACHES, {});
    // `open` is decided now but still unpaid, so only its payment is late.
    expect(ids(after)).toEqual([toGlobalId('Claim', open)]);
    expect(ids(await gw.query({ role: 'ADMIN' }, BREACHES, { kinds: ['DECISION'] }))).toEqual([]);
  });
});
