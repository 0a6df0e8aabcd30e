import { chinaToday } from '../kernel/time.ts';
import type { Tx } from '../kernel/transaction.ts';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { from as copyFrom } from 'pg-copy-streams';
import type pg from 'pg';
import { inTransaction } from '../db/pool.ts';
import { Params } from '../db/sql.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import { csvFileProblem, decodeText, type TextEncodingName } from '../csv.ts';
import type { RosterImportRow } from './rows.ts';
import { protectMember, REGISTERED_ELSEWHERE } from './memberFields.ts';
import { bankCardCoolingOffSetSql, CHANGE_COLUMNS, memberChangesCteSql, type ChangeAuthor } from './store.ts';
import { parseRosterRow, rosterHeaderProblems, type RosterColumn, type RosterContext, type RosterUnit } from './rosterRow.ts';
import { storableText } from '../kernel/text.ts';
import type { FieldProblem } from '../kernel/problems.ts';

/**
 * Bulk import of a roster CSV. Rows are checked and encrypted while they stream into a staging
 * table (COPY), then merged into members and enrolments in the same transaction: the file lands
 * whole or not at all, good rows are kept, bad rows are reported with row number, field and
 * reason, and importing the same file again changes nothing. An import never moves a member between
 * units (a row for another unit's member is rejected); every change it makes is written to
 * member_changes and the import to the audit log, under the uploader of roster_imports.
 */
export interface RosterImportOptions {
  importId: number;
  defaultUnitId?: number | null;
  onlyUnitId?: number | null;
  /** The file's encoding (`--encoding`); detected when absent (decodeText). */
  encoding?: TextEncodingName;
  /** Called every few thousand rows with the number of rows read so far. */
  onProgress?: (rowsRead: number) => void;
  today?: string;
}

export type RosterCounts = Pick<RosterImportRow,
  'rowsTotal' | 'rowsInserted' | 'rowsUpdated' | 'rowsUnchanged' | 'rowsRejected' | 'enrolmentsCreated'>;

export interface RosterImportResult extends RosterCounts {
  errors: RowError[];
  /** Where the time went, for operators and the benchmark. */
  timings: { stageMs: number; membersMs: number; enrolmentsMs: number };
}

export interface RowError {
  row: number;
  field: string;
  reason: string;
}

/** The file cannot be imported at all. Its message is stored (roster_imports.failure): kept storable text. */
export class RosterFileError extends Error {
  constructor(message: string) {
    super(storableText(message));
  }
}

// Rows per staging round: big enough to amortise statements, small enough that PostgreSQL merges
// one chunk while Node checks and encrypts the next (the two then use both cores).
const CHUNK_ROWS = 20_000;


