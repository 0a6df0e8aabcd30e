import { feedCursor, saveFeedCursor } from '../banks/store.ts';
import { markPayoutLinesPaid } from '../benefits/store.ts';
import type { Logger } from 'pino';
import { recordAudit } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { BankError, type BankAdapter, type BankDocument } from '../banks/adapter.ts';
import type { Pain002Parsed } from '../banks/iso20022/pain002.ts';
import { clearBatchFile, removeBatchFiles } from './files.ts';
import type { AttemptUpdate, BatchStatus, PayoutChange, PayoutSettings, RefusalsAfterPayment, UnconfirmedRetry } from './model.ts';
import { lockAccountForRetries, PAID_BEFORE_REASON, PAYOUT_WORKER, sealBatch, type SealingContext } from './sealing.ts';
import { creditsPayments, finalBatchStatus, readStatusReport, refusesPayments } from './statusReport.ts';
import {
  batchAccount, batchPmtInfId, batchToSend, creditsAfterRefusal, describeRejections, finishBatch, hasRefusedAttempt, insertStatusReport, lockAttemptsOfBatch, markReceived,
  markRefused, markReportReceived, markBatchSending, markUnknown, payoutsTo, sentBatchId, updateAttempts, withBatchLock, type BatchToSend,
} from './store/submission.ts';
import type { StatusChange } from '../events/statusEvents.ts';
import { recordPayoutNotifications } from '../notifications/store.ts';
import { policyStatus } from './model.ts';
import { lockPolicy } from './store/policies.ts';
import { lockBatch, unconfirmedRetries } from './store/batches.ts';
import { failPayouts } from './store/payouts.ts';
import { withdrawBatch } from './decisions.ts';
import { UNSCOPED } from '../kernel/scope.ts';

/**
 * Moving a batch through the bank, exactly once (docs/design.md, Rules of the house):
 * - APPROVED and asked to be sent: sealed (sealing.ts), then sent at once. The bank judges the
 *   seal's signingTime at receipt (SEAL_SIGNING_WINDOW_HOURS): a file sealed at its approval and
 *   asked for days later would be refused whole, each of its payments failed for a delay.
 * - SEALED and asked to be sent: `submission = SENDING` and every attempt SENT are committed
 *   before the call, so a worker killed mid-call leaves the trace.
 * - No answer (BankError): `submission = UNKNOWN`, attempts UNKNOWN; the job fails and retries.
 * - DU01 (the bank holds another file under this MsgId, and that one stands): no evidence that a
 *   payment failed. UNKNOWN as well, until the bank's status for the MsgId says what that file did.
 * - SENDING or UNKNOWN: the bank is asked by MsgId before anything else. "Never received" means the
 *   same sealed file is sent again (the bank is idempotent per MsgId), unless it holds a one-person
 *   retry of a payout the bank was found to have paid since (mayResend); a report is applied.
 * - A report moves attempts forward only (statusReport.ts); when all are final the batch is
 *   ACCEPTED, PARTIALLY_ACCEPTED or REJECTED and failed payouts may be retried (new attempt).
 * - A refusal (RJCT) of a payment the bank had paid — reported credited (PAID, which stays PAID) or
 *   with its debit matched on a statement — is a reconciliation exception for a person
 *   (`refusalsAfterPayment`, src/reconciliation/refusals.ts), raised in the transaction that applies
 *   the report, or the refusal of the whole file. So is its mirror, a credit (ACSC) of a payment the
 *   bank had refused: the attempt stays REJECTED, but from then on its payout counts as paid by the
 *   bank (payout_paid_by_bank, 0051), so a retry not confirmed by two FINANCE people is withdrawn at
 *   sealing, or, sealed before the credit (or debit) came, its batch is cancelled at the hand-over;
 *   handed over before, its file is not sent again should the bank say it never received it (an
 *   exception for FINANCE); a retry already sent may have paid the member twice, which the exception says.
 * One worker at a time per batch (a session advisory lock), whatever the queue does.
 */

