import type { Resolvers } from '../gateway/generated/resolvers.ts';
import { scopeOf, type Context } from '../gateway/context.ts';
import { unitsByIds } from '../members/store.ts';
import { localId } from '../gateway/globalId.ts';
import type { ClaimRow, ClaimStatus } from '../benefits/model.ts';
import { filterMap, type StatusChange } from './statusEvents.ts';
import { invalid, notFound } from '../kernel/errors.ts';

/** What `ClaimStatusChange` resolves from. */
export interface ClaimStatusChangeRow {
  claim: ClaimRow;
  status: ClaimStatus;
  at: string;
}

interface FollowArgs {
  memberId?: string | null;
  unitId?: string | null;
}

/**
 * The member or unit a subscription follows, under the same visibility as queries: a MEMBER's and
 * a UNIT_OPERATOR's own by default, and a member or unit the caller may not read is NOT_FOUND.
 */
async function followed(ctx: Context, args: FollowArgs): Promise<{ memberId: number | null; unitId: number | null }> {
  const { principal } = ctx;
  const memberId = args.memberId ? localId('memberId', args.memberId, 'Member') : principal.role === 'MEMBER' ? principal.memberId : null;
  const unitId = args.unitId ? localId('unitId', args.unitId, 'Unit')
    : principal.role === 'UNIT_OPERATOR' && memberId === null ? principal.unitId : null;
  if (memberId === null && unitId === null) throw invalid('memberId', 'name the member (memberId) or the unit (unitId) to follow');
  if (memberId !== null && !(await ctx.loaders.member.load(memberId))) throw notFound('member');
  // The unit loader is unscoped (a visible member's unit); the unit itself is checked in scope, as Query.unit does.
  if (unitId !== null && !(await unitsByIds(ctx.db, [unitId], scopeOf(principal))).length) throw notFound('unit');
  return { memberId, unitId };
}

/**
 * The changes of `kind` for the followed member or unit. Each is read again through the caller's
 * scoped loaders, renewed per event, and dropped when the caller may not see the row: what a
 * subscription shows is exactly what a query would show at that moment.
 */
export async function statusChanges<Row>(
  ctx: Context,
  kind: StatusChange['kind'],
  args: FollowArgs,
  load: (ctx: Context, id: number) => Promise<Row | null>,
): Promise<AsyncIterableIterator<{ row: Row; change: StatusChange }>> {
  const target = await followed(ctx, args);
  return filterMap(ctx.statusFeed.changes(kind), async (change) => {
    if (target.memberId !== null && change.memberId !== target.memberId) return null;
    if (target.unitId !== null && change.unitId !== target.unitId) return null;
    ctx.loaders = ctx.newLoaders();
    const row = await load(ctx, change.id);
    return row && { row, change };
  });
}

export const subscriptionResolvers: Resolvers = {
  Subscription: {
    claimStatusChanged: {
      subscribe: (_root, args, ctx) => statusChanges(ctx, 'CLAIM', args, (c, id) => c.loaders.claim.load(id)) as never,
      resolve: ({ row, change }: { row: ClaimRow; change: StatusChange }): ClaimStatusChangeRow =>
        ({ claim: row, status: change.status as ClaimStatus, at: change.at }),
    },
  },
};
