import { Params } from '../../db/sql.ts';
import type { Page } from '../../kernel/page.ts';
import { byKey, keysetSql } from '../../db/keyset.ts';
import type { Queryable } from '../../kernel/transaction.ts';
import type { ExceptionKind, MatchKind, MatchRule } from '../matching/types.ts';
import type {
  BankDocumentRow, BankStatementRow, DailyProofRow, ExceptionStatus, ReconciliationExceptionRow, ReconciliationMatchRow, ReconciliationReportRow,
  ReconciliationRunRow, StatementEntryRow,
} from '../model.ts';

/** What the API, the commands and the demo read: pages (keyset on id), rows by id, the day's report, counts. */

const DOCUMENT_COLUMNS = `id, kind, msg_id AS "msgId", source, file_name AS "fileName", received_by AS "receivedBy", sealed_by AS "sealedBy",
  seal_problem AS "sealProblem", confirmed_by AS "confirmedBy", confirmed_at AS "confirmedAt", confirmation_reason AS "confirmationReason", status, problems, entries, entries_new AS "newEntries", received_at AS "receivedAt", processed_at AS "processedAt"`;
const STATEMENT_COLUMNS = `id, account, statement_date::text AS date, statement_ref AS "statementRef", final, opening_fen AS "openingFen",
  closing_fen AS "closingFen", bank_created_at AS "bankCreatedAt", document_id AS "documentId"`;
const ENTRY_COLUMNS = `e.id, e.account, e.account_servicer_ref AS "accountServicerRef", e.credit_debit AS "creditDebit", e.amount_fen AS "amountFen",
  e.booking_date::text AS "bookingDate", e.value_date::text AS "valueDate", e.transaction_code AS "transactionCode", e.entry, st.state,
  e.statement_id AS "statementId"`;
/** Entries with their state. */
const ENTRIES = 'statement_entries e JOIN statement_entry_states st ON st.entry_id = e.id';
const MATCH_COLUMNS = `m.id, m.entry_id AS "entryId", m.tx_index AS "transactionIndex", m.kind, m.rule, m.amount_fen AS "amountFen",
  a.end_to_end_id AS "endToEndId", a.payout_id AS "payoutId", m.unit_id AS "unitId", m.plan_year AS "planYear", m.matched_by AS "matchedBy",
  m.created_at AS "createdAt"`;
const EXCEPTION_COLUMNS = `x.id, x.kind, x.account, x.amount_fen AS "amountFen", x.occurred_on::text AS "occurredOn", x.entry_id AS "entryId",
  x.tx_index AS "transactionIndex", a.payout_id AS "payoutId", a.end_to_end_id AS "endToEndId", x.evidence, x.status, x.resolution,
  x.resolution_reason AS "resolutionReason", x.resolved_by AS "resolvedBy", x.resolved_at AS "resolvedAt", x.detected_at AS "detectedAt"`;
const PROOF_COLUMNS = `account, statement_date::text AS date, statement_id AS "statementId", opening_fen AS "openingFen", closing_fen AS "closingFen",
  credits_fen AS "creditsFen", debits_fen AS "debitsFen", entries, recognized_credits_fen AS "recognizedCreditsFen",
  recognized_debits_fen AS "recognizedDebitsFen", unrecognized_entries AS "unrecognizedEntries", previous_closing_fen AS "previousClosingFen",
  previous_date::text AS "previousDate", balanced, continuous, expected_closing_fen AS "expectedClosingFen", difference_fen AS "differenceFen",
  proven, problems, computed_at AS "computedAt"`;
const RUN_COLUMNS = `id, account, started_by AS "startedBy", status, entries, matched, exceptions, failure, started_at AS "startedAt", finished_at AS "finishedAt"`;

/** WHERE clauses of a filter, and a page's keyset condition (src/db/keyset.ts). */
function where(p: Params, conditions: (string | null)[], keyset: Keyset | null): string {
  const all = conditions.filter((c): c is string => c !== null);
  if (keyset) all.push(keyset.where);
  return all.length ? `WHERE ${all.join(' AND ')}` : '';
}

