import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { addIdBatches, idBatches, type IdBatch } from '../queues.ts';

/**
 * Settlement jobs and their deterministic ids. Payloads carry a source name or settlement ids,
 * never personal data. The rows in PostgreSQL say what work is due; a job only carries it.
 */
export type SettlementPullJobName = 'pull';
export type SettlementMatchJobName = 'match';

export interface SettlementPullJob {
  source: string;
}

/** The settlements one match job carries: the match step's batch, one transaction (src/settlements/matchingStep.ts). */
export const MATCH_JOB_SETTLEMENTS = 500;

export interface SettlementMatchJob {
  settlementIds: number[];
}

/**
 * A job that carries settlements (match, adjudication), or one that releases before batched jobs
 * queued with a single settlement: still in Redis across an upgrade.
 */
export type SettlementsJob = { settlementIds: number[] } | { settlementId: number };

/** The settlements a queued job carries, whichever release queued it. */
export const jobSettlements = (data: SettlementsJob): number[] => ('settlementIds' in data ? data.settlementIds : [data.settlementId]);

/**
 * A job's settlements through its step's batcher (match, adjudication: one transaction for the
 * jobs that arrive together), failing the job if their batch failed. A settlement decided before
 * (a repeated job: the effect happened once, earlier) counts as not decided now.
 */
export async function runJobSettlements(batches: { loadMany(ids: number[]): Promise<(unknown | Error)[]> }, data: SettlementsJob) {
  const statuses = await batches.loadMany(jobSettlements(data));
  const failure = statuses.find((s) => s instanceof Error);
  if (failure) throw failure;
  return { settlements: statuses.length, decided: statuses.filter((s) => s !== null).length };
}

export const pullSchedulerId = (source: string) => `settlement-pull-${source}`;

/** The match jobs of these settlements, at most MATCH_JOB_SETTLEMENTS each (src/queues.ts `idBatches`). */
export const matchJobs = (settlementIds: readonly number[]): IdBatch[] => idBatches('settlement-match', settlementIds, MATCH_JOB_SETTLEMENTS);

/** The settlements' match jobs; adding one already queued is a no-op (same id). */
export function enqueueSettlementMatches(queue: Queue, settlementIds: readonly number[]): Promise<void> {
  return addIdBatches(queue, 'match' satisfies SettlementMatchJobName, matchJobs(settlementIds), (ids) => ({ settlementIds: ids }) satisfies SettlementMatchJob);
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
