import { createHash } from 'node:crypto';
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';

/**
 * The queues and their job options. Redis only carries work: every job is derived from a row in
 * PostgreSQL, its id is deterministic (so adding it twice is a no-op), and a sweeper re-adds
 * work whose row says it is not done. Each domain's `queue.ts` holds its job payloads, ids and
 * enqueue functions; its workers live in `jobs/`. Job payloads carry ids only, never personal data.
 */
export const QUEUE_NAMES = {
  rosterImport: 'roster-import',
  settlementPull: 'settlement-pull',
  settlementMatch: 'settlement-match',
  claimAdjudication: 'claim-adjudication',
  payouts: 'payouts',
  reconciliation: 'reconciliation',
} as const;

export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000 },
  // Completed jobs leave Redis (their result is in PostgreSQL); failed ones stay for inspection.
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * A worker's job locks: a job whose worker died is taken over after about `lockMs`, found by the
 * stalled check every half lock rather than BullMQ's 30 s; one stall is forgiven (a worker
 * paused past its lock), a second fails the job, and the sweep re-adds its work from PostgreSQL.
 */
export function jobLocks(lockMs: number): { lockDuration: number; stalledInterval: number; maxStalledCount: number } {
  return { lockDuration: lockMs, stalledInterval: Math.max(500, Math.floor(lockMs / 2)), maxStalledCount: 2 };
}

export interface Queues {
  rosterImport: Queue;
  settlementPull: Queue;
  settlementMatch: Queue;
  claimAdjudication: Queue;
  payouts: Queue;
  reconciliation: Queue;
}

/** One queue with the hub's job options. */
export function createQueue(name: (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES], connection: ConnectionOptions, prefix: string): Queue {
  return new Queue(name, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
}

export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  return {
    rosterImport: createQueue(QUEUE_NAMES.rosterImport, connection, prefix),
    settlementPull: createQueue(QUEUE_NAMES.settlementPull, connection, prefix),
    settlementMatch: createQueue(QUEUE_NAMES.settlementMatch, connection, prefix),
    claimAdjudication: createQueue(QUEUE_NAMES.claimAdjudication, connection, prefix),
    payouts: createQueue(QUEUE_NAMES.payouts, connection, prefix),
    reconciliation: createQueue(QUEUE_NAMES.reconciliation, connection, prefix),
  };
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q: Queue) => q.close()));
}

/** A job that carries a batch of row ids, and its deterministic id. */
export interface IdBatch {
  jobId: string;
  ids: number[];
}

/**
 * Row ids cut into jobs of at most `size`, in ascending order. A job per row cost more CPU in
 * BullMQ and Redis than matching or adjudicating the row (bench/pipeline.ts); the steps batch their
 * rows in one transaction anyway. The job id is `<kind>-<id>` for a single row, else
 * `<kind>-<first>-<last>-<digest of the ids>`: the same set is one job however often it is added,
 * and a different set never takes its id (its work would then wait for the sweep).
 */
export function idBatches(kind: string, ids: readonly number[], size: number): IdBatch[] {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const batches: IdBatch[] = [];
  for (let i = 0; i < sorted.length; i += size) {
    const batch = sorted.slice(i, i + size);
    const jobId = batch.length === 1
      ? `${kind}-${batch[0]}`
      : `${kind}-${batch[0]}-${batch.at(-1)}-${createHash('sha256').update(batch.join(',')).digest('hex').slice(0, 16)}`;
    batches.push({ jobId, ids: batch });
  }
  return batches;
}

// addBulk takes one round trip per call; calls are cut so one never grows unbounded.
const BULK = 1000;

/** Jobs added with their deterministic ids, BULK to a round trip. */
export async function addJobs(queue: Queue, jobs: readonly { name: string; data: object; jobId: string }[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += BULK) {
    await queue.addBulk(jobs.slice(i, i + BULK).map(({ name, data, jobId }) => ({ name, data, opts: { jobId } })));
  }
}

/** The batches' jobs added, `data` making each one's payload from its ids. */
export function addIdBatches(queue: Queue, name: string, batches: readonly IdBatch[], data: (ids: number[]) => object): Promise<void> {
  return addJobs(queue, batches.map(({ jobId, ids }) => ({ name, data: data(ids), jobId })));
}

/** Jobs of `queue` not finished yet: waiting, prioritized, delayed or running (failed ones are not counted). */
export async function unfinishedJobs(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

const STALE_CHECK_PAGE = 500;

/**
 * Called by sweepers before they re-add work under deterministic ids. A job id whose job finished,
 * or whose hash outlived its queue lists (Redis lost them while a worker was still writing), would
 * make the add a silent no-op and the work would never run: such ids are cleared first. A failed job
 * is cleared too: the row, not Redis, says the work is undone (a flush mid-job fails jobs whose
 * effect never committed). Waiting, delayed and active jobs are left alone.
 */
export async function clearStaleJobIds(queue: Queue, jobIds: readonly string[]): Promise<void> {
  // A page of ids at a time, their look-ups sent together (one round trip a page, not one an id).
  for (let i = 0; i < jobIds.length; i += STALE_CHECK_PAGE) {
    const page = jobIds.slice(i, i + STALE_CHECK_PAGE);
    const states = await Promise.all(page.map((id) => queue.getJobState(id)));
    const stale = page.filter((_, k) => states[k] === 'completed' || states[k] === 'failed' || states[k] === 'unknown');
    await Promise.all(stale.map((id) => queue.remove(id).catch(() => undefined)));
  }
}

