import { randomBytes } from 'node:crypto';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { conflict, forbidden, invalid, notFound, type DomainError } from '../kernel/errors.ts';
import type { Scope } from '../kernel/scope.ts';
import { chinaToday } from '../kernel/time.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { condolenceRemittanceInfo, remittanceInfo } from './files.ts';
import { statusesInto } from '../kernel/transitions.ts';
import {
  BATCH_MAKERS, BATCH_TRANSITIONS, funderPayingAccount, type BatchRow, type FunderRow, type BatchStatus, type CreatedBatch, type PayingAccount, type PayoutSettings, type PayoutStatus, type RetryOutcome,
} from './model.ts';
import { funderOfOldestReadyPayout, fundersByIds } from './store/funders.ts';
import {
  insertAttempts, insertBatch, lockBatch, markBatchApproved, markBatchCancelled, markSubmitRequested, nextBatchId, programmesOfPayouts,
} from './store/batches.ts';
import {
  confirmRetry, followBankCards, lockPayoutForRetry, lockReadyPayouts, lockRetryProposal, markPayoutsInBatch, payoutsOutOfBatch,
  payoutsWaitAgain, proposeRetry, type ReadyPayout,
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
 * A DRAFT batch of up to `max` READY payouts (oldest first) of one funder, each with a new PLANNED
 * attempt, paid from that funder's account (UNION: the configured one): of the funders `funderIds`
 * (all when null) the one whose READY payout is oldest. Null when none of theirs is ready. Payouts locked by a
 * concurrent creation are skipped, not waited for. Payouts whose member's card was replaced and is
 * cooling off are HELD first, never taken.
 */
export async function createBatch(
  db: Db, actor: Actor, settings: Pick<PayoutSettings, 'account' | 'coolingOffDays'>, max: number, funderIds: readonly number[] | null = null, now = new Date(),
): Promise<CreatedBatch | null> {
  if (!Number.isSafeInteger(max) || max < 1) throw invalid('input.maxPayouts', 'must be a whole number of at least 1');
  const { coolingOffDays } = settings;
  return inTransaction(db, async (tx) => {
    await followBankCards(tx, coolingOffDays);
    const fundedBy = await funderOfOldestReadyPayout(tx, funderIds);
    if (fundedBy === null) return null;
    const [funder] = (await fundersByIds(tx, [fundedBy])) as [FunderRow];
    const payouts = await lockReadyPayouts(tx, max, coolingOffDays, funder.id);
    if (payouts.length === 0) return null;
    return draftBatch(tx, actor, funderPayingAccount(settings, funder), funder, payouts, null, now);
  });
}

/**
 * A DRAFT batch of the locked READY payouts of one funder, paid from `account`, each with a new
 * PLANNED attempt (its EndToEndId and creditor fixed now); audited. `policyId`: the payment policy
 * that is to release it (in the same transaction), else null.
 */
export async function draftBatch(
  tx: Tx, actor: Actor, account: PayingAccount, funder: FunderRow, payouts: readonly ReadyPayout[], policyId: number | null, now: Date,
): Promise<CreatedBatch> {
  const id = await nextBatchId(tx);
  const today = chinaToday(now);
  const msgId = `MAH-${today.replaceAll('-', '')}-B${id}-${tag()}`;
  const ctrlSumFen = payouts.reduce((sum, p) => sum + p.amountFen, 0);
  await insertBatch(tx, {
    id, msgId, pmtInfId: `${msgId}-1`, funderId: funder.id, account, requestedExecutionDate: today, nbOfTxs: payouts.length, ctrlSumFen, createdBy: actor, policyId,
  });
  const programmesOf = await programmesOfPayouts(tx, payouts.map((p) => p.id));
  // The creditor is copied from the member now: what FINANCE approves (or the policy releases) is what the bank pays.
  await insertAttempts(tx, id, payouts.map((p) => {
    const attemptNo = p.attempts + 1;
    return {
      payoutId: p.id, attemptNo, endToEndId: `MAH-P${p.id}-A${attemptNo}-${tag()}`, remittanceInfo: p.condolenceId !== null
        ? condolenceRemittanceInfo(p.condolenceId, p.condolenceReason!)
        : remittanceInfo(p.claimId!, programmesOf.get(p.id) ?? []),
    };
  }));
  await markPayoutsInBatch(tx, payouts.map((p) => p.id));
  await recordAudit(tx, actor, {
    action: 'payout.batch.create', targetType: 'PayoutBatch', targetId: msgId,
    details: { batchId: id, funder: funder.code, nbOfTxs: payouts.length, ctrlSumFen, channel: account.channel, debtorAccount: account.account, policyId },
  });
  return { id, msgId, nbOfTxs: payouts.length, ctrlSumFen };
}

/** The batch, locked for a change. */
export async function lockedBatch(tx: Tx, batchId: number): Promise<BatchRow> {
  const batch = await lockBatch(tx, batchId);
  if (!batch) throw notFound('payout batch', 'input.batchId');
  return batch;
}

type BatchFacts = Pick<BatchRow, 'msgId' | 'status' | 'createdBy'>;

/** Why `doing` is refused for a batch not in one of `allowed`, or null. */
function statusRefusal(batch: Pick<BatchRow, 'msgId' | 'status'>, allowed: readonly BatchStatus[], doing: string): DomainError | null {
  return allowed.includes(batch.status) ? null : conflict(`cannot ${doing} batch ${batch.msgId}: it is ${batch.status} (only ${allowed.join(' or ')} can be)`);
}

/** Refuses `doing` unless the batch is in one of `allowed`. */
export function expectStatus(batch: Pick<BatchRow, 'msgId' | 'status'>, allowed: readonly BatchStatus[], doing: string): void {
  const refusal = statusRefusal(batch, allowed, doing);
  if (refusal) throw refusal;
}

/*
 * The rules of the decisions below, each once: the decision throws what they return, and the API's
 * permission hints (PayoutBatch.viewerCan…) show whether they return null for the caller.
 */

const APPROVERS = ['FINANCE'] as const;
const SUBMITTERS = ['FINANCE', 'ADMIN'] as const;

/** The role part of a rule: checked before the batch is read as well, so a wrong role learns nothing of which batches exist. */
export function roleRefusal(actor: Actor, roles: readonly string[], doing: string): DomainError | null {
  return roles.includes(actor.role) ? null : forbidden(`${doing} needs the role ${roles.join(' or ')}; you are ${actor.role}`);
}

/** FINANCE approves a DRAFT batch it did not create. */
export function approvalRefusal(actor: Actor, batch: BatchFacts): DomainError | null {
  return roleRefusal(actor, APPROVERS, 'approving a payout batch')
    ?? statusRefusal(batch, statusesInto(BATCH_TRANSITIONS, 'APPROVED'), 'approve')
    ?? (batch.createdBy === actor.subject ? forbidden(`batch ${batch.msgId} was created by you: another FINANCE user must approve it (four eyes)`) : null);
}

/** FINANCE or ADMIN asks for an APPROVED or SEALED batch to be sent. */
export function submissionRefusal(actor: Actor, batch: BatchFacts): DomainError | null {
  return roleRefusal(actor, SUBMITTERS, 'submitting a payout batch') ?? statusRefusal(batch, ['APPROVED', 'SEALED'], 'submit');
}

/** ADMIN or FINANCE withdraws a batch not yet sealed. */
export function cancellationRefusal(actor: Actor, batch: BatchFacts): DomainError | null {
  return roleRefusal(actor, BATCH_MAKERS, 'cancelling a payout batch') ?? statusRefusal(batch, statusesInto(BATCH_TRANSITIONS, 'CANCELLED'), 'cancel');
}

/** Throws the refusal of `rule` for the locked batch, the role part before the batch is read. */
async function decidedBatch(tx: Tx, actor: Actor, batchId: number, roles: readonly string[], doing: string, rule: (actor: Actor, batch: BatchFacts) => DomainError | null): Promise<BatchRow> {
  const early = roleRefusal(actor, roles, doing);
  if (early) throw early;
  const batch = await lockedBatch(tx, batchId);
  const refusal = rule(actor, batch);
  if (refusal) throw refusal;
  return batch;
}

/** FINANCE approves a DRAFT batch it did not create (the database checks both as well). */
export async function approveBatch(db: Db, actor: Actor, batchId: number): Promise<void> {
  await inTransaction(db, async (tx) => {
    const batch = await decidedBatch(tx, actor, batchId, APPROVERS, 'approving a payout batch', approvalRefusal);
    await markBatchApproved(tx, batchId, actor);
    await recordAudit(tx, actor, { action: 'payout.batch.approve', targetType: 'PayoutBatch', targetId: batch.msgId, details: { batchId } });
  });
}

/** FINANCE or ADMIN asks for a sealed (or about to be sealed) batch to be sent; the worker sends it. */
export async function requestSubmission(db: Db, actor: Actor, batchId: number): Promise<void> {
  await inTransaction(db, async (tx) => {
    const batch = await decidedBatch(tx, actor, batchId, SUBMITTERS, 'submitting a payout batch', submissionRefusal);
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
    const batch = await decidedBatch(tx, actor, batchId, BATCH_MAKERS, 'cancelling a payout batch', cancellationRefusal);
    const payoutIds = await withdrawBatch(tx, batchId, actor.subject, reason, settings.coolingOffDays);
    await recordAudit(tx, actor, { action: 'payout.batch.cancel', targetType: 'PayoutBatch', targetId: batch.msgId, reason, details: { batchId, payouts: payoutIds.length } });
  });
}

/**
 * The batch is CANCELLED with its PLANNED attempts, and their payouts wait for another batch (READY,
 * or HELD as their member's card says); returns those payouts. The caller has the batch locked.
 */
export async function withdrawBatch(tx: Tx, batchId: number, cancelledBy: string, reason: string, coolingOffDays: number): Promise<number[]> {
  const payoutIds = await markBatchCancelled(tx, batchId, cancelledBy, reason);
  await payoutsOutOfBatch(tx, payoutIds);
  await followBankCards(tx, coolingOffDays, payoutIds);
  return payoutIds;
}

/** What decides whether a payout may be retried: its state, whether the bank had paid it, and who proposed its retry (if anyone). */
export interface RetryFacts {
  id: number;
  status: PayoutStatus;
  claimStatus: string;
  wasPaid: boolean;
  proposedBy: string | null;
}

/**
 * Why `actor` may not retry the payout now, or null: ADMIN or FINANCE, the payout FAILED and its
 * claim approved; one the bank had paid, FINANCE only and not the person who proposed it. retryPayout
 * throws it; Payout.viewerCanRetry shows it.
 */
export function retryRefusal(actor: Actor, payout: RetryFacts): DomainError | null {
  const role = roleRefusal(actor, BATCH_MAKERS, 'retrying a payout');
  if (role) return role;
  if (payout.status !== 'FAILED') return conflict(`payout ${payout.id} is ${payout.status}: only a payout that failed (the bank rejected or returned it, or its file could not carry the payee's name) can be tried again`);
  if (payout.claimStatus !== 'APPROVED') return conflict(`payout ${payout.id}: its claim is ${payout.claimStatus}, not approved`);
  if (!payout.wasPaid) return null;
  if (actor.role !== 'FINANCE') {
    return forbidden(`payout ${payout.id} was paid by the bank (its money came back, a statement shows it debited, or the bank credited it after refusing it): retrying it needs FINANCE (one proposes, another confirms); you are ${actor.role}`);
  }
  return payout.proposedBy === actor.subject ? forbidden(`you proposed retrying payout ${payout.id}: another FINANCE person must confirm it (four eyes)`) : null;
}

/**
 * A FAILED payout (the bank rejected or returned it, or its file could not carry the payee's name) may be tried again: it waits for the next batch
 * (READY, or HELD as its member's card says), where it gets a new attempt and a new EndToEndId.
 * Refused in every other state: only the bank's evidence of failure allows a new attempt (and the
 * database allows one live attempt per payout). A payout the bank had paid (its credit came back,
 * perhaps after settlement) could be paid twice if that evidence is false: its retry is proposed by
 * one FINANCE person and confirmed by another (payout_retries; the database refuses it otherwise).
 * A payout outside `scope` (the caller's, checked under the lock) is not found.
 */
export async function retryPayout(
  db: Db, actor: Actor, scope: Scope, settings: Pick<PayoutSettings, 'coolingOffDays'>, payoutId: number, reason: string,
): Promise<RetryOutcome> {
  if (!reason.trim()) throw invalid('input.reason', 'say why the payout is tried again (e.g. the member corrected the bank account)');
  return inTransaction(db, async (tx) => {
    const payout = await lockPayoutForRetry(tx, payoutId, scope);
    if (!payout) throw notFound('payout', 'input.payoutId');
    const proposal = payout.wasPaid ? await lockRetryProposal(tx, payoutId, payout.attempts) : null;
    const refusal = retryRefusal(actor, { id: payoutId, ...payout, proposedBy: proposal?.proposedBy ?? null });
    if (refusal) throw refusal;
    const target = { targetType: 'Payout', targetId: String(payoutId), reason };
    if (payout.wasPaid) {
      if (!proposal) {
        await proposeRetry(tx, payoutId, payout.attempts, actor, reason);
        await recordAudit(tx, actor, { action: 'payout.retry.propose', ...target, details: { afterAttempt: payout.attempts } });
        return 'PROPOSED';
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
