import { DelayedError, Worker, type ConnectionOptions, type Job, type Queue } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { planPayouts } from '../src/payouts/plan.ts';
import { advanceBatch, readStatusFeed, type SubmissionContext } from '../src/payouts/submission.ts';
import { clearStaleJobIds, QUEUE_NAMES } from './queues.ts';

/**
 * Payout jobs. `payout-batch-<id>` carries a batch through sealing, sending and the bank's answers
 * (src/payouts/submission.ts); while the bank's final word is awaited the same job waits
 * (delayed) and asks again. A failure (no answer from the bank) retries with backoff; when the
 * retries are spent the sweeper re-adds the job, because the batch row says it is not finished.
 * Scheduled: `plan` turns approved claims into payouts; `status-feed` reads the bank's feed of
 * status reports (answers it sends on its own, duplicates and stale ones included).
 */

export interface PayoutBatchJob {
  batchId: number;
}

export const payoutBatchJobId = (batchId: number) => `payout-batch-${batchId}`;

export function enqueuePayoutBatch(queue: Queue, batchId: number): Promise<unknown> {
  return queue.add('advance', { batchId } satisfies PayoutBatchJob, { jobId: payoutBatchJobId(batchId) });
}

/** Batches whose row says work is left: to seal, to send (asked for), or awaiting the bank. */
async function unfinishedBatchIds(db: pg.Pool): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM payout_batches
      WHERE status IN ('APPROVED', 'SUBMITTED') OR (status = 'SEALED' AND submit_requested_at IS NOT NULL) ORDER BY id`,
  );
  return rows.map((r) => r.id);
}

/** Re-adds the jobs of unfinished batches, and the schedules (a flushed Redis lost them). */
export async function sweepPayouts(db: pg.Pool, queue: Queue, options: PayoutWorkerOptions): Promise<number> {
  await schedulePayoutJobs(queue, options);
  const ids = await unfinishedBatchIds(db);
  await clearStaleJobIds(queue, ids.map(payoutBatchJobId));
  for (const id of ids) await enqueuePayoutBatch(queue, id);
  return ids.length;
}

export interface PayoutWorkerOptions {
  /** Wait between status queries of a batch at the bank. */
  pollMs: number;
  /** How often approved claims are turned into payouts. */
  planEveryMs: number;
  /** Lock of a batch job: a job whose worker died runs again after about this long. */
  lockMs: number;
}

export async function startPayoutWorker(
  context: SubmissionContext,
  connection: ConnectionOptions,
  prefix: string,
  options: PayoutWorkerOptions,
  log: Logger,
): Promise<Worker> {
  const worker = new Worker(
    QUEUE_NAMES.payouts,
    async (job: Job, token?: string) => {
      if (job.name === 'plan') return planPayouts(context.db);
      if (job.name === 'status-feed') return readStatusFeed(context);
      const { batchId } = job.data as PayoutBatchJob;
      const progress = await advanceBatch(context, batchId);
      if (progress.waiting) {
        await job.moveToDelayed(Date.now() + options.pollMs, token);
        throw new DelayedError();
      }
      log.info({ batchId, status: progress.status }, 'payout batch advanced');
      return progress;
    },
    // One at a time per process: a batch holds a connection (its advisory lock) and takes another
    // for each transaction, so several at once could take the whole pool and wait on each other.
    // Batches are few and large; more processes give more at once.
    { connection, prefix, concurrency: 1, lockDuration: options.lockMs },
  );
  return worker;
}

const SCHEDULED = { removeOnComplete: true, removeOnFail: 100 };

/** The payout schedules; upserted only when missing or changed (upserting starts a run at once). */
async function schedulePayoutJobs(queue: Queue, options: PayoutWorkerOptions): Promise<void> {
  const existing = new Map((await queue.getJobSchedulers()).map((s) => [s.key, s.every]));
  const wanted = [['plan-payouts', 'plan', options.planEveryMs], ['status-feed', 'status-feed', options.pollMs * 6]] as const;
  for (const [key, name, every] of wanted) {
    if (existing.get(key) !== every) await queue.upsertJobScheduler(key, { every }, { name, opts: SCHEDULED });
  }
}
