import { chinaToday } from '../kernel/time.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { inTransaction } from '../db/pool.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { decrypt, type PersonalDataKeys } from '../privacy/personalData.ts';
import { csvFileProblem, decodeText, type TextEncodingName } from '../csv.ts';
import type { RosterCounts, RowError } from './model.ts';
import { REGISTERED_ELSEWHERE } from './memberFields.ts';
import { claimRosterImport, createRosterStage, failRosterImport, finishRosterImport, lockRosterUnits, lookAtRosterChanges, mergeStagedEnrolments, mergeStagedMembers, refuseStagedRows, refuseStagedRowsEnrolledElsewhere, refuseStagedRowsOfCondolences, refuseStagedEnrolmentsOfUnits, refuseStagedRowsOfOtherUnits, refuseStagedRowsOfUnits, rosterImportUploader, rosterRefusalLine, rosterUnits, stageRosterLines, stagedRosterErrors, type ChangeAuthor } from './store.ts';
import { lockPlanYearEnrolments } from './store/eligibility.ts';
import { recordRosterChangeAlerts } from '../notifications/store.ts';
import { rosterHeaderProblems, type RosterColumn, type RosterContext } from './rosterRow.ts';
import { rosterCheckers, defaultCheckThreads } from './rosterCheckers.ts';
import { checkRosterRows, type CheckedRosterRow } from './rosterChecks.ts';
import { storableText } from '../kernel/text.ts';
import { RuleSetCache } from '../benefits/catalogue.ts';
import { CONDOLENCE_APPROVED, ENROLLED_WITH_OTHER_UNIT, rosterEligibility, UNIT_TERMS_WAITING } from './eligibility.ts';
import type { FieldProblem } from '../kernel/problems.ts';

/**
 * Bulk import of a roster CSV. Rows are checked and encrypted (on threads of their own for a big
 * file: rosterCheckers.ts) while they stream into a staging table (COPY, a chunk at a time: memory
 * does not grow with the file), where duplicate ID numbers, members of other units and enrolments
 * a row may not make (the year's is another unit's; the worker was approved a condolence of the
 * year; the unit's terms wait for a second ADMIN) are refused in SQL; the rest is then merged into members and enrolments, writing only what is new or
 * changed, in the same transaction: the file lands whole or not at all, good rows are kept, bad
 * rows are reported with row number, field and reason, and importing the same file again changes
 * nothing. An import never moves a member between units (a row for another unit's member is
 * rejected); every change it makes is written to member_changes and the import to the audit log,
 * under the uploader of roster_imports.
 */
export interface RosterImportOptions {
  importId: number;
  defaultUnitId?: number | null;
  onlyUnitId?: number | null;
  /** Staff of an organisation: rows may name only units in its subtree (others read as unknown). */
  onlyOrganisationId?: number | null;
  /** The file's encoding (`--encoding`); detected when absent (decodeText). */
  encoding?: TextEncodingName;
  /** Called every few thousand rows with the number of rows read so far. */
  onProgress?: (rowsRead: number) => void;
  /** The day the import is recorded (default: China's today): default enrolled_on, and what back-dating is measured from. In-process callers only. */
  today?: string;
  /** Threads checking and encrypting rows beside this one (default: defaultCheckThreads; 0: all here). */
  checkThreads?: number;
}

export interface RosterImportResult extends RosterCounts {
  /** The first ERRORS_RETURNED rejected rows' errors, by row (all of them are in roster_import_errors). */
  errors: RowError[];
  /** How many errors there are in all. */
  errorCount: number;
  /** Where the time went, for operators and the benchmark. */
  timings: { stageMs: number; membersMs: number; enrolmentsMs: number };
}

/**
 * The file cannot be imported at all. Its message is stored (roster_imports.failure): kept storable
 * text. Its own class because callers branch on it: such an import is kept FAILED (the CLI exits 2),
 * where any other error is retried (a worker) or explained as it is (the CLI).
 */
export class RosterFileError extends Error {
  constructor(message: string) {
    super(storableText(message));
  }
}

// Lines per COPY into the staging table: big enough to amortise the statement, small enough that
// PostgreSQL copies one chunk while Node checks and encrypts the next.
const CHUNK_LINES = 20_000;
// Rows per batch sent to a check thread: a file smaller than one is checked without starting a thread.
const BATCH_ROWS = 2_000;
// Errors a result carries (the CLI shows 50): roster_import_errors keeps them all.
const ERRORS_RETURNED = 1000;
const DUPLICATE_OF = 'duplicate of row ';
const UNIT_LEFT = 'the unit moved to another organisation while the file was imported';

