import { canMove } from '../kernel/transitions.ts';
import { createHash } from 'node:crypto';
import { checkSealedBy, type SealCheck, type SealedBy } from '../banks/adapter.ts';
import { parseCamt053, parseCamt054, type Camt053Message, type Camt054Message } from '../banks/iso20022/camt.ts';
import { declarationProblem, Iso20022Error, type Iso20022Problem } from '../banks/iso20022/xml.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { ConfigError } from '../config.ts';
import { inTransaction } from '../db/pool.ts';
import { conflict, forbidden, invalid, notFound, type DomainError } from '../kernel/errors.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { documentKind, recordsOf, type NamedAccount } from './documents.ts';
import { DOCUMENT_TRANSITIONS, type DocumentKind, type DocumentRecords, type DocumentSource, type DocumentStatus, type EntryRecord } from './model.ts';
import * as store from './store/documents.ts';
import { foreignAccounts, lockAccounts } from './store/runs.ts';
import { ANALYZE_AFTER, timed, type StepTimes } from './steps.ts';
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
 *
 * And only of the hub's own accounts: a document naming any other account (a statement's or
 * notification's `Acct/Id`) is refused whole at receipt, sealed or not, before it waits for
 * anyone, so no foreign credit with a `MAH<year><unit>` reference becomes a unit's contribution.
 * The hub's accounts are those configured (`IngestOptions.accounts`), every funder's and those
 * payouts are paid from; not merely those statements came for before. Refused, it is kept
 * REJECTED and accepted when processed again once the account is the hub's.
 */

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
  /**
   * The hub's configured accounts (ReconciliationSettings.accounts, `configuredAccounts`:
   * RECONCILIATION_ACCOUNTS, default PAYOUT_ACCOUNT). With every funder's and those payouts are
   * paid from, the only accounts a document may be about; a document naming another is refused.
   */
  accounts: readonly string[];
  /** Where the XSDs are (ISO20022_XSD_DIR). */
  xsdDir?: string;
  /** Adds the milliseconds of each step here (benchmarks); the schema check overlaps storing and parsing. */
  steps?: StepTimes;
}

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
export async function receiveDocument(db: Db, document: IncomingDocument, options: IngestOptions): Promise<DocumentOutcome> {
  const sha256 = createHash('sha256').update(document.xml, 'utf8').digest();
  // The schema check runs on a worker thread while the document is stored and parsed; what it finds counts once the document is stored.
  const schema = (await store.documentStatus(db, sha256)) === 'ACCEPTED' ? null : schemaCheck(document.xml, options);
  const stored = await timed(options.steps, 'storeDocument', () => inTransaction(db, async (tx) => {
    const row = await store.storeDocument(tx, {
      kind: documentKind(document.xml), xml: document.xml, sha256, seal: document.seal ?? null, sealedBy: document.sealedBy ?? null,
      sealProblem: document.sealProblem ?? null, source: document.source, fileName: document.fileName ?? null, receivedBy: document.receivedBy,
    });
    if (document.source !== 'BANK') {
      await recordAudit(tx, { subject: document.receivedBy, role: document.role ?? 'CLI' }, {
        action: document.source === 'UPLOAD' ? 'bank_document.upload' : 'bank_document.import', targetType: 'BankDocument', targetId: String(row.id),
        details: {
          sha256: sha256.toString('hex'), kind: documentKind(document.xml), fileName: document.fileName ?? null, duplicate: !row.inserted,
          seal: document.sealedBy ? `verified: ${document.sealedBy}` : document.sealProblem ? `refused: ${document.sealProblem}` : 'none',
        },
      });
    }
    return row;
  }));
  if (stored.status !== 'ACCEPTED') return processXml(db, { id: stored.id, sha256 }, document.xml, stored.trusted, schema ?? schemaCheck(document.xml, options), options);
  return acceptedBefore(db, stored.id);
}

/**
 * Why `actor` may not confirm a document now, or null: it waits AWAITING_CONFIRMATION and they did
 * not hand it in. confirmDocument throws it; BankDocument.viewerCanConfirm shows it (with the role).
 */
export function confirmationRefusal(actor: Pick<Actor, 'subject'>, document: { status: DocumentStatus; receivedBy: string }): DomainError | null {
  if (!canMove(DOCUMENT_TRANSITIONS, document.status, 'RECEIVED')) {
    return conflict(`input.documentId: is ${document.status}: only a document AWAITING_CONFIRMATION is confirmed`, 'input.documentId');
  }
  return document.receivedBy === actor.subject ? forbidden('input.documentId: you handed this document in: a second person must confirm it') : null;
}

