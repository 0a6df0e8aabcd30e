import { Worker, type Job, type Queue } from 'bullmq';
import type pg from 'pg';
import { config, type Config } from '../src/config.ts';
import type { SettlementSourceRow } from '../src/settlements/rows.ts';
import { adapterFor } from '../src/settlements/sources/forSource.ts';
import type { SettlementSource } from '../src/settlements/sources/source.ts';
import * as store from '../src/settlements/store.ts';
import { enqueueMatchedSettlements } from '../src/benefits/queue.ts';
import type { AfterMatch } from '../src/settlements/matchStep.ts';
import { enqueueSettlementMatches, matchJobId, pullSchedulerId, type SettlementMatchJob, type SettlementPullJob } from '../src/settlements/queue.ts';
import { clearStaleJobIds, QUEUE_NAMES, type Queues } from '../src/queues.ts';
import { matchProcessor, recordMatchFailure } from './settlementsMatch.ts';
import { pullProcessor, recordPullFailure } from './settlementsPull.ts';
import type { WorkerServices } from './services.ts';

/**
 * Settlement ingestion on BullMQ: a scheduler per pulled source, the pull job, the match job, and
 * the sweep that re-derives every missing job from PostgreSQL (so flushing Redis loses nothing).
 */
export interface SettlementWorkerOptions {
  /** Job lock (ms); a job whose worker died is picked up again after about this long. */
  lockMs: number;
  matchConcurrency: number;
  /** Called after the pipeline's own step, adjudication (tests observe the step this way). */
  afterMatch: AfterMatch[];
}

type SettlementServices = Pick<WorkerServices, 'db' | 'keys' | 'connection' | 'prefix' | 'log' | 'queues' | 'settlements'>;

/** The sources configuration names (INSURANCE_PLATFORM_URL, SETTLEMENT_DROP_DIR), registered or updated. */
export async function registerConfiguredSources(db: pg.Pool, cfg: Config): Promise<void> {
  const schedule = { pageSize: cfg.SETTLEMENT_PAGE_SIZE, pollSeconds: cfg.SETTLEMENT_PULL_SECONDS };
  if (cfg.INSURANCE_PLATFORM_URL) await store.upsertSource(db, { name: 'platform', kind: 'PLATFORM', endpoint: cfg.INSURANCE_PLATFORM_URL, ...schedule });
  if (cfg.SETTLEMENT_DROP_DIR) await store.upsertSource(db, { name: 'drop', kind: 'DROP', endpoint: cfg.SETTLEMENT_DROP_DIR, ...schedule });
}

/** One scheduler per enabled, polled source; schedulers of other sources are removed. Returns how many were (re)created. */
export async function scheduleSources(db: pg.Pool, queue: Queue): Promise<number> {
  const wanted = (await store.listSources(db)).filter((s) => s.enabled && s.kind !== 'FILE' && s.pollSeconds);
  const existing = new Map((await queue.getJobSchedulers()).map((s) => [s.key, s.every]));
  let created = 0;
  for (const source of wanted) {
    const every = source.pollSeconds! * 1000;
    // Upserting starts a run at once: only missing or changed schedulers are upserted.
    if (existing.get(pullSchedulerId(source.name)) === every) continue;
    await queue.upsertJobScheduler(pullSchedulerId(source.name), { every }, { name: 'pull', data: { source: source.name } satisfies SettlementPullJob });
    created += 1;
  }
  const keep = new Set(wanted.map((s) => pullSchedulerId(s.name)));
  for (const key of existing.keys()) if (!keep.has(key)) await queue.removeJobScheduler(key);
  return created;
}

const SWEEP_PAGE = 5000;

/**
 * Re-derives settlement work from PostgreSQL: a match job for every settlement still RECEIVED
 * (a no-op for jobs Redis still has), reversals whose original has arrived since, and the source
 * schedulers. Returns the number of match jobs (re-)added.
 */
export async function sweep({ db, queues }: Pick<WorkerServices, 'db' | 'queues'>): Promise<number> {
  await store.releaseStrandedReversals(db);
  let added = 0;
  for (let after = 0; ;) {
    const ids = await store.receivedSettlementIds(db, after, SWEEP_PAGE);
    if (!ids.length) break;
    await clearStaleJobIds(queues.settlementMatch, ids.map(matchJobId));
    await enqueueSettlementMatches(queues.settlementMatch, ids);
    added += ids.length;
    after = ids.at(-1)!;
  }
  await scheduleSources(db, queues.settlementPull);
  return added;
}

/** The pull and match workers, after registering configured sources and their schedulers. */
export async function start({ db, keys, connection, prefix, log, queues, settlements: options }: SettlementServices): Promise<Worker[]> {
  const cfg = config();
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

  const locks = { lockDuration: options.lockMs, stalledInterval: Math.max(500, Math.floor(options.lockMs / 2)), maxStalledCount: 2 };
  const pull = new Worker<SettlementPullJob>(QUEUE_NAMES.settlementPull, pullProcessor(db, keys, queues, adapterOf, log), {
    connection, prefix, concurrency: 2, ...locks,
  });
  const match = new Worker<SettlementMatchJob>(QUEUE_NAMES.settlementMatch, matchProcessor(db, [enqueueMatchedSettlements(queues.claimAdjudication), ...options.afterMatch]), {
    connection, prefix, concurrency: options.matchConcurrency, ...locks,
  });
  const onFailed = <T>(record: (db: pg.Pool, job: Job<T>, error: Error) => Promise<void>) => (job: Job<T> | undefined, error: Error) => {
    if (job) record(db, job, error).catch((err: unknown) => log.error({ err }, 'could not record a failed settlement job'));
  };
  pull.on('failed', onFailed(recordPullFailure));
  match.on('failed', onFailed(recordMatchFailure));
  return [pull, match];
}
