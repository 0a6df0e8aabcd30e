import type { Actor } from '../../audit/audit.ts';
import { PROGRAMMES, type Programme } from '../../benefits/rules/ruleSet.ts';
import { Params } from '../../db/sql.ts';
import { groupBy, type Page } from '../../kernel/page.ts';
import { byKey, keysetSql } from '../../db/keyset.ts';
import type { Queryable, Tx } from '../../kernel/transaction.ts';
import type { Scope } from '../../kernel/scope.ts';
import { organisationRowScopeSql } from '../../db/scope.ts';
import type { AttemptCount, BatchRow, BatchStatus, PayingAccount, ReleaseRow, SealedBatchFile, UnconfirmedRetry } from '../model.ts';

/**
 * SQL of payout batches: reads (for ADMIN, FINANCE and AUDITOR, checked by the resolvers), and a
 * batch's life up to its sealing: created with one attempt per payout, approved, asked to be sent,
 * cancelled, payments withdrawn, sealed.
 */

const BATCH_COLUMNS = `b.id, b.msg_id AS "msgId", b.funder_id AS "funderId", b.pmt_inf_id AS "pmtInfId", b.status, b.submission, b.channel, b.debtor_account AS "debtorAccount",
  b.debtor_name AS "debtorName", b.debtor_agent AS "debtorAgent", b.requested_execution_date AS "requestedExecutionDate", b.nb_of_txs AS "paymentCount",
  b.ctrl_sum_fen AS "totalFen", b.created_by AS "createdBy", b.created_at AS "createdAt", b.approved_by AS "approvedBy",
  b.approved_at AS "approvedAt", b.sealed_at AS "sealedAt", b.submit_requested_by AS "submitRequestedBy",
  b.submit_requested_at AS "submitRequestedAt", b.submitted_at AS "submittedAt", b.bank_reference AS "bankReference",
  b.bank_code AS "bankCode", b.bank_reason AS "bankReason", b.final_at AS "finalAt", b.cancel_reason AS "cancelReason",
  b.policy_id AS "policyId", b.released_at AS "releasedAt"`;

// ---- reads ----

export interface BatchFilter {
  status?: BatchStatus | null;
  funderId?: number | null;
  policyId?: number | null;
}

/** Batches the caller may see: staff of an organisation those of the funders of their organisation and of those below it. */
function batchScopeSql(p: Params, scope: Scope): string {
  return scope.organisationId == null ? 'true'
    : `EXISTS (SELECT 1 FROM funders f WHERE f.id = b.funder_id AND ${organisationRowScopeSql(p, scope, 'f.organisation_id')})`;
}

function batchFilterSql(p: Params, scope: Scope, f: BatchFilter): string {
  const where = [batchScopeSql(p, scope)];
  if (f.status) where.push(`b.status = ${p.add(f.status)}`);
  if (f.funderId != null) where.push(`b.funder_id = ${p.add(f.funderId)}`);
  if (f.policyId != null) where.push(`b.policy_id = ${p.add(f.policyId)}`);
  return where.join(' AND ');
}

export async function batchesByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<BatchRow[]> {
  const p = new Params();
  const { rows } = await db.query<BatchRow>(`SELECT ${BATCH_COLUMNS} FROM payout_batches b WHERE b.id = ANY(${p.add(ids)}::bigint[]) AND ${batchScopeSql(p, scope)}`, p.values);
  return rows;
}

/** Batches newest first. */
export const BATCH_ORDER = byKey('b.id', 'DESC');

export async function listBatches(db: Queryable, scope: Scope, filter: BatchFilter, page: Page): Promise<BatchRow[]> {
  const p = new Params();
  const where = batchFilterSql(p, scope, filter);
  const keyset = keysetSql(p, BATCH_ORDER, page);
  const { rows } = await db.query<BatchRow>(
    `SELECT ${BATCH_COLUMNS} FROM payout_batches b WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countBatches(db: Queryable, scope: Scope, filter: BatchFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM payout_batches b WHERE ${batchFilterSql(p, scope, filter)}`, p.values);
  return rows[0]!.n;
}

export async function attemptCountsOfBatches(db: Queryable, batchIds: readonly number[]): Promise<AttemptCount[][]> {
  const { rows } = await db.query<AttemptCount & { batchId: number }>(
    `SELECT batch_id AS "batchId", status, count(*)::int AS count FROM payout_attempts WHERE batch_id = ANY($1::bigint[]) GROUP BY batch_id, status ORDER BY batch_id, status`,
    [batchIds],
  );
  const grouped = groupBy(rows, (r) => r.batchId);
  return batchIds.map((id) => (grouped.get(id) ?? []).map(({ status, count }) => ({ status, count })));
}

