import type { Job, Queue } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { PersonalDataKeys } from '../src/privacy/personalData.ts';
import { fetchPage, storePulledPage, type FetchedPage } from '../src/settlements/ingest.ts';
import { isPulledKind, type SettlementSourceRow } from '../src/settlements/model.ts';
import type { SettlementSource } from '../src/settlements/sources/source.ts';
import * as store from '../src/settlements/store.ts';
import { enqueueSettlementMatches, enqueueSettlementPull, type SettlementPullJob } from '../src/settlements/queue.ts';

/**
 * The pull job: pages from a source's stored cursor. Each page, its run counters and the new
 * cursor commit together, then the new settlements' match jobs are enqueued. While a page is
 * stored the next one is already being fetched and validated; after a few pages the job hands on
 * to the next pull job (so a job stays short). A re-run (retry, stalled worker) reads the cursor
 * again: nothing is stored twice.
 */
const PAGES_PER_JOB = 10;

export function pullProcessor(
  db: pg.Pool,
  keys: PersonalDataKeys,
  queues: { settlementPull: Queue; settlementMatch: Queue },
  adapterOf: (source: SettlementSourceRow) => SettlementSource,
  log: Logger,
) {
  return async (job: Job<SettlementPullJob>) => {
    const source = await store.sourceByName(db, job.data.source);
    if (!source || !source.enabled || !isPulledKind(source.kind)) return { skipped: true };
    const adapter = adapterOf(source);
    const prefetch = (from: string | null) => {
      const fetched = fetchPage(keys, adapter, from, source.pageSize);
      fetched.catch(() => undefined); // awaited later, or abandoned when the pull stops
      return fetched;
    };
    const totals = { pages: 0, received: 0, inserted: 0, duplicates: 0, rejected: 0, stale: false, hasMore: true };
    let enqueued: Promise<void> = Promise.resolve();
    let next: Promise<FetchedPage> = prefetch(source.cursor);
    while (totals.hasMore && !totals.stale) {
      const fetched = await next;
      totals.hasMore = fetched.page.hasMore;
      const more = totals.hasMore && totals.pages + 1 < PAGES_PER_JOB;
      if (more) next = prefetch(fetched.page.nextCursor);
      const outcome = await storePulledPage(db, source.name, fetched, 'schedule');
      await enqueued;
      enqueued = enqueueSettlementMatches(queues.settlementMatch, outcome.toMatch);
      totals.pages += 1;
      totals.stale = outcome.stale;
      for (const key of ['received', 'inserted', 'duplicates', 'rejected'] as const) totals[key] += outcome[key];
      if (!more && totals.hasMore && !outcome.stale) await enqueueSettlementPull(queues.settlementPull, source.name, fetched.page.nextCursor);
      if (!more) break;
    }
    await enqueued;
    if (totals.received || totals.stale) log.info({ source: source.name, ...totals }, 'settlement pages pulled');
    return totals;
  };
}

/** Every failed attempt shows on the source; the last one also fails its open run. */
export async function recordPullFailure(db: pg.Pool, job: Job<SettlementPullJob>, error: Error): Promise<void> {
  await store.recordSourceError(db, job.data.source, error.message);
  if (job.attemptsMade >= (job.opts.attempts ?? 1)) await store.failOpenPullRun(db, job.data.source, error.message);
}