export async function importRoster(
  db: Db,
  keys: PersonalDataKeys,
  csv: Readable | string,
  options: RosterImportOptions,
): Promise<RosterImportResult> {
  const source = typeof csv === 'string' ? Readable.from([csv]) : csv;
  return inTransaction(db, async (tx) => {
    const ctx = await rosterContext(tx, options);
    const author: ChangeAuthor = { actor: await uploaderOf(tx, options.importId), action: 'roster.import', importId: options.importId };
    await createRosterStage(tx);
    const unitById = new Map([...ctx.unitsByCode.values()].map((u) => [u.id, u]));
    const eligibility = rosterEligibility(tx, new RuleSetCache(), ctx.today);

    const decoding = decodeText({
      encoding: options.encoding,
      declare: (encoding) => `--encoding ${encoding}`,
      onInvalid: (reason) => new RosterFileError(reason),
    });
    // Rows as arrays of cells: cheaper to build and to hand to a check thread than objects by column.
    const parser = parse({ bom: true, trim: true, skip_empty_lines: true, relax_column_count: true });
    /** The header's column names; the rows' cells are in their order. */
    const headerOf = (cells: string[]): RosterColumn[] => {
      const names = cells.map((h) => h.trim().toLowerCase());
      const problems = rosterHeaderProblems(names, ctx.defaultUnit !== null);
      if (problems.length) {
        const message = `header: ${problems.join('; ')}`;
        // A header of unknown Chinese-looking names is what a wrong GB18030 guess reads.
        const misread = decoding.guessedGb18030 && names.some((name) => /[^\x00-\x7f]/.test(name));
        throw new RosterFileError(misread ? decoding.notText(message) : message);
      }
      return names as RosterColumn[];
    };
    source.on('error', (error) => parser.destroy(error));
    decoding.on('error', (error) => parser.destroy(error));
    source.pipe(decoding).pipe(parser);

    let rowsTotal = 0;
    let rowsRejected = 0;
    const started = performance.now();
    // Only the chunk being read, the batches being checked and the chunk being copied are held: the file itself goes to roster_stage.
    let lines: string[] = [];
    const unitsStaged = new Set<number>();
    const yearsStaged = new Set<number>();
    let staging: Promise<void> = Promise.resolve();
    const stageChunk = async () => {
      await staging;
      staging = stageRosterLines(tx, lines);
      staging.catch(() => undefined); // awaited later; avoids an unhandled rejection meanwhile
      lines = [];
    };
    const reject = (rowNumber: number, problems: FieldProblem<RosterColumn>[]) => {
      rowsRejected += 1;
      // One error per field (the table's key); the first reason is the one to fix first.
      const seen = new Set<string>();
      for (const p of problems) {
        if (seen.has(p.field)) continue;
        seen.add(p.field);
        lines.push(rosterRefusalLine(rowNumber, seen.size, p.field, p.reason));
      }
    };
    const stageChecked = async (rows: CheckedRosterRow[]) => {
      await eligibility.prefetch(rows.filter((r) => !r.problems));
      for (const row of rows) {
        if (row.problems) {
          reject(row.rowNumber, row.problems);
        } else {
          // Eligibility at enrolment, once the row is otherwise good: rejected like any bad row, the rule named.
          const refusals = await eligibility(row.enrolment, row.member, unitById.get(row.member.unitId)!);
          if (refusals.length) reject(row.rowNumber, refusals);
          else {
            lines.push(row.line);
            unitsStaged.add(row.member.unitId);
            if (row.enrolment) yearsStaged.add(row.enrolment.planYear);
          }
        }
        if (lines.length >= CHUNK_LINES) await stageChunk();
      }
    };

    const threads = options.checkThreads ?? defaultCheckThreads();
    const checkers = rosterCheckers(threads, ctx, keys);
    // Batches being checked, oldest first: their rows are staged in the file's order.
    const checking: Promise<CheckedRosterRow[]>[] = [];
    let columns: RosterColumn[] | null = null;
    let batch: string[][] = [];
    const checkBatch = async (check: Promise<CheckedRosterRow[]>) => {
      check.catch(() => undefined); // awaited in turn below
      checking.push(check);
      batch = [];
      // Two batches a thread at most: one being checked and one waiting, so no thread idles and memory stays bounded.
      if (checking.length > 2 * Math.max(threads, 1)) await stageChecked(await checking.shift()!);
    };
    const firstRowOfBatch = () => rowsTotal - batch.length + 2; // the header is row 1

    try {
      for await (const cells of parser as AsyncIterable<string[]>) {
        if (!columns) {
          columns = headerOf(cells);
          continue;
        }
        rowsTotal += 1;
        if (rowsTotal % 5000 === 0) options.onProgress?.(rowsTotal);
        batch.push(cells);
        if (batch.length === BATCH_ROWS) await checkBatch(checkers.check({ columns, rows: batch, firstRowNumber: firstRowOfBatch() }));
      }
      // The last, partial batch here: the threads are done or were never needed.
      if (columns && batch.length) await checkBatch(Promise.resolve(checkRosterRows({ columns, rows: batch, firstRowNumber: firstRowOfBatch() }, ctx, keys)));
      while (checking.length) await stageChecked(await checking.shift()!);
      if (lines.length) await stageChunk();
      await staging;
    } catch (error) {
      await staging.catch(() => undefined);
      if (error instanceof RosterFileError) throw error;
      const problem = csvFileProblem(error);
      throw problem === null ? error : new RosterFileError(problem);
    } finally {
      await checkers.close();
    }
    options.onProgress?.(rowsTotal);

    const staged = performance.now();
    const units = await lockRosterUnits(tx, [...unitsStaged], options.onlyOrganisationId ?? null);
    if (units.left.length) rowsRejected += await refuseStagedRowsOfUnits(tx, units.left, UNIT_LEFT);
    // A row enrolling a member of a unit whose terms wait is rejected whole, kept to import again once they are confirmed: its claims would be decided by terms no second ADMIN checked.
    if (units.termsWaiting.length) rowsRejected += await refuseStagedEnrolmentsOfUnits(tx, units.termsWaiting, UNIT_TERMS_WAITING);
    const { snapshot } = await lookAtRosterChanges(tx, null);
    const refused = await refuseStagedRows(tx, DUPLICATE_OF, REGISTERED_ELSEWHERE);
    rowsRejected += refused.duplicates + refused.elsewhere;
    // The years before any member row is written, as a condolence's approval takes them: none is approved until this commits.
    await lockPlanYearEnrolments(tx, [...yearsStaged], 'enrolling');
    rowsRejected += await refuseStagedRowsEnrolledElsewhere(tx, ENROLLED_WITH_OTHER_UNIT);
    rowsRejected += await refuseStagedRowsOfCondolences(tx, CONDOLENCE_APPROVED);
    const members = await mergeStagedMembers(tx, author);
    const merged = performance.now();
    const enrolments = await mergeStagedEnrolments(tx, author, ctx.today);
    const timings = {
      stageMs: Math.round(staged - started), membersMs: Math.round(merged - staged), enrolmentsMs: Math.round(performance.now() - merged),
    };
    // A member another unit registered after the refusal was left alone by both merges: its row is refused too.
    if ((await lookAtRosterChanges(tx, snapshot)).changed) rowsRejected += await refuseStagedRowsOfOtherUnits(tx, REGISTERED_ELSEWHERE);

    const counts: RosterCounts = {
      rowsTotal, rowsInserted: members.inserted, rowsUpdated: members.updated,
      rowsUnchanged: rowsTotal - rowsRejected - members.inserted - members.updated, rowsRejected,
      enrolmentsCreated: enrolments.created,
    };
    await recordRosterChangeAlerts(tx, options.importId);
    const { errors, count: errorCount } = await stagedRosterErrors(tx, ERRORS_RETURNED);
    await finishRosterImport(tx, options.importId, counts);
    await recordAudit(tx, author.actor, {
      action: 'roster.import', targetType: 'RosterImport', targetId: String(options.importId),
      details: { ...counts, changedFields: members.changes },
    });
    return { ...counts, errors, errorCount, timings };
  });
}

