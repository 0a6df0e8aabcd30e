import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { confirmDocument, receiveDocument } from '../../src/reconciliation/ingest.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import type { StepTimes } from '../../src/reconciliation/steps.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { bookedEntry, handStatement, HUB, tableCounts } from './support.ts';
import { keys } from '../payouts/support.ts';

/**
 * Confirming a document that waits without the bank's seal: in the process that received it, the
 * parse kept at receipt is stored (the document is neither read back nor parsed again); elsewhere
 * the stored document is read back and parsed. Either way the same entries are stored, each with
 * one state row that matching moves.
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.drop();
});

const FINANCE = { subject: 'finance-li', role: 'FINANCE' };
const REASON = 'checked against the bank portal';

/** A day's statement: two credits and a debit, one credit without the bank's reference. */
function statementOf(date: string): string {
  return handStatement(date, 50_000, [
    bookedEntry('CRDT', 1_000, date), bookedEntry('DBIT', 2_000, date), bookedEntry('CRDT', 3_000, date, { accountServicerRef: undefined }),
  ]);
}

/** The entries of a day as stored, without what differs from day to day (references, dates). */
async function storedOn(date: string): Promise<object[]> {
  const { rows } = await db.pool.query(
    `SELECT e.credit_debit, e.amount_fen, e.transaction_code, e.entry - 'accountServicerRef' - 'bookingDate' - 'valueDate' AS entry,
            s.state, s.account = e.account AND s.booking_date = e.booking_date AS "stateOfEntry"
       FROM statement_entries e LEFT JOIN statement_entry_states s ON s.entry_id = e.id WHERE e.booking_date = $1 ORDER BY e.id`, [date],
  );
  return rows;
}

describe('confirming a document', () => {
  it('stores the parse kept at receipt in the same process, and the document read back elsewhere, alike', async () => {
    const kept = await receiveDocument(db.pool, { xml: statementOf('2025-07-01'), source: 'FILE', receivedBy: 'clerk-wang' }, HUB);
    expect(kept).toMatchObject({ status: 'AWAITING_CONFIRMATION', entries: 3, entriesNew: 0 });
    const steps: StepTimes = {};
    expect(await confirmDocument(db.pool, FINANCE, kept.documentId, REASON, { ...HUB, steps })).toMatchObject({ status: 'ACCEPTED', entries: 3, entriesNew: 3 });
    expect(Object.keys(steps)).toEqual(['storeEntries']);

    // Another process (a module of its own) keeps nothing of this one's parse.
    const received = await receiveDocument(db.pool, { xml: statementOf('2025-07-02'), source: 'FILE', receivedBy: 'clerk-wang' }, HUB);
    vi.resetModules();
    const elsewhere = await import('../../src/reconciliation/ingest.ts');
    const readBack: StepTimes = {};
    expect(await elsewhere.confirmDocument(db.pool, FINANCE, received.documentId, REASON, { ...HUB, steps: readBack })).toMatchObject({ status: 'ACCEPTED', entries: 3, entriesNew: 3 });
    expect(Object.keys(readBack).sort()).toEqual(['parse', 'readDocument', 'storeEntries']);

    const first = await storedOn('2025-07-01');
    expect(first).toHaveLength(3);
    expect(first).toEqual(first.map((row) => ({ ...row, state: 'PENDING', stateOfEntry: true })));
    expect(await storedOn('2025-07-02')).toEqual(first);
  });

  it('keeps one state row per entry: none added by a re-import, moved by matching', async () => {
    const xml = statementOf('2025-07-03');
    const received = await receiveDocument(db.pool, { xml, source: 'FILE', receivedBy: 'clerk-wang' }, HUB);
    await confirmDocument(db.pool, FINANCE, received.documentId, REASON, HUB);
    const counts = await tableCounts(db.pool);
    expect(counts.statement_entry_states).toBe(counts.statement_entries);
    expect(await receiveDocument(db.pool, { xml, source: 'FILE', receivedBy: 'clerk-wang' }, HUB)).toMatchObject({ status: 'ACCEPTED', duplicate: true });
    expect(await tableCounts(db.pool)).toEqual({ ...counts, audit_log: counts.audit_log! + 1 });

    // Nothing matches these entries: each becomes an exception.
    const run = await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: '2025-07-04' });
    expect(run.entries).toBe(counts.statement_entries);
    const { rows } = await db.pool.query(`SELECT state, count(*)::int AS n, count(matched_at)::int AS "matchedAt" FROM statement_entry_states GROUP BY state`);
    expect(rows).toEqual([{ state: 'EXCEPTION', n: counts.statement_entries, matchedAt: counts.statement_entries }]);
    expect((await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: '2025-07-04' })).entries).toBe(0);
  });
});
