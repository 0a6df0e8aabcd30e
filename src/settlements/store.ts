import { isObject } from '../kernel/text.ts';
import type { Queryable, Tx } from '../kernel/transaction.ts';
import type { FieldProblem } from '../kernel/problems.ts';
import { Params } from '../db/sql.ts';
import {
  AMOUNT_FIELDS, isDecided,
  type Amounts, type FirstCopy, type IngestionRunRow, type MatchDecision, type MatchedSettlement, type MatchFacts, type RejectionRow,
  type RejectionStatus, type RejectionWrite, type SettlementKind, type SettlementRow, type SettlementSourceRow,
  type SettlementStatus, type SettlementWrite, type SourceCounts, type SourceKind, type UnmatchedReason,
} from './model.ts';
import { groupBy, type Page } from '../kernel/page.ts';
import { byKey, keysetSql } from '../db/keyset.ts';
import type { Scope } from '../kernel/scope.ts';
import { memberRowScopeSql } from '../db/scope.ts';

/**
 * SQL of the settlements domain. Reads take the members' `Scope`: a unit operator sees the
 * settlements of their unit's members, a member their own; others are never loaded. Statements that
 * lock rows or must commit with others take a transaction (`Tx`); the rest take either.
 */

// The plan year is the calendar year of setl_time in China Standard Time.
export const planYearSql = (time: string) => `extract(year FROM ${time} AT TIME ZONE 'Asia/Shanghai')::int`;

/**
 * The settlement the reversal row `r` cancels (id, setl_time), as matching finds it, the re-match
 * and the stranded reversals' release too: a settlement of the same person only (one naming
 * another's waits, ORIGINAL_NOT_FOUND); naming a copy of a stay (DUPLICATE: another source's, or
 * the feed's of an accepted application), the settlement the copy duplicates, which holds the
 * stay's claim. No row for a settlement, or while the original has not arrived.
 */
export const reversedSettlementSql = (r: string) => `SELECT t.id, t.setl_time FROM settlements o JOIN settlements t ON t.id = coalesce(o.duplicate_of_id, o.id)
  WHERE ${r}.kind = 'REVERSAL' AND o.setl_id = ${r}.reverses_setl_id AND o.kind = 'SETTLEMENT' AND o.certno_hash = ${r}.certno_hash
  ORDER BY o.id LIMIT 1`;

const SETTLEMENT_COLUMNS = `s.id, s.source, s.run_id AS "runId", s.setl_id AS "setlId", s.infno, s.kind,
  s.reverses_setl_id AS "reversesSetlId", s.reverses_id AS "reversesId", s.mdtrt_id AS "mdtrtId", s.psn_no AS "psnNo",
  s.psn_name_masked AS "psnNameMasked", s.certno_masked AS "certnoMasked", s.insutype, s.med_type AS "medType",
  s.setl_time AS "setlTime", ${planYearSql('s.setl_time')} AS "planYear", s.diagnoses,
  jsonb_build_object(${AMOUNT_FIELDS.map((f) => `'${f.field}', s.${f.field}`).join(', ')}) AS amounts,
  s.fixmedins_code AS "hospitalCode", to_char(s.begndate, 'YYYY-MM-DD') AS "admittedOn", to_char(s.enddate, 'YYYY-MM-DD') AS "dischargedOn",
  s.status, s.unmatched_reason AS "unmatchedReason", s.member_id AS "memberId", s.enrolment_id AS "enrolmentId",
  s.unit_id AS "unitId", s.duplicate_of_id AS "duplicateOfId", s.processing_error AS "processingError",
  s.received_at AS "receivedAt", s.matched_at AS "matchedAt"`;

const SOURCE_COLUMNS = `name, kind, endpoint, page_size AS "pageSize", poll_seconds AS "pollSeconds", enabled, cursor,
  last_polled_at AS "lastPolledAt", last_error AS "lastError", created_at AS "createdAt", updated_at AS "updatedAt"`;

const RUN_COLUMNS = `id, source, kind, file_name AS "fileName", status, started_by AS "startedBy",
  cursor_before AS "cursorBefore", cursor_after AS "cursorAfter", pages, received, inserted, duplicates, rejected,
  failure, started_at AS "startedAt", finished_at AS "finishedAt"`;

const REJECTION_COLUMNS = `id, source, run_id AS "runId", setl_id AS "setlId", position, raw_masked AS "rawMasked",
  problems, status, settlement_id AS "settlementId", retries, received_at AS "receivedAt",
  resolved_at AS "resolvedAt", resolved_by AS "resolvedBy"`;

// ---- rows checked where they enter ----
// jsonb arrives as JSON.parse made it: no int8 parser guards its numbers (a fen beyond 2^53 would
// silently round) and no column type its shape. Plain columns are typed and CHECKed by the table.

type SettlementRecord = Omit<SettlementRow, 'amounts'> & { amounts: unknown };
type RejectionRecord = Omit<RejectionRow, 'rawMasked' | 'problems'> & { rawMasked: unknown; problems: unknown };

