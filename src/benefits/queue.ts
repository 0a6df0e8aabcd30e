import type { Queue } from 'bullmq';

/**
 * Adjudication jobs: one per MATCHED settlement (deterministic id `claim-adjudicate-<id>`), carrying
 * only the settlement id; the claim's UNIQUE(settlement_id) makes a repeated job a no-op.
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

export interface AdjudicationJob {
  settlementId: number;
}

export const adjudicationJobId = (settlementId: number) => `claim-adjudicate-${settlementId}`;

// addBulk takes one round trip per call; pages are cut so a call never grows unbounded.
const BULK = 1000;

export async function enqueueAdjudications(queue: Queue, settlementIds: readonly number[]): Promise<void> {
  for (let i = 0; i < settlementIds.length; i += BULK) {
    await queue.addBulk(settlementIds.slice(i, i + BULK).map((settlementId) => ({
      name: 'adjudicate' satisfies AdjudicationJobName, data: { settlementId } satisfies AdjudicationJob, opts: { jobId: adjudicationJobId(settlementId) },
    })));
  }
}

export async function enqueueRedecisions(queue: Queue, claimIds: readonly number[]): Promise<void> {
  for (let i = 0; i < claimIds.length; i += BULK) {
    await queue.addBulk(claimIds.slice(i, i + BULK).map((claimId) => ({
      name: 'redecide' satisfies RedecisionJobName, data: { claimId } satisfies RedecisionJob, opts: { jobId: redecisionJobId(claimId) },
    })));
  }
}

/** The step after matching: an adjudication job for every settlement the match step just MATCHED. */
export function enqueueMatchedSettlements(queue: Queue) {
  return async (decided: readonly { id: number; status: string }[]): Promise<void> => {
    const matched = decided.filter((d) => d.status === 'MATCHED').map((d) => d.id);
    if (matched.length) await enqueueAdjudications(queue, matched);
  };
}
