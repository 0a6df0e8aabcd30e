import type { Tx } from '../kernel/transaction.ts';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { checkSealedBy, type SealCheck, type SealedBy } from '../banks/adapter.ts';
import { parseCamt053, parseCamt054, type Camt053Message, type Camt054Message } from '../banks/iso20022/camt.ts';
import { declarationProblem, Iso20022Error, type Iso20022Problem } from '../banks/iso20022/xml.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { ConfigError } from '../config.ts';
import { inTransaction, type Queryable } from '../db/pool.ts';
import { documentKind, recordsOf, type DocumentKind, type DocumentRecords, type EntryRecord } from './documents.ts';
import { ResolutionError } from './resolve.ts';
import { lockAccounts } from './store.ts';
import { validateAgainstXsd, XsdUnavailableError } from './xsd.ts';

/**
 * Statement ingestion: a document is stored first (whole, with its seal), then checked against
 * the XSD, parsed and its entries stored once per booking: by the bank's account servicer reference,
 * or a key derived from the booking where the bank gave none (documents.ts). A document that
 * fails is kept REJECTED with every problem and can be processed again; one that succeeds is
 * ACCEPTED. The same bytes again change nothing; another document reporting the same bookings
 * (the day's camt.054 notifications, then its camt.053) adds only what is new.
 *
 * Documents are evidence, not commands: one without the bank's verified seal (an upload or a file
 * without one) is checked and parsed, then waits AWAITING_CONFIRMATION with nothing of it stored,
 * until a second person confirms it (`confirmDocument`). Every upload and import is audited.
 */

export type DocumentSource = 'BANK' | 'UPLOAD' | 'FILE';

export interface IncomingDocument {
  xml: string;
  source: DocumentSource;
  fileName?: string | null;
  /** Who handed it in: the uploader's subject, `cli`, or `bank` for the channel. */
  receivedBy: string;
  /** Their role, for the audit log (uploads and imports). */
  role?: string;
  /** The detached seal that came with it. */
  seal?: Buffer;
  /** The bank certificate's subject, only when `seal` was verified as the bank's (the adapter does for the channel). */
  sealedBy?: string;
  /** Why `seal` was refused. */
  sealProblem?: string;
}

export interface IngestOptions {
  /** Where the XSDs are (ISO20022_XSD_DIR). */
  xsdDir?: string;
}

export type DocumentStatus = 'RECEIVED' | 'AWAITING_CONFIRMATION' | 'ACCEPTED' | 'REJECTED';

export interface DocumentOutcome {
  documentId: number;
  /** AWAITING_CONFIRMATION: valid, not sealed by the bank; nothing of it is stored until a second person confirms it. */
  status: Exclude<DocumentStatus, 'RECEIVED'>;
  /** The same bytes were accepted before: nothing changed. */
  duplicate: boolean;
  kind: DocumentKind | null;
  msgId: string | null;
  /** Booked entries in the document, and how many of them the hub had not seen. */
  entries: number;
  entriesNew: number;
  /** Accounts whose entries it stored (to reconcile next). */
  accounts: string[];
  problems: Iso20022Problem[];
}

/** A detached seal a person handed in with a document: verified as the bank's, or kept with why it is not. */
export function handedInSeal(xml: string, seal: Buffer | null, bank: () => SealedBy): Pick<IncomingDocument, 'seal' | 'sealedBy' | 'sealProblem'> {
  if (!seal) return {};
  let check: SealCheck;
  try {
    check = checkSealedBy(Buffer.from(xml, 'utf8'), seal, bank());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    check = { valid: false, reason: `cannot be checked here: ${error.message}` };
  }
  return check.valid ? { seal, sealedBy: check.signer } : { seal, sealProblem: check.reason };
}

