import type { DomainResolvers } from '../gateway/payloads.ts';
import { actorOf, actorView, hasRole, requireRole, scopeOf, type Context } from '../gateway/context.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import { type CountedConnection, countedTotal, type PageArgs, readPage, toConnection } from '../gateway/connection.ts';
import {
  approvalRefusal, approveBatch, cancelBatch, cancellationRefusal, createBatch, requestSubmission, retryPayout, retryRefusal, submissionRefusal,
} from './decisions.ts';
import { batchFileName, clearBatchFile, maskCreditorAccounts, removeBatchFiles, revealBatchFile } from './files.ts';
import { log } from '../log.ts';
import {
  BATCH_MAKERS, BATCH_READERS, FILE_REVEALERS, funderPayingAccount, payoutStatusOf, policyStatus, type BatchRow, type PaymentPolicyRow, type PayoutRow, type PayoutStatus,
} from './model.ts';
import {
  approvePaymentPolicy, policyApprovalRefusal, policyRevocationRefusal, proposePaymentPolicy, revokePaymentPolicy,
} from './policies.ts';
import { countPolicies, listPolicies, type PolicyFilter } from './store/policies.ts';
import { planPayouts } from './plan.ts';
import { payoutSettings } from './settings.ts';
import { countBatches, listBatches, type BatchFilter } from './store/batches.ts';
import { funderBalances, listFunders } from './store/funders.ts';
import { maskBankCard } from '../privacy/personalData.ts';
import { organisationLoaders, withinCallerOrganisation } from '../organisations/loaders.ts';
import { countPayouts, listPayouts, PAYOUT_ORDER, payoutIdOf, type PayoutFilter } from './store/payouts.ts';
import { payoutStatusChange } from './submission.ts';
import { statusChanges } from '../events/resolvers.ts';
import type { StatusEvent } from '../events/statusEvents.ts';
import { check, conflict, notFound, reasonOf } from '../kernel/errors.ts';
import { enqueuePayoutBatch } from './queue.ts';
import { downloadUrl } from '../gateway/files.ts';

/** What `PayoutStatusChange` resolves from. */
export interface PayoutStatusChangeRow {
  payout: PayoutRow;
  status: PayoutStatus;
  at: string;
  sequence: string;
}

export type PayoutConnectionResult = CountedConnection<PayoutRow>;
export type BatchConnectionResult = CountedConnection<BatchRow>;
export type PolicyConnectionResult = CountedConnection<PaymentPolicyRow>;


const canSeeBatches = (ctx: Context) => hasRole(ctx, BATCH_READERS);

async function visiblePayout(ctx: Context, id: number) {
  const payout = await ctx.loaders.payout.load(id);
  if (!payout) throw notFound('payout', 'input.payoutId');
  return payout;
}

/**
 * Refuses a decision on a batch outside the caller's organisation (its funder's organisation is not
 * theirs nor below it) as if it did not exist; for the hub's own staff every batch is in scope.
 */
async function batchInScope(ctx: Context, id: number): Promise<void> {
  if (scopeOf(ctx.principal).organisationId == null) return;
  if (!(await ctx.loaders.payoutBatch.load(id))) throw notFound('payout batch', 'input.batchId');
}

async function batchFor(ctx: Context, id: number) {
  requireRole(ctx, BATCH_READERS, 'reading payout batches');
  ctx.loaders.payoutBatch.clear(id);
  const batch = await ctx.loaders.payoutBatch.load(id);
  if (!batch) throw notFound('payout batch', 'input.batchId');
  return batch;
}

/** A page of batches visible to the caller (who must see batches), primed into the loader, counted on demand. */
async function batchConnection(ctx: Context, args: PageArgs, filter: BatchFilter): Promise<BatchConnectionResult> {
  requireRole(ctx, BATCH_READERS, 'reading payout batches');
  const page = readPage(args);
  const scope = scopeOf(ctx.principal);
  const rows = await listBatches(ctx.reads, scope, filter, page);
  for (const row of rows) ctx.loaders.payoutBatch.prime(row.id, row);
  return { ...toConnection(rows, page, (b) => b.id), count: () => countBatches(ctx.reads, scope, filter) };
}

