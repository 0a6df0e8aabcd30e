import { Readable } from 'node:stream';
import type { Queue } from 'bullmq';
import type pg from 'pg';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { invalid } from '../kernel/errors.ts';
import type { Tx } from '../kernel/transaction.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import type { RejectionWrite, SettlementSourceRow, SettlementWrite } from './model.ts';
import { catchApplicationDuplicates } from './fromApplication.ts';
import { heldRejection, protectRejection, protectSettlement } from './protect.ts';
import { enqueueSettlementMatches } from './queue.ts';
import { SettlementFileError, type FileFormat, type SourceRecord } from './records.ts';
import { fileSource } from './sources/files.ts';
import type { SettlementPage, SettlementSource } from './sources/source.ts';
import * as store from './store.ts';
import { copyProblems, validateSettlement } from './validation.ts';

/**
 * Ingestion: a page of records from a source is validated, protected and stored in one
 * transaction with its run counters (and, for pulls, the source's cursor). Storage is idempotent
 * on (source, setl_id); the caller hands the new settlements to the match step.
 */
export interface PageOutcome extends store.PageCounts {
  /** Settlements for the match step: the new ones, and reversals that were waiting for them. */
  toMatch: number[];
}

/** A valid record ready to store, with the record as received: its rejection, should it be held back. */
export interface PreparedSettlement extends SettlementWrite {
  record: SourceRecord;
}

export interface PreparedPage {
  settlements: PreparedSettlement[];
  rejections: RejectionWrite[];
}

/** Validation and encryption, before any transaction opens (CPU work, no I/O). */
export function preparePage(keys: PersonalDataKeys, records: SourceRecord[]): PreparedPage {
  const page: PreparedPage = { settlements: [], rejections: [] };
  for (const record of records) {
    if (record.unreadable) {
      page.rejections.push(protectRejection(keys, record, [{ field: 'record', reason: `${record.position} ${record.unreadable.reason}` }]));
      continue;
    }
    const { value, problems } = validateSettlement(record.fields);
    if (value) page.settlements.push({ ...protectSettlement(keys, value, record.fields), record });
    else page.rejections.push(protectRejection(keys, record, problems));
  }
  return page;
}

/** Stores a prepared page inside the caller's transaction. */
export async function storePage(tx: Tx, source: string, runId: number | null, page: PreparedPage): Promise<PageOutcome> {
  const { inserted, held } = await store.insertSettlements(tx, source, runId, page.settlements, copyProblems);
  // One contradicting another source's copy of its setl_id waits for a person, as a rejection.
  const contradicting = held.map(({ write, problems }) => heldRejection(write, write.record, problems));
  const rejected = await store.insertRejections(tx, source, runId, [...page.rejections, ...contradicting]);
  await store.supersedeRejections(tx, source, inserted);
  // A stay an accepted application already settled is not paid again (fromApplication.ts).
  const named = new Set(page.settlements.filter((s) => s.stay.hospitalCode !== null).map((s) => s.setlId));
  const duplicates = new Set(await catchApplicationDuplicates(tx, inserted.filter((s) => named.has(s.setlId)).map((s) => s.id)));
  const originals = inserted.filter((s) => s.kind === 'SETTLEMENT').map((s) => s.setlId);
  const released = await store.releaseWaitingReversals(tx, originals);
  const received = page.settlements.length + page.rejections.length;
  return {
    received,
    inserted: inserted.length,
    rejected,
    duplicates: received - inserted.length - rejected,
    toMatch: [...inserted.filter((s) => !duplicates.has(s.id)).map((s) => s.id), ...released],
  };
}

export interface PullOutcome extends PageOutcome {
  /** Another pull stored this page first: nothing was stored here. */
  stale: boolean;
  hasMore: boolean;
  cursor: string | null;
  remaining: number | null;
}

/** A page fetched after `from` and prepared: validation and encryption done, nothing stored yet. */
export interface FetchedPage {
  from: string | null;
  page: SettlementPage;
  prepared: PreparedPage;
}

export async function fetchPage(keys: PersonalDataKeys, adapter: SettlementSource, from: string | null, pageSize: number): Promise<FetchedPage> {
  const page = await adapter.fetchPage(from, pageSize);
  return { from, page, prepared: preparePage(keys, page.records) };
}

/**
 * Stores a fetched page of a pulled source; its cursor advances in the same transaction
 * (compare-and-set from `from`, so two pulls of the same page never store or count it twice).
 */