/** Stores and processes a document; the same bytes twice are one document (a rejected one is processed again). */
export async function receiveDocument(db: pg.Pool, document: IncomingDocument, options: IngestOptions = {}): Promise<DocumentOutcome> {
  const sha256 = createHash('sha256').update(document.xml, 'utf8').digest();
  const stored = await inTransaction(db, async (tx) => {
    // The same bytes arriving with the bank's verified seal make a waiting copy sealed (and so trusted).
    const { rows } = await tx.query<{ id: number; status: DocumentStatus; inserted: boolean }>(
      `INSERT INTO bank_documents (kind, xml, sha256, seal, sealed_by, seal_problem, source, file_name, received_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (sha256) DO UPDATE SET seal = excluded.seal, sealed_by = excluded.sealed_by, seal_problem = NULL
        WHERE bank_documents.sealed_by IS NULL AND excluded.sealed_by IS NOT NULL
       RETURNING id, status, xmax = 0 AS inserted`,
      [documentKind(document.xml), document.xml, sha256, document.seal ?? null, document.sealedBy ?? null, document.sealProblem ?? null,
        document.source, document.fileName ?? null, document.receivedBy],
    );
    const row = rows[0] ?? (await tx.query<{ id: number; status: DocumentStatus }>('SELECT id, status FROM bank_documents WHERE sha256 = $1', [sha256])).rows[0]!;
    if (document.source !== 'BANK') {
      await recordAudit(tx, { subject: document.receivedBy, role: document.role ?? 'CLI' }, {
        action: document.source === 'UPLOAD' ? 'bank_document.upload' : 'bank_document.import', targetType: 'BankDocument', targetId: String(row.id),
        details: {
          sha256: sha256.toString('hex'), kind: documentKind(document.xml), fileName: document.fileName ?? null, duplicate: rows[0]?.inserted !== true,
          seal: document.sealedBy ? `verified: ${document.sealedBy}` : document.sealProblem ? `refused: ${document.sealProblem}` : 'none',
        },
      });
    }
    return row;
  });
  if (stored.status !== 'ACCEPTED') return processDocument(db, stored.id, options);
  return { ...(await documentOutcome(db, stored.id)), duplicate: true };
}

/**
 * A second person vouches for a document that waits without the bank's seal (they checked it
 * against the bank's own records); audited with the reason. It is then processed as a sealed one.
 */
export async function confirmDocument(db: pg.Pool, actor: Actor, documentId: number, reason: string, options: IngestOptions = {}): Promise<DocumentOutcome> {
  if (reason.trim().length < 4) throw new ResolutionError('input.reason', 'say how the document was checked against the bank (at least 4 characters)');
  await inTransaction(db, async (tx) => {
    const row = (await tx.query<{ status: DocumentStatus; receivedBy: string; sha256: Buffer; kind: DocumentKind | null; msgId: string | null; entries: number }>(
      `SELECT status, received_by AS "receivedBy", sha256, kind, msg_id AS "msgId", entries FROM bank_documents WHERE id = $1 FOR UPDATE`, [documentId],
    )).rows[0];
    if (!row) throw new ResolutionError('input.id', 'no such bank document', 'NOT_FOUND');
    if (row.status !== 'AWAITING_CONFIRMATION') throw new ResolutionError('input.id', `is ${row.status}: only a document AWAITING_CONFIRMATION is confirmed`, 'CONFLICT');
    if (row.receivedBy === actor.subject) throw new ResolutionError('input.id', 'you handed this document in: a second person must confirm it', 'FORBIDDEN');
    await tx.query(
      `UPDATE bank_documents SET status = 'RECEIVED', confirmed_by = $2, confirmed_at = now(), confirmation_reason = $3 WHERE id = $1`,
      [documentId, actor.subject, reason.trim()],
    );
    await recordAudit(tx, actor, {
      action: 'bank_document.confirm', targetType: 'BankDocument', targetId: String(documentId), reason: reason.trim(),
      details: { sha256: row.sha256.toString('hex'), kind: row.kind, msgId: row.msgId, entries: row.entries, receivedBy: row.receivedBy },
    });
  });
  return processDocument(db, documentId, options);
}

