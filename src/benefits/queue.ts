import type { Queue } from 'bullmq';
import { addIdBatches, addJobs, idBatches, type IdBatch } from '../queues.ts';

/**
 * Adjudication jobs: each carries up to ADJUDICATION_JOB_SETTLEMENTS MATCHED settlements' ids (a
 * deterministic id, src/queues.ts `idBatches`: `claim-adjudicate-<id>` for one); the claim's
 * UNIQUE(settlement_id) makes a repeated job a no-op.
 */
export type AdjudicationJobName = 'adjudicate';

/**
 * Re-decision jobs share the adjudication queue (and its worker): one per refused claim whose facts
 * changed (`claim-redecide-<id>`), carrying only the claim id; the worker checks under the claim's
 * lock whether anything is still to do, so a repeated job is a no-op.
 */
export type RedecisionJobName = 'redecide';

export interface RedecisionJob {
  claimId: number;
}

export const redecisionJobId = (claimId: number) => `claim-redecide-${claimId}`;

/** The settlements one adjudication job carries: an adjudication batch, one transaction (src/benefits/adjudicate.ts). */
export const ADJUDICATION_JOB_SETTLEMENTS = 100;

export interface AdjudicationJob {
  settlementIds: number[];
}

/** The adjudication jobs of these settlements. */
export const adjudicationJobs = (settlementIds: readonly number[]): IdBatch[] =>
  idBatches('claim-adjudicate', settlementIds, ADJUDICATION_JOB_SETTLEMENTS);

export function enqueueAdjudications(queue: Queue, settlementIds: readonly number[]): Promise<void> {
  return addIdBatches(queue, 'adjudicate' satisfies AdjudicationJobName, adjudicationJobs(settlementIds), (ids) => ({ settlementIds: ids }) satisfies AdjudicationJob);
}

export function enqueueRedecisions(queue: Queue, claimIds: readonly number[]): Promise<void> {
  return addJobs(queue, claimIds.map((claimId) => ({
    name: 'redecide' satisfies RedecisionJobName, data: { claimId } satisfies RedecisionJob, jobId: redecisionJobId(claimId),
  })));
}

/** The step after matching: an adjudication job for every settlement the match step just MATCHED. */
export function enqueueMatchedSettlements(queue: Queue) {
  return async (decided: readonly { id: number; status: string }[]): Promise<void> => {
    const matched = decided.filter((d) => d.status === 'MATCHED').map((d) => d.id);
    if (matched.length) await enqueueAdjudications(queue, matched);
  };
}