/** Whoever uploaded the roster (roster_imports): the author of its changes. */
async function uploaderOf(tx: Tx, importId: number): Promise<Actor> {
  const uploader = await rosterImportUploader(tx, importId);
  if (!uploader) throw new Error(`roster import ${importId} does not exist`);
  return uploader;
}

async function rosterContext(tx: Tx, options: RosterImportOptions): Promise<RosterContext> {
  const rows = await rosterUnits(tx, options.onlyOrganisationId ?? null);
  const unitsByCode = new Map(rows.map((u) => [u.creditCode, { id: u.id, planType: u.planType, organisationId: u.organisationId }]));
  const defaultUnit = options.defaultUnitId == null ? null : rows.find((u) => u.id === options.defaultUnitId) ?? null;
  if (options.defaultUnitId != null && !defaultUnit) throw new RosterFileError(`unit ${options.defaultUnitId} does not exist`);
  return {
    unitsByCode,
    defaultUnit,
    onlyUnitId: options.onlyUnitId ?? null,
    today: options.today ?? chinaToday(),
  };
}

/**
 * Imports a roster uploaded through the API (stored encrypted in roster_imports): a worker's job.
 * Safe to run twice: a finished import is skipped (null). A file that cannot be read leaves the
 * import FAILED with the reason (null); any other error is thrown, for the job to be retried.
 * `onProgress` hears rows read so far against the file's lines after its header (an upper bound of its rows).
 */
export async function importUploadedRoster(
  db: Db, keys: PersonalDataKeys, importId: number, onProgress?: (rowsRead: number, lines: number) => void,
): Promise<RosterImportResult | null> {
  const claimed = await claimRosterImport(db, importId);
  if (!claimed) return null; // already DONE or FAILED
  if (!claimed.contentEnc) throw new Error(`roster import ${importId} has no stored content`);
  const csv = decrypt(keys, claimed.contentEnc);
  const lines = lineCount(csv) - 1;
  onProgress?.(0, lines);
  try {
    return await importRoster(db, keys, Readable.from([csv]), {
      importId, defaultUnitId: claimed.defaultUnitId, onlyUnitId: claimed.onlyUnitId, onlyOrganisationId: claimed.onlyOrganisationId,
      onProgress: onProgress && ((rowsRead) => onProgress(rowsRead, lines)),
    });
  } catch (error) {
    if (!(error instanceof RosterFileError)) throw error; // retried with backoff
    await failRosterImport(db, importId, error.message);
    return null;
  }
}

function lineCount(text: string): number {
  let count = text.length > 0 && !text.endsWith('\n') ? 1 : 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}
