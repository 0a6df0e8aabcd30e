import { checkSealedBy, type BatchAcknowledgement, type SealedBy } from '../adapter.ts';
import { writeCamt053, writeCamt054 } from '../iso20022/camt.ts';
import type { CamtEntry } from '../iso20022/camtEntry.ts';
import { checkPain001, type Pain001Check } from '../iso20022/pain001.ts';
import { writePain002, type Pain002Report } from '../iso20022/pain002.ts';
import { Iso20022Error } from '../iso20022/xml.ts';
import { sealDocument, type Seal } from '../../seals/cms/seal.ts';
import {
  loadBooks, saveBooks, seededInitialFen, sha256Hex,
  type BatchRecord, type Books, type CustomerAccount, type IssuedDocument, type LedgerCredit, type PayeeAccountStatus,
} from './books.ts';
import {
  camtAccount, dailyStatement, finalReport, incomingEntry, interimReport, payoutEntry, rejectedFileReport, returnEntry,
  type IncomingCredit, type TransferOutcome,
} from './documents.ts';
import { readPain001Payments, type Pain001Payments, type PaymentInfoRead, type TransferRead } from './pain001Reader.ts';
import { chinaDateTime, isIsoDate } from '../../kernel/time.ts';

/**
 * The simulated bank, without HTTP: receives sealed pain.001 files, credits payees at most once
 * per EndToEndId, answers pain.002, books on its customers' accounts and writes camt.053/054.
 * Everything it issues is sealed with the bank's seal (`bankSeal`).
 *
 * Payee accounts are rejected by a fixed rule unless set otherwise (`setAccount`): a number
 * ending in 0004 is closed (AC04), one ending in 0001 is wrong (AC01).
 */

export interface SimulatedBankOptions {
  /** The bank's seal on everything it issues. */
  bankSeal: Seal;
  /** Whose seals on payment files the bank accepts (its customers' certificates and their CAs). */
  customers: SealedBy;
  /** Same seed, same starting balances of the customer accounts. */
  seed?: number;
  /** JSON file the books are kept in across restarts. */
  stateFile?: string;
  /** Business time (booking dates, report times); seals always carry the real time. */
  clock?: () => Date;
}

/** How the bank treats the next file (the HTTP fault switches that change documents, not the transport). */
export interface ReportFaults {
  /** Issue every status report twice (a second pain.002 with its own MsgId, same statuses). */
  answerTwice: boolean;
  /** Issue a stale interim report (ACTC, transactions PDNG) after the final one, and answer it to the second status query. */
  outOfOrder: boolean;
}

export interface Receipt {
  httpStatus: number;
  ack: BatchAcknowledgement;
}

export interface AccountRequest {
  account: string;
  status?: PayeeAccountStatus;
  initialFen?: number;
}

/** Money for one of our accounts; `date` (yyyy-MM-dd, default today) may be in the past. */
export interface CreditRequest extends IncomingCredit {
  account: string;
  date?: string;
}

/** `reason`: the ISO return reason code (default AC04). */
export interface ReturnRequest {
  endToEndId: string;
  reason?: string;
  additionalInfo?: string;
  date?: string;
}

/** A request the bank refuses, with the HTTP status to answer. */
export class BankRequestError extends Error {
  constructor(readonly httpStatus: number, message: string) {
    super(message);
  }
}

export const CLOSED_ACCOUNT_SUFFIX = '0004';
export const WRONG_ACCOUNT_SUFFIX = '0001';

export class SimulatedBank {
  private readonly books: Books;
  private readonly clock: () => Date;
  private readonly seed: number;

  constructor(private readonly options: SimulatedBankOptions) {
    this.books = loadBooks(options.stateFile);
    this.clock = options.clock ?? (() => new Date());
    this.seed = options.seed ?? 1;
  }

  // ------------------------------------------------------------ payment files