function settlementRow(record: SettlementRecord): SettlementRow {
  return { ...record, amounts: amountsOf(record.id, record.amounts) };
}

function rejectionRow<R extends RejectionRecord>(record: R): Omit<R, 'rawMasked' | 'problems'> & Pick<RejectionRow, 'rawMasked' | 'problems'> {
  return { ...record, rawMasked: maskedOf(record.id, record.rawMasked), problems: problemsOf(record.id, record.problems) };
}

function amountsOf(id: number, value: unknown): Amounts {
  if (!isObject(value)) throw new TypeError(`settlement ${id}: amounts are not an object`);
  for (const { field } of AMOUNT_FIELDS) {
    const fen = value[field];
    if (fen !== null && !Number.isSafeInteger(fen)) throw new TypeError(`settlement ${id}: ${field} is not a whole number of fen`);
  }
  // Checked above: every amount field present, a safe integer or null.
  return value as Amounts;
}

function maskedOf(id: number, value: unknown): Record<string, unknown> {
  if (!isObject(value)) throw new TypeError(`settlement rejection ${id}: raw_masked is not an object`);
  return value;
}

function problemsOf(id: number, value: unknown): FieldProblem[] {
  const isProblem = (p: unknown): p is FieldProblem => isObject(p) && typeof p.field === 'string' && typeof p.reason === 'string';
  if (!Array.isArray(value) || !value.every(isProblem)) throw new TypeError(`settlement rejection ${id}: problems are not a list of {field, reason}`);
  return value;
}

/**
 * A transaction whose loss in a database crash is harmless: a page goes with its cursor (the page is
 * pulled again), a match leaves its row RECEIVED (the sweeper matches it again). It need not wait
 * for its WAL flush, which is most of a small transaction's time.
 */
export async function rederivableTransaction(tx: Tx): Promise<void> {
  await tx.query(`SET LOCAL synchronous_commit = off`);
}

// ---- sources ----

export interface SourceWrite {
  name: string;
  kind: SourceKind;
  endpoint: string | null;
  pageSize?: number | null;
  pollSeconds?: number | null;
  enabled?: boolean | null;
}

/** Registers or changes a source. A new endpoint or kind starts from the beginning (re-pulls are idempotent). */
export async function upsertSource(db: Queryable, s: SourceWrite): Promise<SettlementSourceRow> {
  const { rows } = await db.query<SettlementSourceRow>(
    `INSERT INTO settlement_sources AS src (name, kind, endpoint, page_size, poll_seconds, enabled)
     VALUES ($1, $2, $3, coalesce($4, 500), $5, coalesce($6, true))
     ON CONFLICT (name) DO UPDATE
        SET kind = excluded.kind, endpoint = excluded.endpoint, page_size = coalesce($4, src.page_size),
            poll_seconds = excluded.poll_seconds, enabled = coalesce($6, src.enabled),
            cursor = CASE WHEN (src.kind, src.endpoint) IS DISTINCT FROM (excluded.kind, excluded.endpoint) THEN NULL ELSE src.cursor END,
            updated_at = now()
     RETURNING ${SOURCE_COLUMNS}`,
    [s.name, s.kind, s.endpoint, s.pageSize ?? null, s.pollSeconds ?? null, s.enabled ?? null],
  );
  return rows[0]!;
}

/** The FILE source `name`, created on first use; null when `name` is a source of another kind. */
export async function fileSourceNamed(db: Queryable, name: string): Promise<SettlementSourceRow | null> {
  // The table reserves the applications' source name (CHECK): never a FILE source.
  await db.query(`INSERT INTO settlement_sources (name, kind) SELECT $1, 'FILE' WHERE $1 <> 'applications' ON CONFLICT (name) DO NOTHING`, [name]);
  const source = await sourceByName(db, name);
  return source?.kind === 'FILE' ? source : null;
}

/** Serialises registrations of the source `name` until the transaction ends, its first one too (a row lock needs the row). */
export async function lockSourceName(tx: Tx, name: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('settlement_sources:' || $1))`, [name]);
}

/** The source `name`; `forUpdate`: locked until the transaction ends (what a change of it is audited against). */
export async function sourceByName(db: Queryable, name: string, { forUpdate = false } = {}): Promise<SettlementSourceRow | null> {
  const { rows } = await db.query<SettlementSourceRow>(
    `SELECT ${SOURCE_COLUMNS} FROM settlement_sources WHERE name = $1${forUpdate ? ' FOR UPDATE' : ''}`, [name]);
  return rows[0] ?? null;
}

export async function listSources(db: Queryable): Promise<SettlementSourceRow[]> {
  const { rows } = await db.query<SettlementSourceRow>(`SELECT ${SOURCE_COLUMNS} FROM settlement_sources ORDER BY name`);
  return rows;
}

/** Compare-and-set of a source's cursor: false when another pull moved it first (its page is stale). */
export async function advanceCursor(tx: Tx, name: string, from: string | null, to: string | null): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE settlement_sources SET cursor = $3, last_polled_at = now(), last_error = NULL
      WHERE name = $1 AND cursor IS NOT DISTINCT FROM $2`,
    [name, from, to],
  );
  return rowCount === 1;
}

