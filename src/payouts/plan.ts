import type { Queryable } from '../db/pool.ts';

/**
 * Payouts from approved claims, derived from the rows alone (so re-running is harmless):
 * a payout for every APPROVED claim with approved lines that has none yet (UNIQUE(claim_id));
 * HELD payouts whose member now has a bank account become READY; payouts not yet on their way
 * whose claim is no longer approved (reversed, rejected on review) are CANCELLED.
 */

export interface PlanCounts {
  created: number;
  held: number;
  released: number;
  cancelled: number;
}

const PLAN_PAGE = 10_000;

export const NO_BANK_ACCOUNT = 'the member has no bank account on record: add one (roster import) and the payout is released';

export async function planPayouts(db: Queryable): Promise<PlanCounts> {
  const counts: PlanCounts = { created: 0, held: 0, released: 0, cancelled: 0 };
  for (;;) {
    const { rows } = await db.query<{ status: string; n: number }>(
      `WITH candidates AS (
         SELECT c.id AS claim_id, c.member_id, c.unit_id
           FROM claims c
          WHERE c.status = 'APPROVED' AND NOT EXISTS (SELECT 1 FROM payouts p WHERE p.claim_id = c.id)
            AND EXISTS (SELECT 1 FROM benefit_lines l WHERE l.claim_id = c.id AND l.status = 'APPROVED' AND coalesce(l.adjusted_fen, l.amount_fen) > 0)
          ORDER BY c.id LIMIT ${PLAN_PAGE}),
       inserted AS (
         INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, status_reason)
         SELECT k.claim_id, k.member_id, k.unit_id,
                (SELECT sum(coalesce(l.adjusted_fen, l.amount_fen)) FROM benefit_lines l WHERE l.claim_id = k.claim_id AND l.status = 'APPROVED'),
                CASE WHEN m.bank_card_enc IS NULL THEN 'HELD' ELSE 'READY' END,
                CASE WHEN m.bank_card_enc IS NULL THEN $1 END
           FROM candidates k JOIN members m ON m.id = k.member_id
         ON CONFLICT (claim_id) DO NOTHING
         RETURNING id, claim_id, status),
       lines AS (
         INSERT INTO payout_lines (benefit_line_id, payout_id, amount_fen)
         SELECT l.id, i.id, coalesce(l.adjusted_fen, l.amount_fen)
           FROM inserted i JOIN benefit_lines l ON l.claim_id = i.claim_id AND l.status = 'APPROVED' AND coalesce(l.adjusted_fen, l.amount_fen) > 0)
       SELECT status, count(*)::int AS n FROM inserted GROUP BY status`,
      [NO_BANK_ACCOUNT],
    );
    const created = rows.reduce((sum, r) => sum + r.n, 0);
    counts.created += created;
    counts.held += rows.find((r) => r.status === 'HELD')?.n ?? 0;
    if (created < PLAN_PAGE) break;
  }
  const released = await db.query(
    `UPDATE payouts p SET status = 'READY', status_reason = NULL, updated_at = now()
       FROM members m WHERE p.status = 'HELD' AND m.id = p.member_id AND m.bank_card_enc IS NOT NULL`,
  );
  counts.released = released.rowCount ?? 0;
  const cancelled = await db.query(
    `UPDATE payouts p SET status = 'CANCELLED', updated_at = now(),
            status_reason = 'its claim is ' || lower(c.status) || ' (' || coalesce(c.decision_reason, c.decided_by, 'no reason given') || ')'
       FROM claims c WHERE p.status IN ('HELD', 'READY', 'FAILED') AND c.id = p.claim_id AND c.status <> 'APPROVED'`,
  );
  counts.cancelled = cancelled.rowCount ?? 0;
  return counts;
}
