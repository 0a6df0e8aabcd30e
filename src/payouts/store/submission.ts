import type { Db, Queryable, Tx } from '../../kernel/transaction.ts';
import {
  payoutStatusOf, type AttemptState, type AttemptUpdate, type BatchRow, type BatchStatus, type CreditAfterRefusal, type LaterAttempt, type PaymentCredit,
  type PayoutChange, type PayoutStatus, type StoredBatchFile,
} from '../model.ts';

/**
 * SQL of a batch's way through the bank (submission.ts): the per-batch lock, what is recorded
 * before and after each call, and the bank's status reports applied to attempts and payouts.
 */

/**
 * The advisory lock key space of payout batches, one per schema: advisory locks are the database's,
 * and schemas sharing one (a demo beside a deployment, test files side by side) number their
 * batches from 1 alike, so a constant space made one schema's batch busy while another's was sent.
 */
const LOCK_SPACE = `hashtext(current_schema() || ':payout_batches')`;

/**
 * Runs `work` holding the batch's session advisory lock on a connection of its own (one worker at a
 * time per batch, whatever the queue does); `busy` without running it when another holds the lock.
 */
export async function withBatchLock<T>(db: Db, batchId: number, busy: T, work: () => Promise<T>): Promise<T> {
  const lock = await db.connect();
  try {
    const { rows: [locked] } = await lock.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_SPACE}, $1::int) AS ok`, [batchId]);
    if (!locked!.ok) return busy;
    try {
      return await work();
    } finally {
      await lock.query(`SELECT pg_advisory_unlock(${LOCK_SPACE}, $1::int)`, [batchId]);
    }
  } finally {
    lock.release();
  }
}

/** A batch as its way through the bank needs it: its state, and its sealed file as stored (and seal). */
export interface BatchToSend extends Pick<BatchRow, 'msgId' | 'status' | 'submission' | 'policyId'>, StoredBatchFile {
  submitRequested: boolean;
  seal: Buffer | null;
}

export async function batchToSend(db: Queryable, batchId: number): Promise<BatchToSend | null> {
  const { rows: [row] } = await db.query<BatchToSend>(
    `SELECT msg_id AS "msgId", status, submission, policy_id AS "policyId", submit_requested_at IS NOT NULL AS "submitRequested",
            file_enc AS "fileEnc", file_xml AS "fileXml", seal
       FROM payout_batches WHERE id = $1`,
    [batchId],
  );
  return row ?? null;
}

/** Before the call: the batch SUBMITTED and SENDING, its attempts SENT (so a worker killed mid-call leaves the trace). */
export async function markBatchSending(tx: Tx, batchId: number): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE payout_batches SET status = 'SUBMITTED', submission = 'SENDING', submitted_at = now() WHERE id = $1 AND status = 'SEALED'`, [batchId],
  );
  // Not SEALED any more (a revoked policy's batch, cancelled since it was read): nothing is sent.
  if (!rowCount) return false;
  await tx.query(`UPDATE payout_attempts SET status = 'SENT', status_at = now() WHERE batch_id = $1 AND status = 'PLANNED'`, [batchId]);
  return true;
}

/**
 * No usable answer from the bank, or its DU01 (another file under the MsgId stands): the hand-over
 * and the sent attempts are UNKNOWN until the bank's status for the MsgId says what happened.
 */
export async function markUnknown(tx: Tx, batchId: number): Promise<void> {
  await tx.query(`UPDATE payout_batches SET submission = 'UNKNOWN' WHERE id = $1 AND submission = 'SENDING'`, [batchId]);
  await tx.query(`UPDATE payout_attempts SET status = 'UNKNOWN', status_at = now() WHERE batch_id = $1 AND status = 'SENT'`, [batchId]);
}

/** The bank acknowledged the file. */
export async function markReceived(db: Queryable, batchId: number, bankReference: string | null): Promise<void> {
  await db.query(
    `UPDATE payout_batches SET submission = 'RECEIVED', bank_reference = $2, answered_at = now() WHERE id = $1`,
    [batchId, bankReference],
  );
}

/**
 * The bank refused the whole file, nothing of it executed: the batch is REJECTED with the attempts
 * still waiting for it; returns those attempts. Never for DU01, which refuses a copy only.
 */
export async function markRefused(tx: Tx, batchId: number, refusal: { code: string | null; reason: string | null; attemptReasonCode: string }): Promise<number[]> {
  await tx.query(
    `UPDATE payout_batches SET submission = 'REFUSED', status = 'REJECTED', bank_code = $2, bank_reason = $3, answered_at = now(), final_at = now() WHERE id = $1`,
    [batchId, refusal.code, refusal.reason],
  );
  const { rows } = await tx.query<{ id: number }>(
    `UPDATE payout_attempts SET status = 'REJECTED', bank_status = 'RJCT', reason_code = $2, reason = $3, status_at = now()
      WHERE batch_id = $1 AND status IN ('SENT', 'UNKNOWN') RETURNING id`,
    [batchId, refusal.attemptReasonCode, refusal.reason],
  );
  return rows.map((r) => r.id);
}

