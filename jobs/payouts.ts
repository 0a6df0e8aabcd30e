import { DelayedError, Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { planPayouts } from '../src/payouts/plan.ts';
import { advanceBatch, readStatusFeed, type SubmissionContext } from '../src/payouts/submission.ts';
import { clearStaleJobIds, DEFAULT_JOB_OPTIONS, QUEUE_NAMES } from './queues.ts';

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

export async function sweepPayouts(db: pg.Pool, queue: Queue): Promise<number> {
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
    // Batches are few and each holds a connection while it talks to the bank.
    { connection, prefix, concurrency: 4, lockDuration: options.lockMs },
  );
  const queue = new Queue(QUEUE_NAMES.payouts, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  const scheduled = { removeOnComplete: true, removeOnFail: 100 };
  await queue.upsertJobScheduler('plan-payouts', { every: options.planEveryMs }, { name: 'plan', opts: scheduled });
  await queue.upsertJobScheduler('status-feed', { every: options.pollMs * 6 }, { name: 'status-feed', opts: scheduled });
  await queue.close();
  return worker;
}