  /**
   * Takes a sealed pain.001. Refused without a trace: no seal, a seal that does not verify or is
   * not a customer's (403), an unreadable file or one whose MsgId is not `msgId` (400), a MsgId
   * already used for another file (409). Refused on the record (a pain.002 RJCT says why): a file
   * whose counts, sums or references are wrong (422). The same file again gets the first answer.
   */
  receive(msgId: string, file: Buffer, seal: Buffer | undefined, faults: ReportFaults): Receipt {
    const refuse = (httpStatus: number, code: string, reason: string): Receipt => ({ httpStatus, ack: { accepted: false, msgId, code, reason } });
    if (!seal || seal.length === 0) return refuse(400, 'DS0A', 'the file is not sealed: send its detached CMS seal (base64 DER) in the X-Seal header');
    const sealCheck = checkSealedBy(file, seal, this.options.customers);
    if (!sealCheck.valid) return refuse(403, 'DS0B', `the seal is refused: ${sealCheck.reason}`);

    const xml = file.toString('utf8');
    let check: Pain001Check;
    try {
      check = checkPain001(xml);
    } catch (error) {
      if (error instanceof Iso20022Error) return refuse(400, 'FF01', `not a readable pain.001.001.03: ${error.message}`);
      throw error;
    }
    if (check.msgId !== msgId) return refuse(400, 'FF01', `the file's MsgId is ${check.msgId}, not ${msgId}`);

    const sha256 = sha256Hex(file);
    const earlier = this.books.batches[msgId];
    if (earlier) {
      if (earlier.sha256 === sha256) return { httpStatus: earlier.httpStatus, ack: earlier.ack };
      return refuse(409, 'DU01', `MsgId ${msgId} was already received with other content on ${earlier.ack.receivedAt ?? '?'}; nothing of this file is executed`);
    }
    if (check.problems.length > 0) return this.refuseOnRecord(msgId, sha256, check);
    let payments: Pain001Payments;
    try {
      payments = readPain001Payments(xml);
    } catch (error) {
      if (error instanceof Iso20022Error) return refuse(400, 'FF01', `the bank cannot read this file: ${error.message}`);
      throw error;
    }
    return this.execute(payments, sha256, faults);
  }

  /** The file adds up wrong: recorded with a RJCT report, so a status query proves the refusal. */
  private refuseOnRecord(msgId: string, sha256: string, check: Pain001Check): Receipt {
    const field = check.problems[0]!.field;
    const code = field.endsWith('/CtrlSum') ? 'AM10' : field.endsWith('/NbOfTxs') ? 'AM18' : 'FF01';
    const reason = check.problems.map((p) => `${p.field}: ${p.reason}`).join('; ');
    const now = this.clock();
    const report = rejectedFileReport(this.nextId('SIMPSR'), chinaDateTime(now), msgId, code, reason);
    const ack: BatchAcknowledgement = { accepted: false, msgId, receivedAt: chinaDateTime(now), code, reason };
    this.books.batches[msgId] = { msgId, sha256, httpStatus: 422, ack, finalReport: this.issueReport(msgId, report), statusQueries: 0 };
    this.save();
    return { httpStatus: 422, ack };
  }

