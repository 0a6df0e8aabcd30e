import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { checkAll, conflict, forbidden, notFound, type DomainError } from '../kernel/errors.ts';
import { UNSCOPED, type Scope } from '../kernel/scope.ts';
import { characterCount } from '../kernel/text.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { draftBatch, roleRefusal, withdrawBatch } from './decisions.ts';
import { funderPayingAccount, policyStatus, type CreatedBatch, type FunderRow, type PaymentPolicyRow, type PayoutSettings, type PolicyLimits } from './model.ts';
import { fundersByIds, listFunders } from './store/funders.ts';
import { lockReadyPayouts } from './store/payouts.ts';
import {
  insertPolicy, lockAccountDay, lockPolicy, lockUnsentBatchesOfPolicy, markBatchReleased, markPolicyApproved, markPolicyRevoked, policiesInForce,
  releasedTodayFrom,
} from './store/policies.ts';

/**
 * Standing payment policies (即时办): FINANCE proposes one, a second FINANCE person approves it, and
 * while it is in force the payout worker releases small batches within its limits without a
 * per-batch approval (releaseUnderPolicies). Any FINANCE person revokes it at once: its batches not
 * yet handed to the bank are cancelled in the same transaction, and a batch being handed over
 * checks the policy under the same row lock. The database checks the four eyes, every limit at
 * each release and the policy at each hand-over (migration 0027); the code checks first to answer
 * with a clear error.
 */

const POLICY_MAKERS = ['FINANCE'] as const;
/** The longest validity one approval gives: a standing policy is looked at again at least yearly. */
export const POLICY_MAX_DAYS = 366;
const DAY_MS = 86_400_000;

export interface PolicyProposal extends PolicyLimits {
  reason: string;
}

/** Why `actor` may not approve the policy now, or null: FINANCE, not its proposer, the policy PROPOSED. */
export function policyApprovalRefusal(actor: Actor, policy: PaymentPolicyRow, now = new Date()): DomainError | null {
  return roleRefusal(actor, POLICY_MAKERS, 'approving a payment policy')
    ?? (policy.proposedBy === actor.subject ? forbidden(`you proposed payment policy ${policy.id}: another FINANCE person must approve it (four eyes)`) : null)
    ?? (policyStatus(policy, now) === 'PROPOSED' ? null : conflict(`payment policy ${policy.id} is ${policyStatus(policy, now)}: only a PROPOSED policy can be approved`));
}

/** Why `actor` may not revoke the policy now, or null: FINANCE, the policy not yet revoked or ended. */
export function policyRevocationRefusal(actor: Actor, policy: PaymentPolicyRow, now = new Date()): DomainError | null {
  const status = policyStatus(policy, now);
  return roleRefusal(actor, POLICY_MAKERS, 'revoking a payment policy')
    ?? (status === 'REVOKED' || status === 'ENDED' ? conflict(`payment policy ${policy.id} is ${status}: nothing to revoke`) : null);
}

/** The input's problems, each naming its field. */
function proposalProblems(input: PolicyProposal, coolingOffDays: number, now: Date): Record<string, string | null> {
  const fen = (value: number) => (Number.isSafeInteger(value) && value > 0 ? null : 'must be a positive whole amount in fen');
  const days = (input.validUntil.getTime() - input.validFrom.getTime()) / DAY_MS;
  return {
    'input.maxPayout': fen(input.maxPayoutFen),
    'input.dailySum': fen(input.dailySumFen) ?? (input.dailySumFen >= input.maxPayoutFen ? null : 'must be at least the amount per payout'),
    'input.dailyCount': Number.isSafeInteger(input.dailyCount) && input.dailyCount >= 1 && input.dailyCount <= 1_000_000 ? null : 'must be a whole number from 1 to 1,000,000',
    'input.accountUnchangedDays': Number.isSafeInteger(input.accountUnchangedDays) && input.accountUnchangedDays >= coolingOffDays && input.accountUnchangedDays <= 3_650
      ? null : `must be a whole number of days from the cooling-off period of a changed card (${coolingOffDays}) to 3,650`,
    'input.validUntil': input.validUntil <= input.validFrom ? 'must be after validFrom'
      : input.validUntil <= now ? 'must be in the future'
        : days > POLICY_MAX_DAYS ? `a policy is valid at most ${POLICY_MAX_DAYS} days` : null,
    'input.reason': characterCount(input.reason.trim()) >= 4 ? null : 'say why (at least 4 characters)',
  };
}