/**
 * Payouts of the batch's attempts (all, or `attemptIds`) that are in one of `from` move to
 * `status`, with their member and unit for the status events. A cancelled attempt is not counted:
 * its payment left the batch before it was sent (a card changed, a claim reversed), and its payout
 * may be in another batch by now, which this batch's sending or refusal must not move.
 */
export async function payoutsTo(
  tx: Tx, batchId: number, status: PayoutStatus, from: readonly PayoutStatus[], reason: string | null = null, attemptIds?: readonly number[],
): Promise<PayoutChange[]> {
  // The statuses are written into the statement as constants (checked: a closed set), as the planner saw them before.
  const statuses = from.map((s) => `'${payoutStatusOf(s)}'`);
  // The payout ids are read first and passed as a value: driven by the attempts' keys (a join let
  // stale statistics pick a per-payout probe of the batch: ~4 s a call at 40,000 payouts in flight),
  // and an array PostgreSQL knows, so it plans with its size and looks ids up by hash. An array
  // built by a sub-select is unknown when planned: with statistics older than the batch, every
  // payout in `from` was read and the array searched end to end for each (~1.2 s a call at
  // 164,000 payouts in flight).
  const { rows: [attempted] } = await tx.query<{ ids: string[] }>(
    `SELECT coalesce(array_agg(payout_id), '{}') AS ids FROM payout_attempts
      WHERE batch_id = $1 AND status <> 'CANCELLED' ${attemptIds ? 'AND id = ANY($2::bigint[])' : ''}`,
    attemptIds ? [batchId, attemptIds] : [batchId],
  );
  const { rows } = await tx.query<PayoutChange>(
    `UPDATE payouts p SET status = $2, status_reason = $3, updated_at = now(),
            paid_at = CASE WHEN $2 = 'PAID' THEN now() ELSE p.paid_at END
      WHERE p.id = ANY($1::bigint[]) AND p.status IN (${statuses.join(', ')})
      RETURNING p.id AS "payoutId", p.member_id AS "memberId", p.unit_id AS "unitId", p.status`,
    [attempted!.ids, status, reason],
  );
  return rows;
}

