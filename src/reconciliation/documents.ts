import { createHash } from 'node:crypto';
import type { Camt053Message, Camt054Message, AccountStatement } from '../banks/iso20022/camt.ts';
import { signedFen, type CamtEntry } from '../banks/iso20022/camtEntry.ts';
import { bankDay, bankInstant } from '../banks/iso20022/fields.ts';
import type { Iso20022Problem } from '../banks/iso20022/xml.ts';
import type { DocumentKind, DocumentRecords, EntryRecord, StatementRecord } from './model.ts';

/**
 * What a parsed camt.053 / camt.054 contributes (pure): statements (account, day, balances) and
 * booked entries, each with the key it is stored once by: the bank's account servicer reference
 * (流水号), or, where the bank gave none, a key derived from the booking (`derivedKey`).
 */

/** The message type of a document, by its namespace (before it is parsed). */
export function documentKind(xml: string): DocumentKind | null {
  const head = xml.slice(0, 4_000);
  if (head.includes('urn:iso:std:iso:20022:tech:xsd:camt.053.001.02')) return 'camt.053';
  if (head.includes('urn:iso:std:iso:20022:tech:xsd:camt.054.001.02')) return 'camt.054';
  return null;
}

/** An account a document is about: a statement's or notification's own account (`Acct/Id`), which its statement and entries are stored under. */
export interface NamedAccount {
  /** Where the document names it: `Document/BkToCstmrStmt/Stmt[1]/Acct/Id`. */
  field: string;
  account: string;
}

/**
 * The document's statements and booked entries, what is wrong with them, and the accounts it is
 * about: every statement's or notification's account, including one none of whose entries is booked.
 */
export function recordsOf(
  kind: DocumentKind, message: Camt053Message | Camt054Message,
): { records: DocumentRecords; problems: Iso20022Problem[]; accounts: NamedAccount[] } {
  const problems: Iso20022Problem[] = [];
  const accounts: NamedAccount[] = [];
  const statements: StatementRecord[] = [];
  const entries: EntryRecord[] = [];
  const seen = new Map<string, string>();
  const occurrences = new Map<string, number>();
  let notBooked = 0;
  const root = kind === 'camt.053' ? 'Document/BkToCstmrStmt/Stmt' : 'Document/BkToCstmrDbtCdtNtfctn/Ntfctn';
  const reports = kind === 'camt.053' ? (message as Camt053Message).statements : (message as Camt054Message).notifications;

  reports.forEach((report, r) => {
    const at = `${root}[${r + 1}]`;
    const account = report.account.id;
    accounts.push({ field: `${at}/Acct/Id`, account });
    let statement: StatementRecord | null = null;
    if (kind === 'camt.053') {
      const record = statementRecord(report as AccountStatement);
      if (statements.some((s) => s.account === account && s.date === record.date)) {
        problems.push({ field: `${at}`, reason: `a second statement of account ${account} for ${record.date} in the same message` });
      }
      statements.push(record);
      statement = record;
    }
    report.entries.forEach((entry, e) => {
      if (entry.status !== 'BOOK' || entry.amountFen === 0) {
        notBooked += 1;
        return;
      }
      const entryAt = `${at}/Ntry[${e + 1}]`;
      const ref = entry.accountServicerRef ?? (entry.details.length === 1 ? entry.details[0]!.accountServicerRef : undefined);
      // Without the bank's reference the day is part of the key: it must be the bank's, not the day the document was made.
      if (entry.bookingDate === undefined && statement === null && ref === undefined) {
        problems.push({ field: `${entryAt}/BookgDt`, reason: 'is required for an entry without AcctSvcrRef: without either, the hub cannot tell which booking of which day it is' });
        return;
      }
      const bookingDate = bankDay(entry.bookingDate ?? statement?.date ?? entry.valueDate ?? report.createdAt);
      if (statement !== null && bookingDate !== statement.date) {
        problems.push({ field: `${entryAt}/BookgDt`, reason: `${bookingDate} is not the statement's day ${statement.date}` });
        return;
      }
      let key: string;
      if (ref === undefined) {
        const fingerprint = bookingFingerprint(account, bookingDate, entry);
        const occurrence = (occurrences.get(fingerprint) ?? 0) + 1;
        occurrences.set(fingerprint, occurrence);
        key = derivedKey(bookingDate, entry, fingerprint, occurrence);
      } else {
        const earlier = seen.get(`${account} ${ref}`);
        if (earlier) {
          problems.push({ field: `${entryAt}/AcctSvcrRef`, reason: `${ref} is also the reference of ${earlier}` });
          return;
        }
        seen.set(`${account} ${ref}`, entryAt);
        key = ref;
      }
      entries.push({
        account, key, creditDebit: entry.creditDebit, amountFen: entry.amountFen, bookingDate,
        valueDate: entry.valueDate === undefined ? null : bankDay(entry.valueDate), transactionCode: transactionCode(entry), entry,
        statement: statement === null ? null : statements.length - 1,
      });
    });
  });
  return { records: { msgId: message.msgId, statements, entries, notBooked }, problems, accounts };
}

