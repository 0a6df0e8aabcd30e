import { unpayPayoutLines } from '../benefits/store.ts';
import type { Tx } from '../kernel/transaction.ts';
import { recordPayoutNotifications } from '../notifications/store.ts';
import type { PayoutReturn, ReturnOutcome, SettledPayout } from './model.ts';
import { settleBatches } from './store/batches.ts';
import { returnPaidAttempt, settlePaidPayouts } from './store/payouts.ts';

/**
 * What the bank's statements tell the payouts (called by reconciliation inside its transaction):
 * a debit matched on the statement settles a paid payout; a return (退票) after a credit reopens it
 * as failed, so a person can retry it.
 */

/**
 * Paid attempts whose debit is on the statement: their payouts become SETTLED, and batches whose every
 * paid payout is settled too. Only attempts whose debit is matched: the search for debits that have
 * not come (`undebitedPayouts`) looks among the payouts still PAID alone.
 */
export async function settlePayoutAttempts(tx: Tx, attemptIds: readonly number[]): Promise<SettledPayout[]> {
  if (attemptIds.length === 0) return [];
  const settled = await settlePaidPayouts(tx, attemptIds);
  const batchIds = [...new Set(settled.map((r) => r.batchId))];
  if (batchIds.length > 0) await settleBatches(tx, batchIds);
  return settled;
}

/**
 * Money the bank sent back: the attempt becomes RETURNED, its payout FAILED (retryable), and the
 * benefit lines it paid are unpaid again. Idempotent: a return already recorded finds nothing.
 */
export async function recordPayoutReturns(tx: Tx, returns: readonly PayoutReturn[]): Promise<ReturnOutcome[]> {
  const outcomes: ReturnOutcome[] = [];
  for (const r of returns) {
    const returned = await returnPaidAttempt(tx, r);
    if (returned) {
      await unpayPayoutLines(tx, returned.payoutId);
      await recordPayoutNotifications(tx, 'PAYOUT_RETURNED', [returned.payoutId]);
    }
    outcomes.push({ endToEndId: r.endToEndId, payoutId: returned?.payoutId ?? null, wasSettled: returned?.wasSettled ?? false });
  }
  return outcomes;
}