export async function importRoster(
  db: pg.Pool,
  keys: PersonalDataKeys,
  csv: Readable | string,
  options: RosterImportOptions,
): Promise<RosterImportResult> {
  const source = typeof csv === 'string' ? Readable.from([csv]) : csv;
  return inTransaction(db, async (client) => {
    const ctx = await rosterContext(client, options);
    const author: ChangeAuthor = { actor: await uploaderOf(client, options.importId), action: 'roster.import', importId: options.importId };
    await client.query(`CREATE TEMP TABLE roster_stage (
        row_number int, unit_id bigint, name text, id_number_enc bytea, id_number_hash bytea,
        id_number_masked text, birth_date date, gender char(1), phone text, bank_card_enc bytea,
        bank_card_hash bytea, bank_card_masked text, bank_code char(12), plan_year int, plan text,
        special_disease boolean, enrolled_on date) ON COMMIT DROP`);

    const decoding = decodeText({
      encoding: options.encoding,
      declare: (encoding) => `--encoding ${encoding}`,
      onInvalid: (reason) => new RosterFileError(reason),
    });
    const parser = parse({
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim().toLowerCase());
        const problems = rosterHeaderProblems(names, ctx.defaultUnit !== null);
        if (problems.length) {
          const message = `header: ${problems.join('; ')}`;
          // A header of unknown Chinese-looking names is what a wrong GB18030 guess reads.
          const misread = decoding.guessedGb18030 && names.some((name) => /[^\x00-\x7f]/.test(name));
          throw new RosterFileError(misread ? decoding.notText(message) : message);
        }
        return names;
      },
    });
    source.on('error', (error) => parser.destroy(error));
    decoding.on('error', (error) => parser.destroy(error));
    source.pipe(decoding).pipe(parser);

    const errors: RowError[] = [];
    const totals = { rowsTotal: 0, rowsRejected: 0, rowsInserted: 0, rowsUpdated: 0, enrolmentsCreated: 0 };
    const changedFields: Record<string, number> = {};
    const timings = { stageMs: 0, membersMs: 0, enrolmentsMs: 0 };
    const firstRowOf = new Map<string, number>();
    let lines: string[] = [];
    let merging: Promise<void> = Promise.resolve();

    const mergeChunk = async (chunk: string[]) => {
      const t0 = performance.now();
      await client.query('TRUNCATE roster_stage');
      await pipeline(Readable.from([chunk.join('')]), client.query(copyFrom('COPY roster_stage FROM STDIN')));
      await client.query('ANALYZE roster_stage');
      const t1 = performance.now();
      const members = await mergeMembers(client, author);
      const t2 = performance.now();
      totals.rowsInserted += members.inserted;
      totals.rowsUpdated += members.updated;
      for (const [field, n] of Object.entries(members.changes)) changedFields[field] = (changedFields[field] ?? 0) + n;
      const enrolments = await mergeEnrolments(client);
      totals.enrolmentsCreated += enrolments.created;
      for (const row of enrolments.elsewhere) {
        totals.rowsRejected += 1;
        errors.push({ row, field: 'id_number', reason: REGISTERED_ELSEWHERE });
      }
      timings.stageMs += t1 - t0;
      timings.membersMs += t2 - t1;
      timings.enrolmentsMs += performance.now() - t2;
    };
    const startMerge = async (chunk: string[]) => {
      await merging;
      merging = mergeChunk(chunk);
      merging.catch(() => undefined); // awaited later; avoids an unhandled rejection meanwhile
    };

    try {
      for await (const record of parser as AsyncIterable<Partial<Record<RosterColumn, string>>>) {
        totals.rowsTotal += 1;
        const rowNumber = totals.rowsTotal + 1; // the header is row 1
        if (totals.rowsTotal % 5000 === 0) options.onProgress?.(totals.rowsTotal);
        const { row, problems } = parseRosterRow(record, ctx);
        const duplicateOf = row ? firstRowOf.get(row.idNumber) : undefined;
        if (duplicateOf !== undefined) problems.push({ field: 'id_number', reason: `duplicate of row ${duplicateOf}` });
        if (!row || problems.length) {
          totals.rowsRejected += 1;
          addErrors(errors, rowNumber, problems);
          continue;
        }
        firstRowOf.set(row.idNumber, rowNumber);
        const m = protectMember(keys, row.unitId, row);
        const e = row.enrolment;
        lines.push(copyLine([
          rowNumber, m.unitId, m.name, m.idNumberEnc, m.idNumberHash, m.idNumberMasked, m.birthDate, m.gender,
          m.phone, m.bankCard?.enc ?? null, m.bankCard?.hash ?? null, m.bankCard?.masked ?? null,
          m.bankCard?.bankCode ?? null, e?.planYear ?? null, e?.plan ?? null, e?.specialDisease ?? null,
          e?.enrolledOn ?? null,
        ]));
        if (lines.length >= CHUNK_ROWS) {
          await startMerge(lines);
          lines = [];
        }
      }
      if (lines.length) await startMerge(lines);
      await merging;
    } catch (error) {
      await merging.catch(() => undefined);
      if (error instanceof RosterFileError) throw error;
      const problem = csvFileProblem(error);
      throw problem === null ? error : new RosterFileError(problem);
    }
    options.onProgress?.(totals.rowsTotal);
    errors.sort((x, y) => x.row - y.row); // rows refused at merge arrive after later rows' parse errors

    const valid = totals.rowsTotal - totals.rowsRejected;
    const counts = {
      rowsTotal: totals.rowsTotal, rowsInserted: totals.rowsInserted, rowsUpdated: totals.rowsUpdated,
      rowsUnchanged: valid - totals.rowsInserted - totals.rowsUpdated, rowsRejected: totals.rowsRejected,
      enrolmentsCreated: totals.enrolmentsCreated,
    };
    await client.query(
      `INSERT INTO roster_import_errors (import_id, row_number, field, reason)
       SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[])`,
      [options.importId, errors.map((e) => e.row), errors.map((e) => e.field), errors.map((e) => e.reason)],
    );
    await client.query(
      `UPDATE roster_imports SET status = 'DONE', rows_total = $2, rows_inserted = $3, rows_updated = $4,
              rows_unchanged = $5, rows_rejected = $6, enrolments_created = $7, failure = NULL, finished_at = now()
        WHERE id = $1`,
      [options.importId, counts.rowsTotal, counts.rowsInserted, counts.rowsUpdated, counts.rowsUnchanged,
       counts.rowsRejected, counts.enrolmentsCreated],
    );
    await recordAudit(client, author.actor, {
      action: 'roster.import', targetType: 'RosterImport', targetId: String(options.importId),
      details: { ...counts, changedFields },
    });
    return {
      ...counts,
      errors,
      timings: { stageMs: Math.round(timings.stageMs), membersMs: Math.round(timings.membersMs), enrolmentsMs: Math.round(timings.enrolmentsMs) },
    };
  });
}

