import type { Queryable } from '../db/pool.ts';
import { config } from '../config.ts';

/**
 * Payouts from approved claims, derived from the rows alone (so re-running is harmless):
 * a payout for every APPROVED claim with approved lines that has none yet (UNIQUE(claim_id));
 * payouts waiting for a batch (HELD, READY) follow their member's bank card (waitingState);
 * payouts not yet on their way whose claim is no longer approved (reversed, rejected on review)
 * are CANCELLED.
 */

export interface PlanCounts {
  created: number;
  held: number;
  released: number;
  withheld: number;
  cancelled: number;
}

const PLAN_PAGE = 10_000;

export const NO_BANK_ACCOUNT = 'the member has no bank account on record: add one (roster import) and the payout is released';

/**
 * A card that replaced another (BANK_CARD_COOLING_OFF_DAYS, migration 0007) is not paid until the
 * cooling-off has passed or a second person has confirmed it: an insider who swaps a member's card
 * must not receive the next payout. SQL over members `m`; `days` is the placeholder of the days.
 */
export const cardCoolingOff = (days: string) =>
  `(m.bank_card_changed_at IS NOT NULL AND m.bank_card_confirmed_at IS NULL AND m.bank_card_changed_at + make_interval(days => ${days}::int) > now())`;

const chinaMinute = (at: string) => `to_char((${at}) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')`;

/**
 * Where a payout of member `m` waits for a batch, and why (SQL): HELD without a bank account or
 * while a replaced card cools off, else READY. `days` and `noAccount` are placeholders of the
 * cooling-off days and NO_BANK_ACCOUNT.
 */
export function waitingState(days: string, noAccount: string): { status: string; reason: string } {
  return {
    status: `CASE WHEN m.bank_card_enc IS NULL OR ${cardCoolingOff(days)} THEN 'HELD' ELSE 'READY' END`,
    reason: `CASE WHEN m.bank_card_enc IS NULL THEN ${noAccount}
                  WHEN ${cardCoolingOff(days)} THEN 'bank card changed on ' || ${chinaMinute('m.bank_card_changed_at')} || ' (China time); waits until '
                    || ${chinaMinute(`m.bank_card_changed_at + make_interval(days => ${days}::int)`)} || ' or a second person''s confirmation of the new card' END`,
  };
}

/** The cooling-off of replaced bank cards, in days (configuration). */
export const coolingOffDays = (): number => config().BANK_CARD_COOLING_OFF_DAYS;

export async function planPayouts(db: Queryable): Promise<PlanCounts> {
  const counts: PlanCounts = { created: 0, held: 0, released: 0, withheld: 0, cancelled: 0 };
  const days = coolingOffDays();
  const waiting = waitingState('$2', '$1');
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
                ${waiting.status}, ${waiting.reason}
           FROM candidates k JOIN members m ON m.id = k.member_id
         ON CONFLICT (claim_id) DO NOTHING
         RETURNING id, claim_id, status),
       lines AS (
         INSERT INTO payout_lines (benefit_line_id, payout_id, amount_fen)
         SELECT l.id, i.id, coalesce(l.adjusted_fen, l.amount_fen)
           FROM inserted i JOIN benefit_lines l ON l.claim_id = i.claim_id AND l.status = 'APPROVED' AND coalesce(l.adjusted_fen, l.amount_fen) > 0)
       SELECT status, count(*)::int AS n FROM inserted GROUP BY status`,
      [NO_BANK_ACCOUNT, days],
    );
    const created = rows.reduce((sum, r) => sum + r.n, 0);
    counts.created += created;
    counts.held += rows.find((r) => r.status === 'HELD')?.n ?? 0;
    if (created < PLAN_PAGE) break;
  }
  const moved = await followBankCards(db, days);
  counts.released = moved.released;
  counts.withheld = moved.withheld;
  const cancelled = await db.query(
    `UPDATE payouts p SET status = 'CANCELLED', updated_at = now(),
            status_reason = 'its claim is ' || lower(c.status) || ' (' || coalesce(c.decision_reason, c.decided_by, 'no reason given') || ')'
       FROM claims c WHERE p.status IN ('HELD', 'READY', 'FAILED') AND c.id = p.claim_id AND c.status <> 'APPROVED'`,
  );
  counts.cancelled = cancelled.rowCount ?? 0;
  return counts;
}

/**
 * HELD and READY payouts (all, or the given ones) move to where their member's card says they
 * wait: released once a card is on record and not cooling off, held again (READY -> HELD) when it
 * was replaced or removed. Returns how many were released and how many held again.
 */
export async function followBankCards(db: Queryable, days: number, payoutIds?: readonly number[]): Promise<{ released: number; withheld: number }> {
  const scopes = payoutIds
    ? [`p.status IN ('HELD', 'READY') AND p.id = ANY($3::bigint[])`]
    // READY payouts are many: only those of members with an unconfirmed recent change, found from
    // the members (partial index members_bank_card_unconfirmed, migration 0010).
    : [`p.status = 'HELD'`, `p.status = 'READY' AND m.bank_card_confirmed_at IS NULL AND m.bank_card_changed_at > now() - make_interval(days => $2::int)`];
  const waiting = waitingState('$2', '$1');
  const moved = { released: 0, withheld: 0 };
  for (const scope of scopes) {
    // `o` is the row before the update: its status tells a release from a hold.
    const { rows } = await db.query<{ before: string; after: string }>(
      `UPDATE payouts p SET status = ${waiting.status}, status_reason = ${waiting.reason}, updated_at = now()
         FROM payouts o, members m
        WHERE o.id = p.id AND m.id = p.member_id AND ${scope}
          AND (p.status, p.status_reason) IS DISTINCT FROM (${waiting.status}, ${waiting.reason})
        RETURNING o.status AS before, p.status AS after`,
      payoutIds ? [NO_BANK_ACCOUNT, days, payoutIds] : [NO_BANK_ACCOUNT, days],
    );
    moved.released += rows.filter((r) => r.before === 'HELD' && r.after === 'READY').length;
    moved.withheld += rows.filter((r) => r.before === 'READY' && r.after === 'HELD').length;
  }
  return moved;
}