/** The announcement of a payout's new status, for subscribers (published after the commit). */
export function payoutStatusChange(change: PayoutChange): StatusChange {
  return { kind: 'PAYOUT', id: change.payoutId, memberId: change.memberId, unitId: change.unitId, status: change.status, at: new Date().toISOString() };
}

export interface SubmissionContext {
  db: Db;
  adapter: BankAdapter;
  sealing: SealingContext;
  /** The payout rules sealing applies to payments that leave a batch (BANK_CARD_COOLING_OFF_DAYS), and the paying account it checks a batch's debtor against. */
  settings: Pick<PayoutSettings, 'coolingOffDays' | 'account'>;
  log: Logger;
  /** Told after commit which payouts changed status (subscriptions). */
  onChanges?: (changes: PayoutChange[]) => Promise<void>;
  /** What a refusal of a payment the bank had paid sets off (reconciliation's, given by jobs/). */
  refusalsAfterPayment: RefusalsAfterPayment;
}

export interface BatchProgress {
  /** BUSY: another worker holds the batch. */
  status: BatchStatus | 'BUSY';
  /** True while the bank's final word is awaited: ask again later. */
  waiting: boolean;
}

export async function advanceBatch(ctx: SubmissionContext, batchId: number): Promise<BatchProgress> {
  return withBatchLock<BatchProgress>(ctx.db, batchId, { status: 'BUSY', waiting: true }, () => advanceLocked(ctx, batchId));
}

interface BatchState extends Omit<BatchToSend, 'fileEnc' | 'fileXml'> {
  /** The sealed file in clear (decrypted here: only the bank gets it). */
  xml: string | null;
}

async function readBatch(ctx: SubmissionContext, batchId: number): Promise<BatchState> {
  const row = await batchToSend(ctx.db, batchId);
  if (!row) throw new Error(`payout batch ${batchId} does not exist`);
  const { fileEnc, fileXml, ...state } = row;
  return { ...state, xml: clearBatchFile(ctx.sealing.keys, { fileEnc, fileXml }) };
}

async function advanceLocked(ctx: SubmissionContext, batchId: number): Promise<BatchProgress> {
  for (;;) {
    const batch = await readBatch(ctx, batchId);
    if (batch.status === 'APPROVED') {
      // Sealed only once asked to be sent, then sent at once: the seal's signing time is judged at receipt.
      if (!batch.submitRequested) return { status: batch.status, waiting: false };
      const { refused } = await sealBatch(ctx.db, ctx.sealing, ctx.settings, batchId, new Date(), ctx.refusalsAfterPayment.lockAccount);
      if (refused) {
        // Left as it is for a person (audited as payout.batch.seal.refuse); the sweep asks again.
        ctx.log.error({ batchId, msgId: batch.msgId, reason: refused }, 'the payout batch was not sealed: its debtor is not the account the worker pays its funder from');
        return { status: batch.status, waiting: false };
      }
      continue;
    }
    if (batch.status === 'SEALED') {
      if (!batch.submitRequested) return { status: batch.status, waiting: false };
      if (await markSending(ctx, batchId, batch.policyId) && !(await send(ctx, batchId, batch))) return { status: 'SUBMITTED', waiting: true };
      continue;
    }
    // Cancelled after sealing (here at the hand-over, or by a policy's revocation): its committed cancellation leaves no file behind.
    if (batch.status === 'CANCELLED') removeBatchFiles(ctx.sealing.outDir, [batch.msgId], ctx.log);
    if (batch.status !== 'SUBMITTED') return { status: batch.status, waiting: false };

    const report = await asking(ctx, batchId, () => ctx.adapter.paymentStatus(batch.msgId));
    if (report === null) {
      if (batch.submission === 'RECEIVED') {
        // The bank acknowledged the file and now denies it: sending again could be read as a duplicate. A person must look.
        ctx.log.error({ batchId, msgId: batch.msgId }, 'the bank acknowledged this batch but its status query says it never received it');
        return { status: batch.status, waiting: true };
      }
      if (!(await mayResend(ctx, batchId, batch.msgId)) || !(await send(ctx, batchId, batch))) return { status: batch.status, waiting: true };
      continue;
    }
    const status = await applyReport(ctx, batchId, report);
    return { status, waiting: status === 'SUBMITTED' };
  }
}

