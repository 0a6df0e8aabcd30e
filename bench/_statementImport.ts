import type pg from 'pg';
import { confirmDocument, receiveDocument, type DocumentOutcome } from '../src/reconciliation/ingest.ts';

/**
 * A bench statement imported as a clerk would: it carries no bank seal, so a second person
 * confirms it before its entries are stored (both steps are part of what is measured).
 */
export async function importConfirmed(db: pg.Pool, xml: string, fileName: string): Promise<DocumentOutcome> {
  const received = await receiveDocument(db, { xml, source: 'FILE', fileName, receivedBy: 'bench' });
  if (received.status !== 'AWAITING_CONFIRMATION') return received;
  return confirmDocument(db, { subject: 'bench-second', role: 'FINANCE' }, received.documentId, 'bench statement');
}