  private execute(file: Pain001Payments, sha256: string, faults: ReportFaults): Receipt {
    const now = this.clock();
    const createdAt = chinaDateTime(now);
    const date = createdAt.slice(0, 10);
    // Everything is written (and every writer's check passed) before anything is committed.
    const outcomes = new Map<string, TransferOutcome>();
    const credits: LedgerCredit[] = [];
    const commits: (() => void)[] = [];
    try {
      for (const info of file.paymentInfos) {
        const paid: LedgerCredit[] = [];
        for (const tx of info.transactions) {
          const { outcome, credit } = this.transfer(file.msgId, info, tx, createdAt);
          outcomes.set(tx.endToEndId, outcome);
          if (credit) paid.push(credit);
        }
        credits.push(...paid);
        const account = { ...this.accountOrNew(info.debtor.account), ownerName: info.debtor.name, ...optionalServicer(info.debtor.agent) };
        commits.push(this.prepareBooking(account, date, paid.map((credit) => payoutEntry(credit, date))));
      }
    } catch (error) {
      if (error instanceof Iso20022Error) return { httpStatus: 400, ack: { accepted: false, msgId: file.msgId, code: 'FF01', reason: `the bank cannot book this file: ${error.message}` } };
      throw error;
    }

    const header = { createdAt, file };
    const record: BatchRecord = {
      msgId: file.msgId,
      sha256,
      httpStatus: 200,
      ack: { accepted: true, msgId: file.msgId, bankReference: this.nextId('SIMB'), receivedAt: createdAt },
      finalReport: -1,
      statusQueries: 0,
    };
    // The interim report is dated at receipt, a second before the final one.
    const interim = faults.outOfOrder ? interimReport({ ...header, msgId: this.nextId('SIMPSR'), createdAt: chinaDateTime(new Date(now.getTime() - 1000)) }) : undefined;
    record.finalReport = this.issueReport(file.msgId, finalReport({ ...header, msgId: this.nextId('SIMPSR') }, outcomes), faults.answerTwice);
    // Out of order: issued after the final report, though older.
    if (interim) record.interimReport = this.issueReport(file.msgId, interim, faults.answerTwice);

    for (const outcome of outcomes.values()) {
      if (outcome.credited || outcome.reasonCode !== 'AM05') this.books.endToEndIds[outcome.endToEndId] = { msgId: file.msgId, credited: outcome.credited };
    }
    this.books.credits.push(...credits);
    for (const commit of commits) commit();
    this.books.batches[file.msgId] = record;
    this.save();
    return { httpStatus: 200, ack: record.ack };
  }

  /**
   * One transaction's outcome, nothing committed: never credited twice, whatever file it comes
   * in; rejected for a closed or wrong payee account.
   */
  private transfer(msgId: string, info: PaymentInfoRead, tx: TransferRead, creditedAt: string): { outcome: TransferOutcome; credit?: LedgerCredit } {
    const ids = { endToEndId: tx.endToEndId, ...(tx.instructionId === undefined ? {} : { instructionId: tx.instructionId }) };
    const reject = (reasonCode: string, additionalInfo: string) => ({ outcome: { ...ids, credited: false as const, reasonCode, additionalInfo } });
    const seen = this.books.endToEndIds[tx.endToEndId];
    if (seen) return reject('AM05', `duplication: EndToEndId ${tx.endToEndId} was already received in MsgId ${seen.msgId}${seen.credited ? ' and credited' : ''}`);
    const status = this.payeeStatus(tx.creditor.account);
    if (status === 'CLOSED') return reject('AC04', 'closed account number (收款账户已销户)');
    if (status === 'INVALID') return reject('AC01', 'incorrect account number (收款账号不存在)');
    const credit: LedgerCredit = {
      endToEndId: tx.endToEndId,
      msgId,
      pmtInfId: info.pmtInfId,
      ...(tx.instructionId === undefined ? {} : { instructionId: tx.instructionId }),
      debtorAccount: info.debtor.account,
      account: tx.creditor.account,
      creditorName: tx.creditor.name,
      ...(tx.creditor.agent === undefined ? {} : { creditorAgent: tx.creditor.agent }),
      remittanceInfo: tx.remittanceInfo,
      amountFen: tx.amountFen,
      creditedAt,
      bankReference: this.nextId('SIMD'),
    };
    return { outcome: { ...ids, credited: true, bankReference: credit.bankReference }, credit };
  }

  private payeeStatus(account: string): PayeeAccountStatus {
    const set = this.books.payeeAccounts[account];
    if (set) return set;
    if (account.endsWith(CLOSED_ACCOUNT_SUFFIX)) return 'CLOSED';
    if (account.endsWith(WRONG_ACCOUNT_SUFFIX)) return 'INVALID';
    return 'OPEN';
  }

  // ------------------------------------------------------------ status