type Keyset = ReturnType<typeof keysetSql>;

/** A page's order and size. */
const orderAndLimit = (p: Params, keyset: Keyset, page: Page) => `ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`;

// Newest first, but exceptions (the work queue) oldest first, and a statement's entries in booking order.
const NEWEST_FIRST = byKey('id', 'DESC');
const ENTRIES_NEWEST_FIRST = byKey('e.id', 'DESC');
const ENTRIES_IN_BOOKING_ORDER = byKey('e.id', 'ASC');
const MATCHES_NEWEST_FIRST = byKey('m.id', 'DESC');
const EXCEPTIONS_OLDEST_FIRST = byKey('x.id', 'ASC');

// ---------------------------------------------------------------- documents

export interface DocumentFilter {
  status?: string | null;
  kind?: string | null;
}

function documentWhere(p: Params, f: DocumentFilter, keyset: Keyset | null): string {
  return where(p, [f.status ? `status = ${p.add(f.status)}` : null, f.kind ? `kind = ${p.add(f.kind)}` : null], keyset);
}

export async function listDocuments(db: Queryable, filter: DocumentFilter, page: Page): Promise<BankDocumentRow[]> {
  const p = new Params();
  const keyset = keysetSql(p, NEWEST_FIRST, page);
  return (await db.query<BankDocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM bank_documents ${documentWhere(p, filter, keyset)} ${orderAndLimit(p, keyset, page)}`, p.values)).rows;
}

export async function countDocuments(db: Queryable, filter: DocumentFilter): Promise<number> {
  const p = new Params();
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM bank_documents ${documentWhere(p, filter, null)}`, p.values)).rows[0]!.n;
}

export async function documentsByIds(db: Queryable, ids: readonly number[]): Promise<BankDocumentRow[]> {
  return (await db.query<BankDocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM bank_documents WHERE id = ANY($1::bigint[])`, [ids])).rows;
}

// ---------------------------------------------------------------- statements

export interface StatementFilter {
  account?: string | null;
  from?: string | null;
  to?: string | null;
}

function statementWhere(p: Params, f: StatementFilter, keyset: Keyset | null): string {
  return where(p, [
    f.account ? `account = ${p.add(f.account)}` : null,
    f.from ? `statement_date >= ${p.add(f.from)}::date` : null,
    f.to ? `statement_date <= ${p.add(f.to)}::date` : null,
  ], keyset);
}

export async function listStatements(db: Queryable, filter: StatementFilter, page: Page): Promise<BankStatementRow[]> {
  const p = new Params();
  const keyset = keysetSql(p, NEWEST_FIRST, page);
  return (await db.query<BankStatementRow>(`SELECT ${STATEMENT_COLUMNS} FROM bank_statements ${statementWhere(p, filter, keyset)} ${orderAndLimit(p, keyset, page)}`, p.values)).rows;
}

export async function countStatements(db: Queryable, filter: StatementFilter): Promise<number> {
  const p = new Params();
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM bank_statements ${statementWhere(p, filter, null)}`, p.values)).rows[0]!.n;
}

export async function statementsByIds(db: Queryable, ids: readonly number[]): Promise<BankStatementRow[]> {
  return (await db.query<BankStatementRow>(`SELECT ${STATEMENT_COLUMNS} FROM bank_statements WHERE id = ANY($1::bigint[])`, [ids])).rows;
}

export async function statementOf(db: Queryable, account: string, date: string): Promise<BankStatementRow | null> {
  return (await db.query<BankStatementRow>(`SELECT ${STATEMENT_COLUMNS} FROM bank_statements WHERE account = $1 AND statement_date = $2`, [account, date])).rows[0] ?? null;
}

// ---------------------------------------------------------------- entries

export interface EntryFilter {
  account?: string | null;
  state?: string | null;
  creditDebit?: string | null;
  bookedFrom?: string | null;
  bookedTo?: string | null;
  statementId?: number | null;
}

