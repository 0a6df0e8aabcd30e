import { Worker, type Job } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { PersonalDataKeys } from '../src/privacy/personalData.ts';
import { importUploadedRoster } from '../src/members/rosterImport.ts';
import { unfinishedRosterImportIds } from '../src/members/store.ts';
import { enqueueRosterImport, rosterImportJobId, type RosterImportJob } from '../src/members/queue.ts';
import { clearStaleJobIds, QUEUE_NAMES } from '../src/queues.ts';
import { publishJobProgress, type JobProgress } from '../src/events/statusEvents.ts';
import { every, PROGRESS_INTERVAL_MS } from '../src/progress.ts';
import type { WorkerServices } from './services.ts';

type MemberServices = Pick<WorkerServices, 'db' | 'keys' | 'log' | 'connection' | 'prefix' | 'queues'>;

/**
 * Processes a roster uploaded through the API. Safe to run twice: a finished import is skipped.
 * Its progress goes to `announce` (subscriptions) at most every PROGRESS_INTERVAL_MS, and once at the end.
 */
export function rosterImportProcessor(db: pg.Pool, keys: PersonalDataKeys, log: Logger, announce?: (progress: Omit<JobProgress, 'at'>) => Promise<void>) {
  return async (job: Job<RosterImportJob>): Promise<void> => {
    const { importId } = job.data;
    const due = every(PROGRESS_INTERVAL_MS);
    const report = (done: number, total: number | null, final: boolean) => announce?.({ kind: 'ROSTER_IMPORT', id: importId, done, total, final })
      .catch((error: unknown) => log.warn({ err: error, importId }, 'roster import progress not announced'));
    const result = await importUploadedRoster(db, keys, importId, (done, lines) => {
      // The start is always told, then at most every PROGRESS_INTERVAL_MS.
      if (done === 0 || due()) void report(done, lines, false);
    });
    await report(result?.rowsTotal ?? 0, result?.rowsTotal ?? null, true);
    if (result) log.info({ importId, ...result, errors: result.errors.length }, 'roster import done');
  };
}

export async function start({ db, keys, log, connection, prefix }: MemberServices): Promise<Worker[]> {
  const announce = (progress: Omit<JobProgress, 'at'>) => publishJobProgress(connection, prefix, progress);
  return [new Worker(QUEUE_NAMES.rosterImport, rosterImportProcessor(db, keys, log, announce), { connection, prefix, concurrency: 1 })];
}

/** Re-adds every unfinished import, e.g. after Redis lost its jobs. */
export async function sweep({ db, queues }: MemberServices): Promise<number> {
  const ids = await unfinishedRosterImportIds(db);
  await clearStaleJobIds(queues.rosterImport, ids.map(rosterImportJobId));
  for (const id of ids) await enqueueRosterImport(queues.rosterImport, id);
  return ids.length;
}
