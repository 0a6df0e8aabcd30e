import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { BatchAcknowledgement } from '../adapter.ts';
import type { CamtEntry } from '../iso20022/camtEntry.ts';

/**
 * The simulated bank's books: what it received, what it credited, what it booked on its
 * customers' accounts and the documents it issued. Kept in memory and, when a file is given,
 * written whole (to a temporary file, then renamed) after every change and before the answer
 * leaves: like a real bank, it commits first and answers afterwards.
 */

/** One credit to a payee, the oracle the tests and the fault harness count on. */
export interface LedgerCredit {
  endToEndId: string;
  msgId: string;
  pmtInfId: string;
  instructionId?: string;
  /** Our account the payout was debited from. */
  debtorAccount: string;
  /** The payee account credited. */
  account: string;
  creditorName: string;
  creditorAgent?: string;
  remittanceInfo: string[];
  amountFen: number;
  creditedAt: string;
  /** AcctSvcrRef of the booking (the debit on our statement). */
  bankReference: string;
  /** Set when the payee bank sent the money back (退票). */
  returned?: { at: string; reasonCode: string; additionalInfo?: string; bankReference: string };
}

export type PayeeAccountStatus = 'OPEN' | 'CLOSED' | 'INVALID';

/** A customer account of this bank (the union's paying and collecting accounts). */
export interface CustomerAccount {
  id: string;
  ownerName?: string;
  servicer?: string;
  /** The balance before the first booking the simulator made on it. */
  initialFen: number;
}

/** A booking on a customer account: the statement entry as the bank reports it. */
export interface Booking {
  account: string;
  date: string;
  entry: CamtEntry;
}

/** A document the bank issued, kept with its seal (base64 DER) so every answer repeats the same bytes. */
export interface IssuedDocument {
  id: string;
  /** The MsgId a status report answers, or the account a notification is about. */
  about: string;
  xml: string;
  seal: string;
}

export interface BatchRecord {
  msgId: string;
  /** SHA-256 of the file: the same MsgId with other content is not a repeat. */
  sha256: string;
  httpStatus: number;
  ack: BatchAcknowledgement;
  /** Indexes in `reports`. */
  finalReport: number;
  interimReport?: number;
  /** Status queries answered so far (the out-of-order fault answers the interim report to the second). */
  statusQueries: number;
}

export interface Books {
  version: 1;
  sequence: number;
  batches: Record<string, BatchRecord>;
  /** Every EndToEndId ever received in an accepted file, and what became of it. */
  endToEndIds: Record<string, { msgId: string; credited: boolean }>;
  credits: LedgerCredit[];
  accounts: Record<string, CustomerAccount>;
  payeeAccounts: Record<string, PayeeAccountStatus>;
  bookings: Booking[];
  reports: IssuedDocument[];
  notifications: IssuedDocument[];
}

export function emptyBooks(): Books {
  return {
    version: 1, sequence: 0, batches: {}, endToEndIds: {}, credits: [], accounts: {}, payeeAccounts: {}, bookings: [], reports: [], notifications: [],
  };
}

export function loadBooks(file: string | undefined): Books {
  if (!file || !existsSync(file)) return emptyBooks();
  const books = JSON.parse(readFileSync(file, 'utf8')) as Books;
  if (books.version !== 1) throw new Error(`${file}: not a bank simulator state file (version ${String(books.version)})`);
  return books;
}

export function saveBooks(file: string | undefined, books: Books): void {
  if (!file) return;
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(books));
  renameSync(temporary, file);
}

/** A starting balance between 50 and 60 million CNY, the same for the same seed and account. */
export function seededInitialFen(seed: number, account: string): number {
  const digest = createHash('sha256').update(`${seed}:${account}`).digest();
  return 5_000_000_000 + (digest.readUInt32BE(0) % 1_000_000_000);
}

export function sha256Hex(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}
