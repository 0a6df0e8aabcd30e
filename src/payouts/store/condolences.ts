import type { Queryable } from '../../kernel/transaction.ts';
import type { PayoutStatus } from '../model.ts';
import { NO_BANK_ACCOUNT, waitingState } from './payouts.ts';

/**
 * Payouts of approved condolence payments (慰问金, src/condolences): one per APPROVED condolence
 * that has none yet (UNIQUE(condolence_id)), of its funder, for the amount approved, HELD or READY
 * as the worker's card says (as a claim's payout). It pays no benefit line: no payout lines. An
 * approved condolence never changes again, so nothing cancels these payouts.
 */
export async function createPayoutsOfApprovedCondolences(db: Queryable, coolingOffDays: number): Promise<{ created: number; held: number }> {
  const waiting = waitingState('$2', '$1');
  const { rows } = await db.query<{ status: PayoutStatus; n: number }>(
    `WITH inserted AS (
       INSERT INTO payouts (condolence_id, funder_id, member_id, unit_id, amount_fen, status, status_reason)
       SELECT k.id, k.funder_id, k.member_id, k.unit_id, k.approved_fen, ${waiting.status}, ${waiting.reason}
         FROM condolences k JOIN members m ON m.id = k.member_id
        WHERE k.status = 'APPROVED' AND NOT EXISTS (SELECT 1 FROM payouts p WHERE p.condolence_id = k.id)
       ON CONFLICT (condolence_id) DO NOTHING
       RETURNING status)
     SELECT status, count(*)::int AS n FROM inserted GROUP BY status`,
    [NO_BANK_ACCOUNT, coolingOffDays],
  );
  return { created: rows.reduce((sum, r) => sum + r.n, 0), held: rows.find((r) => r.status === 'HELD')?.n ?? 0 };
}