/** FINANCE proposes a policy for a funder it may see; it does nothing until another FINANCE person approves it. */
export async function proposePaymentPolicy(
  db: Db, actor: Actor, scope: Scope, settings: Pick<PayoutSettings, 'coolingOffDays'>, input: PolicyProposal, now = new Date(),
): Promise<PaymentPolicyRow> {
  const refusal = roleRefusal(actor, POLICY_MAKERS, 'proposing a payment policy');
  if (refusal) throw refusal;
  checkAll(proposalProblems(input, settings.coolingOffDays, now));
  return inTransaction(db, async (tx) => {
    const [funder] = await listFunders(tx, scope, [input.funderId]);
    if (!funder) throw notFound('funder', 'input.funderId');
    const policy = await insertPolicy(tx, { ...input, reason: input.reason.trim() }, actor);
    await recordAudit(tx, actor, {
      action: 'payout.policy.propose', targetType: 'PaymentPolicy', targetId: String(policy.id), reason: policy.reason,
      details: { funder: funder.code, ...limitsOf(policy) },
    });
    return policy;
  });
}

const limitsOf = (p: PolicyLimits) => ({
  maxPayoutFen: p.maxPayoutFen, dailySumFen: p.dailySumFen, dailyCount: p.dailyCount, accountUnchangedDays: p.accountUnchangedDays,
  validFrom: p.validFrom.toISOString(), validUntil: p.validUntil.toISOString(),
});

/**
 * The policy locked for `doing`, once `rule` allows it: the role part first, so a wrong role learns
 * nothing of which policies exist; one outside the caller's scope answers as missing.
 */
async function decidedPolicy(
  tx: Tx, actor: Actor, scope: Scope, policyId: number, doing: string, rule: (actor: Actor, policy: PaymentPolicyRow) => DomainError | null,
): Promise<PaymentPolicyRow> {
  const early = roleRefusal(actor, POLICY_MAKERS, doing);
  if (early) throw early;
  const policy = await lockPolicy(tx, policyId, scope, 'UPDATE');
  if (!policy) throw notFound('payment policy', 'input.policyId');
  const refusal = rule(actor, policy);
  if (refusal) throw refusal;
  return policy;
}

/** A second FINANCE person approves a PROPOSED policy (the database checks the four eyes as well). */
export async function approvePaymentPolicy(db: Db, actor: Actor, scope: Scope, policyId: number): Promise<PaymentPolicyRow> {
  return inTransaction(db, async (tx) => {
    const policy = await decidedPolicy(tx, actor, scope, policyId, 'approving a payment policy', policyApprovalRefusal);
    const approved = await markPolicyApproved(tx, policyId, actor);
    await recordAudit(tx, actor, {
      action: 'payout.policy.approve', targetType: 'PaymentPolicy', targetId: String(policyId), details: { proposedBy: policy.proposedBy, ...limitsOf(policy) },
    });
    return approved;
  });
}

export interface Revocation {
  policy: PaymentPolicyRow;
  /** Batches it had released that had not reached the bank: cancelled, their payouts wait for an ordinary batch. */
  cancelledBatches: number;
  /** Their MsgIds: the files of those already sealed are removed once the revocation commits (removeBatchFiles). */
  cancelledMsgIds: string[];
}

/**
 * Any FINANCE person revokes a policy (or withdraws a proposal) at once: from the commit nothing more
 * is released or handed to the bank under it; its batches not yet handed over are cancelled now
 * and their payouts wait for the ordinary batch and its approval.
 */