/**
 * Staged rows into members; only a real change updates a member (same file again = no writes), and
 * each changed field is written to member_changes in the same statement.
 */
async function mergeMembers(
  client: Tx,
  author: ChangeAuthor,
): Promise<{ inserted: number; updated: number; changes: Record<string, number> }> {
  const p = new Params();
  const { rows } = await client.query<{ inserted: number; updated: number; changes: Record<string, number> }>(`
    WITH a AS (
      INSERT INTO members AS m (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender,
                                phone, bank_card_enc, bank_card_hash, bank_card_masked, bank_code)
      SELECT unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender,
             phone, bank_card_enc, bank_card_hash, bank_card_masked, bank_code
        FROM roster_stage
      ON CONFLICT (id_number_hash) DO UPDATE
         SET name = excluded.name,
             phone = coalesce(excluded.phone, m.phone),
             bank_card_enc = coalesce(excluded.bank_card_enc, m.bank_card_enc),
             bank_card_hash = coalesce(excluded.bank_card_hash, m.bank_card_hash),
             bank_card_masked = coalesce(excluded.bank_card_masked, m.bank_card_masked),
             bank_code = coalesce(excluded.bank_code, m.bank_code),
             ${bankCardCoolingOffSetSql('excluded.bank_card_hash', 'excluded.bank_code', p.add(author.actor.subject))},
             updated_at = now()
       -- Never across units: a row for another unit's member changes nothing (mergeEnrolments reports it rejected).
       WHERE m.unit_id = excluded.unit_id
         AND (m.name IS DISTINCT FROM excluded.name
              OR (excluded.phone IS NOT NULL AND excluded.phone IS DISTINCT FROM m.phone)
              OR (excluded.bank_card_hash IS NOT NULL
                  AND (excluded.bank_card_hash, excluded.bank_code) IS DISTINCT FROM (m.bank_card_hash, m.bank_code)))
      RETURNING ${CHANGE_COLUMNS}, (xmax = 0) AS inserted),
    ${memberChangesCteSql(p, author, 'NOT a.inserted')}
    SELECT (SELECT count(*) FROM a WHERE inserted)::int AS inserted, (SELECT count(*) FROM a WHERE NOT inserted)::int AS updated,
           (SELECT coalesce(jsonb_object_agg(field, n), '{}') FROM (SELECT field, count(*)::int AS n FROM logged GROUP BY field) f) AS changes`,
    p.values);
  return rows[0]!;
}

