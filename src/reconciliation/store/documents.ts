import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Iso20022Problem } from '../../banks/iso20022/xml.ts';
import { copyLine } from '../../db/copy.ts';
import { statusesInto } from '../../kernel/transitions.ts';
import type { Queryable, Tx } from '../../kernel/transaction.ts';
import { DOCUMENT_TRANSITIONS, type DocumentKind, type DocumentSource, type DocumentStatus, type EntryRecord, type StatementRecord } from '../model.ts';

/** Bank documents and what they report: the documents kept whole, statements per account and day, booked entries once each. */

/** The bank's seal, or a second person's confirmation. */
const TRUSTED = '(sealed_by IS NOT NULL OR confirmed_by IS NOT NULL) AS trusted';

/**
 * The statuses a document may move to `to` from. Every status update is guarded by them: a run that
 * read the document before another moved it on writes nothing, where the database's trigger (0034)
 * would fail it.
 */
const movingTo = (to: DocumentStatus): DocumentStatus[] => statusesInto(DOCUMENT_TRANSITIONS, to);

export interface NewDocument {
  kind: DocumentKind | null;
  xml: string;
  sha256: Buffer;
  seal: Buffer | null;
  sealedBy: string | null;
  sealProblem: string | null;
  source: DocumentSource;
  fileName: string | null;
  receivedBy: string;
}

/**
 * Stores a document once per content (sha256): the stored one's id and status, and whether this
 * call inserted it. The same bytes arriving with the bank's verified seal make a waiting copy sealed
 * (and so trusted).
 */
export async function storeDocument(tx: Tx, d: NewDocument): Promise<{ id: number; status: DocumentStatus; trusted: boolean; inserted: boolean }> {
  const { rows } = await tx.query<{ id: number; status: DocumentStatus; trusted: boolean; inserted: boolean }>(
    `INSERT INTO bank_documents (kind, xml, sha256, seal, sealed_by, seal_problem, source, file_name, received_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (sha256) DO UPDATE SET seal = excluded.seal, sealed_by = excluded.sealed_by, seal_problem = NULL
      WHERE bank_documents.sealed_by IS NULL AND excluded.sealed_by IS NOT NULL
     RETURNING id, status, ${TRUSTED}, xmax = 0 AS inserted`,
    [d.kind, d.xml, d.sha256, d.seal, d.sealedBy, d.sealProblem, d.source, d.fileName, d.receivedBy],
  );
  if (rows[0]) return rows[0];
  const stored = (await tx.query<{ id: number; status: DocumentStatus; trusted: boolean }>(
    `SELECT id, status, ${TRUSTED} FROM bank_documents WHERE sha256 = $1`, [d.sha256],
  )).rows[0]!;
  return { ...stored, inserted: false };
}

/** The status of the document with these bytes, if stored. */
export async function documentStatus(db: Queryable, sha256: Buffer): Promise<DocumentStatus | null> {
  return (await db.query<{ status: DocumentStatus }>('SELECT status FROM bank_documents WHERE sha256 = $1', [sha256])).rows[0]?.status ?? null;
}

export interface DocumentToConfirm {
  status: DocumentStatus;
  receivedBy: string;
  sha256: Buffer;
  kind: DocumentKind | null;
  msgId: string | null;
  entries: number;
}

export async function lockDocumentToConfirm(tx: Tx, documentId: number): Promise<DocumentToConfirm | null> {
  return (await tx.query<DocumentToConfirm>(
    `SELECT status, received_by AS "receivedBy", sha256, kind, msg_id AS "msgId", entries FROM bank_documents WHERE id = $1 FOR UPDATE`, [documentId],
  )).rows[0] ?? null;
}

/** A second person vouched for it: RECEIVED again, to be processed as a trusted document. The caller holds its lock and checked its status. */
export async function markDocumentConfirmed(tx: Tx, documentId: number, confirmedBy: string, reason: string): Promise<void> {
  await tx.query(
    `UPDATE bank_documents SET status = 'RECEIVED', confirmed_by = $2, confirmed_at = now(), confirmation_reason = $3 WHERE id = $1 AND status = ANY($4::text[])`,
    [documentId, confirmedBy, reason, movingTo('RECEIVED')],
  );
}

/**
 * A stored document to process: its bytes and their hash, status, whether it is trusted (the bank's seal, or a
 * second person's confirmation) and whether a second person confirmed it.
 */
export async function documentToProcess(db: Queryable, documentId: number): Promise<{ xml: string; sha256: Buffer; status: DocumentStatus; trusted: boolean; confirmed: boolean } | null> {
  return (await db.query<{ xml: string; sha256: Buffer; status: DocumentStatus; trusted: boolean; confirmed: boolean }>(
    `SELECT xml, sha256, status, ${TRUSTED}, confirmed_by IS NOT NULL AS confirmed FROM bank_documents WHERE id = $1`, [documentId],
  )).rows[0] ?? null;
}