/**
 * A second person vouches for a document that waits without the bank's seal (they checked it
 * against the bank's own records); audited with the reason. It is then processed as a sealed one.
 */
export async function confirmDocument(db: Db, actor: Actor, documentId: number, reason: string, options: IngestOptions): Promise<DocumentOutcome> {
  if (reason.trim().length < 4) throw invalid('input.reason', 'say how the document was checked against the bank (at least 4 characters)');
  const confirmed = await inTransaction(db, async (tx) => {
    const row = await store.lockDocumentToConfirm(tx, documentId);
    if (!row) throw notFound('bank document', 'input.documentId');
    const refusal = confirmationRefusal(actor, row);
    if (refusal) throw refusal;
    await store.markDocumentConfirmed(tx, documentId, actor.subject, reason.trim());
    await recordAudit(tx, actor, {
      action: 'bank_document.confirm', targetType: 'BankDocument', targetId: String(documentId), reason: reason.trim(),
      details: { sha256: row.sha256.toString('hex'), kind: row.kind, msgId: row.msgId, entries: row.entries, receivedBy: row.receivedBy },
    });
    return row;
  });
  // Parsed at receipt by this process: stored from that parse, without reading the document back. Its
  // accounts were the hub's then, and still are: the configuration is the process's, funders are
  // never removed nor change account, and payout batches stay.
  const parsed = awaitingConfirmation.take(documentId, confirmed.sha256);
  return parsed ? storeParsed(db, documentId, parsed.kind, parsed.records, options) : processDocument(db, documentId, options);
}

/** Checks, parses and stores a stored document (RECEIVED, or REJECTED being retried); ACCEPTED ones are left as they are. */
export async function processDocument(db: Db, documentId: number, options: IngestOptions): Promise<DocumentOutcome> {
  const row = await timed(options.steps, 'readDocument', () => store.documentToProcess(db, documentId));
  if (!row) throw new Error(`no bank document ${documentId}`);
  if (row.status === 'ACCEPTED') return acceptedBefore(db, documentId);
  // A confirmed document passed the schema before it could wait for confirmation: its bytes are the same.
  return processXml(db, { id: documentId, sha256: row.sha256 }, row.xml, row.trusted, row.confirmed ? Promise.resolve([]) : schemaCheck(row.xml, options), options);
}

/**
 * The schema check of a document, started on its worker thread. A rejection is handled where the
 * check is awaited (after the document is stored and parsed), not left unhandled meanwhile.
 */
function schemaCheck(xml: string, options: IngestOptions): Promise<Iso20022Problem[]> {
  const kind = documentKind(xml);
  const check = kind ? timed(options.steps, 'xsd', () => validateAgainstXsd(xml, kind, options.xsdDir)) : Promise.resolve([]);
  check.catch(() => undefined);
  return check;
}

async function processXml(
  db: Db, document: { id: number; sha256: Buffer }, xml: string, trusted: boolean, schema: Promise<Iso20022Problem[]>, options: IngestOptions,
): Promise<DocumentOutcome> {
  const documentId = document.id;
  const declared = declarationProblem(xml);
  if (declared) return reject(db, documentId, null, null, [declared]);
  const kind = documentKind(xml);
  if (!kind) return reject(db, documentId, null, null, [{ field: 'Document', reason: 'is not a camt.053.001.02 statement nor a camt.054.001.02 notification (by its namespace)' }]);

  // Parsed while the schema is checked; the schema's problems, if any, are the ones reported.
  let parsed: Camt053Message | Camt054Message | Iso20022Error;
  try {
    parsed = await timed(options.steps, 'parse', () => (kind === 'camt.053' ? parseCamt053(xml) : parseCamt054(xml)));
  } catch (error) {
    if (!(error instanceof Iso20022Error)) throw error;
    parsed = error;
  }
  let schemaProblems: Iso20022Problem[];
  try {
    schemaProblems = await schema;
  } catch (error) {
    if (error instanceof XsdUnavailableError) error.documentId = documentId;
    throw error;
  }
  if (schemaProblems.length > 0) return reject(db, documentId, kind, null, schemaProblems);
  if (parsed instanceof Iso20022Error) return reject(db, documentId, kind, null, parsed.problems);
  const message = parsed;
  const { records, problems, accounts } = recordsOf(kind, message);
  problems.push(...await notTheHubs(db, accounts, options.accounts));
  if (problems.length > 0) return reject(db, documentId, kind, message.msgId, problems);
  if (!trusted) {
    // Accepted, confirmed or sealed since it was read (the guard tells): processed as it is now, not sent back to wait.
    if (!await store.markAwaitingConfirmation(db, documentId, kind, records.msgId, records.entries.length)) return processDocument(db, documentId, options);
    awaitingConfirmation.keep(documentId, document.sha256, kind, records);
    return { documentId, status: 'AWAITING_CONFIRMATION', duplicate: false, kind, msgId: records.msgId, entries: records.entries.length, entriesNew: 0, accounts: [], problems: [] };
  }
  // Sealed by the bank since it waited: it waits no more.
  awaitingConfirmation.drop(documentId);
  return storeParsed(db, documentId, kind, records, options);
}

