import { Worker, type Job } from 'bullmq';
import DataLoader from 'dataloader';
import type pg from 'pg';
import { adjudicateSettlements, type AdjudicationOptions, type AdjudicationOutcome } from '../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../src/benefits/catalogue.ts';
import type { ClaimStatus } from '../src/benefits/model.ts';
import { unadjudicatedSettlementIds } from '../src/benefits/store.ts';
import { ADJUDICATION_JOB_SETTLEMENTS, adjudicationJobs, enqueueAdjudications, type RedecisionJob } from '../src/benefits/queue.ts';
import { runJobSettlements, type SettlementsJob } from '../src/settlements/queue.ts';
import { enqueueDueRedecisions, redecideIfFactsChanged, type RedecisionOutcome } from '../src/benefits/redecide.ts';
import { clearStaleJobIds, QUEUE_NAMES } from '../src/queues.ts';
import { requestRelease } from '../src/payouts/queue.ts';
import { recordAuditCheckpoint } from '../src/audit/audit.ts';
import type { AdjudicationWorkerOptions, WorkerServices } from './services.ts';

/**
 * The adjudication worker. Jobs arriving together are adjudicated in batches, one transaction each
 * (src/benefits/adjudicate.ts). Redis only carries the work: `sweep` re-derives it from the rows.
 */
type BenefitServices = Pick<WorkerServices, 'db' | 'connection' | 'prefix' | 'queues' | 'adjudication' | 'announce'> & Partial<Pick<WorkerServices, 'log'>>;

// Jobs arriving within this window are adjudicated in one transaction.
const BATCH_WINDOW_MS = 2;
// Adjudication transactions of one process at a time; jobs arriving meanwhile join the next batch.
// Two was chosen when batches still waited for each other's member-years (bench/pipeline.ts).
const ADJUDICATION_TRANSACTIONS = 2;

/** Runs `run` once fewer than `limit` of the batches it started are still running. */
function batchSlots(limit: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    running -= 1;
    waiting.shift()?.();
  };
  return {
    schedule(run: () => void) {
      const start = () => {
        running += 1;
        setTimeout(run, BATCH_WINDOW_MS);
      };
      if (running < limit) start();
      else waiting.push(start);
    },
    async around<T>(work: () => Promise<T>): Promise<T> {
      try {
        return await work();
      } finally {
        release();
      }
    },
  };
}

type Redecided = RedecisionOutcome & { memberId: number; unitId: number };

function adjudicationProcessor(
  db: pg.Pool,
  options: AdjudicationOptions & Pick<AdjudicationWorkerOptions, 'maxBatch' | 'onDecided'> & { ruleSets: RuleSetCache; onRedecided: (outcome: Redecided) => Promise<void> },
) {
  const slots = batchSlots(ADJUDICATION_TRANSACTIONS);
  const batches = new DataLoader<number, ClaimStatus | null>(
    (ids) => slots.around(async () => {
      const outcomes = await adjudicateSettlements(db, ids, options);
      await options.onDecided?.(outcomes);
      const statusOf = new Map(outcomes.map((o) => [o.settlementId, o.status]));
      return ids.map((id) => statusOf.get(id) ?? null);
    }),
    { cache: false, maxBatchSize: options.maxBatch ?? ADJUDICATION_JOB_SETTLEMENTS, batchScheduleFn: (run) => slots.schedule(run) },
  );
  return async (job: Job<SettlementsJob | RedecisionJob>) => {
    // Re-decisions share the queue: one claim per job, its own transaction (src/benefits/redecide.ts).
    if ('claimId' in job.data) {
      const outcome = await redecideIfFactsChanged(db, job.data.claimId, options);
      if (outcome && outcome.after !== outcome.before) await options.onRedecided(outcome);
      return { status: outcome?.after ?? null };
    }
    return runJobSettlements(batches, job.data);
  };
}

export async function start({ db, connection, prefix, queues, adjudication, announce, log }: BenefitServices): Promise<Worker[]> {
  const { concurrency, ...options } = adjudication;
  // Subscribers hear of decided claims after the commit; approved ones are released at once where
  // a payment policy is in force (即时办), not at the release schedule's next tick.
  const onDecided = options.onDecided ?? (async (outcomes: AdjudicationOutcome[]) => {
    await announce(outcomes.map((o) => ({ kind: 'CLAIM', id: o.claimId, memberId: o.memberId, unitId: o.unitId, status: o.status, at: new Date().toISOString() })));
    if (outcomes.some((o) => o.status === 'APPROVED')) {
      await requestRelease(queues.payouts).catch((error: unknown) => log?.warn({ err: error }, 'release not requested; the schedule releases'));
    }
  });
  // The worker's rule sets: the shipped ones inserted once, each stored version parsed once.
  const ruleSets = options.ruleSets ?? new RuleSetCache();
  const onRedecided = (o: Redecided) => announce([{ kind: 'CLAIM', id: o.claimId, memberId: o.memberId, unitId: o.unitId, status: o.after, at: new Date().toISOString() }]);
  return [new Worker<SettlementsJob | RedecisionJob>(
    QUEUE_NAMES.claimAdjudication, adjudicationProcessor(db, { ...options, onDecided, ruleSets, onRedecided }), { connection, prefix, concurrency },
  )];
}

const SWEEP_PAGE = 5000;

/**
 * Re-adds an adjudication job for every MATCHED settlement without a claim (and reversal not
 * applied), and a re-decision job for every refused claim whose facts changed: whatever path
 * changed them (a payment by hand, confirmed by four eyes or read from a bank statement, a roster
 * import, an enrolment corrected through the API), the sweep finds it from the rows. It also
 * checkpoints the audit chains, so the decisions' records cannot lose their tails unnoticed.
 */
export async function sweep({ db, queues, adjudication }: BenefitServices): Promise<number> {
  await recordAuditCheckpoint(db);
  let added = await enqueueDueRedecisions(db, queues.claimAdjudication, adjudication.ruleSets ?? new RuleSetCache());
  for (let after = 0; ;) {
    const ids = await unadjudicatedSettlementIds(db, after, SWEEP_PAGE);
    if (!ids.length) break;
    await clearStaleJobIds(queues.claimAdjudication, adjudicationJobs(ids).map((j) => j.jobId));
    await enqueueAdjudications(queues.claimAdjudication, ids);
    added += ids.length;
    after = ids.at(-1)!;
  }
  return added;
}