/**
 * Commits the hand-over before the call; false when the batch may not go: cancelled meanwhile, or
 * released under a payment policy that is no longer in force — then it is cancelled here and its
 * payouts wait for the ordinary batch. The policy is locked before the batch, as a revocation does.
 * Nor does it go when it holds a one-person retry of a payout the bank paid before (a credit after
 * its refusal, or a debit on a statement, that came after the sealing, which checked it then): the
 * sealed file cannot lose that payment, so the batch is cancelled here (cancelUnconfirmedRetries).
 */
async function markSending(ctx: SubmissionContext, batchId: number, policyId: number | null): Promise<boolean> {
  const { sending, changes } = await inTransaction(ctx.db, async (tx) => {
    // A credit after a refusal or a debit on a statement committed meanwhile is seen below; one
    // committed later finds the retry sent (and says the member may have been paid twice).
    const retries = (await lockAccountForRetries(tx, batchId, ctx.refusalsAfterPayment.lockAccount)) !== null;
    const policy = policyId === null ? null : await lockPolicy(tx, policyId, UNSCOPED, 'SHARE');
    if (policy && policyStatus(policy) !== 'ACTIVE') {
      // Its revocation may have cancelled it already: that cancellation stands.
      const batch = await lockBatch(tx, batchId);
      if (batch?.status !== 'SEALED') return { sending: false, changes: [] };
      const reason = `payment policy ${policyId} is ${policyStatus(policy)}: the batch was not sent`;
      const payoutIds = await withdrawBatch(tx, batchId, PAYOUT_WORKER.subject, reason, ctx.settings.coolingOffDays);
      await recordAudit(tx, PAYOUT_WORKER, { action: 'payout.batch.cancel', targetType: 'PayoutBatch', targetId: batch.msgId, reason, details: { batchId, payouts: payoutIds.length } });
      return { sending: false, changes: [] };
    }
    if (retries) {
      // The sealing check again, the batch locked first (a cancellation stands) and then the retries' payouts.
      const batch = await lockBatch(tx, batchId);
      if (batch?.status !== 'SEALED') return { sending: false, changes: [] };
      const unconfirmed = await unconfirmedRetries(tx, batchId);
      if (unconfirmed.length > 0) {
        await cancelUnconfirmedRetries(tx, ctx, batch.msgId, batchId, unconfirmed);
        return { sending: false, changes: [] };
      }
    }
    if (!(await markBatchSending(tx, batchId))) return { sending: false, changes: [] };
    return { sending: true, changes: await payoutsTo(tx, batchId, 'SENT', ['IN_BATCH']) };
  });
  await ctx.onChanges?.(changes);
  return sending;
}

/**
 * A sealed batch, never handed over, holds retries the bank had paid before and no second FINANCE
 * person confirmed: as sealing withdraws such a payment (its payout FAILED with the reason, for two
 * FINANCE people to retry), but the sealed file cannot lose it, so the whole batch is cancelled
 * (0055 allows SEALED -> CANCELLED, never sent, for such a batch) and its other payouts wait for
 * another batch (READY, or HELD as their member's card says), as when a batch is withdrawn. Audited.
 */
async function cancelUnconfirmedRetries(tx: Tx, ctx: SubmissionContext, msgId: string, batchId: number, unconfirmed: UnconfirmedRetry[]): Promise<void> {
  const reason = 'paid by the bank before, retried without four eyes (or confirmed before a debit found since): found at the hand-over, after the sealing; the batch was not sent';
  // FAILED first: the withdrawal sends only the payouts still IN_BATCH back to wait.
  await failPayouts(tx, unconfirmed.map((u) => ({ payoutId: u.payoutId, reason: PAID_BEFORE_REASON })));
  const payoutIds = await withdrawBatch(tx, batchId, PAYOUT_WORKER.subject, reason, ctx.settings.coolingOffDays);
  await recordAudit(tx, PAYOUT_WORKER, {
    action: 'payout.batch.cancel', targetType: 'PayoutBatch', targetId: msgId, reason,
    details: {
      batchId, payouts: payoutIds.length,
      paidBefore: paidBeforeDetails(unconfirmed),
    },
  });
  ctx.log.warn({ batchId, msgId, paidBefore: unconfirmed.map((u) => u.payoutId).slice(0, 10) },
    'a sealed batch holds one-person retries of payouts the bank paid before: it was cancelled, not sent');
}