/**
 * A problem for each place the document names an account that is not the hub's: none of its
 * statements and entries may be stored, nor the document wait for confirmation.
 */
async function notTheHubs(db: Db, named: readonly NamedAccount[], configured: readonly string[]): Promise<Iso20022Problem[]> {
  const foreign = new Set(await foreignAccounts(db, configured, [...new Set(named.map((n) => n.account))]));
  return named.filter((n) => foreign.has(n.account)).map((n) => ({
    field: n.field,
    reason: `${n.account} is not an account of the hub: RECONCILIATION_ACCOUNTS, the paying account or a funder's; ` +
      'nothing of the document is stored. If it is the hub\'s, configure it (or record the funder it belongs to) and process the document again',
  }));
}

/** Stores the records of a trusted document that passed every check, or refuses it whole where it contradicts what is stored. */
async function storeParsed(db: Db, documentId: number, kind: DocumentKind, records: DocumentRecords, options: IngestOptions): Promise<DocumentOutcome> {
  try {
    const stored = await timed(options.steps, 'storeEntries', () => inTransaction(db, (tx) => storeRecords(tx, documentId, kind, records)));
    // A large statement changes the table's make-up at once: let the planner know before it is matched.
    if (stored.entriesNew >= ANALYZE_AFTER) await timed(options.steps, 'analyze', () => store.analyzeEntries(db));
    return { documentId, status: 'ACCEPTED', duplicate: false, kind, msgId: records.msgId, problems: [], ...stored };
  } catch (error) {
    if (error instanceof RecordsRefused) return reject(db, documentId, kind, records.msgId, error.problems);
    if (error instanceof AcceptedMeanwhile) return acceptedBefore(db, documentId);
    throw error;
  }
}

/**
 * What this process parsed of the documents waiting for confirmation, so that confirming one here
 * stores that parse instead of reading the document back and parsing it again. Used only for the
 * same bytes (sha256); bounded in entries (oldest dropped first) and in time: a document confirmed
 * later or by another process is read back and parsed as before.
 */
class ParsedDocuments {
  private readonly kept = new Map<number, { sha256: Buffer; kind: DocumentKind; records: DocumentRecords; expiry: NodeJS.Timeout }>();
  private entries = 0;

  constructor(private readonly maxEntries: number, private readonly keepMs: number) {}

  keep(documentId: number, sha256: Buffer, kind: DocumentKind, records: DocumentRecords): void {
    this.drop(documentId);
    if (records.entries.length > this.maxEntries) return;
    for (const [id] of this.kept) {
      if (this.entries + records.entries.length <= this.maxEntries) break;
      this.drop(id);
    }
    const expiry = setTimeout(() => this.drop(documentId), this.keepMs).unref();
    this.kept.set(documentId, { sha256, kind, records, expiry });
    this.entries += records.entries.length;
  }

  /** The kept parse of these bytes, no longer kept. */
  take(documentId: number, sha256: Buffer): { kind: DocumentKind; records: DocumentRecords } | null {
    const kept = this.kept.get(documentId);
    this.drop(documentId);
    return kept && kept.sha256.equals(sha256) ? kept : null;
  }

  drop(documentId: number): void {
    const kept = this.kept.get(documentId);
    if (!kept) return;
    clearTimeout(kept.expiry);
    this.kept.delete(documentId);
    this.entries -= kept.records.entries.length;
  }
}

// A 100,000-entry statement's parse is some 160 MB of memory.
const awaitingConfirmation = new ParsedDocuments(200_000, 15 * 60_000);

/** What the bank's documents say that contradicts what is stored: the whole document is refused. */
class RecordsRefused extends Error {
  constructor(readonly problems: Iso20022Problem[]) {
    super(problems.map((p) => `${p.field}: ${p.reason}`).join('; '));
  }
}

/** Another run accepted the document while this one stored it: what this one wrote is rolled back. */
class AcceptedMeanwhile extends Error {}

