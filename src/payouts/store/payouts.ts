import type { Actor } from '../../audit/audit.ts';
import { Params } from '../../db/sql.ts';
import { groupBy, type Page } from '../../kernel/page.ts';
import type { Queryable, Tx } from '../../kernel/transaction.ts';
import type { AttemptRow, PayoutRow, PayoutReturn, PayoutStatus, PolicyLimits, RetryProposalRow, SettledPayout } from '../model.ts';
import type { CondolenceReason } from '../../condolences/model.ts';
import type { Scope } from '../../kernel/scope.ts';
import { memberRowScopeSql, memberScopeSql } from '../../db/scope.ts';
import { keysetSql, type Ordering } from '../../db/keyset.ts';

/**
 * SQL of payouts and their attempts: reads (scoped like claims), planning (a payout per approved
 * claim, where it waits for a batch), retries and what the bank's statements tell them.
 */

const PAYOUT_COLUMNS = `p.id, p.claim_id AS "claimId", p.funder_id AS "funderId", p.member_id AS "memberId", p.unit_id AS "unitId", p.amount_fen AS "amountFen",
  p.status, p.status_reason AS "statusReason", p.paid_at AS "paidAt", p.settled_at AS "settledAt", p.created_at AS "createdAt"`;

const ATTEMPT_COLUMNS = `a.id, a.payout_id AS "payoutId", a.attempt_no AS "attemptNo", a.batch_id AS "batchId", a.end_to_end_id AS "endToEndId",
  a.status, a.amount_fen AS "amountFen", a.creditor_name AS "creditorName", a.creditor_account_masked AS "creditorAccountMasked",
  a.creditor_agent AS "creditorAgent", a.remittance_info AS "remittanceInfo", a.bank_status AS "bankStatus", a.reason_code AS "reasonCode",
  a.reason, a.bank_reference AS "bankReference", a.status_at AS "statusAt", a.sent_at AS "sentAt", a.accepted_at AS "acceptedAt"`;

// ---- reads ----

export interface PayoutFilter {
  status?: PayoutStatus | null;
  memberId?: number | null;
  unitId?: number | null;
  batchId?: number | null;
}

function payoutFilterSql(p: Params, scope: Scope, f: PayoutFilter): string {
  const where = [memberRowScopeSql(p, scope, 'p')];
  if (f.status) where.push(`p.status = ${p.add(f.status)}`);
  if (f.memberId != null) where.push(`p.member_id = ${p.add(f.memberId)}`);
  if (f.unitId != null) where.push(`p.unit_id = ${p.add(f.unitId)}`);
  if (f.batchId != null) where.push(`EXISTS (SELECT 1 FROM payout_attempts a WHERE a.payout_id = p.id AND a.batch_id = ${p.add(f.batchId)})`);
  return where.join(' AND ');
}

/** Payouts newest first, or by one of these fields (the API's PayoutOrderField). */
export const PAYOUT_ORDER: Ordering<'STATUS' | 'CREATED_AT' | 'AMOUNT'> = {
  key: 'p.id',
  direction: 'DESC',
  fields: {
    STATUS: { sql: 'p.status', kind: 'text' },
    CREATED_AT: { sql: 'p.created_at', kind: 'timestamp' },
    AMOUNT: { sql: 'p.amount_fen', kind: 'integer' },
  },
};

export async function listPayouts(db: Queryable, scope: Scope, filter: PayoutFilter, page: Page): Promise<PayoutRow[]> {
  const p = new Params();
  const where = payoutFilterSql(p, scope, filter);
  const keyset = keysetSql(p, PAYOUT_ORDER, page);
  const { rows } = await db.query<PayoutRow>(
    `SELECT ${PAYOUT_COLUMNS}${keyset.pageKey} FROM payouts p WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countPayouts(db: Queryable, scope: Scope, filter: PayoutFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payouts p WHERE ${payoutFilterSql(p, scope, filter)}`, p.values);
  return rows[0]!.n;
}

