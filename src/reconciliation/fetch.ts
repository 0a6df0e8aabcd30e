import { feedCursor, saveFeedCursor } from '../banks/store.ts';
import type { BankAdapter, BankDocument } from '../banks/adapter.ts';
import type { Camt053Message } from '../banks/iso20022/camt.ts';
import type { Db } from '../kernel/transaction.ts';
import { recordsOf } from './documents.ts';
import { receiveDocument, type DocumentOutcome, type IngestOptions } from './ingest.ts';
import { storedStatements } from './store/documents.ts';
import { addDays } from '../kernel/time.ts';

/**
 * Statements and notifications from the bank's channel: the daily camt.053 of each of our
 * accounts (days not yet final, back to the look-back limit), and the camt.054 feed from its
 * stored cursor. Documents come with the bank's verified seal (the adapter checks it) and are
 * stored with it.
 */

export const NOTIFICATION_FEED = 'camt054-notifications';

export interface FetchResult {
  documents: DocumentOutcome[];
  /** Accounts with new entries (to reconcile). */
  accounts: string[];
}

/**
 * The statements of `accounts` from `from` to `to` (China dates) the hub has no final version of.
 * An intraday statement identical in entries and closing balance to the stored one is not stored
 * again (the bank reissues it with a new creation time on every request).
 */
export async function fetchStatements(db: Db, adapter: BankAdapter, accounts: readonly string[], from: string, to: string, options: IngestOptions): Promise<FetchResult> {
  const documents: DocumentOutcome[] = [];
  for (const account of accounts) {
    const stored = new Map((await storedStatements(db, account, from, to)).map((r) => [r.date, r]));
    for (let date = from; date <= to; date = addDays(date, 1)) {
      const known = stored.get(date);
      if (known?.final) continue;
      const document = await adapter.statement(account, date);
      if (!document || (known && unchanged(document, known))) continue;
      documents.push(await receiveDocument(db, bankDocument(document), options));
    }
  }
  return { documents, accounts: changedAccounts(documents) };
}

/**
 * camt.054 notifications issued since the stored cursor, page by page; the cursor moves after each
 * page is stored. One whose seal is refused is kept with the reason and waits for a second
 * person's confirmation, as an unsealed upload does.
 */
export async function fetchNotifications(db: Db, adapter: BankAdapter, options: IngestOptions): Promise<FetchResult> {
  const documents: DocumentOutcome[] = [];
  let cursor = await feedCursor(db, NOTIFICATION_FEED);
  for (;;) {
    const page = await adapter.notifications(cursor);
    for (const document of page.documents) documents.push(await receiveDocument(db, bankDocument(document), options));
    for (const refused of page.refused) {
      documents.push(await receiveDocument(db, { xml: refused.xml, seal: refused.seal, sealProblem: refused.reason, source: 'BANK', receivedBy: 'bank' }, options));
    }
    if (page.nextCursor !== cursor) await saveFeedCursor(db, NOTIFICATION_FEED, page.nextCursor);
    if (page.documents.length + page.refused.length === 0 || page.nextCursor === cursor) break;
    cursor = page.nextCursor;
  }
  return { documents, accounts: changedAccounts(documents) };
}

/** Statements of the last `lookbackDays` days up to `today`, then the notification feed. */
export async function fetchFromBank(db: Db, adapter: BankAdapter, accounts: readonly string[], today: string, lookbackDays: number, options: IngestOptions): Promise<FetchResult> {
  const notifications = await fetchNotifications(db, adapter, options);
  const statements = await fetchStatements(db, adapter, accounts, addDays(today, -lookbackDays), today, options);
  const documents = [...notifications.documents, ...statements.documents];
  return { documents, accounts: changedAccounts(documents) };
}

function bankDocument(document: BankDocument<unknown>) {
  return { xml: document.xml, seal: document.seal, sealedBy: document.sealedBy, source: 'BANK' as const, receivedBy: 'bank' };
}

function unchanged(document: BankDocument<Camt053Message>, known: { closingFen: number | null; entries: number }): boolean {
  const { records } = recordsOf('camt.053', document.parsed);
  const statement = records.statements[0];
  return records.statements.length === 1 && statement!.closingFen === known.closingFen && records.entries.length === known.entries && !statement!.final;
}

function changedAccounts(documents: readonly DocumentOutcome[]): string[] {
  return [...new Set(documents.filter((d) => d.status === 'ACCEPTED' && !d.duplicate).flatMap((d) => d.accounts))].sort();
}