async function policyFor(ctx: Context, id: number): Promise<PaymentPolicyRow> {
  ctx.loaders.paymentPolicy.clear(id);
  const policy = await ctx.loaders.paymentPolicy.load(id);
  if (!policy) throw notFound('payment policy', 'input.policyId');
  return policy;
}

/**
 * A batch's release as the caller may see it: who approved it or which policy only to those who may
 * read that batch (a payout they see may be in a batch of a funder outside their organisation).
 */
async function releaseView(ctx: Context, batchId: number) {
  const release = await ctx.loaders.releaseOfBatch.load(batchId);
  if (!release) return null;
  return canSeeBatches(ctx) && (await ctx.loaders.payoutBatch.load(batchId)) ? release : { ...release, approvedBy: null, policyId: null };
}

/** A page of payouts visible to the caller, primed into the loader, counted on demand. */
async function payoutConnection(ctx: Context, args: PageArgs, filter: PayoutFilter): Promise<PayoutConnectionResult> {
  const page = readPage(args, PAYOUT_ORDER);
  const scope = scopeOf(ctx.principal);
  const rows = await listPayouts(ctx.reads, scope, filter, page);
  for (const row of rows) ctx.loaders.payout.prime(row.id, row);
  return { ...toConnection(rows, page, (p) => p.id), count: () => countPayouts(ctx.reads, scope, filter) };
}