/** How each batch was released (null: not yet), whoever asks: a payment's release is shown to whoever sees the payment. */
export async function releasesOfBatches(db: Queryable, batchIds: readonly number[]): Promise<(ReleaseRow | null)[]> {
  const { rows } = await db.query<ReleaseRow & { id: number }>(
    `SELECT id, CASE WHEN policy_id IS NULL THEN 'APPROVAL' ELSE 'POLICY' END AS kind, coalesce(released_at, approved_at) AS at,
            approved_by AS "approvedBy", policy_id AS "policyId"
       FROM payout_batches WHERE id = ANY($1::bigint[]) AND (approved_at IS NOT NULL OR released_at IS NOT NULL)`,
    [batchIds],
  );
  const byId = new Map(rows.map(({ id, ...release }) => [id, release]));
  return batchIds.map((id) => byId.get(id) ?? null);
}

/** The sealed file (as stored: encrypted, or in clear before migration 0010) and seal of each batch (null before sealing), in the order asked. */
export async function batchFiles(db: Queryable, batchIds: readonly number[]): Promise<(SealedBatchFile | null)[]> {
  const { rows } = await db.query<SealedBatchFile & { id: number }>(
    `SELECT id, file_enc AS "fileEnc", file_xml AS "fileXml", seal, file_sha256 AS sha256 FROM payout_batches WHERE id = ANY($1::bigint[]) AND seal IS NOT NULL`,
    [batchIds],
  );
  const byId = new Map(rows.map(({ id, ...file }) => [id, file]));
  return batchIds.map((id) => byId.get(id) ?? null);
}

/** Batches whose row says work is left: to seal and send (asked for), or awaiting the bank. */
export async function unfinishedBatchIds(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM payout_batches
      WHERE status = 'SUBMITTED' OR (status IN ('APPROVED', 'SEALED') AND submit_requested_at IS NOT NULL) ORDER BY id`,
  );
  return rows.map((r) => r.id);
}

export interface ReleaseCounts {
  batchIds: number[];
  byPolicy: { batches: number; payouts: number };
  byApproval: { batches: number; payouts: number };
}

/** Every batch released to the bank and not cancelled, and how many were released by a policy or by a person's approval (the demo's summary). */
export async function releaseCounts(db: Queryable): Promise<ReleaseCounts> {
  const { rows } = await db.query<{ id: number; byPolicy: boolean; payouts: number }>(
    `SELECT id, policy_id IS NOT NULL AS "byPolicy", nb_of_txs AS payouts FROM payout_batches WHERE status NOT IN ('DRAFT', 'CANCELLED') ORDER BY id`,
  );
  const count = (byPolicy: boolean) => {
    const batches = rows.filter((r) => r.byPolicy === byPolicy);
    return { batches: batches.length, payouts: batches.reduce((n, r) => n + r.payouts, 0) };
  };
  return { batchIds: rows.map((r) => r.id), byPolicy: count(true), byApproval: count(false) };
}

/** How many of the given batches are still on their way (approved, sealed or submitted). */
export async function openBatchCount(db: Queryable, batchIds: readonly number[]): Promise<number> {
  const { rows } = await db.query<{ open: number }>(
    `SELECT count(*)::int AS open FROM payout_batches WHERE id = ANY($1::bigint[]) AND status IN ('APPROVED', 'SEALED', 'SUBMITTED')`,
    [batchIds],
  );
  return rows[0]!.open;
}

// ---- creation ----

/** The next batch id, taken before the row is written (its MsgId names it). */
export async function nextBatchId(tx: Tx): Promise<number> {
  const { rows: [next] } = await tx.query<{ id: number }>(`SELECT nextval(pg_get_serial_sequence('payout_batches', 'id'))::bigint AS id`);
  return next!.id;
}

export interface NewBatch {
  id: number;
  msgId: string;
  pmtInfId: string;
  funderId: number;
  /** The funder's paying account (funderPayingAccount). */
  account: PayingAccount;
  /** China date (yyyy-MM-dd). */
  requestedExecutionDate: string;
  nbOfTxs: number;
  ctrlSumFen: number;
  createdBy: Actor;
  /** The standing payment policy that is to release it (null: a person approves it). */
  policyId: number | null;
}

export async function insertBatch(tx: Tx, batch: NewBatch): Promise<void> {
  await tx.query(
    `INSERT INTO payout_batches (id, msg_id, pmt_inf_id, funder_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date,
                                 nb_of_txs, ctrl_sum_fen, created_by, created_by_role, policy_id)
     OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [batch.id, batch.msgId, batch.pmtInfId, batch.funderId, batch.account.channel, batch.account.account, batch.account.name, batch.account.agent,
     batch.requestedExecutionDate, batch.nbOfTxs, batch.ctrlSumFen, batch.createdBy.subject, batch.createdBy.role, batch.policyId],
  );
}