export async function payoutsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<PayoutRow[]> {
  const p = new Params();
  const { rows } = await db.query<PayoutRow>(`SELECT ${PAYOUT_COLUMNS} FROM payouts p WHERE p.id = ANY(${p.add(ids)}) AND ${memberRowScopeSql(p, scope, 'p')}`, p.values);
  return rows;
}

/** Each claim's payouts (one per funder of its approved lines; none yet: empty), funder order, in the order asked. */
export async function payoutsOfClaims(db: Queryable, claimIds: readonly number[], scope: Scope): Promise<PayoutRow[][]> {
  const p = new Params();
  const { rows } = await db.query<PayoutRow>(
    `SELECT ${PAYOUT_COLUMNS} FROM payouts p WHERE p.claim_id = ANY(${p.add(claimIds)}) AND ${memberRowScopeSql(p, scope, 'p')} ORDER BY p.claim_id, p.funder_id`,
    p.values,
  );
  // Every row has the claim asked for: claim_id = ANY(...).
  const byClaim = groupBy(rows, (r) => r.claimId!);
  return claimIds.map((id) => byClaim.get(id) ?? []);
}

/** One page of payouts for each member, in one query. */
export async function payoutsOfMembers(db: Queryable, memberIds: number[], scope: Scope, page: Page): Promise<Map<number, PayoutRow[]>> {
  const p = new Params();
  const keyset = keysetSql(p, PAYOUT_ORDER, page);
  const { rows } = await db.query<PayoutRow>(
    `SELECT x.* FROM unnest(${p.add(memberIds)}::bigint[]) AS k(member_id)
     CROSS JOIN LATERAL (SELECT ${PAYOUT_COLUMNS}${keyset.pageKey} FROM payouts p
                          WHERE p.member_id = k.member_id AND ${memberRowScopeSql(p, scope, 'p')} AND ${keyset.where}
                          ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}) x`,
    p.values,
  );
  return groupBy(rows, (r) => r.memberId);
}

/** How many payouts each member has within the caller's scope (none: absent), in one query. */
export async function payoutCountsOfMembers(db: Queryable, memberIds: number[], scope: Scope): Promise<Map<number, number>> {
  const p = new Params();
  const { rows } = await db.query<{ memberId: number; n: number }>(
    `SELECT p.member_id AS "memberId", count(*)::int AS n FROM payouts p
      WHERE p.member_id = ANY(${p.add(memberIds)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'p')} GROUP BY p.member_id`,
    p.values,
  );
  return new Map(rows.map((r) => [r.memberId, r.n]));
}