export async function recordSourceError(db: Queryable, name: string, error: string): Promise<void> {
  await db.query(`UPDATE settlement_sources SET last_error = $2, last_polled_at = now() WHERE name = $1`, [name, error]);
}

export async function sourceCounts(db: Queryable, names: readonly string[]): Promise<SourceCounts[]> {
  const { rows } = await db.query<SourceCounts & { name: string }>(
    `SELECT n.name,
            count(s.id)::int AS total,
            count(s.id) FILTER (WHERE s.status = 'RECEIVED')::int AS received,
            count(s.id) FILTER (WHERE s.status = 'MATCHED')::int AS matched,
            count(s.id) FILTER (WHERE s.status = 'UNMATCHED')::int AS unmatched,
            count(s.id) FILTER (WHERE s.status = 'DUPLICATE')::int AS duplicate,
            (SELECT count(*)::int FROM settlement_rejections r WHERE r.source = n.name AND r.status = 'OPEN') AS "openRejections"
       FROM unnest($1::text[]) AS n(name) LEFT JOIN settlements s ON s.source = n.name
      GROUP BY n.name`,
    [names],
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  return names.map((n) => byName.get(n) ?? { total: 0, received: 0, matched: 0, unmatched: 0, duplicate: 0, openRejections: 0 });
}

// ---- ingestion runs ----

export interface PageCounts {
  received: number;
  inserted: number;
  duplicates: number;
  rejected: number;
}

/** The source's open pull run, or a new one. Called under the source's row lock (advanceCursor). */
export async function openPullRun(tx: Tx, source: string, startedBy: string, cursorBefore: string | null): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(
    `WITH open AS (SELECT id FROM settlement_runs WHERE source = $1 AND kind = 'PULL' AND status = 'RUNNING'),
          created AS (INSERT INTO settlement_runs (source, kind, started_by, cursor_before)
                      SELECT $1, 'PULL', $2, $3 WHERE NOT EXISTS (SELECT 1 FROM open) RETURNING id)
     SELECT id FROM open UNION ALL SELECT id FROM created`,
    [source, startedBy, cursorBefore],
  );
  return rows[0]!.id;
}

/** The source's open pull run, if any. Read under the source's row lock (advanceCursor), so no other pull opens one meanwhile. */
export async function openPullRunId(tx: Tx, source: string): Promise<number | null> {
  const { rows } = await tx.query<{ id: number }>(
    `SELECT id FROM settlement_runs WHERE source = $1 AND kind = 'PULL' AND status = 'RUNNING'`,
    [source],
  );
  return rows[0]?.id ?? null;
}

