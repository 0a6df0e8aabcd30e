import type { Context } from '../gateway/context.ts';
import { actorOf, actorView, hasRole, requireRole, scopeOf } from '../gateway/context.ts';
import type { Role } from '../gateway/auth.ts';
import { countedTotal, readPage, toConnection, type CountedConnection } from '../gateway/connection.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { CONDOLENCE_READERS, type CondolenceRow } from './model.ts';
import { applyForCondolence, approveCondolence, decideRefusal, rejectCondolence, withdrawCondolence, withdrawRefusal } from './service.ts';
import { condolenceLoaders } from './loaders.ts';
import { condolencesPage, countCondolences, type CondolenceFilter } from './store.ts';

export type CondolenceConnectionResult = CountedConnection<CondolenceRow>;

const READERS: readonly Role[] = CONDOLENCE_READERS;

export const condolenceNodes = {
  Condolence: async (ctx: Context, id: number) => (hasRole(ctx, READERS) ? condolenceLoaders(ctx).condolence.load(id) : null),
};

export const condolenceResolvers: DomainResolvers = {
  Query: {
    condolences: async (_root, { filter, ...args }, ctx) => {
      requireRole(ctx, READERS, 'condolences');
      const f: CondolenceFilter = {
        status: filter?.status ?? null,
        planYear: filter?.planYear ?? null,
        unitId: filter?.unitId ? localId('filter.unitId', filter.unitId, 'Unit') : null,
      };
      const scope = scopeOf(ctx.principal);
      const page = readPage(args);
      return { ...toConnection(await condolencesPage(ctx.reads, scope, f, page), page, (c) => c.id), count: () => countCondolences(ctx.reads, scope, f) };
    },
  },
  Mutation: {
    applyForCondolence: async (_root, { input }, ctx) => {
      const condolence = await applyForCondolence(ctx.db, ctx.loaders.ruleSets, actorOf(ctx.principal), scopeOf(ctx.principal), {
        memberId: localId('input.memberId', input.memberId, 'Member'),
        planYear: input.planYear, reason: input.reason, amountFen: input.amountFen, description: input.description, occurredOn: input.occurredOn,
      });
      return { condolence };
    },
    approveCondolence: async (_root, { input }, ctx) => {
      const condolence = await approveCondolence(ctx.db, ctx.loaders.ruleSets, actorOf(ctx.principal), scopeOf(ctx.principal), {
        condolenceId: localId('input.condolenceId', input.condolenceId, 'Condolence'), amountFen: input.amountFen, note: input.note,
      });
      return { condolence };
    },
    rejectCondolence: async (_root, { input }, ctx) => {
      const condolence = await rejectCondolence(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), {
        condolenceId: localId('input.condolenceId', input.condolenceId, 'Condolence'), reason: input.reason,
      });
      return { condolence };
    },
    withdrawCondolence: async (_root, { input }, ctx) => {
      const condolence = await withdrawCondolence(ctx.db, actorOf(ctx.principal), scopeOf(ctx.principal), {
        condolenceId: localId('input.condolenceId', input.condolenceId, 'Condolence'), reason: input.reason,
      });
      return { condolence };
    },
  },
  Condolence: {
    id: (row) => toGlobalId('Condolence', row.id),
    member: async (row, _args, ctx) => (await ctx.loaders.member.load(row.memberId))!,
    unit: async (row, _args, ctx) => (await ctx.loaders.unit.load(row.unitId))!,
    funder: async (row, _args, ctx) => (await ctx.loaders.funder.load(row.funderId))!,
    ruleSet: (row) => `${row.ruleSetId} v${row.ruleSetVersion}`,
    appliedBy: (row, _args, ctx) => actorView(ctx, row.appliedBy, row.appliedRole as Role),
    decider: (row, _args, ctx) => (row.decidedBy === null ? null : actorView(ctx, row.decidedBy, row.decidedRole as Role)),
    payout: async (row, _args, ctx) => {
      const payoutId = await condolenceLoaders(ctx).payoutIdOfCondolence.load(row.id);
      return payoutId === null ? null : ctx.loaders.payout.load(payoutId);
    },
    viewerCanDecide: (row, _args, ctx) => decideRefusal(actorOf(ctx.principal), row) === null,
    viewerCanWithdraw: (row, _args, ctx) => withdrawRefusal(actorOf(ctx.principal), row) === null,
  },
  Member: {
    condolences: (member, _args, ctx) => (hasRole(ctx, READERS) ? condolenceLoaders(ctx).condolencesOfMember.load(member.id) : []),
  },
  Payout: {
    condolence: (payout, _args, ctx) => (hasRole(ctx, READERS) ? condolenceLoaders(ctx).condolenceOfPayout.load(payout.id) : null),
  },
  CondolenceConnection: { totalCount: countedTotal },
};
