import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/pool.ts';
import { recordPayoutReturns } from '../../src/payouts/bankEvents.ts';
import { readStatusFeed } from '../../src/payouts/submission.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { openAccount } from '../banks/simulator/support.ts';
import { startBank, testFilePki } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, submissionContext } from '../payouts/support.ts';

/**
 * The payout notifications are recorded in the transaction that moves the payout: PAID and FAILED
 * when the bank's status report is applied, RETURNED when a return (退票) is recorded — once per
 * payout and attempt, however often the same answer arrives.
 */
const pki = testFilePki();
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.drop();
});

interface Told {
  memberId: number;
  kind: string;
  subjectId: number;
  eventKey: string;
  facts: Record<string, unknown>;
}

async function notifications(): Promise<Told[]> {
  const { rows } = await db.pool.query<Told>(
    `SELECT member_id AS "memberId", kind, subject_id AS "subjectId", event_key AS "eventKey", facts FROM notifications WHERE subject_type = 'Payout' ORDER BY id`,
  );
  return rows;
}

describe('payout notifications', () => {
  it('paid, rejected by the bank, and returned: one notification each, never twice', async () => {
    const claims = await approvedClaims(db.pool, 2, { 1: `${openAccount().slice(0, -4)}0004` });
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('PARTIALLY_ACCEPTED');
      // The bank's feed repeats the reports already applied: nothing new to tell.
      await readStatusFeed(ctx);
      await advanceUntilFinal(ctx, batch.id);
    } finally {
      ctx.remove();
    }
    const { rows: payouts } = await db.pool.query<{ id: number; claimId: number; e2e: string }>(
      `SELECT p.id, p.claim_id AS "claimId", a.end_to_end_id AS e2e FROM payouts p JOIN payout_attempts a ON a.payout_id = p.id ORDER BY p.id`,
    );
    const payoutOf = (claimId: number) => payouts.find((p) => p.claimId === claimId)!;
    const [paid, closed] = [payoutOf(claims[0]!.claimId), payoutOf(claims[1]!.claimId)];

    const told = await notifications();
    expect(told).toHaveLength(2);
    expect(told).toContainEqual({ memberId: claims[0]!.memberId, kind: 'PAYOUT_PAID', subjectId: paid.id, eventKey: 'attempt-1', facts: { amountFen: claims[0]!.totalFen, attemptNo: 1 } });
    expect(told).toContainEqual({
      memberId: claims[1]!.memberId, kind: 'PAYOUT_FAILED', subjectId: closed.id, eventKey: 'attempt-1',
      facts: { amountFen: claims[1]!.totalFen, attemptNo: 1, reasonCode: 'AC04' },
    });

    // The money comes back (退票): told once, though reconciliation may see the return twice.
    for (let i = 0; i < 2; i += 1) {
      await inTransaction(db.pool, (tx) => recordPayoutReturns(tx, [{ endToEndId: paid.e2e, reasonCode: 'AC06', reason: 'account blocked' }]));
    }
    const returned = (await notifications()).filter((n) => n.kind === 'PAYOUT_RETURNED');
    expect(returned).toEqual([{ memberId: claims[0]!.memberId, kind: 'PAYOUT_RETURNED', subjectId: paid.id, eventKey: 'attempt-1', facts: { amountFen: claims[0]!.totalFen, attemptNo: 1, reasonCode: 'AC06' } }]);
  });
});