export async function revokePaymentPolicy(
  db: Db, actor: Actor, scope: Scope, settings: Pick<PayoutSettings, 'coolingOffDays'>, policyId: number, reason: string,
): Promise<Revocation> {
  return inTransaction(db, async (tx) => {
    await decidedPolicy(tx, actor, scope, policyId, 'revoking a payment policy', policyRevocationRefusal);
    const revoked = await markPolicyRevoked(tx, policyId, actor, reason);
    const batches = await lockUnsentBatchesOfPolicy(tx, policyId);
    for (const batch of batches) {
      await withdrawBatch(tx, batch.id, actor.subject, `payment policy ${policyId} revoked before the batch reached the bank: ${reason}`, settings.coolingOffDays);
    }
    await recordAudit(tx, actor, {
      action: 'payout.policy.revoke', targetType: 'PaymentPolicy', targetId: String(policyId), reason,
      details: { cancelledBatches: batches.map((b) => b.msgId) },
    });
    return { policy: revoked, cancelledBatches: batches.length, cancelledMsgIds: batches.map((b) => b.msgId) };
  });
}

/** Who releases a batch under a policy: the policy itself, through the payout worker. */
export const policyActor = (policyId: number): Actor => ({ subject: `payment-policy-${policyId}`, role: 'SERVICE' });

/**
 * One batch released under the policy, in one transaction, or null when nothing (more) may go: the
 * policy not in force, no READY payout within it, or the paying account's day full. The oldest
 * READY payouts within the policy are taken while the day's count and sum allow (a payout that
 * would pass the day's sum is left for the ordinary approval, a smaller one after it may still go).
 */
export async function releaseOneBatch(
  db: Db, settings: Pick<PayoutSettings, 'account' | 'coolingOffDays' | 'releaseBatchMax'>, policyId: number, now = new Date(),
): Promise<CreatedBatch | null> {
  return inTransaction(db, async (tx) => {
    const policy = await lockPolicy(tx, policyId, UNSCOPED, 'SHARE');
    if (!policy || policyStatus(policy) !== 'ACTIVE') return null;
    const [funder] = (await fundersByIds(tx, [policy.funderId])) as [FunderRow];
    const account = funderPayingAccount(settings, funder);
    await lockAccountDay(tx, account.account);
    const today = (await releasedTodayFrom(tx, [account.account])).get(account.account) ?? { payouts: 0, totalFen: 0 };
    const roomCount = policy.dailyCount - today.payouts;
    let roomFen = policy.dailySumFen - today.totalFen;
    if (roomCount <= 0 || roomFen <= 0) return null;
    const ready = await lockReadyPayouts(tx, Math.min(settings.releaseBatchMax, roomCount), settings.coolingOffDays, funder.id, policy);
    const taken = ready.filter((p) => (p.amountFen <= roomFen ? ((roomFen -= p.amountFen), true) : false));
    if (taken.length === 0) return null;
    const actor = policyActor(policyId);
    const batch = await draftBatch(tx, actor, account, funder, taken, policyId, now);
    await markBatchReleased(tx, batch.id, actor.subject);
    await recordAudit(tx, actor, {
      action: 'payout.batch.release', targetType: 'PayoutBatch', targetId: batch.msgId,
      details: { batchId: batch.id, policyId, nbOfTxs: batch.nbOfTxs, ctrlSumFen: batch.ctrlSumFen },
    });
    return batch;
  });
}

/**
 * Releases, under every policy in force (`policyIds`: as the caller just read them), batches of the
 * payouts within it until none is left or the accounts' days are full; returns the batches (the
 * caller has them sealed and sent).
 */
export async function releaseUnderPolicies(
  db: Db, settings: Pick<PayoutSettings, 'account' | 'coolingOffDays' | 'releaseBatchMax'>, policyIds?: readonly number[], now = new Date(),
): Promise<CreatedBatch[]> {
  const released: CreatedBatch[] = [];
  for (const policyId of policyIds ?? await policiesInForce(db)) {
    for (let batch = await releaseOneBatch(db, settings, policyId, now); batch; batch = await releaseOneBatch(db, settings, policyId, now)) {
      released.push(batch);
    }
  }
  return released;
}