export async function createFileRun(db: Queryable, source: string, fileName: string, startedBy: string): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO settlement_runs (source, kind, file_name, started_by) VALUES ($1, 'FILE', $2, $3) RETURNING id`,
    [source, fileName, startedBy],
  );
  return rows[0]!.id;
}

/** A stored page's counts, in the transaction that stored it; the page that says nothing more is there ends the run. */
export async function addRunPage(tx: Tx, runId: number, counts: PageCounts, cursorAfter: string | null, finished: boolean): Promise<void> {
  await tx.query(
    `UPDATE settlement_runs SET pages = pages + 1, received = received + $2, inserted = inserted + $3,
            duplicates = duplicates + $4, rejected = rejected + $5, cursor_after = $6,
            status = CASE WHEN $7 THEN 'DONE' ELSE status END, finished_at = CASE WHEN $7 THEN now() END
      WHERE id = $1`,
    [runId, counts.received, counts.inserted, counts.duplicates, counts.rejected, cursorAfter, finished],
  );
}

export async function finishRun(db: Queryable, runId: number, failure: string | null): Promise<void> {
  await db.query(
    `UPDATE settlement_runs SET status = CASE WHEN $2::text IS NULL THEN 'DONE' ELSE 'FAILED' END, failure = $2, finished_at = now()
      WHERE id = $1 AND status = 'RUNNING'`,
    [runId, failure],
  );
}

/** A pull that gave up: its open run fails, so the next scheduled pull starts a new one. */
export async function failOpenPullRun(db: Queryable, source: string, failure: string): Promise<void> {
  await db.query(
    `UPDATE settlement_runs SET status = 'FAILED', failure = $2, finished_at = now()
      WHERE source = $1 AND kind = 'PULL' AND status = 'RUNNING'`,
    [source, failure],
  );
}

export async function runsByIds(db: Queryable, ids: readonly number[]): Promise<IngestionRunRow[]> {
  const { rows } = await db.query<IngestionRunRow>(`SELECT ${RUN_COLUMNS} FROM settlement_runs WHERE id = ANY($1)`, [ids]);
  return rows;
}

/** Runs, rejections and settlements newest first (settlement_runs and settlement_rejections are read unaliased). */
const NEWEST_FIRST = byKey('id', 'DESC');
const SETTLEMENT_ORDER = byKey('s.id', 'DESC');

export async function listRuns(db: Queryable, source: string | null, page: Page): Promise<IngestionRunRow[]> {
  const p = new Params();
  const where = source ? `source = ${p.add(source)}` : 'true';
  const keyset = keysetSql(p, NEWEST_FIRST, page);
  const { rows } = await db.query<IngestionRunRow>(
    `SELECT ${RUN_COLUMNS} FROM settlement_runs WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countRuns(db: Queryable, source: string | null): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM settlement_runs WHERE $1::text IS NULL OR source = $1`,
    [source],
  );
  return rows[0]!.n;
}

/** Settlements of each run that are UNMATCHED now (matching happens after the run stored them). */
export async function runUnmatchedCounts(db: Queryable, runIds: readonly number[]): Promise<number[]> {
  const { rows } = await db.query<{ runId: number; n: number }>(
    `SELECT run_id AS "runId", count(*)::int AS n FROM settlements WHERE run_id = ANY($1) AND status = 'UNMATCHED' GROUP BY run_id`,
    [runIds],
  );
  const byRun = new Map(rows.map((r) => [r.runId, r.n]));
  return runIds.map((id) => byRun.get(id) ?? 0);
}

// ---- settlements: writes ----

interface Column<W> {
  name: string;
  /** Type of the value in the page's JSON (bytea travels as hex text). */
  type: string;
  value: (write: W) => unknown;
  /** How the JSON value becomes the column (default: as is). */
  select?: (column: string) => string;
}

const bytea = <W>(name: string, value: (write: W) => Buffer): Column<W> =>
  ({ name, type: 'text', value: (w) => value(w).toString('hex'), select: (c) => `decode(${c}, 'hex')` });

/**
 * `INSERT ... SELECT FROM jsonb_to_recordset(page)`: one statement and one parameter for a whole
 * page. (A JSON document is serialised natively; node-pg's arrays are escaped value by value.)
 */
function pageInsert<W>(table: string, fixed: Record<string, unknown>, columns: Column<W>[], writes: W[], p: Params): string {
  const fixedNames = Object.keys(fixed);
  const fixedValues = fixedNames.map((k) => p.add(fixed[k]));
  const page = p.add(JSON.stringify(writes.map((w) => Object.fromEntries(columns.map((c) => [c.name, c.value(w)])))));
  return `INSERT INTO ${table} (${[...fixedNames, ...columns.map((c) => c.name)].join(', ')})
          SELECT ${[...fixedValues, ...columns.map((c) => (c.select ? c.select(`u.${c.name}`) : `u.${c.name}`))].join(', ')}
            FROM jsonb_to_recordset(${page}::jsonb) AS u(${columns.map((c) => `${c.name} ${c.type}`).join(', ')})`;
}

const SETTLEMENT_WRITE_COLUMNS: Column<SettlementWrite>[] = [
  { name: 'setl_id', type: 'text', value: (w) => w.setlId },
  { name: 'infno', type: 'text', value: (w) => w.infno },
  { name: 'kind', type: 'text', value: (w) => w.kind },
  { name: 'reverses_setl_id', type: 'text', value: (w) => w.reversesSetlId },
  { name: 'mdtrt_id', type: 'text', value: (w) => w.mdtrtId },
  { name: 'psn_no', type: 'text', value: (w) => w.psnNo },
  bytea('psn_name_enc', (w) => w.psnNameEnc),
  { name: 'psn_name_masked', type: 'text', value: (w) => w.psnNameMasked },
  bytea('certno_enc', (w) => w.certnoEnc),
  bytea('certno_hash', (w) => w.certnoHash),
  { name: 'certno_masked', type: 'text', value: (w) => w.certnoMasked },
  { name: 'insutype', type: 'text', value: (w) => w.insutype },
  { name: 'med_type', type: 'text', value: (w) => w.medType },
  { name: 'setl_time', type: 'timestamptz', value: (w) => w.setlTime },
  { name: 'diagnoses', type: 'text[]', value: (w) => w.diagnoses },
  ...AMOUNT_FIELDS.map((f): Column<SettlementWrite> => ({ name: f.field, type: 'bigint', value: (w) => w.amounts[f.field] })),
  { name: 'fixmedins_code', type: 'text', value: (w) => w.stay.hospitalCode },
  { name: 'begndate', type: 'date', value: (w) => w.stay.admittedOn },
  { name: 'enddate', type: 'date', value: (w) => w.stay.dischargedOn },
  bytea('raw_enc', (w) => w.rawEnc),
];

const REJECTION_WRITE_COLUMNS: Column<RejectionWrite>[] = [
  { name: 'record_key', type: 'text', value: (w) => w.recordKey },
  { name: 'setl_id', type: 'text', value: (w) => w.setlId },
  { name: 'position', type: 'text', value: (w) => w.position },
  bytea('raw_enc', (w) => w.rawEnc),
  { name: 'raw_masked', type: 'jsonb', value: (w) => w.rawMasked },
  { name: 'problems', type: 'jsonb', value: (w) => w.problems },
];

export interface InsertedSettlement {
  id: number;
  setlId: string;
  kind: SettlementKind;
}

/** A record held back instead of stored: it contradicts another source's copy of its setl_id. */
export interface HeldRecord<W extends SettlementWrite> {
  write: W;
  problems: FieldProblem<string>[];
}

export interface StoredPage<W extends SettlementWrite> {
  inserted: InsertedSettlement[];
  held: HeldRecord<W>[];
}

/**
 * Stores a page of settlements; a (source, setl_id) already stored is skipped. A record under a
 * setl_id another source stored first is stored only as a copy of that settlement (the match step
 * makes it DUPLICATE of it); one `contradictions` finds differing from it (validation.ts
 * `copyProblems`) is held back with what differs, for the caller to keep as a rejection. Returns
 * the new settlements and those held.
 */
export async function insertSettlements<W extends SettlementWrite>(
  tx: Tx, source: string, runId: number | null, writes: W[], contradictions: (write: W, copy: FirstCopy) => FieldProblem<string>[],
): Promise<StoredPage<W>> {
  if (!writes.length) return { inserted: [], held: [] };
  // Waits for any other transaction storing one of these setl_ids, so that copies from different
  // sources take their ids in commit order (migration 0031). Sorted: two pages wait in one order.
  const setlIds = [...new Set(writes.map((w) => w.setlId))].sort();
  await tx.query(`INSERT INTO settlement_setl_ids (setl_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [setlIds]);
  // A statement of its own, after the wait: it sees a first copy committed meanwhile.
  const firstCopies = await firstCopiesOf(tx, source, setlIds);
  const stored: W[] = [];
  const held: HeldRecord<W>[] = [];
  for (const write of writes) {
    const copy = firstCopies.get(write.setlId);
    const problems = copy ? contradictions(write, copy) : [];
    if (problems.length) held.push({ write, problems });
    else stored.push(write);
  }
  if (!stored.length) return { inserted: [], held };
  const p = new Params();
  const sql = pageInsert('settlements', { source, run_id: runId }, SETTLEMENT_WRITE_COLUMNS, stored, p);
  const { rows } = await tx.query<InsertedSettlement>(
    `${sql} ON CONFLICT (source, setl_id) DO NOTHING RETURNING id, setl_id AS "setlId", kind`,
    p.values,
  );
  return { inserted: rows, held };
}