function entryWhere(p: Params, f: EntryFilter, keyset: Keyset | null): string {
  return where(p, [
    f.account ? `e.account = ${p.add(f.account)}` : null,
    f.state ? `st.state = ${p.add(f.state)}` : null,
    f.creditDebit ? `e.credit_debit = ${p.add(f.creditDebit)}` : null,
    f.bookedFrom ? `e.booking_date >= ${p.add(f.bookedFrom)}::date` : null,
    f.bookedTo ? `e.booking_date <= ${p.add(f.bookedTo)}::date` : null,
    f.statementId != null ? `e.statement_id = ${p.add(f.statementId)}` : null,
  ], keyset);
}

/** Entries newest first; a statement's entries in booking order. */
export async function listEntries(db: Queryable, filter: EntryFilter, page: Page): Promise<StatementEntryRow[]> {
  const p = new Params();
  const keyset = keysetSql(p, filter.statementId != null ? ENTRIES_IN_BOOKING_ORDER : ENTRIES_NEWEST_FIRST, page);
  return (await db.query<StatementEntryRow>(
    `SELECT ${ENTRY_COLUMNS} FROM ${ENTRIES} ${entryWhere(p, filter, keyset)} ${orderAndLimit(p, keyset, page)}`, p.values,
  )).rows;
}

export async function countEntries(db: Queryable, filter: EntryFilter): Promise<number> {
  const p = new Params();
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ENTRIES} ${entryWhere(p, filter, null)}`, p.values)).rows[0]!.n;
}

export async function entriesByIds(db: Queryable, ids: readonly number[]): Promise<StatementEntryRow[]> {
  return (await db.query<StatementEntryRow>(`SELECT ${ENTRY_COLUMNS} FROM ${ENTRIES} WHERE e.id = ANY($1::bigint[])`, [ids])).rows;
}

// ---------------------------------------------------------------- matches

export interface MatchFilter {
  account?: string | null;
  kind?: MatchKind | null;
  rule?: MatchRule | null;
}

function matchWhere(p: Params, f: MatchFilter, keyset: Keyset | null): string {
  return where(p, [
    f.account ? `e.account = ${p.add(f.account)}` : null,
    f.kind ? `m.kind = ${p.add(f.kind)}` : null,
    f.rule ? `m.rule = ${p.add(f.rule)}` : null,
  ], keyset);
}

const MATCH_FROM = `reconciliation_matches m JOIN statement_entries e ON e.id = m.entry_id LEFT JOIN payout_attempts a ON a.id = m.payout_attempt_id`;

export async function listMatches(db: Queryable, filter: MatchFilter, page: Page): Promise<ReconciliationMatchRow[]> {
  const p = new Params();
  const keyset = keysetSql(p, MATCHES_NEWEST_FIRST, page);
  return (await db.query<ReconciliationMatchRow>(`SELECT ${MATCH_COLUMNS} FROM ${MATCH_FROM} ${matchWhere(p, filter, keyset)} ${orderAndLimit(p, keyset, page)}`, p.values)).rows;
}

export async function countMatches(db: Queryable, filter: MatchFilter): Promise<number> {
  const p = new Params();
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${MATCH_FROM} ${matchWhere(p, filter, null)}`, p.values)).rows[0]!.n;
}

export async function matchesByIds(db: Queryable, ids: readonly number[]): Promise<ReconciliationMatchRow[]> {
  return (await db.query<ReconciliationMatchRow>(`SELECT ${MATCH_COLUMNS} FROM ${MATCH_FROM} WHERE m.id = ANY($1::bigint[])`, [ids])).rows;
}

export async function matchesOfEntries(db: Queryable, entryIds: readonly number[]): Promise<ReconciliationMatchRow[][]> {
  const { rows } = await db.query<ReconciliationMatchRow>(`SELECT ${MATCH_COLUMNS} FROM ${MATCH_FROM} WHERE m.entry_id = ANY($1::bigint[]) ORDER BY m.id`, [entryIds]);
  return entryIds.map((id) => rows.filter((r) => r.entryId === id));
}

