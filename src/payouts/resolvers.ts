import type { Resolvers } from '../gateway/generated/resolvers.ts';
import { actorOf, requireRole, scopeOf, type Context } from '../gateway/context.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import { readPage, toConnection } from '../gateway/connection.ts';
import { config } from '../config.ts';
import { createHash } from 'node:crypto';
import { recordAudit } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { approveBatch, cancelBatch, createBatch, payingAccount, PayoutError, requestSubmission, retryPayout } from './batches.ts';
import { clearBatchFile, maskCreditorAccounts } from './document.ts';
import { planPayouts } from './plan.ts';
import { payoutStatusChange } from './submission.ts';
import * as store from './store.ts';
import { statusChanges } from '../events/resolvers.ts';
import type { StatusChange } from '../events/statusEvents.ts';
import { check, conflict, forbidden, notFound, reasonOf } from '../kernel/errors.ts';
import { enqueuePayoutBatch } from './queue.ts';

/** What `PayoutStatusChange` resolves from. */
export interface PayoutStatusChangeRow {
  payout: store.PayoutRow;
  status: string;
  at: string;
}

const BATCH_READERS = ['ADMIN', 'FINANCE', 'AUDITOR'] as const;
const BATCH_MAKERS = ['ADMIN', 'FINANCE'] as const;
/** Only FINANCE sees a batch file's card numbers in clear, and says why (audited). */
const FILE_REVEALERS = ['FINANCE'] as const;

/** Domain refusals as API errors with their stable codes. */
async function asApiErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof PayoutError)) throw error;
    if (error.code === 'NOT_FOUND') throw notFound('payout batch');
    if (error.code === 'FORBIDDEN') throw forbidden(error.message);
    if (error.code === 'BAD_USER_INPUT') check(`input.${error.field ?? 'input'}`, error.message);
    throw conflict(error.message, error.field);
  }
}

const canSeeBatches = (ctx: Context) => (BATCH_READERS as readonly string[]).includes(ctx.principal.role);

async function visiblePayout(ctx: Context, id: number) {
  const payout = await ctx.loaders.payout.load(id);
  if (!payout) throw notFound('payout');
  return payout;
}

async function batchFor(ctx: Context, id: number) {
  requireRole(ctx, BATCH_READERS, 'reading payout batches');
  ctx.loaders.payoutBatch.clear(id);
  const batch = await ctx.loaders.payoutBatch.load(id);
  if (!batch) throw notFound('payout batch');
  return batch;
}

/** A page of payouts visible to the caller (newest first), primed into the loader, counted on demand. */
async function payoutConnection(ctx: Context, args: { first?: number | null; after?: string | null }, filter: store.PayoutFilter) {
  const page = readPage(args);
  const scope = scopeOf(ctx.principal);
  const rows = await store.listPayouts(ctx.db, scope, filter, page);
  for (const row of rows) ctx.loaders.payout.prime(row.id, row);
  return { ...toConnection(rows, page, (p) => p.id), count: () => store.countPayouts(ctx.db, scope, filter) };
}

