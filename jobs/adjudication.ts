import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import DataLoader from 'dataloader';
import type pg from 'pg';
import { adjudicateSettlements, unadjudicatedSettlementIds, type AdjudicationOptions, type AdjudicationOutcome } from '../src/benefits/adjudicate.ts';
import { benefitSettings } from '../src/benefits/settings.ts';
import type { ClaimStatus } from '../src/benefits/rows.ts';
import type { MatchedSettlement } from '../src/settlements/matchStep.ts';
import type { AfterMatch } from './settlementsMatch.ts';
import { clearStaleJobIds, DEFAULT_JOB_OPTIONS, QUEUE_NAMES } from './queues.ts';

/**
 * The adjudication job: one per MATCHED settlement (deterministic id `claim-adjudicate-<id>`),
 * carrying only the settlement id. Jobs arriving together are adjudicated in batches, one
 * transaction each (src/benefits/adjudicate.ts); the claim's UNIQUE(settlement_id) makes a repeated
 * job a no-op. Redis only carries the work: `sweepAdjudication` re-derives it from the rows.
 */
export const ADJUDICATION_QUEUE = QUEUE_NAMES.claimAdjudication;

export interface AdjudicationJob {
  settlementId: number;
}

export const adjudicationJobId = (settlementId: number) => `claim-adjudicate-${settlementId}`;

export function createAdjudicationQueue(connection: ConnectionOptions, prefix: string): Queue<AdjudicationJob> {
  return new Queue<AdjudicationJob>(ADJUDICATION_QUEUE, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
}

const BULK = 1000;

export async function enqueueAdjudications(queue: Queue, settlementIds: readonly number[]): Promise<void> {
  for (let i = 0; i < settlementIds.length; i += BULK) {
    await queue.addBulk(settlementIds.slice(i, i + BULK).map((settlementId) => ({
      name: 'adjudicate', data: { settlementId } satisfies AdjudicationJob, opts: { jobId: adjudicationJobId(settlementId) },
    })));
  }
}

/** The AfterMatch hook: an adjudication job for every settlement the match step just MATCHED. */
export function enqueueAdjudication(queue: Queue): AfterMatch {
  return async (decided: MatchedSettlement[]) => {
    const matched = decided.filter((d) => d.status === 'MATCHED').map((d) => d.id);
    if (matched.length) await enqueueAdjudications(queue, matched);
  };
}

// Jobs arriving within this window are adjudicated in one transaction.
const BATCH_WINDOW_MS = 2;
export const MAX_ADJUDICATION_BATCH = 100;

export function adjudicationProcessor(db: pg.Pool, options: Partial<AdjudicationOptions> & Pick<AdjudicationWorkerOptions, 'maxBatch' | 'onDecided'> = {}) {
  const settings: AdjudicationOptions = { autoApproveMaxFen: benefitSettings().AUTO_APPROVE_MAX_FEN, ...options };
  const batches = new DataLoader<number, ClaimStatus | null>(
    async (ids) => {
      const outcomes = await adjudicateSettlements(db, ids, settings);
      await options.onDecided?.(outcomes);
      const statusOf = new Map(outcomes.map((o) => [o.settlementId, o.status]));
      return ids.map((id) => statusOf.get(id) ?? null);
    },
    { cache: false, maxBatchSize: options.maxBatch ?? MAX_ADJUDICATION_BATCH, batchScheduleFn: (run) => setTimeout(run, BATCH_WINDOW_MS) },
  );
  // null: nothing to do (adjudicated before, or not MATCHED); the effect happened once, earlier.
  return async (job: Job<AdjudicationJob>) => ({ status: await batches.load(job.data.settlementId) });
}

const SWEEP_PAGE = 5000;

/** Re-adds an adjudication job for every MATCHED settlement without a claim (and reversal not applied). */
export async function sweepAdjudication(db: pg.Pool, queue: Queue): Promise<number> {
  let added = 0;
  for (let after = 0; ;) {
    const ids = await unadjudicatedSettlementIds(db, after, SWEEP_PAGE);
    if (!ids.length) break;
    await clearStaleJobIds(queue, ids.map(adjudicationJobId));
    await enqueueAdjudications(queue, ids);
    added += ids.length;
    after = ids.at(-1)!;
  }
  return added;
}

export interface AdjudicationWorkerOptions extends Partial<AdjudicationOptions> {
  concurrency?: number;
  maxBatch?: number;
  /** Called with each batch's outcomes once its transaction committed (status-change announcements). */
  onDecided?: (outcomes: AdjudicationOutcome[]) => Promise<void>;
}

/** The adjudication worker (concurrency high: the jobs of one batch wait together for its transaction). */
export function startAdjudicationWorker(db: pg.Pool, connection: ConnectionOptions, prefix: string, options: AdjudicationWorkerOptions = {}): Worker<AdjudicationJob> {
  const { concurrency = 1000, ...rest } = options;
  return new Worker<AdjudicationJob>(ADJUDICATION_QUEUE, adjudicationProcessor(db, rest), { connection, prefix, concurrency });
}