// ---------------------------------------------------------------- exceptions

export interface ExceptionFilter {
  kind?: ExceptionKind | null;
  status?: ExceptionStatus | null;
  account?: string | null;
  minAmountFen?: number | null;
  maxAmountFen?: number | null;
  minAgeDays?: number | null;
}

function exceptionWhere(p: Params, f: ExceptionFilter, keyset: Keyset | null): string {
  return where(p, [
    `x.status = ${p.add(f.status ?? 'OPEN')}`,
    f.kind ? `x.kind = ${p.add(f.kind)}` : null,
    f.account ? `x.account = ${p.add(f.account)}` : null,
    f.minAmountFen != null ? `x.amount_fen >= ${p.add(f.minAmountFen)}` : null,
    f.maxAmountFen != null ? `x.amount_fen <= ${p.add(f.maxAmountFen)}` : null,
    f.minAgeDays != null ? `x.detected_at <= now() - make_interval(days => ${p.add(f.minAgeDays)})` : null,
  ], keyset);
}

const EXCEPTION_FROM = 'reconciliation_exceptions x LEFT JOIN payout_attempts a ON a.id = x.payout_attempt_id';

export async function listExceptions(db: Queryable, filter: ExceptionFilter, page: Page): Promise<ReconciliationExceptionRow[]> {
  const p = new Params();
  const keyset = keysetSql(p, EXCEPTIONS_OLDEST_FIRST, page);
  return (await db.query<ReconciliationExceptionRow>(`SELECT ${EXCEPTION_COLUMNS} FROM ${EXCEPTION_FROM} ${exceptionWhere(p, filter, keyset)} ${orderAndLimit(p, keyset, page)}`, p.values)).rows;
}

export async function exceptionTotals(db: Queryable, filter: ExceptionFilter): Promise<{ count: number; amountFen: number }> {
  const p = new Params();
  return (await db.query<{ count: number; amountFen: number }>(
    `SELECT count(*)::int AS count, COALESCE(sum(x.amount_fen), 0)::bigint AS "amountFen" FROM ${EXCEPTION_FROM} ${exceptionWhere(p, filter, null)}`, p.values,
  )).rows[0]!;
}

export async function exceptionsByIds(db: Queryable, ids: readonly number[]): Promise<ReconciliationExceptionRow[]> {
  return (await db.query<ReconciliationExceptionRow>(`SELECT ${EXCEPTION_COLUMNS} FROM ${EXCEPTION_FROM} WHERE x.id = ANY($1::bigint[])`, [ids])).rows;
}

export async function exceptionsOfEntries(db: Queryable, entryIds: readonly number[]): Promise<ReconciliationExceptionRow[][]> {
  const { rows } = await db.query<ReconciliationExceptionRow>(`SELECT ${EXCEPTION_COLUMNS} FROM ${EXCEPTION_FROM} WHERE x.entry_id = ANY($1::bigint[]) ORDER BY x.id`, [entryIds]);
  return entryIds.map((id) => rows.filter((r) => r.entryId === id));
}

// ---------------------------------------------------------------- proofs, reports, runs

export async function proofsOfStatements(db: Queryable, statementIds: readonly number[]): Promise<(DailyProofRow | null)[]> {
  const { rows } = await db.query<DailyProofRow>(`SELECT ${PROOF_COLUMNS} FROM daily_proofs WHERE statement_id = ANY($1::bigint[])`, [statementIds]);
  return statementIds.map((id) => rows.find((r) => r.statementId === id) ?? null);
}

export async function proofsOf(db: Queryable, account: string, from: string, to: string): Promise<DailyProofRow[]> {
  return (await db.query<DailyProofRow>(
    `SELECT ${PROOF_COLUMNS} FROM daily_proofs WHERE account = $1 AND statement_date BETWEEN $2 AND $3 ORDER BY statement_date`, [account, from, to],
  )).rows;
}