async function storeRecords(tx: Tx, documentId: number, kind: DocumentKind, records: DocumentRecords) {
  const accounts = [...new Set([...records.statements.map((s) => s.account), ...records.entries.map((e) => e.account)])].sort();
  await lockAccounts(tx, accounts);
  const problems: Iso20022Problem[] = [];

  const statementIds: number[] = [];
  for (const s of records.statements) {
    const keys = records.entries.filter((e) => e.statement === statementIds.length).map((e) => e.key);
    const existing = await store.lockStatement(tx, s.account, s.date);
    if (!existing) {
      statementIds.push(await store.insertStatement(tx, documentId, s));
      continue;
    }
    statementIds.push(existing.id);
    if (s.openingFen !== null && s.closingFen !== null) {
      // A full version of the day replaces the last one's figures, but may not lose a booking it listed.
      const dropped = await store.droppedBookings(tx, existing.id, keys);
      if (dropped.length > 0) {
        problems.push({ field: `statement ${s.account} ${s.date}`, reason: `no longer lists ${dropped.join(', ')}, which an earlier version of the day listed` });
      } else if (!existing.final || s.final) {
        await store.updateStatement(tx, existing.id, documentId, s);
      }
    }
  }

  // The accounts' lock keeps every other writer of their entries out: what is not stored now is new.
  const statementOf = (e: EntryRecord) => (e.statement === null ? null : statementIds[e.statement]!);
  const stored = new Map((await store.storedBookings(tx, records.entries)).map((r) => [`${r.account} ${r.key}`, r]));
  const fresh = records.entries.filter((e) => !stored.has(`${e.account} ${e.key}`));
  await store.copyEntries(tx, documentId, fresh, fresh.map(statementOf));
  const entriesNew = fresh.length;
  if (stored.size > 0) problems.push(...await checkKnownEntries(tx, records.entries.filter((e) => stored.has(`${e.account} ${e.key}`)), stored, statementOf, kind));
  if (problems.length === 0) problems.push(...await unlistedBookings(tx, records));
  if (problems.length > 0) throw new RecordsRefused(problems);
  if (!await store.markAccepted(tx, documentId, kind, records.msgId, records.entries.length, entriesNew)) throw new AcceptedMeanwhile();
  return { entries: records.entries.length, entriesNew, accounts };
}

/**
 * Bookings stored before (from a notification, or an earlier version of the statement) must be
 * reported the same way; a statement adopts those it lists that no statement listed yet.
 */
async function checkKnownEntries(
  tx: Tx, known: EntryRecord[], stored: ReadonlyMap<string, store.StoredBooking>, statementOf: (e: EntryRecord) => number | null, kind: DocumentKind,
): Promise<Iso20022Problem[]> {
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
  if (problems.length === 0 && adopt.length > 0) await store.adoptEntries(tx, adopt, adoptBy);
  return problems;
}

/**
 * A day's final statement lists every booking of the day: one stored from a notification that it
 * does not list means the two documents describe the booking differently (a reference only one of
 * them gives), and keeping both would count it twice. Whichever of the two comes second is
 * refused, naming the booking.
 */
async function unlistedBookings(tx: Tx, records: DocumentRecords): Promise<Iso20022Problem[]> {
  const days = new Map<string, { account: string; date: string }>();
  for (const { account, date } of [...records.statements, ...records.entries.map((e) => ({ account: e.account, date: e.bookingDate }))]) {
    days.set(`${account} ${date}`, { account, date });
  }
  const rows = await store.unlistedBookings(tx, [...days.values()]);
  return rows.map((r) => ({
    field: `entry ${r.key}`,
    reason: `was notified as booked on ${r.date}, but the final statement of ${r.account} for that day does not list it: the bank's documents describe the booking differently, and keeping both would count it twice`,
  }));
}

async function reject(db: Db, documentId: number, kind: DocumentKind | null, msgId: string | null, problems: Iso20022Problem[]): Promise<DocumentOutcome> {
  awaitingConfirmation.drop(documentId);
  // Only an ACCEPTED document may not be rejected: another run accepted it meanwhile.
  if (!await store.markRejected(db, documentId, kind, msgId, problems)) return acceptedBefore(db, documentId);
  return { documentId, status: 'REJECTED', duplicate: false, kind, msgId, entries: 0, entriesNew: 0, accounts: [], problems };
}

/** A document accepted before this run (the same bytes again, or by another run meanwhile): nothing changed. */
async function acceptedBefore(db: Db, documentId: number): Promise<DocumentOutcome> {
  return { documentId, ...(await store.documentSummary(db, documentId)), accounts: [], duplicate: true };
}
