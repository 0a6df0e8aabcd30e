import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { from as copyFrom } from 'pg-copy-streams';
import type pg from 'pg';
import { inTransaction } from '../db/pool.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import type { FieldProblem } from './memberFields.ts';
import { protectMember } from './memberFields.ts';
import { parseRosterRow, rosterHeaderProblems, type RosterColumn, type RosterContext, type RosterUnit } from './rosterRow.ts';

/**
 * Bulk import of a roster CSV. Rows are checked and encrypted while they stream into a staging
 * table (COPY), then merged into members and enrolments in the same transaction: the file lands
 * whole or not at all, good rows are kept, bad rows are reported with row number, field and
 * reason, and importing the same file again changes nothing.
 */
export interface RosterImportOptions {
  importId: number;
  defaultUnitId?: number | null;
  onlyUnitId?: number | null;
  /** Called every few thousand rows with the number of rows read so far. */
  onProgress?: (rowsRead: number) => void;
  today?: string;
}

export interface RosterImportResult {
  rowsTotal: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsUnchanged: number;
  rowsRejected: number;
  enrolmentsCreated: number;
  errors: RowError[];
}

export interface RowError {
  row: number;
  field: string;
  reason: string;
}

export class RosterFileError extends Error {}

export async function importRoster(
  db: pg.Pool,
  keys: PersonalDataKeys,
  csv: Readable | string,
  options: RosterImportOptions,
): Promise<RosterImportResult> {
  const source = typeof csv === 'string' ? Readable.from([csv]) : csv;
  const result = await inTransaction(db, async (client) => {
    const ctx = await rosterContext(client, options);
    await client.query(`CREATE TEMP TABLE roster_stage (
        row_number int, unit_id bigint, name text, id_number_enc bytea, id_number_hash bytea,
        id_number_masked text, birth_date date, gender char(1), phone text, bank_card_enc bytea,
        bank_card_hash bytea, bank_card_masked text, bank_code char(12), plan_year int, plan text,
        special_disease boolean, enrolled_on date) ON COMMIT DROP`);

    const errors: RowError[] = [];
    let rowsTotal = 0;
    let rowsRejected = 0;
    const firstRowOf = new Map<string, number>();
    const toCopyLines = new Transform({
      objectMode: true,
      transform(record: Partial<Record<RosterColumn, string>>, _enc, done) {
        rowsTotal += 1;
        const rowNumber = rowsTotal + 1; // the header is row 1
        if (rowsTotal % 5000 === 0) options.onProgress?.(rowsTotal);
        const { row, problems } = parseRosterRow(record, ctx);
        const duplicateOf = row ? firstRowOf.get(row.idNumber) : undefined;
        if (duplicateOf !== undefined) problems.push({ field: 'id_number', reason: `duplicate of row ${duplicateOf}` });
        if (!row || problems.length) {
          rowsRejected += 1;
          addErrors(errors, rowNumber, problems);
          return done();
        }
        firstRowOf.set(row.idNumber, rowNumber);
        const m = protectMember(keys, row.unitId, row);
        const e = row.enrolment;
        done(null, copyLine([
          rowNumber, m.unitId, m.name, m.idNumberEnc, m.idNumberHash, m.idNumberMasked, m.birthDate, m.gender,
          m.phone, m.bankCard?.enc ?? null, m.bankCard?.hash ?? null, m.bankCard?.masked ?? null,
          m.bankCard?.bankCode ?? null, e?.planYear ?? null, e?.plan ?? null, e?.specialDisease ?? null,
          e?.enrolledOn ?? null,
        ]));
      },
    });

    const parser = parse({
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim().toLowerCase());
        const problems = rosterHeaderProblems(names, ctx.defaultUnit !== null);
        if (problems.length) throw new RosterFileError(`header: ${problems.join('; ')}`);
        return names;
      },
    });
    try {
      await pipeline(source, parser, toCopyLines, client.query(copyFrom('COPY roster_stage FROM STDIN')));
    } catch (error) {
      if (error instanceof RosterFileError) throw error;
      const csvError = error as { code?: string; message: string };
      if (csvError.code?.startsWith('CSV_')) throw new RosterFileError(`CSV: ${csvError.message}`);
      throw error;
    }
    options.onProgress?.(rowsTotal);
    await client.query('ANALYZE roster_stage');

    // Only a real change updates a member: same file again = no writes.
    const merged = await client.query<{ inserted: boolean }>(`
      INSERT INTO members AS m (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender,
                                phone, bank_card_enc, bank_card_hash, bank_card_masked, bank_code)
      SELECT unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender,
             phone, bank_card_enc, bank_card_hash, bank_card_masked, bank_code
        FROM roster_stage ORDER BY row_number
      ON CONFLICT (id_number_hash) DO UPDATE
         SET unit_id = excluded.unit_id, name = excluded.name,
             phone = coalesce(excluded.phone, m.phone),
             bank_card_enc = coalesce(excluded.bank_card_enc, m.bank_card_enc),
             bank_card_hash = coalesce(excluded.bank_card_hash, m.bank_card_hash),
             bank_card_masked = coalesce(excluded.bank_card_masked, m.bank_card_masked),
             bank_code = coalesce(excluded.bank_code, m.bank_code),
             updated_at = now()
       WHERE (m.unit_id, m.name) IS DISTINCT FROM (excluded.unit_id, excluded.name)
          OR (excluded.phone IS NOT NULL AND excluded.phone IS DISTINCT FROM m.phone)
          OR (excluded.bank_card_hash IS NOT NULL
              AND (excluded.bank_card_hash, excluded.bank_code) IS DISTINCT FROM (m.bank_card_hash, m.bank_code))
      RETURNING (xmax = 0) AS inserted`);
    const rowsInserted = merged.rows.filter((r) => r.inserted).length;
    const rowsUpdated = merged.rows.length - rowsInserted;

    // A renewal directly after last year's enrolment keeps its chain start (no new waiting period).
    const enrolled = await client.query<{ created: boolean }>(`
      INSERT INTO enrolments AS e (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
      SELECT m.id, s.unit_id, s.plan_year, s.plan, s.special_disease, s.enrolled_on,
             coalesce(prev.first_enrolled_on, s.enrolled_on)
        FROM roster_stage s
        JOIN members m ON m.id_number_hash = s.id_number_hash
        LEFT JOIN enrolments prev ON prev.member_id = m.id AND prev.plan_year = s.plan_year - 1
       WHERE s.plan_year IS NOT NULL
       ORDER BY s.row_number
      ON CONFLICT (member_id, plan_year) DO UPDATE
         SET unit_id = excluded.unit_id, plan = excluded.plan, special_disease = excluded.special_disease,
             updated_at = now()
       WHERE (e.unit_id, e.plan, e.special_disease) IS DISTINCT FROM (excluded.unit_id, excluded.plan, excluded.special_disease)
      RETURNING (xmax = 0) AS created`);
    const enrolmentsCreated = enrolled.rows.filter((r) => r.created).length;

    const valid = rowsTotal - rowsRejected;
    const counts = { rowsTotal, rowsInserted, rowsUpdated, rowsUnchanged: valid - rowsInserted - rowsUpdated, rowsRejected, enrolmentsCreated };
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
    return { ...counts, errors };
  });
  return result;
}

async function rosterContext(client: pg.PoolClient, options: RosterImportOptions): Promise<RosterContext> {
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

/** Today's date in China Standard Time (UTC+8, no daylight saving). */
export function chinaToday(now = new Date()): string {
  return new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
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
