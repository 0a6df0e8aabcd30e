import type { Context } from '../gateway/context.ts';
import { actorOf, actorView, hasRole, requireRole, scopeOf } from '../gateway/context.ts';
import type { Role } from '../gateway/auth.ts';
import { countedTotal, readPage, toConnection, type CountedConnection } from '../gateway/connection.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { attachmentsFromUploads, discardUploads } from '../attachments/resolvers.ts';
import { APPEAL_FILERS, APPEAL_READERS, APPEALABLE_CLAIM_STATUSES, appealDeadline, type AppealRow } from './model.ts';
import { decideAppeal, decideRefusal, fileAppeal } from './service.ts';
import { appealPeriodOf } from './settings.ts';
import { appealLoaders } from './loaders.ts';
import { appealsPage, countAppeals } from './store.ts';
import { upholdFigures } from '../benefits/redecide.ts';

export type AppealConnectionResult = CountedConnection<AppealRow>;

/** Who sees appeals at all (each in its scope: a member its own, a unit operator its unit's). */
const APPEAL_VIEWERS: readonly Role[] = [...APPEAL_READERS, 'MEMBER', 'UNIT_OPERATOR'];

export const appealNodes = {
  Appeal: async (ctx: Context, id: number) => (hasRole(ctx, APPEAL_VIEWERS) ? appealLoaders(ctx).appeal.load(id) : null),
};

export const appealResolvers: DomainResolvers = {
  Query: {
    appeals: async (_root, { status, ...args }, ctx) => {
      requireRole(ctx, APPEAL_READERS, 'appeals');
      const page = readPage(args);
      const scope = scopeOf(ctx.principal);
      return { ...toConnection(await appealsPage(ctx.reads, scope, status ?? null, page), page, (a) => a.id), count: () => countAppeals(ctx.reads, scope, status ?? null) };
    },
  },
  Mutation: {
    fileAppeal: async (_root, { input }, ctx) => {
      requireRole(ctx, APPEAL_FILERS, 'fileAppeal');
      const claimId = localId('input.claimId', input.claimId, 'Claim');
      const attachments = await attachmentsFromUploads(ctx, 'input.attachments', input.attachments ?? []);
      const appeal = await fileAppeal(ctx.db, ctx.keys, actorOf(ctx.principal), scopeOf(ctx.principal), appealPeriodOf(ctx.config), {
        claimId, reason: input.reason, attachments,
      });
      await discardUploads(attachments);
      return { appeal };
    },
    decideAppeal: async (_root, { input }, ctx) => {
      const appealId = localId('input.appealId', input.appealId, 'Appeal');
      const appeal = await decideAppeal(
        ctx.db, ctx.loaders.ruleSets, actorOf(ctx.principal), scopeOf(ctx.principal), appealId, input.decision, input.reason, input.checkedTotalFen,
      );
      // The claim was decided again in that transaction: read afresh.
      ctx.loaders.claim.clear(appeal.claimId);
      return { appeal };
    },
  },
  Appeal: {
    id: (row) => toGlobalId('Appeal', row.id),
    claim: async (row, _args, ctx) => (await ctx.loaders.claim.load(row.claimId))!,
    filedBy: (row, _args, ctx) => actorView(ctx, row.filedBy, row.filedRole as Role),
    decider: (row, _args, ctx) => (row.decidedBy === null ? null : actorView(ctx, row.decidedBy, row.decidedRole as Role)),
    attachments: (row, _args, ctx) => appealLoaders(ctx).attachmentsOfAppeal.load(row.id),
    viewerCanDecide: (row, _args, ctx) => decideRefusal(actorOf(ctx.principal), row) === null,
    // The row was read in the caller's scope; figured as the uphold figures, for whoever may decide it.
    upholdPreview: (row, _args, ctx) => (decideRefusal(actorOf(ctx.principal), row) === null ? upholdFigures(ctx.reads, row.claimId, ctx.loaders.ruleSets) : null),
  },
  Claim: {
    appeals: (claim, _args, ctx) => (hasRole(ctx, APPEAL_VIEWERS) ? appealLoaders(ctx).appealsOfClaim.load(claim.id) : []),
    appealableUntil: (claim, _args, ctx) => {
      if (!(APPEALABLE_CLAIM_STATUSES as readonly string[]).includes(claim.status)) return null;
      // The end of the period (exclusive): 24:00 China time of its last day, as fileAppeal counts it.
      return appealDeadline(claim.decidedAt ?? claim.createdAt, appealPeriodOf(ctx.config));
    },
  },
  Member: {
    appeals: (member, _args, ctx) => (hasRole(ctx, APPEAL_VIEWERS) ? appealLoaders(ctx).appealsOfMember.load(member.id) : []),
  },
  AppealConnection: { totalCount: countedTotal },
};
