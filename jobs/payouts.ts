import { DelayedError, Worker, type Job, type Queue } from 'bullmq';
import { encryptClearBatchFiles } from '../src/payouts/files.ts';
import { planPayouts } from '../src/payouts/plan.ts';
import { releaseUnderPolicies } from '../src/payouts/policies.ts';
import { policiesInForce } from '../src/payouts/store/policies.ts';
import { enqueuePayoutBatch, payoutBatchJobId, type PayoutBatchJob, type PayoutJobName } from '../src/payouts/queue.ts';
import type { PayoutServices } from '../src/payouts/settings.ts';
import { unfinishedBatchIds } from '../src/payouts/store/batches.ts';
import { advanceBatch, payoutStatusChange, readStatusFeed, type SubmissionContext } from '../src/payouts/submission.ts';
import { refusalsAfterPayment } from '../src/reconciliation/refusals.ts';
import { clearStaleJobIds, jobLocks, QUEUE_NAMES } from '../src/queues.ts';
import type { WorkerServices } from './services.ts';

/**
 * Payout jobs. `payout-batch-<id>` carries a batch through sealing, sending and the bank's answers
 * (src/payouts/submission.ts); while the bank's final word is awaited the same job waits
 * (delayed) and asks again. A failure (no answer from the bank) retries with backoff; when the
 * retries are spent the sweeper re-adds the job, because the batch row says it is not finished.
 * Scheduled: `plan` turns approved claims into payouts; `release` releases batches under payment
 * policies in force (即时办); `status-feed` reads the bank's feed of status reports (answers it
 * sends on its own, duplicates and stale ones included).
 */

type PayoutWorkerServices = Pick<WorkerServices, 'db' | 'keys' | 'connection' | 'prefix' | 'log' | 'queues' | 'payouts' | 'announce' | 'claimsWaited'>;

/** Re-adds the jobs of unfinished batches, and the schedules (a flushed Redis lost them). */
export async function sweep({ db, queues, payouts }: PayoutWorkerServices): Promise<number> {
  if (!payouts) return 0;
  const queue = queues.payouts;
  await schedulePayoutJobs(queue, payouts);
  const ids = await unfinishedBatchIds(db);
  await clearStaleJobIds(queue, ids.map(payoutBatchJobId));
  for (const id of ids) await enqueuePayoutBatch(queue, id);
  return ids.length;
}

/** The payout worker, when a bank channel is configured (after encrypting batch files kept in clear). */
export async function start({ db, keys, connection, prefix, log, payouts, announce, claimsWaited, queues }: PayoutWorkerServices): Promise<Worker[]> {
  if (!payouts) return [];
  // Batch files sealed before they were kept encrypted: encrypted once, by whichever worker starts first.
  await encryptClearBatchFiles(db, keys).then(
    (encrypted) => { if (encrypted) log.info({ encrypted }, 'batch files kept in clear are now encrypted'); },
    (error: unknown) => log.error({ err: error }, 'batch files kept in clear were not all encrypted'),
  );
  const context: SubmissionContext = {
    db, adapter: payouts.adapter, sealing: payouts.sealing, settings: payouts.settings, log, refusalsAfterPayment,
    onChanges: async (changes) => {
      await announce(changes.map(payoutStatusChange));
      // Claims whose last payout was credited: their waits (measured waiting) are observed.
      await claimsWaited(changes.filter((c) => c.status === 'PAID').map((c) => c.payoutId), 'CREDITED');
    },
  };
  const worker = new Worker(
    QUEUE_NAMES.payouts,
    async (job: Job, token?: string) => {
      const name = job.name as PayoutJobName;
      if (name === 'plan') return planPayouts(context.db, payouts.settings);
      if (name === 'release') return release(context.db, queues.payouts, payouts);
      if (name === 'status-feed') return readStatusFeed(context);
      const { batchId } = job.data as PayoutBatchJob;
      const progress = await advanceBatch(context, batchId);
      if (progress.waiting) {
        await job.moveToDelayed(Date.now() + payouts.pollMs, token);
        throw new DelayedError();
      }
      log.info({ batchId, status: progress.status }, 'payout batch advanced');
      return progress;
    },
    // One at a time per process: a batch holds a connection (its advisory lock) and takes another
    // for each transaction, so several at once could take the whole pool and wait on each other.
    // Batches are few and large; more processes give more at once.
    { connection, prefix, concurrency: 1, ...jobLocks(payouts.lockMs) },
  );
  return [worker];
}

/**
 * 即时办: while a payment policy is in force, approved claims become payouts and those within a
 * policy go to the bank in small batches at once (each batch's own job seals and sends it).
 */
async function release(db: PayoutWorkerServices['db'], queue: Queue, payouts: PayoutServices): Promise<{ released: number }> {
  const policyIds = await policiesInForce(db);
  if (policyIds.length === 0) return { released: 0 };
  await planPayouts(db, payouts.settings);
  const batches = await releaseUnderPolicies(db, payouts.settings, policyIds);
  for (const batch of batches) await enqueuePayoutBatch(queue, batch.id);
  return { released: batches.length };
}

const SCHEDULED = { removeOnComplete: true, removeOnFail: 100 };

/** The payout schedules; upserted only when missing or changed (upserting starts a run at once). */
async function schedulePayoutJobs(queue: Queue, options: Pick<PayoutServices, 'planEveryMs' | 'releaseEveryMs' | 'pollMs'>): Promise<void> {
  const existing = new Map((await queue.getJobSchedulers()).map((s) => [s.key, s.every]));
  const wanted = [
    ['plan-payouts', 'plan', options.planEveryMs], ['release-payouts', 'release', options.releaseEveryMs], ['status-feed', 'status-feed', options.pollMs * 6],
  ] as const;
  for (const [key, name, every] of wanted) {
    if (existing.get(key) !== every) await queue.upsertJobScheduler(key, { every }, { name, opts: SCHEDULED });
  }
}
