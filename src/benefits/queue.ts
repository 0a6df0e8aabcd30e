import type { Queue } from 'bullmq';

/**
 * Adjudication jobs: one per MATCHED settlement (deterministic id `claim-adjudicate-<id>`), carrying
 * only the settlement id; the claim's UNIQUE(settlement_id) makes a repeated job a no-op.
 */
export type AdjudicationJobName = 'adjudicate';

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

/** The step after matching: an adjudication job for every settlement the match step just MATCHED. */
export function enqueueMatchedSettlements(queue: Queue) {
  return async (decided: readonly { id: number; status: string }[]): Promise<void> => {
    const matched = decided.filter((d) => d.status === 'MATCHED').map((d) => d.id);
    if (matched.length) await enqueueAdjudications(queue, matched);
  };
}