/** Checks, parses and stores a stored document (RECEIVED, or REJECTED being retried); ACCEPTED ones are left as they are. */
export async function processDocument(db: pg.Pool, documentId: number, options: IngestOptions = {}): Promise<DocumentOutcome> {
  const row = (await db.query<{ xml: string; status: DocumentStatus; trusted: boolean }>(
    'SELECT xml, status, (sealed_by IS NOT NULL OR confirmed_by IS NOT NULL) AS trusted FROM bank_documents WHERE id = $1', [documentId],
  )).rows[0];
  if (!row) throw new Error(`no bank document ${documentId}`);
  if (row.status === 'ACCEPTED') return { ...(await documentOutcome(db, documentId)), duplicate: true };
  const { xml } = row;
  const declared = declarationProblem(xml);
  if (declared) return reject(db, documentId, null, null, [declared]);
  const kind = documentKind(xml);
  if (!kind) return reject(db, documentId, null, null, [{ field: 'Document', reason: 'is not a camt.053.001.02 statement nor a camt.054.001.02 notification (by its namespace)' }]);

  let schemaProblems: Iso20022Problem[];
  try {
    schemaProblems = await validateAgainstXsd(xml, kind, options.xsdDir);
  } catch (error) {
    if (error instanceof XsdUnavailableError) error.documentId = documentId;
    throw error;
  }
  if (schemaProblems.length > 0) return reject(db, documentId, kind, null, schemaProblems);
  let message: Camt053Message | Camt054Message;
  try {
    message = kind === 'camt.053' ? parseCamt053(xml) : parseCamt054(xml);
  } catch (error) {
    if (error instanceof Iso20022Error) return reject(db, documentId, kind, null, error.problems);
    throw error;
  }
  const { records, problems } = recordsOf(kind, message);
  if (problems.length > 0) return reject(db, documentId, kind, message.msgId, problems);
  if (!row.trusted) {
    await db.query(
      `UPDATE bank_documents SET status = 'AWAITING_CONFIRMATION', kind = $2, msg_id = $3, problems = '[]', entries = $4, processed_at = now() WHERE id = $1`,
      [documentId, kind, records.msgId, records.entries.length],
    );
    return { documentId, status: 'AWAITING_CONFIRMATION', duplicate: false, kind, msgId: records.msgId, entries: records.entries.length, entriesNew: 0, accounts: [], problems: [] };
  }
  try {
    const stored = await inTransaction(db, (tx) => storeRecords(tx, documentId, kind, records));
    // A large statement changes the table's make-up at once: let the planner know before it is matched.
    if (stored.entriesNew >= ANALYZE_AFTER) await db.query('ANALYZE statement_entries');
    return { documentId, status: 'ACCEPTED', duplicate: false, kind, msgId: records.msgId, problems: [], ...stored };
  } catch (error) {
    if (error instanceof RecordsRefused) return reject(db, documentId, kind, message.msgId, error.problems);
    throw error;
  }
}

/** What the bank's documents say that contradicts what is stored: the whole document is refused. */
class RecordsRefused extends Error {
  constructor(readonly problems: Iso20022Problem[]) {
    super(problems.map((p) => `${p.field}: ${p.reason}`).join('; '));
  }
}

const CHUNK = 2_000;
const ANALYZE_AFTER = 10_000;

