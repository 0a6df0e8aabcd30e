import type { Queue } from 'bullmq';

/**
 * Payout jobs. `payout-batch-<id>` ('advance') carries a batch through sealing, sending and the
 * bank's answers; scheduled: 'plan' turns approved claims into payouts, 'release' (while a payment
 * policy is in force) does so too and releases batches within the policies, 'status-feed' reads the
 * bank's feed of status reports.
 */
export type PayoutJobName = 'advance' | 'plan' | 'release' | 'status-feed';

export interface PayoutBatchJob {
  batchId: number;
}

export const payoutBatchJobId = (batchId: number) => `payout-batch-${batchId}`;

export function enqueuePayoutBatch(queue: Queue, batchId: number): Promise<unknown> {
  return queue.add('advance' satisfies PayoutJobName, { batchId } satisfies PayoutBatchJob, { jobId: payoutBatchJobId(batchId) });
}

/**
 * Asks for a release under the payment policies now (claims were just approved), besides the
 * schedule: one waiting request stands for any number of decisions (its fixed job id).
 */
export function requestRelease(queue: Queue): Promise<unknown> {
  return queue.add('release' satisfies PayoutJobName, {}, { jobId: 'release-on-decision', removeOnComplete: true, removeOnFail: true });
}