/**
 * Staged enrolments; a renewal directly after last year's enrolment keeps its chain start (no new
 * waiting period). Also returns the rows whose ID number belongs to a member of another unit: no
 * import moves a member (ADMIN does, with moveMember), so mergeMembers left them untouched and they
 * are reported as rejected. One look-up of the staged rows in members serves both.
 */
async function mergeEnrolments(client: Tx): Promise<{ created: number; elsewhere: number[] }> {
  const { rows } = await client.query<{ created: number; elsewhere: number[] }>(`
    WITH staged AS MATERIALIZED (
      SELECT s.row_number, s.unit_id, s.plan_year, s.plan, s.special_disease, s.enrolled_on,
             m.id AS member_id, m.unit_id <> s.unit_id AS elsewhere
        FROM roster_stage s JOIN members m ON m.id_number_hash = s.id_number_hash),
    enrolled AS (
      INSERT INTO enrolments AS e (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
      SELECT s.member_id, s.unit_id, s.plan_year, s.plan, s.special_disease, s.enrolled_on,
             coalesce(prev.first_enrolled_on, s.enrolled_on)
        FROM staged s
        LEFT JOIN enrolments prev ON prev.member_id = s.member_id AND prev.plan_year = s.plan_year - 1
       WHERE NOT s.elsewhere AND s.plan_year IS NOT NULL
      ON CONFLICT (member_id, plan_year) DO UPDATE
         SET unit_id = excluded.unit_id, plan = excluded.plan, special_disease = excluded.special_disease,
             updated_at = now()
       WHERE (e.unit_id, e.plan, e.special_disease) IS DISTINCT FROM (excluded.unit_id, excluded.plan, excluded.special_disease)
      RETURNING (xmax = 0) AS created)
    SELECT (SELECT count(*)::int FROM enrolled WHERE created) AS created,
           (SELECT coalesce(array_agg(row_number ORDER BY row_number), '{}') FROM staged WHERE elsewhere) AS elsewhere`);
  return rows[0]!;
}

/** Whoever uploaded the roster (roster_imports): the author of its changes. */
async function uploaderOf(client: Tx, importId: number): Promise<Actor> {
  const { rows } = await client.query<Actor>(
    `SELECT created_by AS subject, created_by_role AS role FROM roster_imports WHERE id = $1`,
    [importId],
  );
  if (!rows[0]) throw new Error(`roster import ${importId} does not exist`);
  return rows[0];
}

async function rosterContext(client: Tx, options: RosterImportOptions): Promise<RosterContext> {
  const { rows } = await client.query<RosterUnit & { creditCode: string }>(
    `SELECT id, credit_code AS "creditCode", plan_type AS "planType" FROM units`,
  );
  const unitsByCode = new Map(rows.map((u) => [u.creditCode, { id: u.id, planType: u.planType }]));
  const defaultUnit = options.defaultUnitId == null ? null : rows.find((u) => u.id === options.defaultUnitId) ?? null;
  if (options.defaultUnitId != null && !defaultUnit) throw new RosterFileError(`unit ${options.defaultUnitId} does not exist`);
  return {
    unitsByCode,
    defaultUnit,
    onlyUnitId: options.onlyUnitId ?? null,
    today: options.today ?? chinaToday(),
  };
}

function addErrors(errors: RowError[], row: number, problems: FieldProblem<RosterColumn>[]): void {
  // One error per field (the table's key); the first reason is the one to fix first.
  const seen = new Set<string>();
  for (const p of problems) {
    if (seen.has(p.field)) continue;
    seen.add(p.field);
    errors.push({ row, field: p.field, reason: p.reason });
  }
}

/** One line of COPY text format: tab-separated, \N for null, bytea as escaped hex. */
function copyLine(values: (string | number | boolean | Buffer | null)[]): string {
  return values.map(copyValue).join('\t') + '\n';
}

function copyValue(value: string | number | boolean | Buffer | null): string {
  if (value === null) return '\\N';
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`;
  if (typeof value === 'string') return value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
  return String(value);
}
