import { Worker, type Job } from 'bullmq';
import type pg from 'pg';
import type { SettlementSourceRow } from '../src/settlements/model.ts';
import { adapterFor } from '../src/settlements/sources/forSource.ts';
import { registerConfiguredSources, scheduleSources } from '../src/settlements/sources/registry.ts';
import type { SettlementSource } from '../src/settlements/sources/source.ts';
import * as store from '../src/settlements/store.ts';
import { releaseResolvableUnmatched } from '../src/settlements/store/rematch.ts';
import { enqueueMatchedSettlements } from '../src/benefits/queue.ts';
import { enqueueSettlementMatches, matchJobs, type SettlementPullJob, type SettlementsJob } from '../src/settlements/queue.ts';
import { clearStaleJobIds, jobLocks, QUEUE_NAMES } from '../src/queues.ts';
import { matchProcessor, recordMatchFailure } from './settlementsMatch.ts';
import { pullProcessor, recordPullFailure } from './settlementsPull.ts';
import type { WorkerServices } from './services.ts';

/**
 * Settlement ingestion on BullMQ: a scheduler per pulled source, the pull job, the match job, and
 * the sweep that re-derives every missing job from PostgreSQL (so flushing Redis loses nothing).
 */
type SettlementServices = Pick<WorkerServices, 'config' | 'db' | 'keys' | 'connection' | 'prefix' | 'log' | 'queues' | 'settlements'>;

const SWEEP_PAGE = 5000;

/**
 * Re-derives settlement work from PostgreSQL: match jobs for every settlement still RECEIVED
 * (a no-op for jobs Redis still has), reversals whose original has arrived since, and the source
 * schedulers. Returns the number of settlements whose match jobs were (re-)added.
 */
export async function sweep({ db, queues }: Pick<WorkerServices, 'db' | 'queues'>): Promise<number> {
  await store.releaseStrandedReversals(db);
  // Settlements whose member or enrolment was registered since (by any path) are matched again.
  await releaseResolvableUnmatched(db);
  let added = 0;
  for (let after = 0; ;) {
    const ids = await store.receivedSettlementIds(db, after, SWEEP_PAGE);
    if (!ids.length) break;
    await clearStaleJobIds(queues.settlementMatch, matchJobs(ids).map((j) => j.jobId));
    await enqueueSettlementMatches(queues.settlementMatch, ids);
    added += ids.length;
    after = ids.at(-1)!;
  }
  await scheduleSources(db, queues.settlementPull);
  return added;
}

/** The pull and match workers, after registering configured sources and their schedulers. */
export async function start({ config: cfg, db, keys, connection, prefix, log, queues, settlements: options }: SettlementServices): Promise<Worker[]> {
  await registerConfiguredSources(db, cfg);

  // An adapter per source, kept while its endpoint stays the same (a drop directory caches its file).
  const adapters = new Map<string, { endpoint: string | null; adapter: SettlementSource }>();
  const adapterOf = (source: SettlementSourceRow) => {
    const known = adapters.get(source.name);
    if (known?.endpoint === source.endpoint) return known.adapter;
    const adapter = adapterFor(source, cfg);
    adapters.set(source.name, { endpoint: source.endpoint, adapter });
    return adapter;
  };

  const locks = jobLocks(options.lockMs);
  const pull = new Worker<SettlementPullJob>(QUEUE_NAMES.settlementPull, pullProcessor(db, keys, queues, adapterOf, log), {
    connection, prefix, concurrency: 2, ...locks,
  });
  const match = new Worker<SettlementsJob>(QUEUE_NAMES.settlementMatch, matchProcessor(db, [enqueueMatchedSettlements(queues.claimAdjudication), ...options.afterMatch]), {
    connection, prefix, concurrency: options.matchConcurrency, ...locks,
  });
  const onFailed = <T>(record: (db: pg.Pool, job: Job<T>, error: Error) => Promise<void>) => (job: Job<T> | undefined, error: Error) => {
    if (job) record(db, job, error).catch((err: unknown) => log.error({ err }, 'could not record a failed settlement job'));
  };
  pull.on('failed', onFailed(recordPullFailure));
  match.on('failed', onFailed(recordMatchFailure));
  return [pull, match];
}
