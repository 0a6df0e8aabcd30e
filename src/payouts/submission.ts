import { feedCursor, saveFeedCursor } from '../banks/store.ts';
import { markPayoutLinesPaid } from '../benefits/store.ts';
import type { Tx } from '../kernel/transaction.ts';
import type pg from 'pg';
import type { Logger } from 'pino';
import { recordAudit } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { BankError, type BankAdapter, type BankDocument } from '../banks/adapter.ts';
import type { Pain002Parsed } from '../banks/iso20022/pain002.ts';
import { sealBatch, type SealingContext } from './batches.ts';
import { clearBatchFile } from './document.ts';
import type { StatusChange } from '../events/statusEvents.ts';
import { finalBatchStatus, readStatusReport, type AttemptState, type AttemptUpdate } from './statusReport.ts';

/**
 * Moving a batch through the bank, exactly once (docs/design.md, Rules of the house):
 * - APPROVED: sealed (batches.ts).
 * - SEALED and asked to be sent: `submission = SENDING` and every attempt SENT are committed
 *   before the call, so a worker killed mid-call leaves the trace.
 * - No answer (BankError): `submission = UNKNOWN`, attempts UNKNOWN; the job fails and retries.
 * - SENDING or UNKNOWN: the bank is asked by MsgId before anything else. "Never received" means the
 *   same sealed file is sent again (the bank is idempotent per MsgId); a report is applied.
 * - A report moves attempts forward only (statusReport.ts); when all are final the batch is
 *   ACCEPTED, PARTIALLY_ACCEPTED or REJECTED and failed payouts may be retried (new attempt).
 * One worker at a time per batch (a session advisory lock), whatever the queue does.
 */

export interface PayoutChange {
  payoutId: number;
  memberId: number;
  unitId: number;
  status: string;
}

/** The announcement of a payout's new status, for subscribers (published after the commit). */
export function payoutStatusChange(change: PayoutChange): StatusChange {
  return { kind: 'PAYOUT', id: change.payoutId, memberId: change.memberId, unitId: change.unitId, status: change.status, at: new Date().toISOString() };
}

export interface SubmissionContext {
  db: pg.Pool;
  adapter: BankAdapter;
  sealing: SealingContext;
  log: Logger;
  /** Told after commit which payouts changed status (subscriptions). */
  onChanges?: (changes: PayoutChange[]) => Promise<void>;
}

export interface BatchProgress {
  status: string;
  /** True while the bank's final word is awaited: ask again later. */
  waiting: boolean;
}

const LOCK_SPACE = 7_405; // advisory lock key space of payout batches

export async function advanceBatch(ctx: SubmissionContext, batchId: number): Promise<BatchProgress> {
  const lock = await ctx.db.connect();
  try {
    const { rows: [locked] } = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2::int) AS ok', [LOCK_SPACE, batchId]);
    if (!locked!.ok) return { status: 'BUSY', waiting: true };
    try {
      return await advanceLocked(ctx, batchId);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1, $2::int)', [LOCK_SPACE, batchId]);
    }
  } finally {
    lock.release();
  }
}

interface BatchState {
  msgId: string;
  status: string;
  submission: string;
  submitRequested: boolean;
  /** The sealed file in clear (decrypted here: only the bank gets it). */
  xml: string | null;
  seal: Buffer | null;
}

async function readBatch(ctx: SubmissionContext, batchId: number): Promise<BatchState> {
  const { rows: [row] } = await ctx.db.query<Omit<BatchState, 'xml'> & { fileEnc: Buffer | null; fileXml: string | null }>(
    `SELECT msg_id AS "msgId", status, submission, submit_requested_at IS NOT NULL AS "submitRequested",
            file_enc AS "fileEnc", file_xml AS "fileXml", seal
       FROM payout_batches WHERE id = $1`,
    [batchId],
  );
  if (!row) throw new Error(`payout batch ${batchId} does not exist`);
  const { fileEnc, fileXml, ...state } = row;
  return { ...state, xml: clearBatchFile(ctx.sealing.keys, { fileEnc, fileXml }) };
}

async function advanceLocked(ctx: SubmissionContext, batchId: number): Promise<BatchProgress> {
  for (;;) {
    const batch = await readBatch(ctx, batchId);
    if (batch.status === 'APPROVED') {
      await sealBatch(ctx.db, ctx.sealing, batchId);
      continue;
    }
    if (batch.status === 'SEALED') {
      if (!batch.submitRequested) return { status: batch.status, waiting: false };
      await markSending(ctx, batchId);
      await send(ctx, batchId, batch);
      continue;
    }
    if (batch.status !== 'SUBMITTED') return { status: batch.status, waiting: false };

    const report = await asking(ctx, batchId, () => ctx.adapter.paymentStatus(batch.msgId));
    if (report === null) {
      if (batch.submission === 'RECEIVED') {
        // The bank acknowledged the file and now denies it: sending again could be read as a duplicate. A person must look.
        ctx.log.error({ batchId, msgId: batch.msgId }, 'the bank acknowledged this batch but its status query says it never received it');
        return { status: batch.status, waiting: true };
      }
      await send(ctx, batchId, batch);
      continue;
    }
    const status = await applyReport(ctx, batchId, report);
    return { status, waiting: status === 'SUBMITTED' };
  }
}

