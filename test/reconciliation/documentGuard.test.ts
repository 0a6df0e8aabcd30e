import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canMove } from '../../src/kernel/transitions.ts';
import { DOCUMENT_TRANSITIONS, type DocumentStatus } from '../../src/reconciliation/model.ts';
import { confirmDocument, receiveDocument } from '../../src/reconciliation/ingest.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { bookedEntry, handStatement, HUB } from './support.ts';

/**
 * The database holds a bank document as the evidence it is, whatever a statement of the code (or a
 * person at psql) asks: its bytes, seal and confirmation never change once written, and its status
 * moves only as DOCUMENT_TRANSITIONS allow (migration 0034).
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(() => db.drop());

const STATUSES = Object.keys(DOCUMENT_TRANSITIONS) as DocumentStatus[];
const PROBLEMS = JSON.stringify([{ field: 'Document', reason: 'not a camt.053' }]);

/** A document stored as `status`, unsealed and unconfirmed but when ACCEPTED (which needs a second person). */
async function documentIn(status: DocumentStatus): Promise<number> {
  const accepted = status === 'ACCEPTED';
  const xml = `<Document>${randomBytes(8).toString('hex')}</Document>`;
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO bank_documents (xml, sha256, source, received_by, status, problems, confirmed_by, confirmed_at, confirmation_reason)
     VALUES ($1, $2, 'UPLOAD', 'clerk-wang', $3, $4, $5, CASE WHEN $5::text IS NOT NULL THEN now() END, CASE WHEN $5::text IS NOT NULL THEN 'checked against the bank portal' END)
     RETURNING id`,
    [xml, createHash('sha256').update(xml).digest(), status, status === 'REJECTED' ? PROBLEMS : '[]', accepted ? 'finance-li' : null],
  );
  return rows[0]!.id;
}

/** The update that moves a document to `to` as the hub would: confirmed to RECEIVED, sealed to ACCEPTED, with problems to REJECTED. */
const MOVES: Record<DocumentStatus, string> = {
  RECEIVED: `status = 'RECEIVED', confirmed_by = coalesce(confirmed_by, 'finance-zhao'), confirmed_at = coalesce(confirmed_at, now()),
             confirmation_reason = coalesce(confirmation_reason, 'called the bank')`,
  AWAITING_CONFIRMATION: `status = 'AWAITING_CONFIRMATION', problems = '[]'`,
  ACCEPTED: `status = 'ACCEPTED', problems = '[]', seal = coalesce(seal, '\\x01'), sealed_by = coalesce(sealed_by, 'CN=bank')`,
  REJECTED: `status = 'REJECTED', problems = '${PROBLEMS}'`,
};

const moved = (id: number, set: string) =>
  db.pool.query(`UPDATE bank_documents SET ${set} WHERE id = $1`, [id]).then(() => 'moved', (error: { code?: string; message: string }) => {
    if (error.code !== '23514') throw error;
    return 'refused';
  });

describe('the database holds a bank document as evidence', () => {
  it('lets its status move exactly as DOCUMENT_TRANSITIONS allow', async () => {
    const pairs = STATUSES.flatMap((from) => STATUSES.filter((to) => to !== from).map((to) => ({ from, to })));
    const outcomes = await Promise.all(pairs.map(async ({ from, to }) => ({ from, to, outcome: await moved(await documentIn(from), MOVES[to]) })));
    expect(outcomes).toEqual(pairs.map(({ from, to }) => ({ from, to, outcome: canMove(DOCUMENT_TRANSITIONS, from, to) ? 'moved' : 'refused' })));
    expect(outcomes.filter((o) => o.outcome === 'moved').length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.outcome === 'refused').length).toBeGreaterThan(0);
  });

  it('keeps who confirmed it: a second confirmation, or one without the wait, is refused', async () => {
    const received = await receiveDocument(db.pool, {
      xml: handStatement('2025-09-01', 0, [bookedEntry('CRDT', 900, '2025-09-01')]), source: 'UPLOAD', receivedBy: 'clerk-wang',
    }, HUB);
    expect(received).toMatchObject({ status: 'AWAITING_CONFIRMATION' });
    await confirmDocument(db.pool, { subject: 'finance-li', role: 'FINANCE' }, received.documentId, 'checked against the bank portal', HUB);
    const id = received.documentId;
    expect(await moved(id, `confirmed_by = 'finance-zhao', confirmation_reason = 'called the bank'`)).toBe('refused');
    expect(await moved(id, `status = 'AWAITING_CONFIRMATION'`)).toBe('refused');
    // Never waited, never confirmed: a person may not vouch for a document the hub did not hold back.
    const fresh = await documentIn('RECEIVED');
    expect(await moved(fresh, `confirmed_by = 'finance-zhao', confirmed_at = now(), confirmation_reason = 'called the bank'`)).toBe('refused');
    const { rows } = await db.pool.query(`SELECT status, confirmed_by AS "confirmedBy" FROM bank_documents WHERE id = $1`, [id]);
    expect(rows).toEqual([{ status: 'ACCEPTED', confirmedBy: 'finance-li' }]);
  });

  it('keeps its bytes, its seal and an accepted record; a seal may still arrive for an accepted document', async () => {
    const accepted = await documentIn('ACCEPTED');
    expect(await moved(accepted, `xml = '<Document/>'`)).toBe('refused');
    expect(await moved(accepted, `received_by = 'someone-else'`)).toBe('refused');
    expect(await moved(accepted, `entries = entries + 1`)).toBe('refused');
    expect(await moved(accepted, `seal = '\\x02', sealed_by = 'CN=bank'`)).toBe('moved');
    expect(await moved(accepted, `sealed_by = 'CN=another bank'`)).toBe('refused');
    // A sealed document is trusted: it never waits for a person.
    const sealed = await documentIn('RECEIVED');
    expect(await moved(sealed, `seal = '\\x02', sealed_by = 'CN=bank'`)).toBe('moved');
    expect(await moved(sealed, `status = 'AWAITING_CONFIRMATION'`)).toBe('refused');
  });
});
