import type pg from 'pg';
import { confirmDocument, receiveDocument, type DocumentOutcome } from '../src/reconciliation/ingest.ts';
import type { StepTimes } from '../src/reconciliation/steps.ts';

/**
 * A bench statement imported as a clerk would: it carries no bank seal, so a second person
 * confirms it before its entries are stored (both steps are part of what is measured, each step's
 * milliseconds added to `steps`). `accounts` are the hub's configured accounts, as
 * RECONCILIATION_ACCOUNTS would be: the statement's account must be among them (or a funder's, or
 * one payouts were paid from), or it is refused.
 */
export async function importConfirmed(
  db: pg.Pool, xml: string, fileName: string, accounts: readonly string[], steps: { receive?: StepTimes; confirm?: StepTimes } = {},
): Promise<DocumentOutcome> {
  const received = await receiveDocument(db, { xml, source: 'FILE', fileName, receivedBy: 'bench' }, { accounts, steps: steps.receive });
  if (received.status !== 'AWAITING_CONFIRMATION') return received;
  return confirmDocument(db, { subject: 'bench-second', role: 'FINANCE' }, received.documentId, 'bench statement', { accounts, steps: steps.confirm });
}