export const payoutResolvers: DomainResolvers = {
  Query: {
    payouts: (_root, { filter, ...args }, ctx) => payoutConnection(ctx, args, {
      status: filter?.status,
      memberId: filter?.memberId ? localId('filter.memberId', filter.memberId, 'Member') : null,
      unitId: filter?.unitId ? localId('filter.unitId', filter.unitId, 'Unit') : null,
      batchId: filter?.batchId ? localId('filter.batchId', filter.batchId, 'PayoutBatch') : null,
    }),
    // Lookups answer null for what is missing or out of scope, as `node` does: one absent object never blanks the page.
    payout: (_root, { id }, ctx) => ctx.loaders.payout.load(localId('id', id, 'Payout')),
    payoutBatches: (_root, { filter, ...args }, ctx) => batchConnection(ctx, args, {
      status: filter?.status,
      funderId: filter?.funderId ? localId('filter.funderId', filter.funderId, 'Funder') : null,
      policyId: filter?.policyId ? localId('filter.policyId', filter.policyId, 'PaymentPolicy') : null,
    }),
    payoutBatch: (_root, { id }, ctx) => {
      requireRole(ctx, BATCH_READERS, 'reading payout batches');
      return ctx.loaders.payoutBatch.load(localId('id', id, 'PayoutBatch'));
    },
    funders: (_root, _args, ctx) => {
      requireRole(ctx, BATCH_READERS, 'reading funders');
      return listFunders(ctx.reads, scopeOf(ctx.principal));
    },
    paymentPolicies: async (_root, { filter, ...args }, ctx) => {
      requireRole(ctx, BATCH_READERS, 'reading payment policies');
      const page = readPage(args);
      const scope = scopeOf(ctx.principal);
      const f: PolicyFilter = { status: filter?.status, funderId: filter?.funderId ? localId('filter.funderId', filter.funderId, 'Funder') : null };
      const rows = await listPolicies(ctx.reads, scope, f, page);
      for (const row of rows) ctx.loaders.paymentPolicy.prime(row.id, row);
      return { ...toConnection(rows, page, (p) => p.id), count: () => countPolicies(ctx.reads, scope, f) };
    },
    paymentPolicy: (_root, { id }, ctx) => {
      requireRole(ctx, BATCH_READERS, 'reading payment policies');
      return ctx.loaders.paymentPolicy.load(localId('id', id, 'PaymentPolicy'));
    },
  },

  Mutation: {
    planPayouts: async (_root, _args, ctx) => {
      requireRole(ctx, BATCH_MAKERS, 'planning payouts');
      return { plan: await planPayouts(ctx.db, payoutSettings(ctx.config)) };
    },
    createPayoutBatch: async (_root, { input }, ctx) => {
      requireRole(ctx, BATCH_MAKERS, 'creating a payout batch');
      const settings = payoutSettings(ctx.config);
      const max = input.maxPayouts ?? settings.batchMax;
      check('input.maxPayouts', max >= 1 && max <= settings.batchMax ? null : `must be between 1 and ${settings.batchMax}`);
      const funderIds = await fundersArgument(ctx, input.funderId);
      const created = await createBatch(ctx.db, actorOf(ctx.principal), settings, max, funderIds);
      if (!created) throw conflict('no payout is READY: approved claims become payouts on the workers\' schedule, or run planPayouts');
      return { batch: await batchFor(ctx, created.id) };
    },
    approvePayoutBatch: async (_root, { input }, ctx) => {
      const id = localId('input.batchId', input.batchId, 'PayoutBatch');
      await batchInScope(ctx, id);
      await approveBatch(ctx.db, actorOf(ctx.principal), id);
      return { batch: await batchFor(ctx, id) };
    },
    submitPayoutBatch: async (_root, { input }, ctx) => {
      const id = localId('input.batchId', input.batchId, 'PayoutBatch');
      await batchInScope(ctx, id);
      await requestSubmission(ctx.db, actorOf(ctx.principal), id);
      await enqueuePayoutBatch(ctx.queues.payouts, id);
      return { batch: await batchFor(ctx, id) };
    },
    cancelPayoutBatch: async (_root, { input }, ctx) => {
      requireRole(ctx, BATCH_MAKERS, 'cancelling a payout batch');
      const id = localId('input.batchId', input.batchId, 'PayoutBatch');
      await batchInScope(ctx, id);
      await cancelBatch(ctx.db, actorOf(ctx.principal), payoutSettings(ctx.config), id, reasonOf('input.reason', input.reason));
      return { batch: await batchFor(ctx, id) };
    },
    retryPayout: async (_root, { input }, ctx) => {
      requireRole(ctx, BATCH_MAKERS, 'retrying a payout');
      const id = localId('input.payoutId', input.payoutId, 'Payout');
      const outcome = await retryPayout(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), payoutSettings(ctx.config), id, reasonOf('input.reason', input.reason));
      ctx.loaders.payout.clear(id);
      const payout = await visiblePayout(ctx, id);
      if (outcome === 'RETRIED') {
        await ctx.publishStatusChanges([payoutStatusChange({ payoutId: payout.id, memberId: payout.memberId, unitId: payout.unitId, status: payout.status })]);
      }
      return { payout };
    },
    proposePaymentPolicy: async (_root, { input }, ctx) => {
      const funderId = localId('input.funderId', input.funderId, 'Funder');
      const policy = await proposePaymentPolicy(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), payoutSettings(ctx.config), {
        funderId, maxPayoutFen: input.maxPayoutFen, dailySumFen: input.dailySumFen, dailyCount: input.dailyCount,
        accountUnchangedDays: input.accountUnchangedDays, validFrom: new Date(input.validFrom), validUntil: new Date(input.validUntil), reason: input.reason,
      });
      return { policy };
    },
    approvePaymentPolicy: async (_root, { input }, ctx) => {
      const id = localId('input.policyId', input.policyId, 'PaymentPolicy');
      await approvePaymentPolicy(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), id);
      return { policy: await policyFor(ctx, id) };
    },
    revokePaymentPolicy: async (_root, { input }, ctx) => {
      const id = localId('input.policyId', input.policyId, 'PaymentPolicy');
      const reason = reasonOf('input.reason', input.reason);
      const { cancelledBatches, cancelledMsgIds } = await revokePaymentPolicy(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), payoutSettings(ctx.config), id, reason);
      // Committed: the sealed files of its cancelled batches leave PAYOUT_OUT_DIR (the worker removes them too when it meets the batch).
      removeBatchFiles(ctx.config.PAYOUT_OUT_DIR, cancelledMsgIds, log);
      return { policy: await policyFor(ctx, id), cancelledBatchCount: cancelledBatches };
    },
    revealPayoutBatchFile: async (_root, { input }, ctx) => {
      requireRole(ctx, FILE_REVEALERS, 'revealPayoutBatchFile');
      const reason = reasonOf('input.reason', input.reason);
      const batch = await batchFor(ctx, localId('input.batchId', input.batchId, 'PayoutBatch'));
      const revealed = await revealBatchFile(ctx.db, ctx.keys, actorOf(ctx.principal), batch, reason);
      return { file: { batch, ...revealed, fileUrl: downloadUrl(ctx, 'PAYOUT_BATCH_FILE', batch.id) } };
    },
  },

  Payout: {
    id: (payout) => toGlobalId('Payout', payout.id),
    funder: async (payout, _args, ctx) => (await ctx.loaders.funder.load(payout.funderId))!,
    claim: async (payout, _args, ctx) => {
      if (payout.claimId === null) return null;
      const claim = await ctx.loaders.claim.load(payout.claimId);
      if (!claim) throw notFound('claim');
      return claim;
    },
    member: async (payout, _args, ctx) => {
      const member = await ctx.loaders.member.load(payout.memberId);
      if (!member) throw notFound('member');
      return member;
    },
    unit: async (payout, _args, ctx) => (await ctx.loaders.unit.load(payout.unitId))!,
    attempts: (payout, _args, ctx) => ctx.loaders.attemptsOfPayout.load(payout.id),
    retryProposal: (payout, _args, ctx) => retryProposalOf(ctx, payout),
    release: async (payout, _args, ctx) => {
      // A cancelled attempt (its batch withdrawn before the bank had it) released nothing.
      const latest = (await ctx.loaders.attemptsOfPayout.load(payout.id)).filter((a) => a.status !== 'CANCELLED').at(-1);
      return latest ? releaseView(ctx, latest.batchId) : null;
    },
    viewerCanRetry: async (payout, _args, ctx) => {
      const actor = actorOf(ctx.principal);
      // Cheap refusals first: most payouts are not FAILED, most callers not ADMIN or FINANCE.
      if (retryRefusal(actor, { ...payout, claimStatus: 'APPROVED', wasPaid: false, proposedBy: null })) return false;
      const [claim, wasPaid, proposal] = await Promise.all([
        payout.claimId === null ? null : ctx.loaders.claim.load(payout.claimId), ctx.loaders.payoutPaidByBank.load(payout.id), ctx.loaders.retryProposalOfPayout.load(payout.id),
      ]);
      return retryRefusal(actor, {
        ...payout, claimStatus: payout.claimId === null ? 'APPROVED' : claim?.status ?? 'UNKNOWN', wasPaid, proposedBy: proposal?.proposedBy ?? null,
      }) === null;
    },
  },

  PayoutAttempt: {
    id: (attempt) => toGlobalId('PayoutAttempt', attempt.id),
    batch: (attempt, _args, ctx) => (canSeeBatches(ctx) ? ctx.loaders.payoutBatch.load(attempt.batchId) : null),
    release: (attempt, _args, ctx) => releaseView(ctx, attempt.batchId),
  },

  PayoutRelease: {
    // The database lets only FINANCE approve a batch (payout_batches CHECK).
    approver: (release, _args, ctx) => (release.approvedBy === null ? null : actorView(ctx, release.approvedBy, 'FINANCE')),
    policy: (release, _args, ctx) => (release.policyId === null ? null : ctx.loaders.paymentPolicy.load(release.policyId)),
  },

  PaymentPolicy: {
    id: (policy) => toGlobalId('PaymentPolicy', policy.id),
    funder: async (policy, _args, ctx) => (await ctx.loaders.funder.load(policy.funderId))!,
    status: (policy) => policyStatus(policy),
    // The database lets only FINANCE propose, approve and revoke (payment_policies CHECKs).
    proposer: (policy, _args, ctx) => actorView(ctx, policy.proposedBy, 'FINANCE'),
    approver: (policy, _args, ctx) => (policy.approvedBy === null ? null : actorView(ctx, policy.approvedBy, 'FINANCE')),
    revoker: (policy, _args, ctx) => (policy.revokedBy === null ? null : actorView(ctx, policy.revokedBy, 'FINANCE')),
    releasedToday: async (policy, _args, ctx) => {
      const funder = (await ctx.loaders.funder.load(policy.funderId))!;
      const today = await ctx.loaders.releasedTodayFromAccount.load(funderPayingAccount(payoutSettings(ctx.config), funder).account);
      return { payoutCount: today.payouts, totalFen: today.totalFen };
    },
    batches: (policy, args, ctx) => batchConnection(ctx, args, { policyId: policy.id }),
    viewerCanApprove: (policy, _args, ctx) => policyApprovalRefusal(actorOf(ctx.principal), policy) === null,
    viewerCanRevoke: (policy, _args, ctx) => policyRevocationRefusal(actorOf(ctx.principal), policy) === null,
  },

  PaymentPolicyConnection: {
    totalCount: countedTotal,
  },

  PayoutBatch: {
    id: (batch) => toGlobalId('PayoutBatch', batch.id),
    funder: async (batch, _args, ctx) => (await ctx.loaders.funder.load(batch.funderId))!,
    attemptCounts: (batch, _args, ctx) => ctx.loaders.attemptCountsOfBatch.load(batch.id),
    payouts: (batch, args, ctx) => payoutConnection(ctx, args, { batchId: batch.id }),
    fileName: (batch) => (batch.sealedAt ? batchFileName(batch.msgId) : null),
    file: async (batch, _args, ctx) => {
      const stored = await ctx.loaders.payoutBatchFile.load(batch.id);
      return stored ? maskCreditorAccounts(clearBatchFile(ctx.keys, stored)!) : null;
    },
    sealBase64: async (batch, _args, ctx) => (await ctx.loaders.payoutBatchFile.load(batch.id))?.seal.toString('base64') ?? null,
    fileUrl: (batch, _args, ctx) => (batch.sealedAt ? downloadUrl(ctx, 'PAYOUT_BATCH_FILE_MASKED', batch.id) : null),
    sealUrl: (batch, _args, ctx) => (batch.sealedAt ? downloadUrl(ctx, 'PAYOUT_BATCH_SEAL', batch.id) : null),
    creator: (batch, _args, ctx) => actorView(ctx, batch.createdBy),
    // The database lets only FINANCE approve (payout_batches CHECK).
    approver: (batch, _args, ctx) => (batch.approvedBy === null ? null : actorView(ctx, batch.approvedBy, 'FINANCE')),
    policy: (batch, _args, ctx) => (batch.policyId === null ? null : ctx.loaders.paymentPolicy.load(batch.policyId)),
    submitRequester: (batch, _args, ctx) => (batch.submitRequestedBy === null ? null : actorView(ctx, batch.submitRequestedBy)),
    viewerCanApprove: (batch, _args, ctx) => approvalRefusal(actorOf(ctx.principal), batch) === null,
    viewerCanSubmit: (batch, _args, ctx) => submissionRefusal(actorOf(ctx.principal), batch) === null,
    viewerCanCancel: (batch, _args, ctx) => cancellationRefusal(actorOf(ctx.principal), batch) === null,
    // revealBatchFile answers CONFLICT until the batch has its sealed file.
    viewerCanRevealFile: (batch, _args, ctx) => hasRole(ctx, FILE_REVEALERS) && batch.sealedAt !== null,
  },

  PayoutConnection: {
    totalCount: countedTotal,
  },
  PayoutBatchConnection: {
    totalCount: countedTotal,
  },

  Member: {
    payouts: async (member, args, ctx) => {
      const page = readPage(args, PAYOUT_ORDER);
      const rows = await ctx.loaders.payoutsOfMember.load({ parentId: member.id, args: page });
      return { ...toConnection(rows, page, (p) => p.id), count: () => ctx.loaders.payoutCountOfMember.load({ parentId: member.id, args: null }) };
    },
  },

  Claim: {
    payout: async (claim, _args, ctx) => (await ctx.loaders.payoutsOfClaim.load(claim.id))[0] ?? null,
    payouts: (claim, _args, ctx) => ctx.loaders.payoutsOfClaim.load(claim.id),
  },

  Funder: {
    id: (funder) => toGlobalId('Funder', funder.id),
    organisation: async (funder, _args, ctx) => (await organisationLoaders(ctx).organisation.load(funder.organisationId))!,
    // UNION pays from the configured account.
    accountMasked: (funder, _args, ctx) => maskBankCard(funderPayingAccount(payoutSettings(ctx.config), funder).account),
    balance: async (funder, { planYear }, ctx) => {
      if (!canSeeBatches(ctx)) return null;
      // A payout's funder may be a parent's or another tree's fund: its figures are for staff whose scope holds it.
      if (!(await withinCallerOrganisation(ctx, funder.organisationId))) return null;
      check('planYear', Number.isSafeInteger(planYear) && planYear >= 2000 && planYear <= 2100 ? null : 'must be a year between 2000 and 2100');
      const [balance] = await funderBalances(ctx.db, [funder.id], planYear, payoutSettings(ctx.config).account.account);
      return balance!;
    },
  },

  FunderBalance: {
    balanced: (balance) => balance.differenceFen === 0,
  },

  Subscription: {
    payoutStatusChanged: {
      subscribe: (_root, args, ctx) => statusChanges(ctx, 'PAYOUT', args, (c, id) => c.loaders.payout.load(id)),
      resolve: ({ row, change }: { row: PayoutRow; change: StatusEvent }): PayoutStatusChangeRow =>
        ({ payout: row, status: payoutStatusOf(change.status), at: change.at, sequence: change.sequence }),
    },
  },
};