/** The programmes each payout pays (for its remittance text), in the rules' order. */
export async function programmesOfPayouts(tx: Tx, payoutIds: readonly number[]): Promise<Map<number, Programme[]>> {
  const { rows } = await tx.query<{ payoutId: number; programmes: Programme[] }>(
    `SELECT pl.payout_id AS "payoutId", array_agg(l.programme ORDER BY array_position($2::text[], l.programme)) AS programmes
       FROM payout_lines pl JOIN benefit_lines l ON l.id = pl.benefit_line_id WHERE pl.payout_id = ANY($1::bigint[]) GROUP BY pl.payout_id`,
    [payoutIds, PROGRAMMES],
  );
  return new Map(rows.map((r) => [r.payoutId, r.programmes]));
}

export interface NewAttempt {
  payoutId: number;
  attemptNo: number;
  endToEndId: string;
  remittanceInfo: string;
}

/** PLANNED attempts of the batch; the amount is the payout's, the creditor (its card with the card's keyed hash) copied from the member now. */
export async function insertAttempts(tx: Tx, batchId: number, attempts: readonly NewAttempt[]): Promise<void> {
  await tx.query(
    `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name,
                                  creditor_account_enc, creditor_account_hash, creditor_account_masked, creditor_agent, remittance_info)
     SELECT p.id, t.attempt_no, $1, t.end_to_end_id, p.amount_fen, m.name, m.bank_card_enc, m.bank_card_hash, m.bank_card_masked, m.bank_code, t.remittance
       FROM unnest($2::bigint[], $3::int[], $4::text[], $5::text[]) AS t(payout_id, attempt_no, end_to_end_id, remittance)
       JOIN payouts p ON p.id = t.payout_id JOIN members m ON m.id = p.member_id`,
    [batchId, attempts.map((a) => a.payoutId), attempts.map((a) => a.attemptNo), attempts.map((a) => a.endToEndId), attempts.map((a) => a.remittanceInfo)],
  );
}

// ---- decisions on a batch ----

/** The batch, locked for a change; null when there is none. */
export async function lockBatch(tx: Tx, batchId: number): Promise<BatchRow | null> {
  const { rows } = await tx.query<BatchRow>(`SELECT ${BATCH_COLUMNS} FROM payout_batches b WHERE b.id = $1 FOR UPDATE`, [batchId]);
  return rows[0] ?? null;
}

export async function markBatchApproved(tx: Tx, batchId: number, actor: Actor): Promise<void> {
  await tx.query(
    `UPDATE payout_batches SET status = 'APPROVED', approved_by = $2, approved_by_role = $3, approved_at = now() WHERE id = $1`,
    [batchId, actor.subject, actor.role],
  );
}