export async function documentExists(db: Queryable, documentId: number): Promise<boolean> {
  return Boolean((await db.query('SELECT 1 FROM bank_documents WHERE id = $1', [documentId])).rowCount);
}

/** Documents stored and not processed (a worker died, or the XSDs could not be read). */
export async function receivedDocumentIds(db: Queryable): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM bank_documents WHERE status = 'RECEIVED' ORDER BY id`);
  return rows.map((r) => r.id);
}

/** False when it was accepted, confirmed or sealed since it was read: a trusted document waits for nobody. */
export async function markAwaitingConfirmation(db: Queryable, documentId: number, kind: DocumentKind, msgId: string, entries: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE bank_documents SET status = 'AWAITING_CONFIRMATION', kind = $2, msg_id = $3, problems = '[]', entries = $4, processed_at = now()
      WHERE id = $1 AND status = ANY($5::text[]) AND sealed_by IS NULL AND confirmed_by IS NULL`,
    [documentId, kind, msgId, entries, movingTo('AWAITING_CONFIRMATION')],
  );
  return Boolean(rowCount);
}

/** False when another run accepted it meanwhile. */
export async function markAccepted(tx: Tx, documentId: number, kind: DocumentKind, msgId: string, entries: number, entriesNew: number): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE bank_documents SET status = 'ACCEPTED', kind = $2, msg_id = $3, problems = '[]', entries = $4, entries_new = $5, processed_at = now()
      WHERE id = $1 AND status = ANY($6::text[])`,
    [documentId, kind, msgId, entries, entriesNew, movingTo('ACCEPTED')],
  );
  return Boolean(rowCount);
}

/** False when another run accepted it meanwhile. */
export async function markRejected(db: Queryable, documentId: number, kind: DocumentKind | null, msgId: string | null, problems: readonly Iso20022Problem[]): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE bank_documents SET status = 'REJECTED', kind = COALESCE($2, kind), msg_id = COALESCE($3, msg_id), problems = $4, processed_at = now()
      WHERE id = $1 AND status = ANY($5::text[])`,
    [documentId, kind, msgId, JSON.stringify(problems), movingTo('REJECTED')],
  );
  return Boolean(rowCount);
}

export interface DocumentSummary {
  status: Exclude<DocumentStatus, 'RECEIVED'>;
  kind: DocumentKind | null;
  msgId: string | null;
  entries: number;
  entriesNew: number;
  problems: Iso20022Problem[];
}

/** What a processed document came to (read back for a duplicate). */
export async function documentSummary(db: Queryable, documentId: number): Promise<DocumentSummary> {
  const { rows } = await db.query<DocumentSummary>(
    'SELECT status, kind, msg_id AS "msgId", entries, entries_new AS "entriesNew", problems FROM bank_documents WHERE id = $1',
    [documentId],
  );
  return rows[0]!;
}

/** Lets the planner know a large statement changed the table's make-up (as the tables' owner: migration 0075). */
export async function analyzeEntries(db: Queryable): Promise<void> {
  await db.query(`SELECT analyze_tables('statement_entries', 'statement_entry_states')`);
}

// ---------------------------------------------------------------- statements

export async function lockStatement(tx: Tx, account: string, date: string): Promise<{ id: number; final: boolean } | null> {
  return (await tx.query<{ id: number; final: boolean }>(
    'SELECT id, final FROM bank_statements WHERE account = $1 AND statement_date = $2 FOR UPDATE', [account, date],
  )).rows[0] ?? null;
}

export async function insertStatement(tx: Tx, documentId: number, s: StatementRecord): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO bank_statements (account, statement_date, statement_ref, document_id, bank_created_at, final, opening_fen, closing_fen)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [s.account, s.date, s.ref, documentId, s.createdAt, s.final, s.openingFen, s.closingFen],
  );
  return rows[0]!.id;
}

/** Up to 5 keys of bookings the stored statement lists and `keys` does not. */
export async function droppedBookings(tx: Tx, statementId: number, keys: readonly string[]): Promise<string[]> {
  const { rows } = await tx.query<{ key: string }>(
    `SELECT account_servicer_ref AS key FROM statement_entries WHERE statement_id = $1 AND NOT (account_servicer_ref = ANY($2::text[])) ORDER BY id LIMIT 5`,
    [statementId, keys],
  );
  return rows.map((r) => r.key);
}