/** The retry proposal `Payout.retryProposal` shows: one awaiting confirmation of a FAILED payout, to those who see batches. */
async function retryProposalOf(ctx: Context, payout: PayoutRow) {
  const proposal = payout.status === 'FAILED' && canSeeBatches(ctx) ? await ctx.loaders.retryProposalOfPayout.load(payout.id) : null;
  // The database lets only FINANCE propose (payout_retries CHECK).
  return proposal && { ...proposal, id: toGlobalId('PayoutRetryProposal', proposal.id), proposer: actorView(ctx, proposal.proposedBy, 'FINANCE') };
}

/** The payout a part of it belongs to, when the caller may see that payout. */
async function visibleParent(ctx: Context, kind: 'attempt' | 'retryProposal', id: number) {
  const payoutId = await payoutIdOf(ctx.db, kind, id);
  return payoutId === null ? null : ctx.loaders.payout.load(payoutId);
}

export const payoutNodes = {
  Payout: (ctx: Context, id: number) => ctx.loaders.payout.load(id),
  PayoutAttempt: async (ctx: Context, id: number) => {
    const payout = await visibleParent(ctx, 'attempt', id);
    return payout && ((await ctx.loaders.attemptsOfPayout.load(payout.id)).find((a) => a.id === id) ?? null);
  },
  PayoutRetryProposal: async (ctx: Context, id: number) => {
    const payout = await visibleParent(ctx, 'retryProposal', id);
    const proposal = payout && await retryProposalOf(ctx, payout);
    return proposal?.id === toGlobalId('PayoutRetryProposal', id) ? proposal : null;
  },
  PayoutBatch: (ctx: Context, id: number) => (canSeeBatches(ctx) ? ctx.loaders.payoutBatch.load(id) : Promise.resolve(null)),
  PaymentPolicy: (ctx: Context, id: number) => (canSeeBatches(ctx) ? ctx.loaders.paymentPolicy.load(id) : Promise.resolve(null)),
  Funder: async (ctx: Context, id: number) => (canSeeBatches(ctx) ? (await listFunders(ctx.reads, scopeOf(ctx.principal), [id]))[0] ?? null : null),
};

/**
 * The funders `createPayoutBatch` may take payouts of: the one it names, which the caller must see;
 * else, for an organisation's staff, those of their tree (null: any, for the hub's own staff).
 */
async function fundersArgument(ctx: Context, funderId: string | null | undefined): Promise<number[] | null> {
  const scope = scopeOf(ctx.principal);
  if (!funderId) return scope.organisationId == null ? null : (await listFunders(ctx.reads, scope)).map((f) => f.id);
  const id = localId('input.funderId', funderId, 'Funder');
  const [funder] = await listFunders(ctx.reads, scope, [id]);
  if (!funder) throw notFound('funder', 'input.funderId');
  return [funder.id];
}
