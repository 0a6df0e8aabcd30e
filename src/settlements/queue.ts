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

/**
 * One pull scheduler per source to poll, every `pollSeconds`; schedulers of other sources are
 * removed. Returns how many were (re)created.
 */
export async function schedulePulls(queue: Queue, sources: readonly { name: string; pollSeconds: number }[]): Promise<number> {
  const existing = new Map((await queue.getJobSchedulers()).map((s) => [s.key, s.every]));
  let created = 0;
  for (const source of sources) {
    const every = source.pollSeconds * 1000;
    // Upserting starts a run at once: only missing or changed schedulers are upserted.
    if (existing.get(pullSchedulerId(source.name)) === every) continue;
    await queue.upsertJobScheduler(pullSchedulerId(source.name), { every }, {
      name: 'pull' satisfies SettlementPullJobName, data: { source: source.name } satisfies SettlementPullJob,
    });
    created += 1;
  }
  const keep = new Set(sources.map((s) => pullSchedulerId(s.name)));
  for (const key of existing.keys()) if (!keep.has(key)) await queue.removeJobScheduler(key);
  return created;
}
