import { randomBytes } from 'node:crypto';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { conflict, forbidden, invalid, notFound } from '../kernel/errors.ts';
import { chinaToday } from '../kernel/time.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { remittanceInfo } from './files.ts';
import { statusesInto } from '../kernel/transitions.ts';
import { BATCH_TRANSITIONS, type BatchRow, type BatchStatus, type CreatedBatch, type RetryOutcome } from './model.ts';
import type { PayoutSettings } from './settings.ts';
import {
  insertAttempts, insertBatch, lockBatch, markBatchApproved, markBatchCancelled, markSubmitRequested, nextBatchId, programmesOfPayouts,
} from './store/batches.ts';
import {
  confirmRetry, followBankCards, lockPayoutForRetry, lockReadyPayouts, lockRetryProposal, markPayoutsInBatch, payoutsOutOfBatch,
  payoutsWaitAgain, proposeRetry,
} from './store/payouts.ts';

/**
 * What people decide about payout batches and payouts: batches created from READY payouts (one
 * attempt each, its EndToEndId stored now, long before anything is sent), approved by FINANCE
 * (never by their creator), asked to be sent, cancelled while not yet sealed; failed payouts
 * retried (after a payment, by two FINANCE people). Roles are the actor's role strings; the
 * database checks the four eyes as well. Sealing: sealing.ts; sending and the bank's answers:
 * submission.ts.
 */

/** A short random tag: ids stay unique at the bank even across databases (a demo run again, a restored copy). */
const tag = () => randomBytes(3).toString('hex').toUpperCase();

/**
 * A DRAFT batch of up to `max` READY payouts (oldest first), each with a new PLANNED attempt, from
 * the paying account. Null when no payout is ready. Payouts locked by a concurrent creation are
 * skipped, not waited for. Payouts whose member's card was replaced and is cooling off are HELD
 * first, never taken.
 */
export async function createBatch(
  db: Db, actor: Actor, settings: Pick<PayoutSettings, 'account' | 'coolingOffDays'>, max: number, now = new Date(),
): Promise<CreatedBatch | null> {
  if (!Number.isSafeInteger(max) || max < 1) throw invalid('input.maxPayouts', 'must be a whole number of at least 1');
  const { account, coolingOffDays } = settings;
  return inTransaction(db, async (tx) => {
    await followBankCards(tx, coolingOffDays);
    const payouts = await lockReadyPayouts(tx, max, coolingOffDays);
    if (payouts.length === 0) return null;
    const id = await nextBatchId(tx);
    const today = chinaToday(now);
    const msgId = `MAH-${today.replaceAll('-', '')}-B${id}-${tag()}`;
    const ctrlSumFen = payouts.reduce((sum, p) => sum + p.amountFen, 0);
    await insertBatch(tx, {
      id, msgId, pmtInfId: `${msgId}-1`, account, requestedExecutionDate: today, nbOfTxs: payouts.length, ctrlSumFen, createdBy: actor,
    });
    const programmesOf = await programmesOfPayouts(tx, payouts.map((p) => p.id));
    // The creditor is copied from the member now: what FINANCE approves is what the bank pays.
    await insertAttempts(tx, id, payouts.map((p) => {
      const attemptNo = p.attempts + 1;
      return {
        payoutId: p.id, attemptNo, endToEndId: `MAH-P${p.id}-A${attemptNo}-${tag()}`, remittanceInfo: remittanceInfo(p.claimId, programmesOf.get(p.id) ?? []),
      };
    }));
    await markPayoutsInBatch(tx, payouts.map((p) => p.id));
    await recordAudit(tx, actor, {
      action: 'payout.batch.create', targetType: 'PayoutBatch', targetId: msgId,
      details: { batchId: id, nbOfTxs: payouts.length, ctrlSumFen, channel: account.channel, debtorAccount: account.account },
    });
    return { id, msgId, nbOfTxs: payouts.length, ctrlSumFen };
  });
}

/** The batch, locked for a change. */
export async function lockedBatch(tx: Tx, batchId: number): Promise<BatchRow> {
  const batch = await lockBatch(tx, batchId);
  if (!batch) throw notFound('payout batch');
  return batch;
}

/** Refuses `doing` unless the batch is in one of `allowed`. */
export function expectStatus(batch: Pick<BatchRow, 'msgId' | 'status'>, allowed: readonly BatchStatus[], doing: string): void {
  if (!allowed.includes(batch.status)) {
    throw conflict(`cannot ${doing} batch ${batch.msgId}: it is ${batch.status} (only ${allowed.join(' or ')} can be)`);
  }
}