export async function updateStatement(tx: Tx, statementId: number, documentId: number, s: StatementRecord): Promise<void> {
  await tx.query(
    `UPDATE bank_statements SET statement_ref = $2, document_id = $3, bank_created_at = $4, final = $5, opening_fen = $6, closing_fen = $7, updated_at = now()
      WHERE id = $1`,
    [statementId, s.ref, documentId, s.createdAt, s.final, s.openingFen, s.closingFen],
  );
}

/** The statements of an account from `from` to `to` with their entry counts (to tell a reissued intraday statement). */
export async function storedStatements(db: Queryable, account: string, from: string, to: string): Promise<{ date: string; final: boolean; closingFen: number | null; entries: number }[]> {
  const { rows } = await db.query<{ date: string; final: boolean; closingFen: number | null; entries: number }>(
    `SELECT s.statement_date AS date, s.final, s.closing_fen AS "closingFen", (SELECT count(*)::int FROM statement_entries e WHERE e.statement_id = s.id) AS entries
       FROM bank_statements s WHERE s.account = $1 AND s.statement_date BETWEEN $2 AND $3`,
    [account, from, to],
  );
  return rows;
}

// ---------------------------------------------------------------- entries

/**
 * Stores entries none of which is stored yet (the caller holds their accounts' lock and looked:
 * `storedBookings`), by COPY; `statementIds[i]` is entry i's statement. The unique key still
 * refuses a booking stored twice.
 */
export async function copyEntries(tx: Tx, documentId: number, entries: readonly EntryRecord[], statementIds: readonly (number | null)[]): Promise<void> {
  if (entries.length === 0) return;
  // Formatted a slice at a time as COPY asks for more, not as one string of the whole statement.
  function* lines(): Generator<string> {
    for (let from = 0; from < entries.length; from += COPY_SLICE) {
      let slice = '';
      for (let i = from; i < Math.min(from + COPY_SLICE, entries.length); i += 1) {
        const e = entries[i]!;
        slice += copyLine([
          e.account, e.key, statementIds[i] ?? null, documentId, e.creditDebit, e.amountFen, e.bookingDate, e.valueDate, e.transactionCode, JSON.stringify(e.entry),
        ]);
      }
      yield slice;
    }
  }
  await pipeline(Readable.from(lines()), tx.query(copyFrom(
    'COPY statement_entries (account, account_servicer_ref, statement_id, document_id, credit_debit, amount_fen, booking_date, value_date, transaction_code, entry) FROM STDIN',
  )));
}

const COPY_SLICE = 2_000;

export interface StoredBooking {
  id: number;
  account: string;
  key: string;
  creditDebit: string;
  amountFen: number;
  bookingDate: string;
  statementId: number | null;
  statementDate: string | null;
}

/** The stored entries of these bookings (by account and key), with the day of the statement listing each. */
export async function storedBookings(tx: Tx, bookings: readonly { account: string; key: string }[]): Promise<StoredBooking[]> {
  const { rows } = await tx.query<StoredBooking>(
    `SELECT e.id, e.account, e.account_servicer_ref AS key, e.credit_debit AS "creditDebit", e.amount_fen AS "amountFen",
            e.booking_date AS "bookingDate", e.statement_id AS "statementId", s.statement_date AS "statementDate"
       FROM statement_entries e LEFT JOIN bank_statements s ON s.id = e.statement_id
      WHERE (e.account, e.account_servicer_ref) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [bookings.map((e) => e.account), bookings.map((e) => e.key)],
  );
  return rows;
}

/** Puts entries no statement listed yet on the statement that lists them (`statementIds[i]` for `entryIds[i]`). */
export async function adoptEntries(tx: Tx, entryIds: readonly number[], statementIds: readonly number[]): Promise<void> {
  await tx.query(
    `UPDATE statement_entries e SET statement_id = t.statement_id FROM unnest($1::bigint[], $2::bigint[]) AS t(id, statement_id) WHERE e.id = t.id`,
    [entryIds, statementIds],
  );
}

/** Up to 5 entries stored from a notification on these days that the day's final, balanced statement does not list. */
export async function unlistedBookings(tx: Tx, days: readonly { account: string; date: string }[]): Promise<{ key: string; account: string; date: string }[]> {
  const { rows } = await tx.query<{ key: string; account: string; date: string }>(
    `SELECT e.account_servicer_ref AS key, e.account, e.booking_date::text AS date
       FROM statement_entries e JOIN bank_statements s ON s.account = e.account AND s.statement_date = e.booking_date
      WHERE e.statement_id IS NULL AND s.final AND s.opening_fen IS NOT NULL AND s.closing_fen IS NOT NULL
        AND (e.account, e.booking_date) IN (SELECT * FROM unnest($1::text[], $2::date[]))
      ORDER BY e.id LIMIT 5`,
    [days.map((d) => d.account), days.map((d) => d.date)],
  );
  return rows;
}
