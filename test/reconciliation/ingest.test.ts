import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCamt054 } from '../../src/banks/iso20022/camt.ts';
import { processDocument, receiveDocument } from '../../src/reconciliation/ingest.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { XsdUnavailableError } from '../../src/reconciliation/xsd.ts';
import { startBank, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, payoutsOf, submissionContext } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { bookedEntry, handStatement, importConfirmed, tableCounts } from './support.ts';

/**
 * Statement ingestion rules on hand-written files: one entry per account servicer reference
 * however many documents report it, nothing stored from a refused document (which is kept with
 * its reasons), versions of a day that only grow, and a batch booking matched one-to-many.
 */
const pki = testFilePki();
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.drop();
});

function notification(date: string, entries: ReturnType<typeof bookedEntry>[]): string {
  const createdAt = `${date}T10:00:00+08:00`;
  return writeCamt054({ msgId: `N${date}${entries[0]!.accountServicerRef}`, createdAt, notifications: [{ id: `N-${date}`, createdAt, account: { id: UNION_ACCOUNT }, entries }] });
}

describe('storing statements', () => {
  it('stores a booking once: the notification first, then the statement lists it; its intraday version is replaced by the final one', async () => {
    const date = '2025-05-05';
    const a = bookedEntry('CRDT', 1_000, date);
    const b = bookedEntry('CRDT', 2_000, date);
    expect(await importConfirmed(db.pool, notification(date, [a]))).toMatchObject({ kind: 'camt.054', status: 'ACCEPTED', entries: 1, entriesNew: 1 });
    const intraday = handStatement(date, 50_000, [a], UNION_ACCOUNT, `${date}T12:00:00+08:00`);
    expect(await importConfirmed(db.pool, intraday)).toMatchObject({ status: 'ACCEPTED', entries: 1, entriesNew: 0 });
    expect((await db.pool.query('SELECT final, closing_fen FROM bank_statements WHERE statement_date = $1', [date])).rows).toEqual([{ final: false, closing_fen: 51_000 }]);

    expect(await importConfirmed(db.pool, handStatement(date, 50_000, [a, b]))).toMatchObject({ status: 'ACCEPTED', entries: 2, entriesNew: 1 });
    expect((await db.pool.query('SELECT final, closing_fen FROM bank_statements WHERE statement_date = $1', [date])).rows).toEqual([{ final: true, closing_fen: 53_000 }]);
    expect((await db.pool.query('SELECT count(*)::int AS n, count(statement_id)::int AS listed FROM statement_entries')).rows[0]).toEqual({ n: 2, listed: 2 });

    // A version that loses a booking, and a booking reported with another amount, are refused whole.
    const counts = await tableCounts(db.pool);
    const dropped = await importConfirmed(db.pool, handStatement(date, 50_000, [b]));
    expect(dropped).toMatchObject({ status: 'REJECTED', problems: [{ reason: expect.stringContaining(`no longer lists ${a.accountServicerRef}`) }] });
    const changed = await importConfirmed(db.pool, notification(date, [{ ...a, amountFen: 1_001 }]));
    expect(changed).toMatchObject({ status: 'REJECTED', problems: [{ field: `entry ${a.accountServicerRef}`, reason: expect.stringContaining('was reported as CRDT 1000 fen') }] });
    // Kept, refused, and audited: each import and its confirmation.
    expect(await tableCounts(db.pool)).toEqual({ ...counts, bank_documents: counts.bank_documents! + 2, audit_log: counts.audit_log! + 4 });
  });

  it('refuses entries it cannot keep apart or place, naming each, and keeps the document', async () => {
    const date = '2025-05-06';
    const noRef = { ...bookedEntry('DBIT', 500, date), accountServicerRef: undefined };
    const twice = bookedEntry('DBIT', 700, date);
    const otherDay = bookedEntry('DBIT', 900, '2025-05-07');
    const outcome = await importConfirmed(db.pool, handStatement(date, 10_000, [noRef, twice, { ...twice }, otherDay]));
    expect(outcome.status).toBe('REJECTED');
    expect(outcome.problems).toEqual([
      { field: 'Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/AcctSvcrRef', reason: expect.stringContaining('is required') },
      { field: 'Document/BkToCstmrStmt/Stmt[1]/Ntry[3]/AcctSvcrRef', reason: `${twice.accountServicerRef} is also the reference of Document/BkToCstmrStmt/Stmt[1]/Ntry[2]` },
      { field: 'Document/BkToCstmrStmt/Stmt[1]/Ntry[4]/BookgDt', reason: `2025-05-07 is not the statement's day ${date}` },
    ]);
    const stored = await db.pool.query('SELECT status, source, problems FROM bank_documents WHERE id = $1', [outcome.documentId]);
    expect(stored.rows[0]).toMatchObject({ status: 'REJECTED', source: 'FILE', problems: outcome.problems });
    expect((await db.pool.query('SELECT count(*)::int AS n FROM statement_entries WHERE booking_date = $1', [date])).rows[0].n).toBe(0);

    const notCamt = await importConfirmed(db.pool, '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>');
    expect(notCamt).toMatchObject({ status: 'REJECTED', kind: null, problems: [{ field: 'Document', reason: expect.stringContaining('is not a camt.053') }] });
  });

  it('leaves a document RECEIVED when the XSDs cannot be read, and stores it when processed again', async () => {
    const xml = handStatement('2025-05-08', 10_000, [bookedEntry('CRDT', 100, '2025-05-08')]);
    await expect(receiveDocument(db.pool, { xml, source: 'FILE', receivedBy: 'clerk-wang' }, { xsdDir: '/nonexistent' })).rejects.toBeInstanceOf(XsdUnavailableError);
    const { rows } = await db.pool.query<{ id: number; status: string }>(`SELECT id, status FROM bank_documents ORDER BY id DESC LIMIT 1`);
    expect(rows[0]!.status).toBe('RECEIVED');
    expect(await processDocument(db.pool, rows[0]!.id)).toMatchObject({ status: 'AWAITING_CONFIRMATION', entries: 1, entriesNew: 0 });
    expect(await importConfirmed(db.pool, xml)).toMatchObject({ status: 'ACCEPTED', entriesNew: 1 });
  });
});