export async function attemptsOfPayouts(db: Queryable, payoutIds: readonly number[]): Promise<AttemptRow[][]> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT ${ATTEMPT_COLUMNS} FROM payout_attempts a WHERE a.payout_id = ANY($1::bigint[]) ORDER BY a.payout_id, a.attempt_no`,
    [payoutIds],
  );
  const grouped = groupBy(rows, (r) => r.payoutId);
  return payoutIds.map((id) => grouped.get(id) ?? []);
}

/** The payout an attempt or a retry proposal belongs to (for `node`, which then shows it as its payout does); null when none. */
export async function payoutIdOf(db: Queryable, kind: 'attempt' | 'retryProposal', id: number): Promise<number | null> {
  const table = kind === 'attempt' ? 'payout_attempts' : 'payout_retries';
  const { rows } = await db.query<{ payoutId: number }>(`SELECT payout_id AS "payoutId" FROM ${table} WHERE id = $1`, [id]);
  return rows[0]?.payoutId ?? null;
}

/** The unconfirmed retry proposal following each payout's latest attempt (null when none), in the order asked. */
export async function retryProposalsOfPayouts(db: Queryable, payoutIds: readonly number[]): Promise<(RetryProposalRow | null)[]> {
  const { rows } = await db.query<RetryProposalRow & { payoutId: number }>(
    `SELECT r.id, r.payout_id AS "payoutId", r.proposed_by AS "proposedBy", r.proposed_at AS "proposedAt", r.reason
       FROM payout_retries r JOIN payouts p ON p.id = r.payout_id AND r.after_attempt = p.attempts
      WHERE r.payout_id = ANY($1::bigint[]) AND r.confirmed_at IS NULL`,
    [payoutIds],
  );
  const byPayout = new Map(rows.map(({ payoutId, ...proposal }) => [payoutId, proposal]));
  return payoutIds.map((id) => byPayout.get(id) ?? null);
}

/** Whether the bank had paid each payout (payout_paid_by_bank, 0042: returned, or debited on a statement; 0051: reported credited after its refusal), in the order asked. */
export async function paidByBank(db: Queryable, payoutIds: readonly number[]): Promise<boolean[]> {
  const { rows } = await db.query<{ paid: boolean }>(
    `SELECT payout_paid_by_bank(id) AS paid FROM unnest($1::bigint[]) WITH ORDINALITY AS t(id, n) ORDER BY n`, [payoutIds],
  );
  return rows.map((r) => r.paid);
}

/** How many payouts are in each status, and their total (for the demo's summary). */
export async function payoutTotalsByStatus(db: Queryable): Promise<{ status: PayoutStatus; payouts: number; totalFen: number }[]> {
  const { rows } = await db.query<{ status: PayoutStatus; payouts: number; totalFen: number }>(
    `SELECT status, count(*)::int AS payouts, coalesce(sum(amount_fen), 0)::bigint AS "totalFen" FROM payouts GROUP BY status ORDER BY status`,
  );
  return rows;
}

// ---- planning: where a payout waits ----

export const NO_BANK_ACCOUNT = 'the member has no bank account on record: add one (roster import) and the payout is released';

/** Why a replaced card waits past its cooling-off (SQL text): its member was not told (0073). */
const UNTOLD = `'waits for a second person''s confirmation of the new card (confirmBankCardChange; none for a card a service replaced): '
  || 'the member was not told of the change, no SMS having reached the phone on record before it (a landline, no phone, not sent yet, '
  || 'or a phone changed before without its own SMS reaching the phone it replaced)'`;

/**
 * A card that replaced another (BANK_CARD_COOLING_OFF_DAYS, migration 0007) is not paid until the
 * cooling-off has passed or a second person has confirmed it: an insider who swaps a member's card
 * must not receive the next payout. The cooling-off releases it only once the member was told of
 * the change by SMS (0073: a landline or no phone is told nothing). SQL `bank_card_waits` over
 * members `m`, the one decision of planning, batches, sealing and the policy release trigger;
 * `days` is the placeholder of the days.
 */
const cardWaits = (days: string) => `bank_card_waits(m, ${days}::int)`;

const chinaMinute = (at: string) => `to_char((${at}) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')`;

/**
 * Where a payout of member `m` waits for a batch, and why (SQL): HELD without a bank account or
 * while a replaced card waits (cooling off; past it, its member not told, for a confirmation), else
 * READY. `days` and `noAccount` are placeholders of the cooling-off days and NO_BANK_ACCOUNT.
 */
export function waitingState(days: string, noAccount: string): { status: string; reason: string } {
  return {
    status: `CASE WHEN m.bank_card_enc IS NULL OR ${cardWaits(days)} THEN 'HELD' ELSE 'READY' END`,
    reason: `CASE WHEN m.bank_card_enc IS NULL THEN ${noAccount}
                  WHEN ${cardWaits(days)} THEN 'bank card changed on ' || ${chinaMinute('m.bank_card_changed_at')} || ' (China time); '
                    -- The cooling-off first: the member's SMS is usually sent within minutes of the change.
                    || CASE WHEN m.bank_card_changed_at + make_interval(days => ${days}::int) > now() THEN 'waits until '
                              || ${chinaMinute(`m.bank_card_changed_at + make_interval(days => ${days}::int)`)} || ' or a second person''s confirmation of the new card'
                            ELSE ${UNTOLD} END END`,
  };
}

const PLAN_PAGE = 10_000;

/**
 * A payout for each of up to `pageSize` (APPROVED claim, funder) pairs with approved lines above
 * 0 fen of that funder that have none yet (UNIQUE(claim_id, funder_id)), claims from `fromClaimId`
 * on: the member gets one transfer per stay from each funder. HELD or READY as its member's card
 * says, with its payout lines. Read from the lines still APPROVED (index benefit_lines_approved:
 * the lines still to pay, not the history). `more`: the page was full, call again from
 * `lastClaimId` (again: the page may have ended between its funders; the pairs it made have their
 * payouts and are skipped).
 */
export async function createPayoutsOfApprovedClaims(
  db: Queryable, coolingOffDays: number, fromClaimId = 0, pageSize = PLAN_PAGE,
): Promise<{ created: number; held: number; more: boolean; lastClaimId: number }> {
  const waiting = waitingState('$2', '$1');
  const { rows: [page] } = await db.query<{ candidates: number; last: number | null; created: number; held: number }>(
    `WITH candidates AS (
       SELECT c.id AS claim_id, c.member_id, c.unit_id, l.funder_id, sum(coalesce(l.adjusted_fen, l.amount_fen)) AS amount_fen
         FROM benefit_lines l JOIN claims c ON c.id = l.claim_id AND c.status = 'APPROVED'
        -- Lines of 0 fen are left out (nothing to pay; they add nothing to the sum). Both sides from
        -- where the last page ended (PostgreSQL does not carry an inequality across the join).
        WHERE l.status = 'APPROVED' AND coalesce(l.adjusted_fen, l.amount_fen) > 0 AND l.claim_id >= $3 AND c.id >= $3
          AND NOT EXISTS (SELECT 1 FROM payouts p WHERE p.claim_id = l.claim_id AND p.funder_id = l.funder_id)
        GROUP BY c.id, l.funder_id
        ORDER BY c.id, l.funder_id LIMIT $4),
     inserted AS (
       INSERT INTO payouts (claim_id, funder_id, member_id, unit_id, amount_fen, status, status_reason)
       SELECT k.claim_id, k.funder_id, k.member_id, k.unit_id, k.amount_fen, ${waiting.status}, ${waiting.reason}
         FROM candidates k JOIN members m ON m.id = k.member_id
       ON CONFLICT (claim_id, funder_id) DO NOTHING
       RETURNING id, claim_id, funder_id, status),
     lines AS (
       INSERT INTO payout_lines (benefit_line_id, payout_id, amount_fen)
       SELECT l.id, i.id, coalesce(l.adjusted_fen, l.amount_fen)
         FROM inserted i JOIN benefit_lines l ON l.claim_id = i.claim_id AND l.funder_id = i.funder_id AND l.status = 'APPROVED'
                                             AND coalesce(l.adjusted_fen, l.amount_fen) > 0)
     SELECT (SELECT count(*)::int FROM candidates) AS candidates, (SELECT max(claim_id) FROM candidates) AS last,
            (SELECT count(*)::int FROM inserted) AS created, (SELECT count(*)::int FROM inserted WHERE status = 'HELD') AS held`,
    [NO_BANK_ACCOUNT, coolingOffDays, fromClaimId, pageSize],
  );
  const { candidates, last, created, held } = page!;
  // Full by its candidates, not by what it inserted: another planner may have taken some of them.
  return { created, held, more: candidates >= pageSize, lastClaimId: last ?? fromClaimId };
}

/**
 * HELD and READY payouts (all, or the given ones) move to where their member's card says they
 * wait: released once a card is on record and not cooling off, held again (READY -> HELD) when it
 * was replaced or removed. Returns how many were released and how many held again.
 */
export async function followBankCards(db: Queryable, coolingOffDays: number, payoutIds?: readonly number[]): Promise<{ released: number; withheld: number }> {
  const scopes = payoutIds
    ? [`p.status IN ('HELD', 'READY') AND p.id = ANY($3::bigint[])`]
    // READY payouts are many: only those of members with an unconfirmed change, found from the
    // members (partial index members_bank_card_unconfirmed, migration 0010). Not only recent ones: a
    // change whose member was never told waits past its cooling-off (0073).
    : [`p.status = 'HELD'`, `p.status = 'READY' AND m.bank_card_confirmed_at IS NULL AND m.bank_card_changed_at IS NOT NULL`];
  const waiting = waitingState('$2', '$1');
  const moved = { released: 0, withheld: 0 };
  for (const scope of scopes) {
    // `o` is the row before the update: its status tells a release from a hold.
    const { rows } = await db.query<{ before: PayoutStatus; after: PayoutStatus }>(
      `UPDATE payouts p SET status = ${waiting.status}, status_reason = ${waiting.reason}, updated_at = now()
         FROM payouts o, members m
        WHERE o.id = p.id AND m.id = p.member_id AND ${scope}
          AND (p.status, p.status_reason) IS DISTINCT FROM (${waiting.status}, ${waiting.reason})
        RETURNING o.status AS before, p.status AS after`,
      payoutIds ? [NO_BANK_ACCOUNT, coolingOffDays, payoutIds] : [NO_BANK_ACCOUNT, coolingOffDays],
    );
    moved.released += rows.filter((r) => r.before === 'HELD' && r.after === 'READY').length;
    moved.withheld += rows.filter((r) => r.before === 'READY' && r.after === 'HELD').length;
  }
  return moved;
}

/** Payouts not yet on their way whose claim is no longer approved (reversed, rejected on review) are CANCELLED; returns how many. */
export async function cancelPayoutsOfUnapprovedClaims(db: Queryable): Promise<number> {
  const cancelled = await db.query(
    `UPDATE payouts p SET status = 'CANCELLED', updated_at = now(),
            status_reason = 'its claim is ' || lower(c.status) || ' (' || coalesce(c.decision_reason, c.decided_by, 'no reason given') || ')'
       FROM claims c WHERE p.status IN ('HELD', 'READY', 'FAILED') AND c.id = p.claim_id AND c.status <> 'APPROVED'`,
  );
  return cancelled.rowCount ?? 0;
}

// ---- into batches and out again ----

export interface ReadyPayout {
  id: number;
  amountFen: number;
  /** Attempts so far: the next is numbered one more. */
  attempts: number;
  /** Null for a condolence payment's payout, which has its condolence and reason instead. */
  claimId: number | null;
  condolenceId: number | null;
  condolenceReason: CondolenceReason | null;
}

/**
 * Up to `max` READY payouts of the funder (oldest first) of members with a card on record that is not cooling
 * off (`within` a policy: neither put on record, at registration or after, nor changed within its
 * days), locked; payouts locked by a concurrent creation are skipped, not waited for. The members are
 * locked (shared) until the commit: a card changed meanwhile is rechecked here, and the attempts copy
 * the card that was checked.
 */
export async function lockReadyPayouts(
  tx: Tx, max: number, coolingOffDays: number, funderId: number, within: Pick<PolicyLimits, 'maxPayoutFen' | 'accountUnchangedDays'> | null = null,
): Promise<ReadyPayout[]> {
  // Under a payment policy: claims approved by the rules alone, within its amount, to a card on record
  // and unchanged for its days. A first card leaves bank_card_changed_at null, so member_changes is
  // read too: a card an insider gave a member who had none waits like a replaced one (migration 0054).
  // A card the member was registered with has no such row: it is on record since the member's
  // registration (created_at), so a member registered within the days waits too (migration 0059).
  const policy = within === null ? '' : `AND p.claim_id IS NOT NULL AND claim_approved_by_rules(p.claim_id) AND p.amount_fen <= $4
        AND (m.bank_card_changed_at IS NULL OR m.bank_card_changed_at <= now() - make_interval(days => $5::int))
        AND NOT EXISTS (SELECT 1 FROM member_changes c WHERE c.member_id = m.id AND c.field = 'BANK_ACCOUNT'
                           AND c.at > now() - make_interval(days => $5::int))
        AND m.created_at <= now() - make_interval(days => $5::int)`;
  const { rows } = await tx.query<ReadyPayout>(
    `SELECT p.id, p.amount_fen AS "amountFen", p.attempts, p.claim_id AS "claimId", p.condolence_id AS "condolenceId",
            (SELECT k.reason FROM condolences k WHERE k.id = p.condolence_id) AS "condolenceReason"
       FROM payouts p JOIN members m ON m.id = p.member_id
      WHERE p.status = 'READY' AND p.funder_id = $3 AND m.bank_card_enc IS NOT NULL
        AND NOT ${cardWaits('$2')} ${policy}
      ORDER BY p.id LIMIT $1 FOR UPDATE OF p SKIP LOCKED FOR SHARE OF m`,
    within === null ? [max, coolingOffDays, funderId] : [max, coolingOffDays, funderId, within.maxPayoutFen, within.accountUnchangedDays],
  );
  return rows;
}

/** The payouts now have an attempt in a batch: IN_BATCH, one attempt more. */
export async function markPayoutsInBatch(tx: Tx, payoutIds: readonly number[]): Promise<void> {
  await tx.query(
    `UPDATE payouts SET status = 'IN_BATCH', attempts = attempts + 1, status_reason = NULL, updated_at = now() WHERE id = ANY($1::bigint[])`,
    [payoutIds],
  );
}

/** Payouts of a cancelled batch wait for another (READY, those still IN_BATCH). */
export async function payoutsOutOfBatch(tx: Tx, payoutIds: readonly number[]): Promise<void> {
  await tx.query(`UPDATE payouts SET status = 'READY', updated_at = now() WHERE id = ANY($1::bigint[]) AND status = 'IN_BATCH'`, [payoutIds]);
}

/** The given payouts wait for a batch again (READY, no reason; followBankCards then holds those whose card says so). */
export async function payoutsWaitAgain(tx: Tx, payoutIds: readonly number[]): Promise<void> {
  await tx.query(`UPDATE payouts SET status = 'READY', status_reason = NULL, updated_at = now() WHERE id = ANY($1::bigint[])`, [payoutIds]);
}

/** Payouts whose claim was reversed or rejected after their batch was approved, before it was sealed: CANCELLED. */
export async function cancelPayoutsOfReversedClaims(tx: Tx, payoutIds: readonly number[]): Promise<void> {
  await tx.query(
    `UPDATE payouts p SET status = 'CANCELLED', updated_at = now(),
            status_reason = 'its claim was ' || lower(c.status) || ' after the batch was approved, before it was sealed'
       FROM claims c WHERE p.id = ANY($1::bigint[]) AND c.id = p.claim_id`,
    [payoutIds],
  );
}

/** Payouts whose attempt the bank's file cannot carry, withdrawn before sealing: FAILED with the reason, to be retried once corrected. */
export async function failPayouts(tx: Tx, failed: readonly { payoutId: number; reason: string }[]): Promise<void> {
  await tx.query(
    `UPDATE payouts p SET status = 'FAILED', status_reason = f.reason, updated_at = now()
       FROM unnest($1::bigint[], $2::text[]) AS f(payout_id, reason) WHERE p.id = f.payout_id`,
    [failed.map((f) => f.payoutId), failed.map((f) => f.reason)],
  );
}

// ---- retries ----

export interface PayoutForRetry {
  status: PayoutStatus;
  attempts: number;
  claimStatus: string;
  /** The bank had paid it: an attempt RETURNED, debited on a statement whatever the bank's status said, or reported credited after its refusal (payout_paid_by_bank). */
  wasPaid: boolean;
}

/**
 * The payout within the caller's scope, locked (FOR UPDATE); null when there is none. Its member and
 * the member's unit are locked too (FOR SHARE) and the scope checked on the rows locked, so a move
 * (the member's to another unit, the unit's to another organisation) either commits first, and the
 * payout is out of the old scope, or waits.
 */
export async function lockPayoutForRetry(tx: Tx, payoutId: number, scope: Scope): Promise<PayoutForRetry | null> {
  const p = new Params();
  const { rows: [locked] } = await tx.query<Omit<PayoutForRetry, 'wasPaid'>>(
    `SELECT p.status, p.attempts,
            -- An approved condolence (a payout without a claim) stays approved: it pays like an approved claim.
            CASE WHEN p.claim_id IS NULL THEN 'APPROVED' ELSE (SELECT c.status FROM claims c WHERE c.id = p.claim_id) END AS "claimStatus"
       FROM payouts p JOIN members m ON m.id = p.member_id JOIN units u ON u.id = m.unit_id
      WHERE p.id = ${p.add(payoutId)} AND ${memberScopeSql(p, scope, 'm', 'u')}
        FOR UPDATE OF p FOR SHARE OF m, u`,
    p.values,
  );
  if (!locked) return null;
  // Read after the lock, in a statement of its own: a bank return the lock waited for is in its snapshot.
  const [wasPaid] = await paidByBank(tx, [payoutId]);
  return { ...locked, wasPaid: wasPaid! };
}

/** The retry proposal following the payout's attempt `afterAttempt`, locked; null when none. */
export async function lockRetryProposal(tx: Tx, payoutId: number, afterAttempt: number): Promise<{ id: number; proposedBy: string } | null> {
  const { rows: [proposal] } = await tx.query<{ id: number; proposedBy: string }>(
    `SELECT id, proposed_by AS "proposedBy" FROM payout_retries WHERE payout_id = $1 AND after_attempt = $2 FOR UPDATE`,
    [payoutId, afterAttempt],
  );
  return proposal ?? null;
}

export async function proposeRetry(tx: Tx, payoutId: number, afterAttempt: number, actor: Actor, reason: string): Promise<void> {
  await tx.query(
    `INSERT INTO payout_retries (payout_id, after_attempt, proposed_by, proposed_by_role, reason) VALUES ($1, $2, $3, $4, $5)`,
    [payoutId, afterAttempt, actor.subject, actor.role, reason],
  );
}

export async function confirmRetry(tx: Tx, proposalId: number, actor: Actor, reason: string): Promise<void> {
  await tx.query(
    `UPDATE payout_retries SET confirmed_by = $2, confirmed_by_role = $3, confirm_reason = $4, confirmed_at = now() WHERE id = $1`,
    [proposalId, actor.subject, actor.role, reason],
  );
}

// ---- what the bank's statements tell ----

/** Paid attempts whose debit is on the statement: their PAID payouts become SETTLED. */
export async function settlePaidPayouts(db: Queryable, attemptIds: readonly number[]): Promise<SettledPayout[]> {
  const { rows } = await db.query<SettledPayout>(
    `UPDATE payouts p SET status = 'SETTLED', settled_at = now(), updated_at = now()
       FROM payout_attempts a
      WHERE a.id = ANY($1::bigint[]) AND a.payout_id = p.id AND a.status = 'PAID' AND p.status = 'PAID'
      RETURNING p.id AS "payoutId", a.batch_id AS "batchId"`,
    [attemptIds],
  );
  return rows;
}

/**
 * The paid attempt with this EndToEndId becomes RETURNED and its payout FAILED (retryable); null
 * when no paid attempt has it (already returned, or not ours).
 */
export async function returnPaidAttempt(db: Queryable, r: PayoutReturn): Promise<{ payoutId: number; wasSettled: boolean } | null> {
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
  return rows[0] ?? null;
}

/** Lets the planner know many payouts changed status at once (a statement settled them; as the table's owner: migration 0075). */
export async function analyzePayouts(db: Queryable): Promise<void> {
  await db.query(`SELECT analyze_tables('payouts')`);
}