async function markSending(ctx: SubmissionContext, batchId: number): Promise<void> {
  const changes = await inTransaction(ctx.db, async (tx) => {
    await tx.query(`UPDATE payout_batches SET status = 'SUBMITTED', submission = 'SENDING', submitted_at = now() WHERE id = $1 AND status = 'SEALED'`, [batchId]);
    await tx.query(`UPDATE payout_attempts SET status = 'SENT', status_at = now() WHERE batch_id = $1 AND status = 'PLANNED'`, [batchId]);
    return payoutsTo(tx, batchId, 'SENT', `status = 'IN_BATCH'`);
  });
  await ctx.onChanges?.(changes);
}

/** A call whose failure leaves the outcome unknown: recorded as UNKNOWN, then thrown (the job retries). */
async function asking<T>(ctx: SubmissionContext, batchId: number, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof BankError)) throw error;
    await inTransaction(ctx.db, async (tx) => {
      await tx.query(`UPDATE payout_batches SET submission = 'UNKNOWN' WHERE id = $1 AND submission = 'SENDING'`, [batchId]);
      await tx.query(`UPDATE payout_attempts SET status = 'UNKNOWN', status_at = now() WHERE batch_id = $1 AND status = 'SENT'`, [batchId]);
    });
    ctx.log.warn({ batchId, err: error }, 'no usable answer from the bank; the batch is UNKNOWN until the bank is asked again');
    throw error;
  }
}

async function send(ctx: SubmissionContext, batchId: number, batch: BatchState): Promise<void> {
  const ack = await asking(ctx, batchId, () => ctx.adapter.submitBatch({ msgId: batch.msgId, xml: batch.xml!, seal: batch.seal! }));
  if (ack.accepted) {
    await ctx.db.query(
      `UPDATE payout_batches SET submission = 'RECEIVED', bank_reference = $2, answered_at = now() WHERE id = $1`,
      [batchId, ack.bankReference ?? null],
    );
    return;
  }
  // The bank's sealed refusal of the whole file: nothing of it is executed, every payment failed.
  const changes = await inTransaction(ctx.db, async (tx) => {
    await tx.query(
      `UPDATE payout_batches SET submission = 'REFUSED', status = 'REJECTED', bank_code = $2, bank_reason = $3, answered_at = now(), final_at = now() WHERE id = $1`,
      [batchId, ack.code ?? null, ack.reason ?? null],
    );
    await tx.query(
      `UPDATE payout_attempts SET status = 'REJECTED', bank_status = 'RJCT', reason_code = $2, reason = $3, status_at = now()
        WHERE batch_id = $1 AND status IN ('SENT', 'UNKNOWN')`,
      [batchId, ack.code ?? 'NARR', ack.reason ?? null],
    );
    await recordAudit(tx, { subject: 'bank', role: 'SERVICE' }, {
      action: 'payout.batch.refused', targetType: 'PayoutBatch', targetId: batch.msgId, reason: `${ack.code ?? ''} ${ack.reason ?? ''}`.trim(), details: { batchId },
    });
    return payoutsTo(tx, batchId, 'FAILED', `status = 'SENT'`, `the bank refused the whole file: ${ack.code ?? ''} ${ack.reason ?? ''}`.trim());
  });
  ctx.log.warn({ batchId, code: ack.code, reason: ack.reason }, 'the bank refused the batch file');
  await ctx.onChanges?.(changes);
}

/**
 * Payouts of the batch's attempts moved to `status` (those matching `where`), with their
 * member and unit for the status events.
 */
async function payoutsTo(tx: Tx, batchId: number, status: string, where: string, reason: string | null = null, attemptIds?: number[]): Promise<PayoutChange[]> {
  // Driven by the attempts' keys (a join would let stale statistics pick a per-payout probe of the
  // batch: quadratic, ~4 s per call at 40,000 payouts in flight).
  const { rows } = await tx.query<PayoutChange>(
    `UPDATE payouts p SET status = $2, status_reason = $3, updated_at = now(),
            paid_at = CASE WHEN $2 = 'PAID' THEN now() ELSE p.paid_at END
      WHERE p.id = ANY(ARRAY(SELECT a.payout_id FROM payout_attempts a
                              WHERE a.batch_id = $1 ${attemptIds ? 'AND a.id = ANY($4::bigint[])' : ''}))
        AND p.${where}
      RETURNING p.id AS "payoutId", p.member_id AS "memberId", p.unit_id AS "unitId", p.status`,
    attemptIds ? [batchId, status, reason, attemptIds] : [batchId, status, reason],
  );
  return rows;
}