/** FINANCE approves a DRAFT batch it did not create (the database checks both as well). */
export async function approveBatch(db: Db, actor: Actor, batchId: number): Promise<void> {
  if (actor.role !== 'FINANCE') throw forbidden(`approving a payout batch needs the role FINANCE; you are ${actor.role}`);
  await inTransaction(db, async (tx) => {
    const batch = await lockedBatch(tx, batchId);
    expectStatus(batch, statusesInto(BATCH_TRANSITIONS, 'APPROVED'), 'approve');
    if (batch.createdBy === actor.subject) {
      throw forbidden(`batch ${batch.msgId} was created by you: another FINANCE user must approve it (four eyes)`);
    }
    await markBatchApproved(tx, batchId, actor);
    await recordAudit(tx, actor, { action: 'payout.batch.approve', targetType: 'PayoutBatch', targetId: batch.msgId, details: { batchId } });
  });
}

/** FINANCE or ADMIN asks for a sealed (or about to be sealed) batch to be sent; the worker sends it. */
export async function requestSubmission(db: Db, actor: Actor, batchId: number): Promise<void> {
  if (actor.role !== 'FINANCE' && actor.role !== 'ADMIN') throw forbidden(`submitting a payout batch needs the role FINANCE or ADMIN; you are ${actor.role}`);
  await inTransaction(db, async (tx) => {
    const batch = await lockedBatch(tx, batchId);
    expectStatus(batch, ['APPROVED', 'SEALED'], 'submit');
    if (await markSubmitRequested(tx, batchId, actor.subject)) {
      await recordAudit(tx, actor, { action: 'payout.batch.submit', targetType: 'PayoutBatch', targetId: batch.msgId, details: { batchId } });
    }
  });
}

/** A DRAFT or APPROVED batch is withdrawn; its payouts wait for another batch again (READY, or HELD as their card says). */
export async function cancelBatch(
  db: Db, actor: Actor, settings: Pick<PayoutSettings, 'coolingOffDays'>, batchId: number, reason: string,
): Promise<void> {
  if (!reason.trim()) throw invalid('input.reason', 'say why the batch is cancelled');
  await inTransaction(db, async (tx) => {
    const batch = await lockedBatch(tx, batchId);
    expectStatus(batch, statusesInto(BATCH_TRANSITIONS, 'CANCELLED'), 'cancel');
    const payoutIds = await markBatchCancelled(tx, batchId, actor.subject, reason);
    await payoutsOutOfBatch(tx, payoutIds);
    await followBankCards(tx, settings.coolingOffDays, payoutIds);
    await recordAudit(tx, actor, { action: 'payout.batch.cancel', targetType: 'PayoutBatch', targetId: batch.msgId, reason, details: { batchId, payouts: payoutIds.length } });
  });
}

/**
 * A FAILED payout (the bank rejected or returned it) may be tried again: it waits for the next batch
 * (READY, or HELD as its member's card says), where it gets a new attempt and a new EndToEndId.
 * Refused in every other state: only the bank's evidence of failure allows a new attempt (and the
 * database allows one live attempt per payout). A payout the bank had paid (its credit came back,
 * perhaps after settlement) could be paid twice if that evidence is false: its retry is proposed by
 * one FINANCE person and confirmed by another (payout_retries; the database refuses it otherwise).
 */
export async function retryPayout(
  db: Db, actor: Actor, settings: Pick<PayoutSettings, 'coolingOffDays'>, payoutId: number, reason: string,
): Promise<RetryOutcome> {
  if (!reason.trim()) throw invalid('input.reason', 'say why the payout is tried again (e.g. the member corrected the bank account)');
  return inTransaction(db, async (tx) => {
    const payout = await lockPayoutForRetry(tx, payoutId);
    if (!payout) throw notFound('payout');
    if (payout.status !== 'FAILED') throw conflict(`payout ${payoutId} is ${payout.status}: only a payout the bank rejected or returned (FAILED) can be tried again`);
    if (payout.claimStatus !== 'APPROVED') throw conflict(`payout ${payoutId}: its claim is ${payout.claimStatus}, not approved`);
    const target = { targetType: 'Payout', targetId: String(payoutId), reason };
    if (payout.wasPaid) {
      if (actor.role !== 'FINANCE') {
        throw forbidden(`payout ${payoutId} was paid by the bank before its money came back: retrying it needs FINANCE (one proposes, another confirms); you are ${actor.role}`);
      }
      const proposal = await lockRetryProposal(tx, payoutId, payout.attempts);
      if (!proposal) {
        await proposeRetry(tx, payoutId, payout.attempts, actor, reason);
        await recordAudit(tx, actor, { action: 'payout.retry.propose', ...target, details: { afterAttempt: payout.attempts } });
        return 'PROPOSED';
      }
      if (proposal.proposedBy === actor.subject) {
        throw forbidden(`you proposed retrying payout ${payoutId}: another FINANCE person must confirm it (four eyes)`);
      }
      await confirmRetry(tx, proposal.id, actor, reason);
      await recordAudit(tx, actor, { action: 'payout.retry.confirm', ...target, details: { afterAttempt: payout.attempts, proposedBy: proposal.proposedBy } });
    }
    await payoutsWaitAgain(tx, [payoutId]);
    await followBankCards(tx, settings.coolingOffDays, [payoutId]);
    await recordAudit(tx, actor, { action: 'payout.retry', ...target });
    return 'RETRIED';
  });
}
