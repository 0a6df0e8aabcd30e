import type { Camt053Message, Camt054Message, AccountStatement } from '../banks/iso20022/camt.ts';
import { signedFen, type CamtEntry } from '../banks/iso20022/camtEntry.ts';
import type { Iso20022Problem } from '../banks/iso20022/xml.ts';

/**
 * What a parsed camt.053 / camt.054 contributes (pure): statements (account, day, balances) and
 * booked entries, each keyed by the bank's account servicer reference (流水号). Entries without
 * that reference cannot be stored idempotently and are refused, naming the entry.
 */

export type DocumentKind = 'camt.053' | 'camt.054';

/** The message type of a document, by its namespace (before it is parsed). */
export function documentKind(xml: string): DocumentKind | null {
  const head = xml.slice(0, 4_000);
  if (head.includes('urn:iso:std:iso:20022:tech:xsd:camt.053.001.02')) return 'camt.053';
  if (head.includes('urn:iso:std:iso:20022:tech:xsd:camt.054.001.02')) return 'camt.054';
  return null;
}

export interface StatementRecord {
  account: string;
  date: string;
  ref: string;
  createdAt: string;
  final: boolean;
  /** Signed fen; null when the message has no such balance (a page without balances). */
  openingFen: number | null;
  closingFen: number | null;
}

export interface EntryRecord {
  account: string;
  accountServicerRef: string;
  creditDebit: CamtEntry['creditDebit'];
  amountFen: number;
  bookingDate: string;
  valueDate: string | null;
  transactionCode: string | null;
  entry: CamtEntry;
  /** Index in `statements` of the statement listing it; null for a notification. */
  statement: number | null;
}

export interface DocumentRecords {
  msgId: string;
  statements: StatementRecord[];
  entries: EntryRecord[];
  /** Entries not booked (PDNG, INFO): not on the account, not reconciled. */
  notBooked: number;
}

export function recordsOf(kind: DocumentKind, message: Camt053Message | Camt054Message): { records: DocumentRecords; problems: Iso20022Problem[] } {
  const problems: Iso20022Problem[] = [];
  const statements: StatementRecord[] = [];
  const entries: EntryRecord[] = [];
  const seen = new Map<string, string>();
  let notBooked = 0;
  const root = kind === 'camt.053' ? 'Document/BkToCstmrStmt/Stmt' : 'Document/BkToCstmrDbtCdtNtfctn/Ntfctn';
  const reports = kind === 'camt.053' ? (message as Camt053Message).statements : (message as Camt054Message).notifications;

  reports.forEach((report, r) => {
    const at = `${root}[${r + 1}]`;
    const account = report.account.id;
    let statement: number | null = null;
    let fallbackDate = report.createdAt.slice(0, 10);
    if (kind === 'camt.053') {
      const record = statementRecord(report as AccountStatement);
      statement = statements.push(record) - 1;
      fallbackDate = record.date;
      if (statements.some((s, i) => i !== statement && s.account === account && s.date === record.date)) {
        problems.push({ field: `${at}`, reason: `a second statement of account ${account} for ${record.date} in the same message` });
      }
    }
    report.entries.forEach((entry, e) => {
      if (entry.status !== 'BOOK') {
        notBooked += 1;
        return;
      }
      const entryAt = `${at}/Ntry[${e + 1}]`;
      const ref = entry.accountServicerRef ?? (entry.details.length === 1 ? entry.details[0]!.accountServicerRef : undefined);
      if (ref === undefined) {
        problems.push({ field: `${entryAt}/AcctSvcrRef`, reason: 'is required: the bank\'s reference is what keeps a booking from being counted twice' });
        return;
      }
      const key = `${account} ${ref}`;
      const earlier = seen.get(key);
      if (earlier) {
        problems.push({ field: `${entryAt}/AcctSvcrRef`, reason: `${ref} is also the reference of ${earlier}` });
        return;
      }
      seen.set(key, entryAt);
      const bookingDate = (entry.bookingDate ?? entry.valueDate ?? fallbackDate).slice(0, 10);
      if (statement !== null && bookingDate !== statements[statement]!.date) {
        problems.push({ field: `${entryAt}/BookgDt`, reason: `${bookingDate} is not the statement's day ${statements[statement]!.date}` });
        return;
      }
      entries.push({
        account, accountServicerRef: ref, creditDebit: entry.creditDebit, amountFen: entry.amountFen, bookingDate,
        valueDate: entry.valueDate?.slice(0, 10) ?? null, transactionCode: transactionCode(entry), entry, statement,
      });
    });
  });
  return { records: { msgId: message.msgId, statements, entries, notBooked }, problems };
}

function statementRecord(statement: AccountStatement): StatementRecord {
  const balance = (...types: string[]) => statement.balances.find((b) => types.includes(b.type));
  const opening = balance('OPBD', 'PRCD');
  const closing = balance('CLBD');
  const date = (statement.fromToDate?.from ?? closing?.date ?? opening?.date ?? statement.createdAt).slice(0, 10);
  // A statement made before its period ended is an intraday one: the day may still grow.
  const end = statement.fromToDate ? Date.parse(statement.fromToDate.to) : Date.parse(`${date}T23:59:59+08:00`);
  return {
    account: statement.account.id, date, ref: statement.id, createdAt: statement.createdAt,
    final: Date.parse(statement.createdAt) >= end,
    openingFen: opening ? signedFen(opening) : null,
    closingFen: closing ? signedFen(closing) : null,
  };
}

function transactionCode(entry: CamtEntry): string | null {
  const { domain, proprietary } = entry.bankTransactionCode;
  if (domain) return `${domain.code}/${domain.family}/${domain.subFamily}`;
  return proprietary?.code ?? null;
}
