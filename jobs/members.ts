import { Readable } from 'node:stream';
import { Worker, type Job } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { decrypt, type PersonalDataKeys } from '../src/privacy/personalData.ts';
import { importRoster, RosterFileError } from '../src/members/rosterImport.ts';
import { enqueueRosterImport, rosterImportJobId, type RosterImportJob } from '../src/members/queue.ts';
import { clearStaleJobIds, QUEUE_NAMES } from '../src/queues.ts';
import type { WorkerServices } from './services.ts';

type MemberServices = Pick<WorkerServices, 'db' | 'keys' | 'log' | 'connection' | 'prefix' | 'queues'>;

/** Processes a roster uploaded through the API. Safe to run twice: a finished import is skipped. */
export function rosterImportProcessor(db: pg.Pool, keys: PersonalDataKeys, log: Logger) {
  return async (job: Job<RosterImportJob>): Promise<void> => {
    const { importId } = job.data;
    const { rows } = await db.query<{ status: string; contentEnc: Buffer | null; defaultUnitId: number | null; onlyUnitId: number | null }>(
      `UPDATE roster_imports SET status = 'RUNNING' WHERE id = $1 AND status IN ('PENDING', 'RUNNING')
       RETURNING status, content_enc AS "contentEnc", default_unit_id AS "defaultUnitId", only_unit_id AS "onlyUnitId"`,
      [importId],
    );
    const row = rows[0];
    if (!row) return; // already DONE or FAILED
    if (!row.contentEnc) throw new Error(`roster import ${importId} has no stored content`);
    try {
      const result = await importRoster(db, keys, Readable.from([decrypt(keys, row.contentEnc)]), {
        importId, defaultUnitId: row.defaultUnitId, onlyUnitId: row.onlyUnitId,
      });
      log.info({ importId, ...result, errors: result.errors.length }, 'roster import done');
    } catch (error) {
      if (!(error instanceof RosterFileError)) throw error; // retried with backoff
      await db.query(`UPDATE roster_imports SET status = 'FAILED', failure = $2, finished_at = now() WHERE id = $1`, [importId, error.message]);
    }
  };
}

export async function start({ db, keys, log, connection, prefix }: MemberServices): Promise<Worker[]> {
  return [new Worker(QUEUE_NAMES.rosterImport, rosterImportProcessor(db, keys, log), { connection, prefix, concurrency: 1 })];
}

/** Re-adds every unfinished import, e.g. after Redis lost its jobs. */
export async function sweep({ db, queues }: MemberServices): Promise<number> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM roster_imports WHERE status IN ('PENDING', 'RUNNING') AND content_enc IS NOT NULL`);
  await clearStaleJobIds(queues.rosterImport, rows.map(({ id }) => rosterImportJobId(id)));
  for (const { id } of rows) await enqueueRosterImport(queues.rosterImport, id);
  return rows.length;
}