/**
 * Whether the sealed file the bank says it never received may be sent again: not when it holds a
 * one-person retry of a payout the bank was found to have paid since the sealing (a credit after its
 * refusal, a debit on a statement), checked as at the hand-over and under the same lock. Nor is the
 * batch cancelled, as it is at the hand-over: it was handed over (SENDING, or UNKNOWN: no answer, or
 * the bank's DU01 for another file under its MsgId), and "never received" cannot tell a file lost
 * from one still on its way, so its other payouts paid in another batch could be paid twice. It
 * waits as it is, the bank asked about it by MsgId (a report that comes is applied), and each such
 * retry is a RESEND_WITHHELD exception for FINANCE naming the batch (raised once, audited then).
 */
async function mayResend(ctx: SubmissionContext, batchId: number, msgId: string): Promise<boolean> {
  const { unconfirmed, raised } = await inTransaction(ctx.db, async (tx) => {
    const account = await lockAccountForRetries(tx, batchId, ctx.refusalsAfterPayment.lockAccount);
    if (account === null) return { unconfirmed: [], raised: 0 };
    const unconfirmed = await unconfirmedRetries(tx, batchId);
    if (unconfirmed.length === 0) return { unconfirmed, raised: 0 };
    const raised = await ctx.refusalsAfterPayment.raiseWithheldResend(tx, { batchId, msgId, account, retries: unconfirmed });
    if (raised > 0) {
      await recordAudit(tx, PAYOUT_WORKER, {
        action: 'payout.batch.withhold', targetType: 'PayoutBatch', targetId: msgId,
        reason: 'paid by the bank before, retried without four eyes (or confirmed before a debit found since): found after the hand-over, which the bank says it never received; the file was not sent again',
        details: { batchId, paidBefore: paidBeforeDetails(unconfirmed) },
      });
    }
    return { unconfirmed, raised };
  });
  if (raised > 0) {
    ctx.log.error({ batchId, msgId, paidBefore: unconfirmed.map((u) => u.payoutId).slice(0, 10) },
      'the bank says it never received this batch, which holds one-person retries of payouts the bank paid before: it is not sent again; a person must ask the bank about it (RESEND_WITHHELD)');
  }
  return unconfirmed.length === 0;
}

/** The retries a batch may not carry to the bank, as its audit records them. */
const paidBeforeDetails = (unconfirmed: UnconfirmedRetry[]) => unconfirmed.map((u) => ({ payoutId: u.payoutId, claimId: u.claimId, amountFen: u.amountFen }));

/** A call whose failure leaves the outcome unknown: recorded as UNKNOWN, then thrown (the job retries). */
async function asking<T>(ctx: SubmissionContext, batchId: number, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof BankError)) throw error;
    await inTransaction(ctx.db, (tx) => markUnknown(tx, batchId));
    ctx.log.warn({ batchId, err: error }, 'no usable answer from the bank; the batch is UNKNOWN until the bank is asked again');
    throw error;
  }
}