describe('a batch booking', () => {
  it('matches one debit for a whole payment batch to each of its credited payouts (one-to-many), to the fen', async () => {
    await approvedClaims(db.pool, 2);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    const batch = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
    ctx.remove();
    const { rows: [sent] } = await db.pool.query<{ pmtInfId: string; sum: number }>(
      `SELECT b.pmt_inf_id AS "pmtInfId", sum(a.amount_fen)::bigint AS sum FROM payout_batches b JOIN payout_attempts a ON a.batch_id = b.id WHERE b.id = $1 GROUP BY b.pmt_inf_id`,
      [batch.id],
    );
    const date = '2025-05-09';
    const debit = bookedEntry('DBIT', sent!.sum, date, { batch: { msgId: batch.msgId, pmtInfId: sent!.pmtInfId, nbOfTxs: 2, totalFen: sent!.sum, creditDebit: 'DBIT' }, details: [] });
    await importConfirmed(db.pool, handStatement(date, 90_000_000, [debit]));
    const result = await reconcileAccount(db.pool, UNION_ACCOUNT, { startedBy: 'test', asOf: date });
    expect(result.settled).toBe(2);
    expect((await db.pool.query(`SELECT state FROM statement_entries WHERE account_servicer_ref = $1`, [debit.accountServicerRef])).rows).toEqual([{ state: 'MATCHED' }]);
    const { rows: matches } = await db.pool.query(`SELECT rule, kind FROM reconciliation_matches m JOIN statement_entries e ON e.id = m.entry_id WHERE e.booking_date = $1`, [date]);
    expect(matches).toEqual([{ rule: 'BATCH', kind: 'PAYOUT' }, { rule: 'BATCH', kind: 'PAYOUT' }]);
    expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['SETTLED', 'SETTLED']);
    expect((await db.pool.query('SELECT status FROM payout_batches WHERE id = $1', [batch.id])).rows[0].status).toBe('SETTLED');
  });
});
