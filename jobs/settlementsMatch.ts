import type { Job } from 'bullmq';
import DataLoader from 'dataloader';
import type pg from 'pg';
import { matchAndContinue, type AfterMatch } from '../src/settlements/matchingStep.ts';
import type { MatchedSettlement } from '../src/settlements/model.ts';
import * as store from '../src/settlements/store.ts';
import { jobSettlements, MATCH_JOB_SETTLEMENTS, runJobSettlements, type SettlementsJob } from '../src/settlements/queue.ts';

/**
 * The downstream job of stored settlements: match each to a member and enrolment (MATCHED,
 * UNMATCHED with the reason, or DUPLICATE of a copy from another source), then the steps that follow.
 */
// Jobs arriving within this window are matched in one transaction.
const BATCH_WINDOW_MS = 5;

export function matchProcessor(db: pg.Pool, afterMatch: readonly AfterMatch[]) {
  const batches = new DataLoader<number, MatchedSettlement['status'] | null>(
    async (ids) => {
      const decided = await matchAndContinue(db, ids, afterMatch);
      const statusOf = new Map(decided.map((d) => [d.id, d.status]));
      return ids.map((id) => statusOf.get(id) ?? null);
    },
    { cache: false, maxBatchSize: MATCH_JOB_SETTLEMENTS, batchScheduleFn: (run) => setTimeout(run, BATCH_WINDOW_MS) },
  );
  return (job: Job<SettlementsJob>) => runJobSettlements(batches, job.data);
}

/** The settlements of a match job that gave up keep RECEIVED, with the error to see. */
export async function recordMatchFailure(db: pg.Pool, job: Job<SettlementsJob>, error: Error): Promise<void> {
  if (job.attemptsMade >= (job.opts.attempts ?? 1)) await store.recordProcessingErrors(db, jobSettlements(job.data), error.message);
}