/**
 * What identifies a booking the bank gave no reference, in every document that reports it: the
 * account, the bank's day, direction, amount, and what the payment itself carries (the batch's
 * MsgId and PmtInfId; each transaction's MsgId, AcctSvcrRef, PmtInfId, InstrId, EndToEndId, TxId
 * and the counterparty's account). Never what only one document numbers (NtryRef, the order in
 * the file) nor text a bank may shorten (names, 附言): the same booking must give the same key.
 */
function bookingFingerprint(account: string, bookingDate: string, entry: CamtEntry): string {
  const counterparty = entry.creditDebit === 'CRDT' ? 'debtor' : 'creditor';
  const transactions = entry.details
    .map((d) => JSON.stringify([d.msgId, d.accountServicerRef, d.pmtInfId, d.instructionId, d.endToEndId, d.txId, d[counterparty]?.account].map((v) => v ?? null)))
    .sort();
  return JSON.stringify([account, bookingDate, entry.creditDebit, entry.amountFen, entry.batch?.msgId ?? null, entry.batch?.pmtInfId ?? null, transactions]);
}

/**
 * `NOREF 2025-06-03 DBIT 885 <hash> #2`: the fingerprint hashed, then the booking's occurrence
 * among those alike in the document, so two identical transfers the same day stay two, and a
 * document listing fewer of them than one stored before adds none. At least 36 characters: never
 * a bank's reference (Max35Text).
 */
function derivedKey(bookingDate: string, entry: CamtEntry, fingerprint: string, occurrence: number): string {
  const hash = createHash('sha256').update(fingerprint).digest('hex').slice(0, 24);
  return `NOREF ${bookingDate} ${entry.creditDebit} ${entry.amountFen} ${hash} #${occurrence}`;
}

function statementRecord(statement: AccountStatement): StatementRecord {
  const balance = (...types: string[]) => statement.balances.find((b) => types.includes(b.type));
  const opening = balance('OPBD', 'PRCD');
  const closing = balance('CLBD');
  const date = bankDay(statement.fromToDate?.from ?? closing?.date ?? opening?.date ?? statement.createdAt);
  const createdAt = bankInstant(statement.createdAt);
  // A statement made before its period ended is an intraday one: the day may still grow.
  const end = statement.fromToDate ? bankInstant(statement.fromToDate.to) : bankInstant(`${date}T23:59:59`);
  return {
    account: statement.account.id, date, ref: statement.id, createdAt: createdAt.toISOString(),
    final: createdAt >= end,
    openingFen: opening ? signedFen(opening) : null,
    closingFen: closing ? signedFen(closing) : null,
  };
}

function transactionCode(entry: CamtEntry): string | null {
  const { domain, proprietary } = entry.bankTransactionCode;
  if (domain) return `${domain.code}/${domain.family}/${domain.subFamily}`;
  return proprietary?.code ?? null;
}