/**
 * The settlement another source stored first under each of `setlIds` that `source` has not stored
 * itself (a setl_id it has is skipped on insert, whatever the record says).
 */
async function firstCopiesOf(tx: Tx, source: string, setlIds: readonly string[]): Promise<Map<string, FirstCopy>> {
  // A page's thousand probes are priced above jit_above_cost, and compiling took 300 ms of a 5 ms read.
  await tx.query("SELECT set_config('jit', 'off', true)");
  const { rows } = await tx.query<SettlementRecord & { certnoHash: Buffer }>(
    // One probe of (setl_id, id) per setl_id: ordering the whole page's matches (DISTINCT ON) walked the index end to end.
    `SELECT ${SETTLEMENT_COLUMNS}, s.certno_hash AS "certnoHash"
       FROM unnest($2::text[]) AS k(setl_id)
       CROSS JOIN LATERAL (
         SELECT * FROM settlements f
          WHERE f.setl_id = k.setl_id AND f.source <> $1
            -- Probed per setl_id found: as an anti-join of the page it read every row of the source.
            AND NOT EXISTS (SELECT 1 FROM settlements own WHERE own.source = $1 AND own.setl_id = f.setl_id)
          ORDER BY f.id LIMIT 1) s`,
    [source, setlIds],
  );
  return new Map(rows.map((r) => [r.setlId, { ...settlementRow(r), certnoHash: r.certnoHash }]));
}

/** Stores rejections; one already stored under the same key is skipped. Returns how many are new. */
export async function insertRejections(tx: Tx, source: string, runId: number | null, writes: RejectionWrite[]): Promise<number> {
  if (!writes.length) return 0;
  const p = new Params();
  const sql = pageInsert('settlement_rejections', { source, run_id: runId }, REJECTION_WRITE_COLUMNS, writes, p);
  const { rowCount } = await tx.query(`${sql} ON CONFLICT (source, record_key) DO NOTHING`, p.values);
  return rowCount ?? 0;
}