/** Hands the sealed file to the bank; false when the bank holds another file under its MsgId, whose status is then awaited. */
async function send(ctx: SubmissionContext, batchId: number, batch: BatchState): Promise<boolean> {
  const ack = await asking(ctx, batchId, () => ctx.adapter.submitBatch({ msgId: batch.msgId, xml: batch.xml!, seal: batch.seal! }));
  if (ack.accepted) {
    await markReceived(ctx.db, batchId, ack.bankReference ?? null);
    return true;
  }
  if (ack.code === 'DU01') {
    // Only this copy is refused: the earlier file under the MsgId (sent before a restore of the
    // database, say, and sealed again since) stands and may have paid these very EndToEndIds.
    // Failing them would let a retry pay them again.
    await inTransaction(ctx.db, (tx) => markUnknown(tx, batchId));
    ctx.log.error(
      { batchId, msgId: batch.msgId, reason: ack.reason },
      'the bank holds another file under this batch\'s MsgId (DU01) and refused this copy; the batch is UNKNOWN until the bank\'s status for the MsgId says what that file did. A person must find out where that file came from',
    );
    return false;
  }
  // The bank's sealed refusal of the whole file: nothing of it is executed, every payment failed.
  const changes = await inTransaction(ctx.db, async (tx) => {
    // Before any row, as for a report refusing payments: a run matching this batch's debits finishes first.
    await ctx.refusalsAfterPayment.lockAccount(tx, await batchAccount(tx, batchId));
    // Only the payouts of the attempts this refusal rejects: a status report applied meanwhile may have
    // rejected one already, and its payout may have been retried into another batch since.
    const refused = await markRefused(tx, batchId, { code: ack.code ?? null, reason: ack.reason ?? null, attemptReasonCode: ack.code ?? 'NARR' });
    await recordAudit(tx, { subject: 'bank', role: 'SERVICE' }, {
      action: 'payout.batch.refused', targetType: 'PayoutBatch', targetId: batch.msgId, reason: `${ack.code ?? ''} ${ack.reason ?? ''}`.trim(), details: { batchId },
    });
    const failed = await payoutsTo(tx, batchId, 'FAILED', ['SENT'], `the bank refused the whole file: ${ack.code ?? ''} ${ack.reason ?? ''}`.trim(), refused);
    await recordPayoutNotifications(tx, 'PAYOUT_FAILED', failed.map((c) => c.payoutId));
    // A statement may have shown a debit of an attempt while the bank's answer was awaited (UNKNOWN):
    // the bank now says it executed nothing of the file, which its statement contradicts.
    const contradicted = await ctx.refusalsAfterPayment.raise(tx, refused.map((attemptId) => ({
      attemptId, reasonCode: ack.code ?? 'NARR', additionalInfo: ack.reason ?? null, report: batch.msgId,
    })));
    warnContradicted(ctx, { batchId, refusedFile: batch.msgId }, contradicted);
    return failed;
  });
  ctx.log.warn({ batchId, code: ack.code, reason: ack.reason }, 'the bank refused the batch file');
  await ctx.onChanges?.(changes);
  return true;
}