/** Records who asked for the batch to be sent; false when someone already had. */
export async function markSubmitRequested(tx: Tx, batchId: number, subject: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE payout_batches SET submit_requested_by = $2, submit_requested_at = now() WHERE id = $1 AND submit_requested_at IS NULL`,
    [batchId, subject],
  );
  return Boolean(rowCount);
}

/** The batch is CANCELLED and its PLANNED attempts too; returns the payouts of those attempts. */
export async function markBatchCancelled(tx: Tx, batchId: number, cancelledBy: string, reason: string): Promise<number[]> {
  await tx.query(`UPDATE payout_batches SET status = 'CANCELLED', cancelled_by = $2, cancel_reason = $3 WHERE id = $1`, [batchId, cancelledBy, reason]);
  const { rows } = await tx.query<{ payoutId: number }>(
    `UPDATE payout_attempts SET status = 'CANCELLED', status_at = now() WHERE batch_id = $1 AND status = 'PLANNED' RETURNING payout_id AS "payoutId"`,
    [batchId],
  );
  return rows.map((r) => r.payoutId);
}

// ---- sealing ----

/** A PLANNED attempt as sealing sees it: what it carries, its claim now, and its member's card now. */
export interface PlannedAttempt {
  attemptId: number;
  payoutId: number;
  endToEndId: string;
  amountFen: number;
  creditorName: string;
  /** The card the attempt carries (the one the approver saw), encrypted. */
  accountEnc: Buffer;
  /** The member's card on record now, encrypted; null when removed. */
  memberCardEnc: Buffer | null;
  /** Payouts to that card wait (SQL bank_card_waits, 0073): replaced, unconfirmed, and cooling off or its member not told. */
  cardWaits: boolean;
  creditorAgent: string;
  remittanceInfo: string;
  /** Null for a condolence payment's payout: its condolence stays approved, so its status reads APPROVED. */
  claimId: number | null;
  claimStatus: string;
  /**
   * An earlier attempt was paid by the bank (payout_paid_by_bank: a statement shows it debited, say
   * after the payout was retried by one person on the bank's RJCT) and no second FINANCE person
   * confirmed a retry after the last attempt that reached the bank (payout_retry_confirmed, 0045,
   * the trigger's rule too), or none after the last debit naming an earlier attempt, such as the
   * reversal (冲正) of its return (0070): sent, it could pay the member twice.
   */
  paidBeforeUnconfirmed: boolean;
}

/**
 * Whether a PLANNED attempt `a` of payout `p` is one a second FINANCE person must confirm first
 * (PlannedAttempt.paidBeforeUnconfirmed): a retry (a first attempt follows no payment), its payout
 * paid by the bank before, and no retry confirmed after the last attempt that reached the bank and
 * after every debit found naming an earlier attempt (0045, 0070, as the trigger on payouts asks;
 * 0055 refuses the hand-over of a batch holding one).
 */
const PAID_BEFORE_UNCONFIRMED_SQL = '(a.attempt_no > 1 AND payout_paid_by_bank(p.id) AND NOT payout_retry_confirmed(p.id, a.attempt_no))';

/**
 * The attempts of a batch that may still go to the bank, its answer to them awaited: PLANNED until
 * the hand-over, SENT or UNKNOWN when the file the bank says it never received is sent again.
 */
const UNANSWERED = "('PLANNED', 'SENT', 'UNKNOWN')";

/**
 * Whether the batch holds a retry (attempt_no > 1) the bank has not answered (UNANSWERED), the only
 * kind of attempt that may be paid by the bank before. Read before any lock: an approved batch never
 * gains an attempt, and an attempt's number never changes (0035). Sealing, the hand-over and a
 * re-send take the account's reconciliation lock only then, so that an ordinary batch does not wait
 * for a run on the account.
 */
export async function hasUnansweredRetry(db: Queryable, batchId: number): Promise<boolean> {
  const { rows: [row] } = await db.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM payout_attempts WHERE batch_id = $1 AND status IN ${UNANSWERED} AND attempt_no > 1) AS found`, [batchId],
  );
  return row!.found;
}

/**
 * The batch's retries the bank has not answered (UNANSWERED) that fail the sealing check again
 * (paidBeforeUnconfirmed), for the hand-over and a re-send: their payouts are locked first (a retry
 * confirmed meanwhile is seen or waits), and the caller holds the account's reconciliation lock (a
 * credit or debit committed meanwhile is seen).
 */
export async function unconfirmedRetries(tx: Tx, batchId: number): Promise<UnconfirmedRetry[]> {
  const { rows } = await tx.query<{ attemptId: number }>(
    `SELECT a.id AS "attemptId" FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id
      WHERE a.batch_id = $1 AND a.status IN ${UNANSWERED} AND a.attempt_no > 1 ORDER BY p.id FOR UPDATE OF p`,
    [batchId],
  );
  if (rows.length === 0) return [];
  // Asked once the payouts are locked: the locking read above sees them as they are now.
  const { rows: unconfirmed } = await tx.query<UnconfirmedRetry>(
    `SELECT a.id AS "attemptId", p.id AS "payoutId", p.claim_id AS "claimId", a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen"
       FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id
      WHERE a.id = ANY($1::bigint[]) AND ${PAID_BEFORE_UNCONFIRMED_SQL} ORDER BY a.id`,
    [rows.map((r) => r.attemptId)],
  );
  return unconfirmed;
}

/**
 * The batch's PLANNED attempts; the members are locked (shared) so that the card compared is the card
 * on record at the commit, and whether it waits is decided as planning decides it (`coolingOffDays`).
 */