/** Open rejections the source has now sent again valid are closed, pointing at the stored settlement. */
export async function supersedeRejections(tx: Tx, source: string, stored: InsertedSettlement[]): Promise<void> {
  if (!stored.length) return;
  await tx.query(
    `UPDATE settlement_rejections r SET status = 'SUPERSEDED', settlement_id = u.id, resolved_at = now(), resolved_by = 'source'
       FROM unnest($2::text[], $3::bigint[]) AS u(setl_id, id)
      WHERE r.source = $1 AND r.setl_id = ANY($2::text[]) AND r.setl_id = u.setl_id AND r.status = 'OPEN'`,
    [source, stored.map((s) => s.setlId), stored.map((s) => s.id)],
  );
}

/** Reversals that waited for these settlements go back to RECEIVED; returns them for the match step. */
export async function releaseWaitingReversals(tx: Tx, originalSetlIds: string[]): Promise<number[]> {
  if (!originalSetlIds.length) return [];
  const { rows } = await tx.query<{ id: number }>(
    `UPDATE settlements SET status = 'RECEIVED', unmatched_reason = NULL, member_id = NULL, matched_at = NULL
      WHERE kind = 'REVERSAL' AND status = 'UNMATCHED' AND unmatched_reason = 'ORIGINAL_NOT_FOUND'
        AND reverses_setl_id = ANY($1) RETURNING id`,
    [originalSetlIds],
  );
  return rows.map((r) => r.id);
}

/** Reversals still waiting although their original is stored (it arrived while they were decided). */
export async function releaseStrandedReversals(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `UPDATE settlements r SET status = 'RECEIVED', unmatched_reason = NULL, member_id = NULL, matched_at = NULL
      WHERE r.kind = 'REVERSAL' AND r.status = 'UNMATCHED' AND r.unmatched_reason = 'ORIGINAL_NOT_FOUND'
        AND EXISTS (${reversedSettlementSql('r')})
      RETURNING r.id`,
  );
  return rows.map((r) => r.id);
}

/** UNMATCHED settlements go back to RECEIVED (e.g. after a roster import registered their members). */
export async function releaseUnmatched(db: Queryable, reason: UnmatchedReason | null): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `UPDATE settlements SET status = 'RECEIVED', unmatched_reason = NULL, member_id = NULL, matched_at = NULL
      WHERE status = 'UNMATCHED' AND ($1::text IS NULL OR unmatched_reason = $1) RETURNING id`,
    [reason],
  );
  return rows.map((r) => r.id);
}

// ---- matching ----

/**
 * Locks the settlements still RECEIVED among `ids` (in id order, so concurrent batches cannot
 * deadlock) and gathers what matching needs; the others were decided already and are left alone.
 */
export async function lockMatchFacts(tx: Tx, ids: readonly number[]): Promise<MatchFacts[]> {
  // An earlier row under the setl_id is a copy: insertSettlements stores none that contradicts it.
  const { rows } = await tx.query<MatchFacts>(
    `SELECT s.id, s.kind,
            (SELECT min(d.id) FROM settlements d WHERE d.setl_id = s.setl_id AND d.id < s.id) AS "duplicateOfId",
            mem.id AS "memberId", e.id AS "enrolmentId", e.unit_id AS "enrolmentUnitId", orig.id AS "reversesId"
       FROM settlements s
       LEFT JOIN members mem ON mem.id_number_hash = s.certno_hash
       LEFT JOIN LATERAL (${reversedSettlementSql('s')}) orig ON true
       -- A reversal belongs to the plan year of the settlement it cancels.
       LEFT JOIN enrolments e ON e.member_id = mem.id AND e.plan_year = ${planYearSql('coalesce(orig.setl_time, s.setl_time)')}
      WHERE s.id = ANY($1) AND s.status = 'RECEIVED'
      ORDER BY s.id
        FOR UPDATE OF s`,
    [ids],
  );
  return rows;
}

/** The status transition out of RECEIVED; a row already decided is not touched again. Returns the rows moved now. */
export async function applyMatches(tx: Tx, decisions: MatchDecision[]): Promise<MatchedSettlement[]> {
  if (!decisions.length) return [];
  const column = <K extends keyof MatchDecision>(key: K) => decisions.map((d) => d[key]);
  // Each row takes its values at its id's position: no join, so no plan can scan the whole RECEIVED
  // backlog (statistics lag behind a table that grows by thousands of rows a second).
  const at = (n: number, type: string) => `($${n}::${type}[])[array_position($1::bigint[], s.id)]`;
  const { rows } = await tx.query<{ id: number; status: SettlementStatus }>(
    `UPDATE settlements s SET status = ${at(2, 'text')}, unmatched_reason = ${at(3, 'text')}, member_id = ${at(4, 'bigint')},
            enrolment_id = ${at(5, 'bigint')}, unit_id = ${at(6, 'bigint')}, duplicate_of_id = ${at(7, 'bigint')},
            reverses_id = ${at(8, 'bigint')}, processing_error = NULL, matched_at = now()
      WHERE s.id = ANY($1::bigint[]) AND s.status = 'RECEIVED'
      RETURNING s.id, s.status`,
    [column('id'), column('status'), column('unmatchedReason'), column('memberId'), column('enrolmentId'),
     column('unitId'), column('duplicateOfId'), column('reversesId')],
  );
  return rows.map(({ id, status }) => {
    if (!isDecided(status)) throw new TypeError(`settlement ${id} is still ${status} after the match step`);
    return { id, status };
  });
}