async function storeRecords(tx: Tx, documentId: number, kind: DocumentKind, records: DocumentRecords) {
  const accounts = [...new Set([...records.statements.map((s) => s.account), ...records.entries.map((e) => e.account)])].sort();
  await lockAccounts(tx, accounts);
  const problems: Iso20022Problem[] = [];

  const statementIds: number[] = [];
  for (const s of records.statements) {
    const keys = records.entries.filter((e) => e.statement === statementIds.length).map((e) => e.key);
    const existing = (await tx.query<{ id: number; final: boolean }>(
      'SELECT id, final FROM bank_statements WHERE account = $1 AND statement_date = $2 FOR UPDATE', [s.account, s.date],
    )).rows[0];
    if (!existing) {
      const { rows } = await tx.query<{ id: number }>(
        `INSERT INTO bank_statements (account, statement_date, statement_ref, document_id, bank_created_at, final, opening_fen, closing_fen)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
        [s.account, s.date, s.ref, documentId, s.createdAt, s.final, s.openingFen, s.closingFen],
      );
      statementIds.push(rows[0]!.id);
      continue;
    }
    statementIds.push(existing.id);
    if (s.openingFen !== null && s.closingFen !== null) {
      // A full version of the day replaces the last one's figures, but may not lose a booking it listed.
      const { rows: dropped } = await tx.query<{ key: string }>(
        `SELECT account_servicer_ref AS key FROM statement_entries WHERE statement_id = $1 AND NOT (account_servicer_ref = ANY($2::text[])) ORDER BY id LIMIT 5`,
        [existing.id, keys],
      );
      if (dropped.length > 0) {
        problems.push({ field: `statement ${s.account} ${s.date}`, reason: `no longer lists ${dropped.map((d) => d.key).join(', ')}, which an earlier version of the day listed` });
      } else if (!existing.final || s.final) {
        await tx.query(
          `UPDATE bank_statements SET statement_ref = $2, document_id = $3, bank_created_at = $4, final = $5, opening_fen = $6, closing_fen = $7, updated_at = now()
            WHERE id = $1`,
          [existing.id, s.ref, documentId, s.createdAt, s.final, s.openingFen, s.closingFen],
        );
      }
    }
  }

  let entriesNew = 0;
  for (let from = 0; from < records.entries.length; from += CHUNK) {
    const chunk = records.entries.slice(from, from + CHUNK);
    const statementOf = (e: EntryRecord) => (e.statement === null ? null : statementIds[e.statement]!);
    const { rows: inserted } = await tx.query<{ account: string; key: string }>(
      `INSERT INTO statement_entries (account, account_servicer_ref, statement_id, document_id, credit_debit, amount_fen, booking_date, value_date, transaction_code, entry)
       SELECT account, ref, statement_id, $1, credit_debit, amount_fen, booking_date, value_date, code, entry
         FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::date[], $8::date[], $9::text[], $10::jsonb[])
              AS t(account, ref, statement_id, credit_debit, amount_fen, booking_date, value_date, code, entry)
       ON CONFLICT (account, account_servicer_ref) DO NOTHING
       RETURNING account, account_servicer_ref AS key`,
      [
        documentId, chunk.map((e) => e.account), chunk.map((e) => e.key), chunk.map(statementOf), chunk.map((e) => e.creditDebit),
        chunk.map((e) => e.amountFen), chunk.map((e) => e.bookingDate), chunk.map((e) => e.valueDate), chunk.map((e) => e.transactionCode),
        chunk.map((e) => JSON.stringify(e.entry)),
      ],
    );
    entriesNew += inserted.length;
    if (inserted.length === chunk.length) continue;
    const isNew = new Set(inserted.map((r) => `${r.account} ${r.key}`));
    const known = chunk.filter((e) => !isNew.has(`${e.account} ${e.key}`));
    problems.push(...await checkKnownEntries(tx, known, statementOf, kind));
  }
  if (problems.length === 0) problems.push(...await unlistedBookings(tx, records));
  if (problems.length > 0) throw new RecordsRefused(problems);
  await tx.query(
    `UPDATE bank_documents SET status = 'ACCEPTED', kind = $2, msg_id = $3, problems = '[]', entries = $4, entries_new = $5, processed_at = now() WHERE id = $1`,
    [documentId, kind, records.msgId, records.entries.length, entriesNew],
  );
  return { entries: records.entries.length, entriesNew, accounts };
}

/**
 * Bookings stored before (from a notification, or an earlier version of the statement) must be
 * reported the same way; a statement adopts those it lists that no statement listed yet.
 */
async function checkKnownEntries(tx: Queryable, known: EntryRecord[], statementOf: (e: EntryRecord) => number | null, kind: DocumentKind): Promise<Iso20022Problem[]> {
  const { rows } = await tx.query<{ id: number; account: string; key: string; creditDebit: string; amountFen: number; bookingDate: string; statementId: number | null; statementDate: string | null }>(
    `SELECT e.id, e.account, e.account_servicer_ref AS key, e.credit_debit AS "creditDebit", e.amount_fen AS "amountFen",
            e.booking_date AS "bookingDate", e.statement_id AS "statementId", s.statement_date AS "statementDate"
       FROM statement_entries e LEFT JOIN bank_statements s ON s.id = e.statement_id
      WHERE (e.account, e.account_servicer_ref) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [known.map((e) => e.account), known.map((e) => e.key)],
  );
  const stored = new Map(rows.map((r) => [`${r.account} ${r.key}`, r]));
  const problems: Iso20022Problem[] = [];
  const adopt: number[] = [];
  const adoptBy: number[] = [];
  for (const e of known) {
    const s = stored.get(`${e.account} ${e.key}`)!;
    const field = `entry ${e.key}`;
    if (s.creditDebit !== e.creditDebit || s.amountFen !== e.amountFen || s.bookingDate !== e.bookingDate) {
      problems.push({ field, reason: `is ${e.creditDebit} ${e.amountFen} fen on ${e.bookingDate} here, but was reported as ${s.creditDebit} ${s.amountFen} fen on ${s.bookingDate}` });
      continue;
    }
    const statementId = statementOf(e);
    if (kind !== 'camt.053' || statementId === null || s.statementId === statementId) continue;
    if (s.statementId !== null) problems.push({ field, reason: `is already on the statement of ${s.statementDate}` });
    else {
      adopt.push(s.id);
      adoptBy.push(statementId);
    }
  }
  if (problems.length === 0 && adopt.length > 0) {
    await tx.query(
      `UPDATE statement_entries e SET statement_id = t.statement_id FROM unnest($1::bigint[], $2::bigint[]) AS t(id, statement_id) WHERE e.id = t.id`,
      [adopt, adoptBy],
    );
  }
  return problems;
}

/**
 * A day's final statement lists every booking of the day: one stored from a notification that it
 * does not list means the two documents describe the booking differently (a reference only one of
 * them gives), and keeping both would count it twice. Whichever of the two comes second is
 * refused, naming the booking.
 */
async function unlistedBookings(tx: Queryable, records: DocumentRecords): Promise<Iso20022Problem[]> {
  const days = new Map<string, { account: string; date: string }>();
  for (const { account, date } of [...records.statements, ...records.entries.map((e) => ({ account: e.account, date: e.bookingDate }))]) {
    days.set(`${account} ${date}`, { account, date });
  }
  const { rows } = await tx.query<{ key: string; account: string; date: string }>(
    `SELECT e.account_servicer_ref AS key, e.account, e.booking_date::text AS date
       FROM statement_entries e JOIN bank_statements s ON s.account = e.account AND s.statement_date = e.booking_date
      WHERE e.statement_id IS NULL AND s.final AND s.opening_fen IS NOT NULL AND s.closing_fen IS NOT NULL
        AND (e.account, e.booking_date) IN (SELECT * FROM unnest($1::text[], $2::date[]))
      ORDER BY e.id LIMIT 5`,
    [[...days.values()].map((d) => d.account), [...days.values()].map((d) => d.date)],
  );
  return rows.map((r) => ({
    field: `entry ${r.key}`,
    reason: `was notified as booked on ${r.date}, but the final statement of ${r.account} for that day does not list it: the bank's documents describe the booking differently, and keeping both would count it twice`,
  }));
}

async function reject(db: Queryable, documentId: number, kind: DocumentKind | null, msgId: string | null, problems: Iso20022Problem[]): Promise<DocumentOutcome> {
  await db.query(
    `UPDATE bank_documents SET status = 'REJECTED', kind = COALESCE($2, kind), msg_id = COALESCE($3, msg_id), problems = $4, processed_at = now() WHERE id = $1`,
    [documentId, kind, msgId, JSON.stringify(problems)],
  );
  return { documentId, status: 'REJECTED', duplicate: false, kind, msgId, entries: 0, entriesNew: 0, accounts: [], problems };
}

async function documentOutcome(db: Queryable, documentId: number): Promise<Omit<DocumentOutcome, 'duplicate'>> {
  const { rows } = await db.query<{ status: DocumentOutcome['status']; kind: DocumentKind | null; msgId: string | null; entries: number; entriesNew: number; problems: Iso20022Problem[] }>(
    'SELECT status, kind, msg_id AS "msgId", entries, entries_new AS "entriesNew", problems FROM bank_documents WHERE id = $1',
    [documentId],
  );
  return { documentId, ...rows[0]!, accounts: [] };
}
