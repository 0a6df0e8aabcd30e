import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';

/**
 * Queue names and job options. Redis only carries work: every job is derived from a row in
 * PostgreSQL, its id is deterministic (so adding it twice is a no-op), and a sweeper re-adds
 * work whose row says it is not done.
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

export interface Queues {
  rosterImport: Queue;
  settlementPull: Queue;
  settlementMatch: Queue;
  claimAdjudication: Queue;
  payouts: Queue;
  reconciliation: Queue;
}

export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  return {
    rosterImport: new Queue(QUEUE_NAMES.rosterImport, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS }),
    settlementPull: new Queue(QUEUE_NAMES.settlementPull, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS }),
    settlementMatch: new Queue(QUEUE_NAMES.settlementMatch, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS }),
    claimAdjudication: new Queue(QUEUE_NAMES.claimAdjudication, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS }),
    payouts: new Queue(QUEUE_NAMES.payouts, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS }),
    reconciliation: new Queue(QUEUE_NAMES.reconciliation, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS }),
  };
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q: Queue) => q.close()));
}

/** Job payloads carry ids only: never personal data (docs/design.md). */
export interface RosterImportJob {
  importId: number;
}

export const rosterImportJobId = (importId: number) => `roster-import-${importId}`;

export function enqueueRosterImport(queue: Queue, importId: number): Promise<unknown> {
  return queue.add('import', { importId } satisfies RosterImportJob, { jobId: rosterImportJobId(importId) });
}

/**
 * Called by sweepers before they re-add work under deterministic ids. A job id whose job finished,
 * or whose hash outlived its queue lists (Redis lost them while a worker was still writing), would
 * make the add a silent no-op and the work would never run: such ids are cleared first. A failed job
 * is cleared too: the row, not Redis, says the work is undone (a flush mid-job fails jobs whose
 * effect never committed). Waiting, delayed and active jobs are left alone.
 */
export async function clearStaleJobIds(queue: Queue, jobIds: readonly string[]): Promise<void> {
  for (const id of jobIds) {
    const state = await queue.getJobState(id);
    if (state === 'completed' || state === 'failed' || state === 'unknown') await queue.remove(id).catch(() => undefined);
  }
}