/** Applies one pain.002 (kept as evidence, once per its MsgId); returns the batch's status after it. */
async function applyReport(ctx: SubmissionContext, batchId: number, document: BankDocument<Pain002Parsed>): Promise<BatchStatus> {
  const { status, changes } = await inTransaction(ctx.db, async (tx) => {
    const report = document.parsed;
    // Before any row: a reconciliation run matching this batch's debits now finishes first (its lock order).
    // A credit contradicts only a refusal made before (attempts move only under this batch's lock), so
    // the ordinary report, crediting what was sent, does not wait for a run on the account.
    if (refusesPayments(report) || (creditsPayments(report) && await hasRefusedAttempt(tx, batchId))) {
      await ctx.refusalsAfterPayment.lockAccount(tx, await batchAccount(tx, batchId));
    }
    await insertStatusReport(tx, batchId, { msgId: report.msgId, groupStatus: report.groupStatus ?? null, xml: document.xml, seal: document.seal, sealedBy: document.sealedBy });
    await markReportReceived(tx, batchId);
    const attempts = await lockAttemptsOfBatch(tx, batchId);
    const reading = readStatusReport(report, attempts, await batchPmtInfId(tx, batchId));
    if (reading.strangers.length) ctx.log.error({ batchId, report: report.msgId, strangers: reading.strangers.slice(0, 10) }, 'the status report names payments that are not in this batch; they are ignored');
    await updateAttempts(tx, reading.updates);
    const changes = [
      ...await payoutsTo(tx, batchId, 'PAID', ['SENT', 'IN_BATCH'], null, idsWith(reading.updates, 'PAID')),
      ...await payoutsTo(tx, batchId, 'FAILED', ['SENT', 'IN_BATCH'], 'rejected by the bank', idsWith(reading.updates, 'REJECTED')),
    ];
    await markPayoutLinesPaid(tx, changes.filter((c) => c.status === 'PAID').map((c) => c.payoutId));
    // The members are told in this transaction (the outbox): once per payout and attempt.
    await recordPayoutNotifications(tx, 'PAYOUT_PAID', changes.filter((c) => c.status === 'PAID').map((c) => c.payoutId));
    await recordPayoutNotifications(tx, 'PAYOUT_FAILED', changes.filter((c) => c.status === 'FAILED').map((c) => c.payoutId));
    await describeRejections(tx, idsWith(reading.updates, 'REJECTED'));
    // The bank refusing what it had paid (credited, or debited on a statement): a person must hear of it.
    const contradicted = await ctx.refusalsAfterPayment.raise(tx, reading.refusals);
    warnContradicted(ctx, { batchId, report: report.msgId }, contradicted);
    // The bank crediting what it had refused (the attempt stays REJECTED): the payout counts as paid by the bank from now on.
    const credited = await ctx.refusalsAfterPayment.raiseCredits(tx, await creditsAfterRefusal(tx, reading.credits));
    if (credited > 0) {
      ctx.log.warn({ batchId, report: report.msgId, raised: credited }, 'the bank credited payments it had refused; each is a reconciliation exception (PAID_AFTER_REJECTION)');
    }

    const updated = new Map(reading.updates.map((u) => [u.id, u.status]));
    const statuses = attempts.map((a) => updated.get(a.id) ?? a.status);
    const final = finalBatchStatus(statuses);
    if (!final) return { status: 'SUBMITTED' as const, changes };
    const msgId = await finishBatch(tx, batchId, final);
    if (msgId) {
      await recordAudit(tx, { subject: 'bank', role: 'SERVICE' }, {
        action: 'payout.batch.answered', targetType: 'PayoutBatch', targetId: msgId,
        details: { batchId, status: final, paid: statuses.filter((s) => s === 'PAID').length, rejected: statuses.filter((s) => s === 'REJECTED').length, report: report.msgId },
      });
    }
    return { status: final, changes };
  });
  await ctx.onChanges?.(changes);
  return status;
}

/** Said in the log when a refusal contradicted payments the bank had paid (each now an exception for FINANCE). */
function warnContradicted(ctx: SubmissionContext, where: Record<string, unknown>, contradicted: { attemptIds: number[]; raised: number }): void {
  if (contradicted.raised === 0) return;
  ctx.log.warn(
    { ...where, attempts: contradicted.attemptIds.slice(0, 10), raised: contradicted.raised },
    'the bank refused payments it had reported credited or a statement shows debited; each is a reconciliation exception (REJECTED_AFTER_PAYMENT)',
  );
}

const idsWith = (updates: AttemptUpdate[], status: AttemptUpdate['status']) => updates.filter((u) => u.status === status).map((u) => u.id);

const STATUS_FEED = 'status-reports';

/**
 * Reads the bank's feed of status reports from where we stopped, applying each to its batch
 * (duplicates and stale interim reports change nothing: they are kept as evidence only).
 * A report whose seal is refused is set aside (logged, never applied): its batch waits for its own
 * status query, or a person. Returns how many were applied, set aside, and about files we do not know.
 */
export async function readStatusFeed(ctx: SubmissionContext): Promise<{ applied: number; refused: number; unknown: number }> {
  const page = await ctx.adapter.statusReports(await feedCursor(ctx.db, STATUS_FEED));
  for (const refused of page.refused) ctx.log.error({ reason: refused.reason }, 'a status report of the bank\'s feed is set aside: its seal is refused');
  let applied = 0;
  let unknown = 0;
  for (const document of page.documents) {
    const batchId = await sentBatchId(ctx.db, document.parsed.originalMsgId);
    if (batchId === null) {
      unknown += 1;
      ctx.log.warn({ report: document.parsed.msgId, about: document.parsed.originalMsgId }, 'a status report about a file we did not send');
      continue;
    }
    await applyReport(ctx, batchId, document);
    applied += 1;
  }
  await saveFeedCursor(ctx.db, STATUS_FEED, page.nextCursor);
  return { applied, refused: page.refused.length, unknown };
}