export async function plannedAttempts(tx: Tx, batchId: number, coolingOffDays: number): Promise<PlannedAttempt[]> {
  const { rows } = await tx.query<PlannedAttempt>(
    `SELECT a.id AS "attemptId", a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen",
            a.creditor_name AS "creditorName", a.creditor_account_enc AS "accountEnc", m.bank_card_enc AS "memberCardEnc",
            bank_card_waits(m, $2::int) AS "cardWaits", a.creditor_agent AS "creditorAgent", a.remittance_info AS "remittanceInfo", p.claim_id AS "claimId",
            CASE WHEN p.claim_id IS NULL THEN 'APPROVED' ELSE c.status END AS "claimStatus",
            -- Confirmed after the last attempt that reached the bank and the debits naming earlier ones (0045, 0070, as the trigger on payouts asks).
            ${PAID_BEFORE_UNCONFIRMED_SQL} AS "paidBeforeUnconfirmed"
       FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id LEFT JOIN claims c ON c.id = p.claim_id JOIN members m ON m.id = p.member_id
      WHERE a.batch_id = $1 AND a.status = 'PLANNED' ORDER BY a.id FOR SHARE OF m`,
    [batchId, coolingOffDays],
  );
  return rows;
}

export async function cancelAttempts(tx: Tx, attemptIds: readonly number[]): Promise<void> {
  await tx.query(`UPDATE payout_attempts SET status = 'CANCELLED', status_at = now() WHERE id = ANY($1::bigint[])`, [attemptIds]);
}

/** Every payment left the batch before sealing: it is cancelled by the worker. */
export async function cancelEmptiedBatch(tx: Tx, batchId: number): Promise<void> {
  await tx.query(
    `UPDATE payout_batches SET status = 'CANCELLED', cancelled_by = 'payout-worker', cancel_reason = 'every payment left it before sealing (claim reversed or rejected, paid by the bank before without a confirmed retry, bank card changed, or a name the file cannot carry)' WHERE id = $1`,
    [batchId],
  );
}

/** Payments left the batch: its totals follow. */
export async function reduceBatchTotals(tx: Tx, batchId: number, payments: number, amountFen: number): Promise<void> {
  await tx.query(
    `UPDATE payout_batches SET nb_of_txs = nb_of_txs - $2, ctrl_sum_fen = ctrl_sum_fen - $3 WHERE id = $1`,
    [batchId, payments, amountFen],
  );
}

export async function markBatchSealed(
  tx: Tx, batchId: number, sealed: { fileEnc: Buffer; sha256: Buffer; seal: Buffer; sealedAt: Date; requestedExecutionDate: string },
): Promise<void> {
  await tx.query(
    `UPDATE payout_batches SET status = 'SEALED', file_enc = $2, file_sha256 = $3, seal = $4, sealed_at = $5, requested_execution_date = $6 WHERE id = $1`,
    [batchId, sealed.fileEnc, sealed.sha256, sealed.seal, sealed.sealedAt, sealed.requestedExecutionDate],
  );
}

/** The first batch after `afterId` whose file is kept in clear (sealed before migration 0010); null when none is left. */
export async function nextClearBatchFile(db: Queryable, afterId: number): Promise<{ id: number; msgId: string; xml: string; sha256: Buffer } | null> {
  const { rows: [row] } = await db.query<{ id: number; msgId: string; xml: string; sha256: Buffer }>(
    `SELECT id, msg_id AS "msgId", file_xml AS xml, file_sha256 AS sha256 FROM payout_batches WHERE file_xml IS NOT NULL AND id > $1 ORDER BY id LIMIT 1`,
    [afterId],
  );
  return row ?? null;
}

/** A file kept in clear is replaced by its encryption (once: the trigger allows nothing else). */
export async function replaceClearBatchFile(db: Queryable, batchId: number, fileEnc: Buffer): Promise<void> {
  await db.query(`UPDATE payout_batches SET file_enc = $2, file_xml = NULL WHERE id = $1 AND file_xml IS NOT NULL`, [batchId, fileEnc]);
}

// ---- after the bank ----

/** Batches (ACCEPTED or PARTIALLY_ACCEPTED) whose every paid payout is settled become SETTLED. */
export async function settleBatches(db: Queryable, batchIds: readonly number[]): Promise<void> {
  await db.query(
    `UPDATE payout_batches b SET status = 'SETTLED', final_at = now()
      WHERE b.id = ANY($1::bigint[]) AND b.status IN ('ACCEPTED', 'PARTIALLY_ACCEPTED')
        AND NOT EXISTS (SELECT 1 FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id
                         WHERE a.batch_id = b.id AND a.status = 'PAID' AND p.status <> 'SETTLED')`,
    [batchIds],
  );
}