export const payoutResolvers: Resolvers = {
  Query: {
    payouts: (_root, { first, after, filter }, ctx) => payoutConnection(ctx, { first, after }, {
      status: filter?.status,
      memberId: filter?.memberId ? localId('filter.memberId', filter.memberId, 'Member') : null,
      unitId: filter?.unitId ? localId('filter.unitId', filter.unitId, 'Unit') : null,
      batchId: filter?.batchId ? localId('filter.batchId', filter.batchId, 'PayoutBatch') : null,
    }),
    payout: (_root, { id }, ctx) => visiblePayout(ctx, localId('id', id, 'Payout')),
    payoutBatches: async (_root, { first, after, filter }, ctx) => {
      requireRole(ctx, BATCH_READERS, 'reading payout batches');
      const page = readPage({ first, after });
      const rows = await store.listBatches(ctx.db, filter?.status, page);
      for (const row of rows) ctx.loaders.payoutBatch.prime(row.id, row);
      return { ...toConnection(rows, page, (b) => b.id), count: () => store.countBatches(ctx.db, filter?.status) };
    },
    payoutBatch: (_root, { id }, ctx) => batchFor(ctx, localId('id', id, 'PayoutBatch')),
  },

  Mutation: {
    planPayouts: (_root, _args, ctx) => {
      requireRole(ctx, BATCH_MAKERS, 'planning payouts');
      return planPayouts(ctx.db);
    },
    createPayoutBatch: async (_root, { input }, ctx) => {
      requireRole(ctx, BATCH_MAKERS, 'creating a payout batch');
      const cfg = config();
      const max = input?.maxPayouts ?? cfg.PAYOUT_BATCH_MAX;
      check('input.maxPayouts', max >= 1 && max <= cfg.PAYOUT_BATCH_MAX ? null : `must be between 1 and ${cfg.PAYOUT_BATCH_MAX}`);
      const created = await asApiErrors(() => createBatch(ctx.db, actorOf(ctx.principal), payingAccount(cfg), max));
      if (!created) throw conflict('no payout is READY: approved claims become payouts on the workers\' schedule, or run planPayouts');
      return batchFor(ctx, created.id);
    },
    approvePayoutBatch: async (_root, { batchId }, ctx) => {
      const id = localId('batchId', batchId, 'PayoutBatch');
      await asApiErrors(() => approveBatch(ctx.db, actorOf(ctx.principal), id));
      await enqueuePayoutBatch(ctx.queues.payouts, id);
      return batchFor(ctx, id);
    },
    submitPayoutBatch: async (_root, { batchId }, ctx) => {
      const id = localId('batchId', batchId, 'PayoutBatch');
      await asApiErrors(() => requestSubmission(ctx.db, actorOf(ctx.principal), id));
      await enqueuePayoutBatch(ctx.queues.payouts, id);
      return batchFor(ctx, id);
    },
    cancelPayoutBatch: async (_root, { input }, ctx) => {
      requireRole(ctx, BATCH_MAKERS, 'cancelling a payout batch');
      const id = localId('input.batchId', input.batchId, 'PayoutBatch');
      await asApiErrors(() => cancelBatch(ctx.db, actorOf(ctx.principal), id, reasonOf('input.reason', input.reason)));
      return batchFor(ctx, id);
    },
    retryPayout: async (_root, { input }, ctx) => {
      requireRole(ctx, BATCH_MAKERS, 'retrying a payout');
      const id = localId('input.payoutId', input.payoutId, 'Payout');
      await visiblePayout(ctx, id);
      const outcome = await asApiErrors(() => retryPayout(ctx.db, actorOf(ctx.principal), id, reasonOf('input.reason', input.reason)));
      ctx.loaders.payout.clear(id);
      const payout = await visiblePayout(ctx, id);
      if (outcome === 'RETRIED') {
        await ctx.publishStatusChanges([payoutStatusChange({ payoutId: payout.id, memberId: payout.memberId, unitId: payout.unitId, status: payout.status })]);
      }
      return payout;
    },
    revealPayoutBatchFile: async (_root, { input }, ctx) => {
      requireRole(ctx, FILE_REVEALERS, 'revealPayoutBatchFile');
      const reason = reasonOf('input.reason', input.reason);
      const batch = await batchFor(ctx, localId('input.batchId', input.batchId, 'PayoutBatch'));
      return inTransaction(ctx.db, async (tx) => {
        const [stored] = await store.batchFiles(tx, [batch.id]);
        if (!stored) throw conflict(`batch ${batch.msgId} is ${batch.status}: it has no sealed file`, 'input.batchId');
        const file = clearBatchFile(ctx.keys, stored)!;
        // What is handed out is what the seal covers, or nothing.
        if (!createHash('sha256').update(file, 'utf8').digest().equals(stored.sha256)) {
          throw new Error(`payout batch ${batch.msgId}: its stored file does not match its sealed hash`);
        }
        await recordAudit(tx, actorOf(ctx.principal), {
          action: 'payout.batch.reveal', targetType: 'PayoutBatch', targetId: batch.msgId, reason,
          details: { batchId: batch.id, sha256: stored.sha256.toString('hex') },
        });
        return { batch, fileName: `${batch.msgId}.xml`, file, sealBase64: stored.seal.toString('base64'), sha256: stored.sha256.toString('hex') };
      });
    },
  },

  Payout: {
    id: (payout) => toGlobalId('Payout', payout.id),
    claim: async (payout, _args, ctx) => {
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
    status: (payout) => payout.status as never,
    attempts: (payout, _args, ctx) => ctx.loaders.attemptsOfPayout.load(payout.id),
    retryProposal: (payout, _args, ctx) => (payout.status === 'FAILED' && canSeeBatches(ctx) ? ctx.loaders.retryProposalOfPayout.load(payout.id) : null),
  },

  PayoutAttempt: {
    status: (attempt) => attempt.status as never,
    batch: (attempt, _args, ctx) => (canSeeBatches(ctx) ? ctx.loaders.payoutBatch.load(attempt.batchId) : null),
  },

  PayoutBatch: {
    id: (batch) => toGlobalId('PayoutBatch', batch.id),
    status: (batch) => batch.status as never,
    submission: (batch) => batch.submission as never,
    attemptCounts: (batch, _args, ctx) => ctx.loaders.attemptCountsOfBatch.load(batch.id) as never,
    payouts: (batch, { first, after }, ctx) => payoutConnection(ctx, { first, after }, { batchId: batch.id }),
    fileName: (batch) => (batch.sealedAt ? `${batch.msgId}.xml` : null),
    file: async (batch, _args, ctx) => {
      const stored = await ctx.loaders.payoutBatchFile.load(batch.id);
      return stored ? maskCreditorAccounts(clearBatchFile(ctx.keys, stored)!) : null;
    },
    sealBase64: async (batch, _args, ctx) => (await ctx.loaders.payoutBatchFile.load(batch.id))?.seal.toString('base64') ?? null,
  },

  PayoutConnection: {
    totalCount: (connection) => connection.count?.() ?? connection.edges.length,
  },
  PayoutBatchConnection: {
    totalCount: (connection) => connection.count?.() ?? connection.edges.length,
  },

  Member: {
    payouts: async (member, { first, after }, ctx) => {
      const page = readPage({ first, after });
      const rows = await ctx.loaders.payoutsOfMember.load({ parentId: member.id, args: page });
      return toConnection(rows, page, (p) => p.id);
    },
  },

  Claim: {
    payout: (claim, _args, ctx) => ctx.loaders.payoutOfClaim.load(claim.id),
  },

  Subscription: {
    payoutStatusChanged: {
      subscribe: (_root, args, ctx) => statusChanges(ctx, 'PAYOUT', args, (c, id) => c.loaders.payout.load(id)) as never,
      resolve: ({ row, change }: { row: store.PayoutRow; change: StatusChange }): PayoutStatusChangeRow =>
        ({ payout: row, status: change.status, at: change.at }),
    },
  },

  PayoutStatusChange: {
    status: (change) => change.status as never,
  },
};


export const payoutNodes = {
  Payout: (ctx: Context, id: number) => ctx.loaders.payout.load(id),
  PayoutBatch: (ctx: Context, id: number) => (canSeeBatches(ctx) ? ctx.loaders.payoutBatch.load(id) : Promise.resolve(null)),
};