  /** The report answering a status query for MsgId, or null when the bank never received that file. */
  statusReport(msgId: string): IssuedDocument | null {
    const batch = this.books.batches[msgId];
    if (!batch) return null;
    if (batch.interimReport === undefined) return this.books.reports[batch.finalReport]!;
    batch.statusQueries += 1;
    this.save();
    return this.books.reports[batch.statusQueries === 2 ? batch.interimReport : batch.finalReport]!;
  }

  reportsSince(cursor: number, limit: number): { documents: IssuedDocument[]; next: number } {
    return page(this.books.reports, cursor, limit);
  }

  notificationsSince(cursor: number, limit: number): { documents: IssuedDocument[]; next: number } {
    return page(this.books.notifications, cursor, limit);
  }

  /** Index of the report; with `twice`, a copy with its own MsgId is issued right after it. */
  private issueReport(msgId: string, report: Pain002Report, twice = false): number {
    const index = this.books.reports.length;
    this.books.reports.push(this.issue(report.msgId, msgId, writePain002(report)));
    if (twice) {
      const copy = { ...report, msgId: this.nextId('SIMPSR') };
      this.books.reports.push(this.issue(copy.msgId, msgId, writePain002(copy)));
    }
    return index;
  }

  private issue(id: string, about: string, xml: string): IssuedDocument {
    return { id, about, xml, seal: this.seal(xml).toString('base64') };
  }

  /** The bank's seal over `content`, at the real time (a simulated clock would make it unverifiable). */
  seal(content: string | Buffer): Buffer {
    return sealDocument(typeof content === 'string' ? Buffer.from(content, 'utf8') : content, this.options.bankSeal);
  }

  // ------------------------------------------------------------ accounts and statements

  /** The camt.053 of a customer account for a day, or null when the account is not this bank's or the day has not begun. */
  statement(accountId: string, date: string): string | null {
    const account = this.books.accounts[accountId];
    const today = this.today();
    if (!account || !isIsoDate(date) || date > today) return null;
    const createdAt = chinaDateTime(this.clock());
    const index = Object.keys(this.books.accounts).indexOf(accountId) + 1;
    const compact = date.replaceAll('-', '');
    const message = dailyStatement(
      { msgId: `SIM053${compact}A${index}`, createdAt, statementId: `${accountId.slice(-24)}-${compact}`, open: date === today },
      account, date, this.books.bookings,
    );
    return writeCamt053(message);
  }

  /** Every credit to a payee, returned ones included (marked). */
  ledger(): LedgerCredit[] {
    return this.books.credits;
  }

  /**
   * Sets how a payee account is treated (CLOSED: AC04, INVALID: AC01, OPEN: credited) and/or the
   * starting balance of one of our accounts (making it known to the bank).
   */
  setAccount(request: AccountRequest): void {
    const account = accountNumber(request.account, 'account');
    if (request.status !== undefined && !['OPEN', 'CLOSED', 'INVALID'].includes(request.status)) {
      throw new BankRequestError(400, 'status must be OPEN, CLOSED or INVALID');
    }
    if (request.initialFen !== undefined && !Number.isSafeInteger(request.initialFen)) throw new BankRequestError(400, 'initialFen must be a whole number of fen');
    if (request.status !== undefined) this.books.payeeAccounts[account] = request.status;
    if (request.initialFen !== undefined) this.books.accounts[account] = { ...this.accountOrNew(account), initialFen: request.initialFen };
    this.save();
  }

  /** Money arriving on one of our accounts (a unit's contribution), booked on `date` (default today). */
  credit(request: CreditRequest): { bankReference: string; account: string; date: string } {
    const account = this.accountOrNew(accountNumber(request.account, 'account'));
    accountNumber(request.payerAccount, 'payerAccount');
    for (const field of ['payerName', 'reference'] as const) {
      if (typeof request[field] !== 'string' || request[field] === '') throw new BankRequestError(400, `${field} is required`);
    }
    const date = this.bookingDate(request.date);
    if (!Number.isSafeInteger(request.amountFen) || request.amountFen <= 0) throw new BankRequestError(400, 'amountFen must be a whole number of fen above 0');
    const bankReference = this.nextId('SIMC');
    this.prepareChecked(account, date, [incomingEntry(request, bankReference, date)])();
    this.save();
    return { bankReference, account: account.id, date };
  }

