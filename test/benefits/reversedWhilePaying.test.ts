import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { markPayoutLinesPaid, unpayPayoutLines } from '../../src/benefits/store.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { approvedClaims, payoutsOf, settings } from '../payouts/support.ts';
import { freshDatabase, lockWaits, untilBlockedBy, type TestDatabase } from '../support/db.ts';
import { waitFor } from '../support/waitFor.ts';
import { seedReversal } from './seed.ts';

/**
 * A settlement reversed while its payout is on the way (rule 5): the bank's answer about the
 * payout and the reversal run in two transactions at once. Whichever commits first, a line the
 * bank paid for a reversed claim is a recovery from the member, and a payment that came back
 * leaves no recovery and no line to pay again.
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(() => db.drop());

interface PaidClaim { claimId: number; payoutId: number; reversal: number }

/** An approved claim with a planned payout, and the reversal of its settlement (not yet adjudicated). */
async function claimWithPayout(): Promise<PaidClaim> {
  const [claim] = await approvedClaims(db.pool, 1);
  await planPayouts(db.pool, settings);
  const payout = (await payoutsOf(db.pool)).find((p) => p.claimId === claim!.claimId)!;
  const { rows: [s] } = await db.pool.query<{ id: number; memberId: number; enrolmentId: number; unitId: number }>(
    `SELECT s.id, s.member_id AS "memberId", s.enrolment_id AS "enrolmentId", s.unit_id AS "unitId" FROM settlements s JOIN claims c ON c.settlement_id = s.id WHERE c.id = $1`,
    [claim!.claimId],
  );
  const reversal = await seedReversal(db.pool, { memberId: s!.memberId, enrolmentId: s!.enrolmentId, unitId: s!.unitId, creditCode: '' }, s!.id);
  return { claimId: claim!.claimId, payoutId: payout.id, reversal };
}

/**
 * Runs the reversal and `bankAnswer` at once, the reversal first: held in its last write (its
 * record of the reversal, whose key a test transaction has taken), with the claim and its lines
 * locked and cancelled, until `bankAnswer` waits for it; then both finish.
 */
async function reversedDuring(c: PaidClaim, bankAnswer: () => Promise<void>): Promise<void> {
  const held = await db.pool.connect();
  try {
    await held.query('BEGIN');
    // Without its foreign-key checks, which would lock the claim: only the record's key is taken.
    await held.query(`SET LOCAL session_replication_role = replica`);
    await held.query(`INSERT INTO claim_reversals (reversal_settlement_id, claim_id, outcome) VALUES ($1, $2, 'CANCELLED')`, [c.reversal, c.claimId]);
    const reversing = adjudicateSettlements(db.pool, [c.reversal], { autoApproveMaxFen: Number.MAX_SAFE_INTEGER });
    await untilBlockedBy(db.pool, held, reversing);
    const answering = bankAnswer();
    answering.catch(() => undefined);
    await waitFor('the bank\'s answer to wait for the reversal', async () => (await lockWaits(db.pool)) >= 2);
    await held.query('ROLLBACK');
    await reversing;
    await answering;
  } finally {
    await held.query('ROLLBACK').catch(() => undefined);
    held.release();
  }
}

async function linesAndRecoveries(claimId: number) {
  const { rows: [claim] } = await db.pool.query<{ status: string }>(`SELECT status FROM claims WHERE id = $1`, [claimId]);
  const { rows: lines } = await db.pool.query<{ status: string; payable: number }>(
    `SELECT l.status, coalesce(l.adjusted_fen, l.amount_fen)::int AS payable FROM benefit_lines l JOIN payout_lines pl ON pl.benefit_line_id = l.id WHERE l.claim_id = $1 ORDER BY l.id`,
    [claimId],
  );
  const { rows: recoveries } = await db.pool.query<{ status: string; amountFen: number }>(
    `SELECT status, amount_fen::int AS "amountFen" FROM recoveries WHERE claim_id = $1 ORDER BY benefit_line_id`,
    [claimId],
  );
  return { claim: claim!.status, lines, recoveries };
}

describe('a claim reversed while the bank answers about its payout', () => {
  it('paid meanwhile: the paid lines are recoveries from the member', async () => {
    const c = await claimWithPayout();
    await reversedDuring(c, () => inTransaction(db.pool, (tx) => markPayoutLinesPaid(tx, [c.payoutId])));
    const after = await linesAndRecoveries(c.claimId);
    expect(after.claim).toBe('CANCELLED');
    expect(after.lines.length).toBeGreaterThan(0);
    expect(after.lines.every((l) => l.status === 'PAID')).toBe(true);
    expect(after.recoveries).toEqual(after.lines.map((l) => ({ status: 'OPEN', amountFen: l.payable })));
  });

  it('returned meanwhile: nothing is owed, and no line is left to pay again', async () => {
    const c = await claimWithPayout();
    await inTransaction(db.pool, (tx) => markPayoutLinesPaid(tx, [c.payoutId]));
    await reversedDuring(c, () => inTransaction(db.pool, (tx) => unpayPayoutLines(tx, c.payoutId)));
    const after = await linesAndRecoveries(c.claimId);
    expect(after.claim).toBe('CANCELLED');
    expect(after.lines.length).toBeGreaterThan(0);
    expect(after.lines.every((l) => l.status === 'CANCELLED')).toBe(true);
    expect(after.recoveries.every((r) => r.status === 'RECOVERED')).toBe(true);
    expect(after.recoveries).toHaveLength(after.lines.length);
  });
});
