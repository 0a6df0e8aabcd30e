import type { Resolvers } from '../gateway/generated/resolvers.ts';
import { scopeOf, type Context } from '../gateway/context.ts';
import { unitsByIds } from '../members/store.ts';
import { localId, toGlobalId } from '../gateway/globalId.ts';
import type { ClaimRow, ClaimStatus } from '../benefits/model.ts';
import { mayReadRosterImport } from '../members/resolvers.ts';
import { reconciliationNodes } from '../reconciliation/resolvers.ts';
import { filterMap, type JobProgress, type StatusChange, type StatusEvent } from './statusEvents.ts';
import { invalid, notFound } from '../kernel/errors.ts';

/** What `ClaimStatusChange` resolves from. */
export interface ClaimStatusChangeRow {
  claim: ClaimRow;
  status: ClaimStatus;
  at: string;
  sequence: string;
}

/** What `JobProgress` resolves from. */
export interface JobProgressRow {
  jobId: string;
  done: number;
  total: number | null;
  state: 'RUNNING' | 'DONE' | 'FAILED';
  at: string;
}

interface FollowArgs {
  memberId?: string | null;
  unitId?: string | null;
  after?: string | null;
}

/**
 * The member or unit a subscription follows, under the same visibility as queries: a MEMBER's and
 * a UNIT_OPERATOR's own by default, and a member or unit the caller may not read is NOT_FOUND.
 */
async function followed(ctx: Context, args: FollowArgs): Promise<{ memberId: number | null; unitId: number | null }> {
  const { principal } = ctx;
  // A MEMBER follows themself even when naming their unit: followed by unit alone, the replay's check of
  // `after` and its cut-off would answer for unit-mates' events (test/security/subscriptions.test.ts).
  const memberId = args.memberId ? localId('memberId', args.memberId, 'Member') : principal.role === 'MEMBER' ? principal.memberId : null;
  const unitId = args.unitId ? localId('unitId', args.unitId, 'Unit')
    : principal.role === 'UNIT_OPERATOR' && memberId === null ? principal.unitId : null;
  if (memberId === null && unitId === null) throw invalid('memberId', 'name the member (memberId) or the unit (unitId) to follow');
  if (memberId !== null && !(await ctx.loaders.member.load(memberId))) throw notFound('member');
  // The unit loader is unscoped (a visible member's unit); the unit itself is checked in scope, as Query.unit does.
  if (unitId !== null && !(await unitsByIds(ctx.reads, [unitId], scopeOf(principal))).length) throw notFound('unit');
  return { memberId, unitId };
}

/**
 * The changes of `kind` for the followed member or unit, replayed from `after` when given, then
 * live. Each is read again through the caller's scoped loaders, renewed per event, and dropped
 * when the caller may not see the row: what a subscription shows, replayed or live, is exactly
 * what a query would show at that moment.
 */
export async function statusChanges<Row>(
  ctx: Context,
  kind: StatusChange['kind'],
  args: FollowArgs,
  load: (ctx: Context, id: number) => Promise<Row | null>,
): Promise<AsyncIterableIterator<{ row: Row; change: StatusEvent }>> {
  const target = await followed(ctx, args);
  const accept = (change: StatusChange) =>
    (target.memberId === null || change.memberId === target.memberId) && (target.unitId === null || change.unitId === target.unitId);
  return filterMap(await ctx.statusFeed.changes(kind, { after: args.after, accept }), async (change) => {
    ctx.loaders = ctx.newLoaders();
    const row = await load(ctx, change.id);
    return row && { row, change };
  });
}

/**
 * Progress of one job, ending with its final event. The job is checked first as a query of it
 * would be (NOT_FOUND out of scope); one already finished gets its final state at once.
 */
async function jobProgress(
  ctx: Context, kind: JobProgress['kind'], id: number, jobId: string,
  read: () => Promise<{ finished: 'DONE' | 'FAILED' | null; done: number } | null>,
): Promise<AsyncIterableIterator<JobProgressRow>> {
  // Listening starts before the job is read: an end announced meanwhile is not missed.
  const events = ctx.statusFeed.progress(kind, id);
  const job = await read().catch(async (error: unknown) => {
    await events.return!();
    throw error;
  });
  if (!job) {
    await events.return!();
    throw notFound(kind === 'ROSTER_IMPORT' ? 'roster import' : 'reconciliation run');
  }
  const rowOf = (state: JobProgressRow['state'], p: { done: number; total: number | null; at: string }): JobProgressRow => ({ jobId, state, ...p });
  if (job.finished) {
    await events.return!();
    return finalOnly(rowOf(job.finished, { done: job.done, total: job.done, at: new Date().toISOString() }));
  }
  const rows = filterMap(events, async (event) => {
    if (!event.final) return rowOf('RUNNING', event);
    // The end as the job's row tells it: its state and counts, not the announcement's.
    ctx.loaders = ctx.newLoaders();
    const ended = await read();
    return rowOf(ended?.finished ?? 'FAILED', { done: ended?.done ?? event.done, total: ended?.done ?? event.total, at: event.at });
  });
  return untilLast(rows, (row) => row.state !== 'RUNNING');
}

/** `source` up to and including the first value `isLast` picks, then the end. */
function untilLast<T>(source: AsyncIterableIterator<T>, isLast: (value: T) => boolean): AsyncIterableIterator<T> {
  let ended = false;
  const iterator: AsyncIterableIterator<T> = {
    async next() {
      if (ended) return iterator.return!();
      const item = await source.next();
      if (!item.done && isLast(item.value)) ended = true;
      return item;
    },
    async return() {
      ended = true;
      return (await source.return?.()) ?? { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/** One event, then the end. */
function finalOnly<T>(value: T): AsyncIterableIterator<T> {
  let sent = false;
  const iterator: AsyncIterableIterator<T> = {
    next: async () => (sent ? { done: true, value: undefined } : ((sent = true), { done: false, value })),
    return: async () => ({ done: true, value: undefined }),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

const finishedState = (status: string): 'DONE' | 'FAILED' | null => (status === 'DONE' || status === 'FAILED' ? status : null);

export const subscriptionResolvers: Resolvers = {
  Subscription: {
    claimStatusChanged: {
      subscribe: (_root, args, ctx) => statusChanges(ctx, 'CLAIM', args, (c, id) => c.loaders.claim.load(id)) as never,
      resolve: ({ row, change }: { row: ClaimRow; change: StatusEvent }): ClaimStatusChangeRow =>
        ({ claim: row, status: change.status as ClaimStatus, at: change.at, sequence: change.sequence }),
    },
    rosterImportProgress: {
      subscribe: (_root, { id }, ctx) => {
        const importId = localId('id', id, 'RosterImport');
        return jobProgress(ctx, 'ROSTER_IMPORT', importId, toGlobalId('RosterImport', importId), async () => {
          const row = await ctx.loaders.rosterImport.load(importId);
          return row && (await mayReadRosterImport(ctx, importId)) ? { finished: finishedState(row.status), done: row.rowsTotal } : null;
        }) as never;
      },
      resolve: (row: JobProgressRow) => row,
    },
    reconciliationRunProgress: {
      subscribe: (_root, { id }, ctx) => {
        const runId = localId('id', id, 'ReconciliationRun');
        return jobProgress(ctx, 'RECONCILIATION_RUN', runId, toGlobalId('ReconciliationRun', runId), async () => {
          const run = await reconciliationNodes.ReconciliationRun(ctx, runId);
          return run && { finished: finishedState(run.status), done: run.entries };
        }) as never;
      },
      resolve: (row: JobProgressRow) => row,
    },
  },
};
