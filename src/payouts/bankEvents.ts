import { unpayPayoutLines } from '../benefits/store.ts';
import type { Queryable } from '../db/pool.ts';

/**
 * What the bank's statements tell the payouts (called by reconciliation inside its transaction):
 * a debit matched on the statement settles a paid payout; a return (退票) after a credit reopens it
 * as failed, so a person can retry it.
 */

export interface SettledPayout {
  payoutId: number;
  batchId: number;
}

/** Paid attempts whose debit is on the statement: their payouts become SETTLED, and batches whose every paid payout is settled too. */
export async function settlePayoutAttempts(db: Queryable, attemptIds: readonly number[]): Promise<SettledPayout[]> {
  if (attemptIds.length === 0) return [];
  const { rows } = await db.query<{ payoutId: number; batchId: number }>(
    `UPDATE payouts p SET status = 'SETTLED', settled_at = now(), updated_at = now()
       FROM payout_attempts a
      WHERE a.id = ANY($1::bigint[]) AND a.payout_id = p.id AND a.status = 'PAID' AND p.status = 'PAID'
      RETURNING p.id AS "payoutId", a.batch_id AS "batchId"`,
    [attemptIds],
  );
  const batchIds = [...new Set(rows.map((r) => r.batchId))];
  if (batchIds.length > 0) {
    await db.query(
      `UPDATE payout_batches b SET status = 'SETTLED', final_at = now()
        WHERE b.id = ANY($1::bigint[]) AND b.status IN ('ACCEPTED', 'PARTIALLY_ACCEPTED')
          AND NOT EXISTS (SELECT 1 FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id
                           WHERE a.batch_id = b.id AND a.status = 'PAID' AND p.status <> 'SETTLED')`,
      [batchIds],
    );
  }
  return rows;
}

export interface PayoutReturn {
  endToEndId: string;
  /** The bank's return reason code (AC04 closed account, ...). */
  reasonCode: string;
  reason?: string;
  /** The bank's reference of the return entry. */
  bankReference?: string;
}

export interface ReturnOutcome {
  endToEndId: string;
  /** Null: no paid attempt has this EndToEndId (already returned, or not ours). */
  payoutId: number | null;
  /** The payout had already been settled against the statement: a return after settlement. */
  wasSettled: boolean;
}

/**
 * Money the bank sent back: the attempt becomes RETURNED, its payout FAILED (retryable), and the
 * benefit lines it paid are unpaid again. Idempotent: a return already recorded finds nothing.
 */
export async function recordPayoutReturns(db: Queryable, returns: readonly PayoutReturn[]): Promise<ReturnOutcome[]> {
  const outcomes: ReturnOutcome[] = [];
  for (const r of returns) {
    const { rows } = await db.query<{ payoutId: number; wasSettled: boolean }>(
      `WITH returned AS (
         UPDATE payout_attempts SET status = 'RETURNED', reason_code = $2, reason = $3, status_at = now(),
                bank_reference = COALESCE(bank_reference, $4)
          WHERE end_to_end_id = $1 AND status = 'PAID'
          RETURNING payout_id),
       before AS (SELECT p.id, p.status FROM payouts p JOIN returned r ON r.payout_id = p.id FOR UPDATE OF p)
       UPDATE payouts p SET status = 'FAILED', paid_at = NULL, settled_at = NULL, updated_at = now(),
              status_reason = 'returned by the bank (退票): ' || $2 || COALESCE(' ' || $3, '')
         FROM before WHERE p.id = before.id
       RETURNING p.id AS "payoutId", before.status = 'SETTLED' AS "wasSettled"`,
      [r.endToEndId, r.reasonCode, r.reason ?? null, r.bankReference ?? null],
    );
    const row = rows[0];
    if (row) await unpayPayoutLines(db, row.payoutId);
    outcomes.push({ endToEndId: r.endToEndId, payoutId: row?.payoutId ?? null, wasSettled: row?.wasSettled ?? false });
  }
  return outcomes;
}