export async function report(db: Queryable, account: string, date: string): Promise<ReconciliationReportRow> {
  const [proof] = await proofsOf(db, account, date, date);
  const { rows: [counts] } = await db.query<{ entries: number; matched: number; pending: number }>(
    `SELECT count(*)::int AS entries, count(*) FILTER (WHERE st.state IN ('MATCHED', 'RESOLVED'))::int AS matched,
            count(*) FILTER (WHERE st.state = 'PENDING')::int AS pending
       FROM ${ENTRIES} WHERE e.account = $1 AND e.booking_date = $2`,
    [account, date],
  );
  const { rows: openExceptions } = await db.query<{ kind: ExceptionKind; count: number; amountFen: number }>(
    `SELECT kind, count(*)::int AS count, sum(amount_fen)::bigint AS "amountFen" FROM reconciliation_exceptions
      WHERE account = $1 AND occurred_on = $2 AND status = 'OPEN' GROUP BY kind ORDER BY kind`,
    [account, date],
  );
  return { account, date, proof: proof ?? null, ...counts!, openExceptions };
}

export async function listRuns(db: Queryable, account: string | null, page: Page): Promise<ReconciliationRunRow[]> {
  const p = new Params();
  const keyset = keysetSql(p, NEWEST_FIRST, page);
  return (await db.query<ReconciliationRunRow>(
    `SELECT ${RUN_COLUMNS} FROM reconciliation_runs ${where(p, [account ? `account = ${p.add(account)}` : null], keyset)} ${orderAndLimit(p, keyset, page)}`, p.values,
  )).rows;
}

export async function countRuns(db: Queryable, account: string | null): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM reconciliation_runs WHERE $1::text IS NULL OR account = $1`, [account]);
  return rows[0]!.n;
}

export async function runsByIds(db: Queryable, ids: readonly number[]): Promise<ReconciliationRunRow[]> {
  return (await db.query<ReconciliationRunRow>(`SELECT ${RUN_COLUMNS} FROM reconciliation_runs WHERE id = ANY($1::bigint[])`, [ids])).rows;
}

// ---------------------------------------------------------------- counts

export async function pendingEntryCount(db: Queryable, account: string): Promise<number> {
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM statement_entry_states WHERE account = $1 AND state = 'PENDING'`, [account])).rows[0]!.n;
}

/** Entries accounted for (matched, or resolved by a person) and open exceptions, over all accounts. */
export async function reconciledCounts(db: Queryable): Promise<{ reconciled: number; exceptions: number }> {
  const { rows: [counts] } = await db.query<{ reconciled: number; exceptions: number }>(
    `SELECT (SELECT count(*)::int FROM statement_entry_states WHERE state IN ('MATCHED', 'RESOLVED')) AS reconciled,
            (SELECT count(*)::int FROM reconciliation_exceptions WHERE status = 'OPEN') AS exceptions`,
  );
  return counts!;
}

/** Open exceptions per kind, over all accounts. */
export async function openExceptionKinds(db: Queryable): Promise<{ kind: ExceptionKind; n: number }[]> {
  return (await db.query<{ kind: ExceptionKind; n: number }>(
    `SELECT kind, count(*)::int AS n FROM reconciliation_exceptions WHERE status = 'OPEN' GROUP BY kind ORDER BY kind`,
  )).rows;
}

/** Every unit's plan years with enrolments, with what the unit's transfer names (its credit code and name). */
export async function enrolledUnitYears(db: Queryable): Promise<{ unitId: number; planYear: number; creditCode: string; name: string }[]> {
  return (await db.query<{ unitId: number; planYear: number; creditCode: string; name: string }>(
    `SELECT DISTINCT e.unit_id AS "unitId", e.plan_year AS "planYear", u.credit_code AS "creditCode", u.name
       FROM enrolments e JOIN units u ON u.id = e.unit_id ORDER BY 1, 2`,
  )).rows;
}