/** Applies one pain.002 (kept as evidence, once per its MsgId); returns the batch's status after it. */
async function applyReport(ctx: SubmissionContext, batchId: number, document: BankDocument<Pain002Parsed>): Promise<string> {
  const { status, changes } = await inTransaction(ctx.db, async (tx) => {
    const report = document.parsed;
    await tx.query(
      `INSERT INTO bank_status_reports (msg_id, batch_id, group_status, xml, seal, sealed_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (msg_id) DO NOTHING`,
      [report.msgId, batchId, report.groupStatus ?? null, document.xml, document.seal, document.sealedBy],
    );
    await tx.query(`UPDATE payout_batches SET submission = 'RECEIVED', answered_at = coalesce(answered_at, now()) WHERE id = $1 AND submission <> 'RECEIVED'`, [batchId]);
    const { rows: attempts } = await tx.query<AttemptState>(
      `SELECT id, end_to_end_id AS "endToEndId", status FROM payout_attempts WHERE batch_id = $1 AND status <> 'CANCELLED' ORDER BY id FOR UPDATE`,
      [batchId],
    );
    const reading = readStatusReport(report, attempts);
    if (reading.strangers.length) ctx.log.error({ batchId, report: report.msgId, strangers: reading.strangers.slice(0, 10) }, 'the status report names payments that are not in this batch; they are ignored');
    await updateAttempts(tx, reading.updates);
    const changes = [
      ...await payoutsTo(tx, batchId, 'PAID', `status IN ('SENT', 'IN_BATCH')`, null, idsWith(reading.updates, 'PAID')),
      ...await payoutsTo(tx, batchId, 'FAILED', `status IN ('SENT', 'IN_BATCH')`, 'rejected by the bank', idsWith(reading.updates, 'REJECTED')),
    ];
    await markPayoutLinesPaid(tx, changes.filter((c) => c.status === 'PAID').map((c) => c.payoutId));
    await describeRejections(tx, idsWith(reading.updates, 'REJECTED'));

    const updated = new Map(reading.updates.map((u) => [u.id, u.status]));
    const statuses = attempts.map((a) => updated.get(a.id) ?? a.status);
    const final = finalBatchStatus(statuses);
    if (!final) return { status: 'SUBMITTED', changes };
    const { rows: [batch] } = await tx.query<{ msgId: string }>(
      `UPDATE payout_batches SET status = $2, final_at = now() WHERE id = $1 AND status = 'SUBMITTED' RETURNING msg_id AS "msgId"`,
      [batchId, final],
    );
    if (batch) {
      await recordAudit(tx, { subject: 'bank', role: 'SERVICE' }, {
        action: 'payout.batch.answered', targetType: 'PayoutBatch', targetId: batch.msgId,
        details: { batchId, status: final, paid: statuses.filter((s) => s === 'PAID').length, rejected: statuses.filter((s) => s === 'REJECTED').length, report: report.msgId },
      });
    }
    return { status: final, changes };
  });
  await ctx.onChanges?.(changes);
  return status;
}

const idsWith = (updates: AttemptUpdate[], status: AttemptUpdate['status']) => updates.filter((u) => u.status === status).map((u) => u.id);

async function updateAttempts(tx: Tx, updates: AttemptUpdate[]): Promise<void> {
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
async function describeRejections(tx: Tx, attemptIds: number[]): Promise<void> {
  if (attemptIds.length === 0) return;
  await tx.query(
    `UPDATE payouts p SET status_reason = 'rejected by the bank: ' || a.reason_code || coalesce(' ' || a.reason, '')
       FROM payout_attempts a WHERE a.id = ANY($1::bigint[]) AND p.id = a.payout_id AND p.status = 'FAILED'`,
    [attemptIds],
  );
}

const STATUS_FEED = 'status-reports';

/**
 * Reads the bank's feed of status reports from where we stopped, applying each to its batch
 * (duplicates and stale interim reports change nothing: they are kept as evidence only).
 * Returns how many were applied and how many are about files we do not know.
 */
export async function readStatusFeed(ctx: SubmissionContext): Promise<{ applied: number; unknown: number }> {
  const page = await ctx.adapter.statusReports(await feedCursor(ctx.db, STATUS_FEED));
  let applied = 0;
  let unknown = 0;
  for (const document of page.documents) {
    const { rows: [batch] } = await ctx.db.query<{ id: number }>(
      `SELECT id FROM payout_batches WHERE msg_id = $1 AND status NOT IN ('DRAFT', 'APPROVED', 'SEALED', 'CANCELLED')`,
      [document.parsed.originalMsgId],
    );
    if (!batch) {
      unknown += 1;
      ctx.log.warn({ report: document.parsed.msgId, about: document.parsed.originalMsgId }, 'a status report about a file we did not send');
      continue;
    }
    await applyReport(ctx, batch.id, document);
    applied += 1;
  }
  await saveFeedCursor(ctx.db, STATUS_FEED, page.nextCursor);
  return { applied, unknown };
}