  /** The payee's bank sends a credited payout back (退票): the ledger marks it, our account gets the money back. */
  returnPayment(request: ReturnRequest): LedgerCredit {
    const credit = this.books.credits.find((c) => c.endToEndId === request.endToEndId);
    if (!credit) throw new BankRequestError(404, `no credit with EndToEndId ${String(request.endToEndId)}`);
    if (credit.returned) throw new BankRequestError(409, `EndToEndId ${credit.endToEndId} was already returned on ${credit.returned.at}`);
    const date = this.bookingDate(request.date);
    if (date < credit.creditedAt.slice(0, 10)) throw new BankRequestError(400, `a return cannot precede the credit of ${credit.creditedAt.slice(0, 10)}`);
    const returned = {
      at: chinaDateTime(this.clock()),
      reasonCode: request.reason ?? 'AC04',
      ...(request.additionalInfo === undefined ? {} : { additionalInfo: request.additionalInfo }),
      bankReference: this.nextId('SIMR'),
    };
    this.prepareChecked(this.accountOrNew(credit.debtorAccount), date, [returnEntry(credit, returned, date)])();
    credit.returned = returned;
    this.save();
    return credit;
  }

  /** As prepareBooking, with a field the writer refuses answered as a bad request. */
  private prepareChecked(account: CustomerAccount, date: string, entries: CamtEntry[]): () => void {
    try {
      return this.prepareBooking(account, date, entries);
    } catch (error) {
      if (error instanceof Iso20022Error) throw new BankRequestError(400, error.message);
      throw error;
    }
  }

  /**
   * Writes the camt.054 notifying entries on an account (throwing `Iso20022Error` for a field it
   * refuses) and returns what commits the account, the bookings and the notification.
   */
  private prepareBooking(account: CustomerAccount, date: string, entries: CamtEntry[]): () => void {
    let notification: IssuedDocument | undefined;
    if (entries.length > 0) {
      const createdAt = chinaDateTime(this.clock());
      const msgId = this.nextId('SIM054');
      const xml = writeCamt054({ msgId, createdAt, notifications: [{ id: msgId, createdAt, account: camtAccount(account), entries }] });
      notification = this.issue(msgId, account.id, xml);
    }
    return () => {
      this.books.accounts[account.id] = account;
      for (const entry of entries) this.books.bookings.push({ account: account.id, date, entry });
      if (notification) this.books.notifications.push(notification);
    };
  }

  private accountOrNew(id: string): CustomerAccount {
    return this.books.accounts[id] ?? { id, initialFen: seededInitialFen(this.seed, id) };
  }

  private bookingDate(date: string | undefined): string {
    if (date === undefined) return this.today();
    if (typeof date !== 'string' || !isIsoDate(date)) throw new BankRequestError(400, 'date must be yyyy-MM-dd');
    if (date > this.today()) throw new BankRequestError(400, `date ${date} is in the future`);
    return date;
  }

  private today(): string {
    return chinaDateTime(this.clock()).slice(0, 10);
  }

  /** `SIMD20250604` + a sequence number: unique across the bank's life (kept in the state file). */
  private nextId(prefix: string): string {
    this.books.sequence += 1;
    return `${prefix}${this.today().replaceAll('-', '')}${String(this.books.sequence).padStart(8, '0')}`;
  }

  private save(): void {
    saveBooks(this.options.stateFile, this.books);
  }
}

function accountNumber(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^\d{1,34}$/.test(value)) throw new BankRequestError(400, `${field} must be an account number of 1 to 34 digits`);
  return value;
}

function optionalServicer(agent: string | undefined): { servicer?: string } {
  return agent === undefined ? {} : { servicer: agent };
}

function page<T>(list: T[], cursor: number, limit: number): { documents: T[]; next: number } {
  const from = Math.min(Math.max(0, cursor), list.length);
  const documents = list.slice(from, from + limit);
  return { documents, next: from + documents.length };
}
