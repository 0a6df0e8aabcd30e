import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';

/**
 * Settlement jobs and their deterministic ids. Payloads carry a source name or a settlement id,
 * never personal data. The rows in PostgreSQL say what work is due; a job only carries it.
 */
export type SettlementPullJobName = 'pull';
export type SettlementMatchJobName = 'match';

export interface SettlementPullJob {
  source: string;
}

export interface SettlementMatchJob {
  settlementId: number;
}

export const pullSchedulerId = (source: string) => `settlement-pull-${source}`;
export const matchJobId = (settlementId: number) => `settlement-match-${settlementId}`;

// addBulk takes one round trip per call; pages are cut so a call never grows unbounded.
const BULK = 1000;

/** One match job per settlement; adding one already queued is a no-op (same id). */
export async function enqueueSettlementMatches(queue: Queue, settlementIds: readonly number[]): Promise<void> {
  for (let i = 0; i < settlementIds.length; i += BULK) {
    await queue.addBulk(settlementIds.slice(i, i + BULK).map((settlementId) => ({
      name: 'match' satisfies SettlementMatchJobName, data: { settlementId } satisfies SettlementMatchJob, opts: { jobId: matchJobId(settlementId) },
    })));
  }
}

/** The pull of the page after `cursor`: one job per source and position, however often it is asked for. */
export function enqueueSettlementPull(queue: Queue, source: string, cursor: string | null): Promise<unknown> {
  const position = createHash('sha256').update(cursor ?? '').digest('hex').slice(0, 16);
  return queue.add('pull' satisfies SettlementPullJobName, { source } satisfies SettlementPullJob, { jobId: `settlement-pull-${source}-${position}` });
}
