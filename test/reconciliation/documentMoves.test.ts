import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processDocument, receiveDocument } from '../../src/reconciliation/ingest.ts';
import { commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';
import { bookedEntry, handStatement, HUB } from './support.ts';

/**
 * A document's status only moves as DOCUMENT_TRANSITIONS allow, however runs interleave: a retry
 * reads a waiting document, then checks and parses it (slowly) while a second person's confirmation
 * accepts it. Set back to AWAITING_CONFIRMATION, a third person could confirm it again, overwriting
 * who vouched for it.
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(() => db.drop());

/**
 * A waiting document processed again while a second person's confirmation, not committed when the
 * run reads the document, moves it to `status` (ACCEPTED: its outcome; RECEIVED: confirmed, to be
 * processed as trusted).
 */
async function retriedWhileConfirmed(date: string, amountFen: number, status: 'ACCEPTED' | 'RECEIVED') {
  const received = await receiveDocument(db.pool, { xml: handStatement(date, 0, [bookedEntry('CRDT', amountFen, date)]), source: 'FILE', receivedBy: 'clerk-wang' }, HUB);
  expect(received).toMatchObject({ status: 'AWAITING_CONFIRMATION' });
  const id = received.documentId;
  const { work: retry } = await commitOnceWaitedOn(
    db.pool,
    // As confirmBankDocument does: confirmed (RECEIVED), then, to reach ACCEPTED, processed in the same transaction.
    async (held) => {
      await held.query(
        `UPDATE bank_documents SET status = 'RECEIVED', confirmed_by = 'finance-li', confirmed_at = now(), confirmation_reason = 'checked against the bank portal' WHERE id = $1`,
        [id],
      );
      if (status === 'ACCEPTED') await held.query(`UPDATE bank_documents SET status = 'ACCEPTED', processed_at = now() WHERE id = $1`, [id]);
    },
    () => processDocument(db.pool, id, HUB),
  );
  const outcome = await retry;
  const { rows } = await db.pool.query(`SELECT status, confirmed_by AS "confirmedBy", confirmation_reason AS reason FROM bank_documents WHERE id = $1`, [id]);
  return { id, outcome, stored: rows };
}

describe('a waiting document retried while a second person confirms it', () => {
  it('stays ACCEPTED with its confirmer: the retry writes nothing', async () => {
    const { id, outcome, stored } = await retriedWhileConfirmed('2025-08-01', 700, 'ACCEPTED');
    expect(outcome).toMatchObject({ documentId: id, status: 'ACCEPTED', duplicate: true });
    expect(stored).toEqual([{ status: 'ACCEPTED', confirmedBy: 'finance-li', reason: 'checked against the bank portal' }]);
  });

  it('is stored as the confirmed document it has become, not sent back to wait', async () => {
    const { id, outcome, stored } = await retriedWhileConfirmed('2025-08-02', 800, 'RECEIVED');
    expect(outcome).toMatchObject({ documentId: id, status: 'ACCEPTED', duplicate: false, entriesNew: 1 });
    expect(stored).toEqual([{ status: 'ACCEPTED', confirmedBy: 'finance-li', reason: 'checked against the bank portal' }]);
  });
});
