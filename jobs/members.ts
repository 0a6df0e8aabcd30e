import { Worker, type Job } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { PersonalDataKeys } from '../src/privacy/personalData.ts';
import { importUploadedRoster } from '../src/members/rosterImport.ts';
import { unfinishedRosterImportIds } from '../src/members/store.ts';
import { enqueueRosterImport, rosterImportJobId, type RosterImportJob } from '../src/members/queue.ts';
import { clearStaleJobIds, QUEUE_NAMES } from '../src/queues.ts';
import type { WorkerServices } from './services.ts';

type MemberServices = Pick<WorkerServices, 'db' | 'keys' | 'log' | 'connection' | 'prefix' | 'queues'>;

/** Processes a roster uploaded through the API. Safe to run twice: a finished import is skipped. */
export function rosterImportProcessor(db: pg.Pool, keys: PersonalDataKeys, log: Logger) {
  return async (job: Job<RosterImportJob>): Promise<void> => {
    const { importId } = job.data;
    const result = await importUploadedRoster(db, keys, importId);
    if (result) log.info({ importId, ...result, errors: result.errors.length }, 'roster import done');
  };
}

export async function start({ db, keys, log, connection, prefix }: MemberServices): Promise<Worker[]> {
  return [new Worker(QUEUE_NAMES.rosterImport, rosterImportProcessor(db, keys, log), { connection, prefix, concurrency: 1 })];
}

/** Re-adds every unfinished import, e.g. after Redis lost its jobs. */
export async function sweep({ db, queues }: MemberServices): Promise<number> {
  const ids = await unfinishedRosterImportIds(db);
  await clearStaleJobIds(queues.rosterImport, ids.map(rosterImportJobId));
  for (const id of ids) await enqueueRosterImport(queues.rosterImport, id);
  return ids.length;
}