/** Whether any settlement of `source` still waits for its match step (the partial index of RECEIVED rows). */
export async function anyReceived(db: Queryable, source: string): Promise<boolean> {
  const { rows } = await db.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM settlements WHERE status = 'RECEIVED' AND source = $1) AS any`, [source]);
  return rows[0]!.any;
}

/** Settlements whose match step has not happened, in id order, a batch at a time (the sweeper). */
export async function receivedSettlementIds(db: Queryable, afterId: number, limit: number): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM settlements WHERE status = 'RECEIVED' AND id > $1 ORDER BY id LIMIT $2`,
    [afterId, limit],
  );
  return rows.map((r) => r.id);
}

/** How many of `ids` stand in each status now (for the counts a command prints at the end). */
export async function statusCounts(db: Queryable, ids: readonly number[]): Promise<Record<SettlementStatus, number>> {
  const counts: Record<SettlementStatus, number> = { RECEIVED: 0, MATCHED: 0, UNMATCHED: 0, DUPLICATE: 0 };
  const { rows } = await db.query<{ status: SettlementStatus; n: number }>(
    `SELECT status, count(*)::int AS n FROM settlements WHERE id = ANY($1) GROUP BY status`,
    [ids],
  );
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

export async function recordProcessingErrors(db: Queryable, ids: readonly number[], error: string): Promise<void> {
  await db.query(`UPDATE settlements SET processing_error = $2 WHERE id = ANY($1::bigint[]) AND status = 'RECEIVED'`, [ids, error]);
}

// ---- settlements: reads ----

export interface SettlementFilter {
  memberId?: number | null;
  unitId?: number | null;
  /** China dates, inclusive. */
  settledFrom?: string | null;
  settledTo?: string | null;
  status?: SettlementStatus | null;
  source?: string | null;
  kind?: SettlementKind | null;
  runId?: number | null;
}

function settlementFilterSql(p: Params, scope: Scope, f: SettlementFilter): string {
  const where = [memberRowScopeSql(p, scope, 's')];
  if (f.memberId != null) where.push(`s.member_id = ${p.add(f.memberId)}`);
  if (f.unitId != null) where.push(`s.unit_id = ${p.add(f.unitId)}`);
  if (f.settledFrom) where.push(`s.setl_time >= (${p.add(f.settledFrom)}::date::timestamp AT TIME ZONE 'Asia/Shanghai')`);
  if (f.settledTo) where.push(`s.setl_time < ((${p.add(f.settledTo)}::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')`);
  if (f.status) where.push(`s.status = ${p.add(f.status)}`);
  if (f.source) where.push(`s.source = ${p.add(f.source)}`);
  if (f.kind) where.push(`s.kind = ${p.add(f.kind)}`);
  if (f.runId != null) where.push(`s.run_id = ${p.add(f.runId)}`);
  return where.join(' AND ');
}

export async function settlementsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<SettlementRow[]> {
  const p = new Params();
  const { rows } = await db.query<SettlementRecord>(
    `SELECT ${SETTLEMENT_COLUMNS} FROM settlements s WHERE s.id = ANY(${p.add(ids)}) AND ${memberRowScopeSql(p, scope, 's')}`,
    p.values,
  );
  return rows.map(settlementRow);
}

export async function listSettlements(db: Queryable, scope: Scope, filter: SettlementFilter, page: Page): Promise<SettlementRow[]> {
  const p = new Params();
  const where = settlementFilterSql(p, scope, filter);
  const keyset = keysetSql(p, SETTLEMENT_ORDER, page);
  const { rows } = await db.query<SettlementRecord>(
    `SELECT ${SETTLEMENT_COLUMNS} FROM settlements s WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows.map(settlementRow);
}

export async function countSettlements(db: Queryable, scope: Scope, filter: SettlementFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM settlements s WHERE ${settlementFilterSql(p, scope, filter)}`,
    p.values,
  );
  return rows[0]!.n;
}

/** One page of settlements for each of several members, in one query (member.settlements in a list). */
export async function settlementsOfMembers(
  db: Queryable,
  memberIds: number[],
  scope: Scope,
  filter: SettlementFilter,
  page: Page,
): Promise<Map<number, SettlementRow[]>> {
  const p = new Params();
  const where = settlementFilterSql(p, scope, filter);
  const keyset = keysetSql(p, SETTLEMENT_ORDER, page);
  const { rows } = await db.query<SettlementRecord>(
    `SELECT page.* FROM unnest(${p.add(memberIds)}::bigint[]) AS parent(id)
     CROSS JOIN LATERAL (SELECT ${SETTLEMENT_COLUMNS} FROM settlements s
                          WHERE s.member_id = parent.id AND ${where} AND ${keyset.where}
                          ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}) page`,
    p.values,
  );
  return groupBy(rows.map(settlementRow), (row) => row.memberId!);
}

/** The reversals pointing at each of `ids` (normally at most one each). */
export async function reversalsOf(db: Queryable, ids: readonly number[], scope: Scope): Promise<SettlementRow[][]> {
  const p = new Params();
  const { rows } = await db.query<SettlementRecord>(
    `SELECT ${SETTLEMENT_COLUMNS} FROM settlements s WHERE s.reverses_id = ANY(${p.add(ids)}) AND ${memberRowScopeSql(p, scope, 's')} ORDER BY s.id`,
    p.values,
  );
  const byOriginal = groupBy(rows.map(settlementRow), (r) => r.reversesId!);
  return ids.map((id) => byOriginal.get(id) ?? []);
}

// ---- rejections ----

export interface RejectionFilter {
  source?: string | null;
  status?: RejectionStatus | null;
  runId?: number | null;
}

function rejectionFilterSql(p: Params, f: RejectionFilter): string {
  const where = ['true'];
  if (f.source) where.push(`source = ${p.add(f.source)}`);
  if (f.status) where.push(`status = ${p.add(f.status)}`);
  if (f.runId != null) where.push(`run_id = ${p.add(f.runId)}`);
  return where.join(' AND ');
}

export async function rejectionsByIds(db: Queryable, ids: readonly number[]): Promise<RejectionRow[]> {
  const { rows } = await db.query<RejectionRecord>(`SELECT ${REJECTION_COLUMNS} FROM settlement_rejections WHERE id = ANY($1)`, [ids]);
  return rows.map(rejectionRow);
}

export async function listRejections(db: Queryable, filter: RejectionFilter, page: Page): Promise<RejectionRow[]> {
  const p = new Params();
  const where = rejectionFilterSql(p, filter);
  const keyset = keysetSql(p, NEWEST_FIRST, page);
  const { rows } = await db.query<RejectionRecord>(
    `SELECT ${REJECTION_COLUMNS} FROM settlement_rejections WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows.map(rejectionRow);
}

export async function countRejections(db: Queryable, filter: RejectionFilter): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM settlement_rejections WHERE ${rejectionFilterSql(p, filter)}`,
    p.values,
  );
  return rows[0]!.n;
}

export type LockedRejection = RejectionRow & { rawEnc: Buffer; correctionsEnc: Buffer | null };

/** An open rejection with its record as received and the corrections so far (encrypted), locked for a retry. */
export async function lockOpenRejection(tx: Tx, id: number): Promise<LockedRejection | null> {
  const { rows } = await tx.query<RejectionRecord & { rawEnc: Buffer; correctionsEnc: Buffer | null }>(
    `SELECT ${REJECTION_COLUMNS}, raw_enc AS "rawEnc", corrections_enc AS "correctionsEnc"
       FROM settlement_rejections WHERE id = $1 AND status = 'OPEN' FOR UPDATE`,
    [id],
  );
  return rows[0] ? rejectionRow(rows[0]) : null;
}

/** A retry that still fails: the corrections are kept and the record's problems replaced. */
export async function updateRejection(
  tx: Tx,
  id: number,
  w: { correctionsEnc: Buffer; rawMasked: Record<string, unknown>; problems: RejectionWrite['problems'] },
): Promise<void> {
  await tx.query(
    `UPDATE settlement_rejections SET corrections_enc = $2, raw_masked = $3, problems = $4, retries = retries + 1 WHERE id = $1`,
    [id, w.correctionsEnc, JSON.stringify(w.rawMasked), JSON.stringify(w.problems)],
  );
}

/** Closes the rejection a retry locked (lockOpenRejection). */
export async function resolveRejection(tx: Tx, id: number, status: Exclude<RejectionStatus, 'OPEN'>, settlementId: number, by: string): Promise<void> {
  await tx.query(
    `UPDATE settlement_rejections SET status = $2, settlement_id = $3, resolved_at = now(), resolved_by = $4,
            retries = retries + CASE WHEN $2 = 'RESOLVED' THEN 1 ELSE 0 END
      WHERE id = $1`,
    [id, status, settlementId, by],
  );
}

export async function settlementIdBySourceKey(db: Queryable, source: string, setlId: string): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM settlements WHERE source = $1 AND setl_id = $2`, [source, setlId]);
  return rows[0]?.id ?? null;
}

/** Settlements stored once each (duplicates of another source's copy left out). */
export async function countDistinctSettlements(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM settlements WHERE status <> 'DUPLICATE'`);
  return rows[0]!.n;
}
