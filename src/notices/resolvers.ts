import type { Context } from '../gateway/context.ts';
import { actorOf, hasRole, requireRole } from '../gateway/context.ts';
import { noticeDownloadUrl } from '../gateway/files.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import type { DomainResolvers } from '../gateway/payloads.ts';
import { notFound } from '../kernel/errors.ts';
import { issuePendingNotices } from './issue.ts';
import { noticeLoaders } from './loaders.ts';
import { NOTICE_ISSUERS, NOTICE_READERS, noticeTitle } from './model.ts';
import { noticeSettings } from './settings.ts';

/** Notices the caller may read: NOTICE_READERS, each in its scope (a member its own). */
const mayRead = (ctx: Context) => hasRole(ctx, NOTICE_READERS);

export const noticeNodes = {
  Notice: async (ctx: Context, id: number) => (mayRead(ctx) ? noticeLoaders(ctx).notice.load(id) : null),
};

export const noticeResolvers: DomainResolvers = {
  Mutation: {
    issueNotices: async (_root, { input }, ctx) => {
      requireRole(ctx, NOTICE_ISSUERS, 'issueNotices');
      const memberId = localId('input.memberId', input.memberId, 'Member');
      if (!(await ctx.loaders.member.load(memberId))) throw notFound('member', 'input.memberId');
      const ids = await issuePendingNotices(ctx.db, noticeSettings(ctx.config, ctx.keys), { memberId, actor: actorOf(ctx.principal) });
      const notices = await noticeLoaders(ctx).notice.loadMany(ids);
      return { notices: notices.flatMap((n) => (n && !(n instanceof Error) ? [n] : [])) };
    },
  },
  Notice: {
    id: (row) => toGlobalId('Notice', row.id),
    title: (row) => noticeTitle(row.kind, row.condolence),
    issuedAt: (row) => row.createdAt,
    sha256: (row) => row.sha256.toString('hex'),
    downloadUrl: (row, _args, ctx) => noticeDownloadUrl(ctx, row.id),
  },
  Member: {
    notices: (member, _args, ctx) => (mayRead(ctx) ? noticeLoaders(ctx).noticesOfMember.load(member.id) : []),
  },
  Claim: {
    notices: (claim, _args, ctx) => (mayRead(ctx) ? noticeLoaders(ctx).noticesOfClaim.load(claim.id) : []),
  },
};