export async function storePulledPage(db: pg.Pool, source: string, fetched: FetchedPage, startedBy: string): Promise<PullOutcome> {
  const { from, page, prepared } = fetched;
  return inTransaction(db, async (tx) => {
    await store.rederivableTransaction(tx);
    const base = { hasMore: page.hasMore, cursor: page.nextCursor, remaining: page.remaining };
    if (!(await store.advanceCursor(tx, source, from, page.nextCursor))) {
      return { ...base, stale: true, received: 0, inserted: 0, duplicates: 0, rejected: 0, toMatch: [] };
    }
    // An empty poll opens no run; an open run ends with the page that says nothing more is there.
    let runId = await store.openPullRunId(tx, source);
    if (runId === null && page.records.length) runId = await store.openPullRun(tx, source, startedBy, from);
    const outcome = await storePage(tx, source, runId, prepared);
    if (runId !== null) await store.addRunPage(tx, runId, outcome, page.nextCursor, !page.hasMore);
    return { ...base, ...outcome, stale: false };
  });
}

/** Pulls and stores the page after the source's stored cursor. */
export async function pullPage(db: pg.Pool, keys: PersonalDataKeys, source: SettlementSourceRow, adapter: SettlementSource, startedBy: string): Promise<PullOutcome> {
  return storePulledPage(db, source.name, await fetchPage(keys, adapter, source.cursor, source.pageSize), startedBy);
}

export interface FileImportOptions {
  source: string;
  fileName: string;
  startedBy: string;
  pageSize?: number;
  /** After each stored page, with the running totals. */
  onPage?: (totals: store.PageCounts) => void;
  /** After each stored page, with the settlements it gave the match step. */
  onStored?: (toMatch: number[]) => Promise<void>;
}

export interface FileImportOutcome extends store.PageCounts {
  runId: number;
  toMatch: number[];
}

/** Reads a whole file source as one FILE run, a transaction per page. A broken file fails the run (pages stored stay). */
export async function importFromSource(db: pg.Pool, keys: PersonalDataKeys, adapter: SettlementSource, options: FileImportOptions): Promise<FileImportOutcome> {
  const runId = await store.createFileRun(db, options.source, options.fileName, options.startedBy);
  const totals: FileImportOutcome = { runId, received: 0, inserted: 0, duplicates: 0, rejected: 0, toMatch: [] };
  let cursor: string | null = null;
  try {
    for (let more = true; more;) {
      const page = await adapter.fetchPage(cursor, options.pageSize ?? 500);
      const prepared = preparePage(keys, page.records);
      const outcome = await inTransaction(db, async (tx) => {
        const stored = await storePage(tx, options.source, runId, prepared);
        await store.addRunPage(tx, runId, stored, page.nextCursor, !page.hasMore);
        return stored;
      });
      for (const key of ['received', 'inserted', 'duplicates', 'rejected'] as const) totals[key] += outcome[key];
      totals.toMatch.push(...outcome.toMatch);
      await options.onStored?.(outcome.toMatch);
      options.onPage?.(totals);
      cursor = page.nextCursor;
      more = page.hasMore;
    }
  } catch (error) {
    await store.finishRun(db, runId, (error as Error).message);
    throw error;
  }
  return totals;
}

/**
 * A file of settlements handed in, by API upload or `hub settlements import`: one FILE run, its
 * stored settlements audited (settlements.upload) under whoever handed it in, with its counts.
 */
export async function importFile(
  db: pg.Pool, keys: PersonalDataKeys, adapter: SettlementSource, options: Omit<FileImportOptions, 'startedBy'>, actor: Actor,
): Promise<FileImportOutcome> {
  const outcome = await importFromSource(db, keys, adapter, { ...options, startedBy: actor.subject });
  const { runId, received, inserted, duplicates, rejected } = outcome;
  await recordAudit(db, actor, {
    action: 'settlements.upload', targetType: 'SettlementIngestionRun', targetId: String(runId),
    details: { source: options.source, fileName: options.fileName, received, inserted, duplicates, rejected },
  });
  return outcome;
}

export interface Upload {
  /** The FILE source to record it under (created on first use). */
  source: string;
  fileName: string;
  content: string;
  /** The input field the content came from (inline or an upload), named when the file cannot be read. */
  contentField: string;
  format: FileFormat;
}

/**
 * A file uploaded through the API: one FILE run, audited; each stored page's settlements go to the
 * match queue. The file is the caller's input, so a source of another kind, or a file that cannot be
 * read at all (its reason is also the run's failure), is bad input. Returns the run.
 */
export async function importUpload(db: pg.Pool, keys: PersonalDataKeys, matchQueue: Queue, upload: Upload, actor: Actor): Promise<number> {
  const source = await store.fileSourceNamed(db, upload.source);
  if (!source) throw invalid('input.source', 'is a pulled source; uploads go to a FILE source');
  try {
    const { runId } = await importFile(db, keys, fileSource(Readable.from([upload.content]), upload.format), {
      source: source.name, fileName: upload.fileName, onStored: (ids) => enqueueSettlementMatches(matchQueue, ids),
    }, actor);
    return runId;
  } catch (error) {
    if (error instanceof SettlementFileError) throw invalid(upload.contentField, error.message);
    throw error;
  }
}
