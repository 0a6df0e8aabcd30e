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
import { rematchResolvable } from '../src/settlements/matchingStep.ts';
import { enqueueMatchedSettlements } from '../src/benefits/queue.ts';
import { RuleSetCache } from '../src/benefits/catalogue.ts';
import { enqueueDueRedecisions } from '../src/benefits/redecide.ts';

type MemberServices = Pick<WorkerServices, 'db' | 'keys' | 'log' | 'connection' | 'prefix' | 'queues'>;

/**
 * Processes a roster uploaded through the API. Safe to run twice: a finished import is skipped.
 * Its progress goes to `announce` (subscriptions) at most every PROGRESS_INTERVAL_MS, and once at the end.
 */
export function rosterImportProcessor(
  db: pg.Pool, keys: PersonalDataKeys, log: Logger, announce?: (progress: Omit<JobProgress, 'at'>) => Promise<void>,
  /** After an import that did something: the steps waiting for the people it registered. */
  afterImport?: () => Promise<void>,
) {
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
    if (result) log.info({ importId, ...result, errors: result.errorCount }, 'roster import done');
    if (result) await afterImport?.();
  };
}

/**
 * What follows a roster import: settlements waiting for its members are matched (then
 * adjudicated), and claims refused for their enrolments' facts are decided again. The members
 * domain knows neither; the composition root does.
 */
export function afterRosterImport(db: pg.Pool, queues: Pick<WorkerServices['queues'], 'claimAdjudication'>, ruleSets: RuleSetCache) {
  return async (): Promise<void> => {
    await rematchResolvable(db, [enqueueMatchedSettlements(queues.claimAdjudication)]);
    await enqueueDueRedecisions(db, queues.claimAdjudication, ruleSets);
  };
}

export async function start({ db, keys, log, connection, prefix, queues }: MemberServices): Promise<Worker[]> {
  const announce = (progress: Omit<JobProgress, 'at'>) => publishJobProgress(connection, prefix, progress);
  const afterImport = afterRosterImport(db, queues, new RuleSetCache());
  return [new Worker(QUEUE_NAMES.rosterImport, rosterImportProcessor(db, keys, log, announce, afterImport), { connection, prefix, concurrency: 1 })];
}

/** Re-adds every unfinished import, e.g. after Redis lost its jobs. */
export async function sweep({ db, queues }: MemberServices): Promise<number> {
  const ids = await unfinishedRosterImportIds(db);
  await clearStaleJobIds(queues.rosterImport, ids.map(rosterImportJobId));
  for (const id of ids) await enqueueRosterImport(queues.rosterImport, id);
  return ids.length;
}