/** A pain.002 kept as evidence, once per its MsgId. */
export async function insertStatusReport(
  tx: Tx, batchId: number, report: { msgId: string; groupStatus: string | null; xml: string; seal: Buffer; sealedBy: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO bank_status_reports (msg_id, batch_id, group_status, xml, seal, sealed_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (msg_id) DO NOTHING`,
    [report.msgId, batchId, report.groupStatus, report.xml, report.seal, report.sealedBy],
  );
}

/** A status report came: the bank has the file. */
export async function markReportReceived(tx: Tx, batchId: number): Promise<void> {
  await tx.query(`UPDATE payout_batches SET submission = 'RECEIVED', answered_at = coalesce(answered_at, now()) WHERE id = $1 AND submission <> 'RECEIVED'`, [batchId]);
}

/** The batch's attempts that were not cancelled, locked while a report is applied. */
export async function lockAttemptsOfBatch(tx: Tx, batchId: number): Promise<AttemptState[]> {
  const { rows } = await tx.query<AttemptState>(
    `SELECT id, end_to_end_id AS "endToEndId", status FROM payout_attempts WHERE batch_id = $1 AND status <> 'CANCELLED' ORDER BY id FOR UPDATE`,
    [batchId],
  );
  return rows;
}

/** Whether the bank refused a payment of the batch already: only then can a credit in its report contradict it. */
export async function hasRefusedAttempt(tx: Tx, batchId: number): Promise<boolean> {
  const { rowCount } = await tx.query(`SELECT 1 FROM payout_attempts WHERE batch_id = $1 AND status = 'REJECTED' LIMIT 1`, [batchId]);
  return rowCount === 1;
}

export async function updateAttempts(tx: Tx, updates: readonly AttemptUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  await tx.query(
    `UPDATE payout_attempts a SET status = u.status, bank_status = u.bank_status, reason_code = u.reason_code, reason = u.reason,
            bank_reference = coalesce(u.bank_reference, a.bank_reference), status_at = now()
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(id, status, bank_status, reason_code, reason, bank_reference)
      WHERE a.id = u.id`,
    [updates.map((u) => u.id), updates.map((u) => u.status), updates.map((u) => u.bankStatus), updates.map((u) => u.reasonCode),
     updates.map((u) => u.reason), updates.map((u) => u.bankReference)],
  );
}

/** The bank's reason goes on the failed payout, for the person deciding whether to retry. */
export async function describeRejections(tx: Tx, attemptIds: readonly number[]): Promise<void> {
  if (attemptIds.length === 0) return;
  await tx.query(
    `UPDATE payouts p SET status_reason = 'rejected by the bank: ' || a.reason_code || coalesce(' ' || a.reason, '')
       FROM payout_attempts a WHERE a.id = ANY($1::bigint[]) AND p.id = a.payout_id AND p.status = 'FAILED'`,
    [attemptIds],
  );
}

/** A SUBMITTED batch whose every attempt is final gets its final status; returns its MsgId, null when it was not SUBMITTED. */
export async function finishBatch(tx: Tx, batchId: number, status: BatchStatus): Promise<string | null> {
  const { rows: [batch] } = await tx.query<{ msgId: string }>(
    `UPDATE payout_batches SET status = $2, final_at = now() WHERE id = $1 AND status = 'SUBMITTED' RETURNING msg_id AS "msgId"`,
    [batchId, status],
  );
  return batch?.msgId ?? null;
}

/** The account a batch is paid from (its debits and returns are booked there). */
export async function batchAccount(db: Queryable, batchId: number): Promise<string> {
  const { rows: [batch] } = await db.query<{ account: string }>('SELECT debtor_account AS account FROM payout_batches WHERE id = $1', [batchId]);
  if (!batch) throw new Error(`payout batch ${batchId} does not exist`);
  return batch.account;
}

/** The batch's payment information id (PmtInfId), which a status report names a block status by. */
export async function batchPmtInfId(db: Queryable, batchId: number): Promise<string> {
  const { rows: [batch] } = await db.query<{ pmtInfId: string }>('SELECT pmt_inf_id AS "pmtInfId" FROM payout_batches WHERE id = $1', [batchId]);
  if (!batch) throw new Error(`payout batch ${batchId} does not exist`);
  return batch.pmtInfId;
}

/** The attempts of attempt `a`'s payout made after it, not cancelled (its retries), as LaterAttempt JSON, first first. */
const LATER_ATTEMPTS_SQL = `coalesce((SELECT json_agg(json_build_object('attemptNo', r.attempt_no, 'endToEndId', r.end_to_end_id, 'status', r.status,
                                      'sentOn', (r.sent_at AT TIME ZONE 'Asia/Shanghai')::date)
                                      ORDER BY r.attempt_no)
                        FROM payout_attempts r WHERE r.payout_id = a.payout_id AND r.attempt_no > a.attempt_no AND r.status <> 'CANCELLED'), '[]')`;

/**
 * Of the credits a report gives, those of attempts the bank had refused (REJECTED: a final status no
 * report changes), with their payout and the payout's attempts made since, not cancelled (its retry).
 */
export async function creditsAfterRefusal(tx: Tx, credits: readonly PaymentCredit[]): Promise<CreditAfterRefusal[]> {
  if (credits.length === 0) return [];
  const byAttempt = new Map(credits.map((c) => [c.attemptId, c]));
  const { rows } = await tx.query<Omit<CreditAfterRefusal, keyof PaymentCredit> & { attemptId: number }>(
    `SELECT a.id AS "attemptId", a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", a.amount_fen AS "amountFen",
            b.debtor_account AS account, p.status AS "payoutStatus", a.reason_code || coalesce(' ' || a.reason, '') AS "refusedWith",
            ${LATER_ATTEMPTS_SQL} AS retries
       FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN payout_batches b ON b.id = a.batch_id
      WHERE a.id = ANY($1::bigint[]) AND a.status = 'REJECTED'
      ORDER BY a.id`,
    [[...byAttempt.keys()]],
  );
  return rows.map((row) => ({ ...byAttempt.get(row.attemptId)!, ...row }));
}

/** The retries (LaterAttempt) of each of these attempts' payouts made after it, for the attempts that have any. */
export async function laterAttemptsOf(db: Queryable, attemptIds: readonly number[]): Promise<Map<number, LaterAttempt[]>> {
  const { rows } = await db.query<{ attemptId: number; retries: LaterAttempt[] }>(
    `SELECT a.id AS "attemptId", ${LATER_ATTEMPTS_SQL} AS retries FROM payout_attempts a WHERE a.id = ANY($1::bigint[])`, [attemptIds],
  );
  return new Map(rows.filter((r) => r.retries.length > 0).map((r) => [r.attemptId, r.retries]));
}

/** The batch a status report is about (by the MsgId of the file), when we sent it; null otherwise. */
export async function sentBatchId(db: Queryable, msgId: string): Promise<number | null> {
  const { rows: [batch] } = await db.query<{ id: number }>(
    `SELECT id FROM payout_batches WHERE msg_id = $1 AND status NOT IN ('DRAFT', 'APPROVED', 'SEALED', 'CANCELLED')`,
    [msgId],
  );
  return batch?.id ?? null;
}
