import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCamt054 } from '../../src/banks/iso20022/camt.ts';
import { processDocument, receiveDocument } from '../../src/reconciliation/ingest.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { XsdUnavailableError } from '../../src/reconciliation/xsd.ts';
import { startBank, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, payoutsOf, submissionContext, keys } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { bookedEntry, handStatement, HUB, importConfirmed, owingUnit, tableCounts } from './support.ts';

/**
 * Statement ingestion rules on hand-written files: one entry per booking however many documents
 * report it (by the bank's reference, or the key derived where it gave none), nothing stored from a refused document (which is kept with
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

let notifications = 0;

function notification(date: string, entries: ReturnType<typeof bookedEntry>[]): string {
  const createdAt = `${date}T10:00:00+08:00`;
  notifications += 1;
  return writeCamt054({ msgId: `N${date}-${notifications}`, createdAt, notifications: [{ id: `N-${date}`, createdAt, account: { id: UNION_ACCOUNT }, entries }] });
}

const fixture = (name: string) => readFileSync(new URL(`../banks/iso20022/fixtures/${name}`, import.meta.url), 'utf8');

async function entriesOn(date: string): Promise<{ key: string; amountFen: number; listed: boolean }[]> {
  const { rows } = await db.pool.query(
    `SELECT account_servicer_ref AS key, amount_fen AS "amountFen", statement_id IS NOT NULL AS listed FROM statement_entries WHERE booking_date = $1 ORDER BY id`, [date],
  );
  return rows;
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
    // ISO20022_XSD_DIR set to a folder without the schemas (the vendored copy is always there otherwise).
    const emptyDir = mkdtempSync(join(tmpdir(), 'no-xsd-'));
    await expect(receiveDocument(db.pool, { xml, source: 'FILE', receivedBy: 'clerk-wang' }, { ...HUB, xsdDir: emptyDir })).rejects.toBeInstanceOf(XsdUnavailableError);
    rmSync(emptyDir, { recursive: true });
    const { rows } = await db.pool.query<{ id: number; status: string }>(`SELECT id, status FROM bank_documents ORDER BY id DESC LIMIT 1`);
    expect(rows[0]!.status).toBe('RECEIVED');
    expect(await processDocument(db.pool, rows[0]!.id, HUB)).toMatchObject({ status: 'AWAITING_CONFIRMATION', entries: 1, entriesNew: 0 });
    expect(await importConfirmed(db.pool, xml)).toMatchObject({ status: 'ACCEPTED', entriesNew: 1 });
  });
});

describe('bookings without the bank reference', () => {
  it('stores each once from a notification, then the statement of the day, then re-imports, and keeps identical ones apart', async () => {
    const notified = fixture('camt054-ccb-20250610-noref.xml');
    const listed = fixture('camt053-ccb-20250610-noref.xml');
    expect(await importConfirmed(db.pool, notified)).toMatchObject({ kind: 'camt.054', status: 'ACCEPTED', entries: 2, entriesNew: 2 });
    expect(await importConfirmed(db.pool, listed)).toMatchObject({ kind: 'camt.053', status: 'ACCEPTED', entries: 5, entriesNew: 3 });
    const stored = await entriesOn('2025-06-10');
    expect(stored.map((e) => [e.amountFen, e.listed])).toEqual([[480_000, true], [8_850, true], [30_000, true], [200, true], [200, true]]);
    expect(stored.every((e) => e.key.startsWith('NOREF 2025-06-10 '))).toBe(true);

    // The same bytes again, and the notification re-sent as another message, add nothing.
    const counts = await tableCounts(db.pool);
    expect(await importConfirmed(db.pool, listed)).toMatchObject({ status: 'ACCEPTED', duplicate: true });
    expect(await importConfirmed(db.pool, notified)).toMatchObject({ status: 'ACCEPTED', duplicate: true });
    const resent = notified.replace('CCB054202506100000412', 'CCB054202506100000413');
    expect(await importConfirmed(db.pool, resent)).toMatchObject({ status: 'ACCEPTED', entries: 2, entriesNew: 0 });
    expect(await entriesOn('2025-06-10')).toEqual(stored);
    expect((await tableCounts(db.pool)).statement_entries).toBe(counts.statement_entries);
  });

  it('adds the second of two identical bookings when the statement lists both after a notification of one', async () => {
    const date = '2025-05-12';
    const fee = { ...bookedEntry('DBIT', 200, date), accountServicerRef: undefined };
    expect(await importConfirmed(db.pool, notification(date, [fee]))).toMatchObject({ status: 'ACCEPTED', entriesNew: 1 });
    expect(await importConfirmed(db.pool, notification(date, [fee]))).toMatchObject({ status: 'ACCEPTED', entriesNew: 0 });
    expect(await importConfirmed(db.pool, handStatement(date, 10_000, [fee, { ...fee }]))).toMatchObject({ status: 'ACCEPTED', entries: 2, entriesNew: 1 });
    const stored = await entriesOn(date);
    expect(stored.map((e) => [e.amountFen, e.listed, e.key.slice(-2)])).toEqual([[200, true, '#1'], [200, true, '#2']]);
    // A later version of the day listing one of them would lose a booking: refused.
    expect(await importConfirmed(db.pool, handStatement(date, 10_000, [fee], UNION_ACCOUNT, `${date}T23:59:59.5+08:00`)))
      .toMatchObject({ status: 'REJECTED', problems: [{ field: `statement ${UNION_ACCOUNT} ${date}`, reason: expect.stringContaining(`no longer lists ${stored[1]!.key}`) }] });
  });

  it('refuses a final statement and a notification that disagree on a booking of the day, rather than count it twice', async () => {
    const date = '2025-05-13';
    const payout = { ...bookedEntry('DBIT', 5_000, date), accountServicerRef: undefined, details: [{ endToEndId: 'MAH-P-000000777-1', remittanceInfo: [] }] };
    expect(await importConfirmed(db.pool, notification(date, [payout]))).toMatchObject({ status: 'ACCEPTED', entriesNew: 1 });
    const [notified] = await entriesOn(date);
    // The statement leaves out the transaction details: by what it says, another booking.
    const outcome = await importConfirmed(db.pool, handStatement(date, 10_000, [{ ...payout, details: [] }]));
    const unlisted = { field: `entry ${notified!.key}`, reason: expect.stringContaining(`the final statement of ${UNION_ACCOUNT} for that day does not list it`) };
    expect(outcome).toMatchObject({ status: 'REJECTED', problems: [unlisted] });
    expect(await entriesOn(date)).toEqual([notified]);
    // The other way round: the final statement first, then a notification of a booking it does not list.
    const later = '2025-05-16';
    expect(await importConfirmed(db.pool, handStatement(later, 10_000, [{ ...payout, bookingDate: later, details: [] }]))).toMatchObject({ status: 'ACCEPTED', entriesNew: 1 });
    const refused = await importConfirmed(db.pool, notification(later, [{ ...payout, bookingDate: later }]));
    expect(refused).toMatchObject({ status: 'REJECTED', problems: [{ field: expect.stringMatching(/^entry NOREF 2025-05-16 DBIT 5000 /), reason: expect.stringContaining('does not list it') }] });
    expect((await entriesOn(later)).map((e) => e.listed)).toEqual([true]);
  });

  it('records a contribution paid without the bank reference under a reference derived from the entry', async () => {
    const date = '2025-05-15';
    const [a, b] = [await owingUnit(db.pool, 2), await owingUnit(db.pool, 2)];
    const credit = (unit: typeof a) => ({ ...bookedEntry('CRDT', unit.owedFen, date), accountServicerRef: undefined, details: [{ remittanceInfo: [unit.reference] }] });
    expect(await importConfirmed(db.pool, handStatement(date, 10_000, [credit(a), credit(b)]))).toMatchObject({ status: 'ACCEPTED', entriesNew: 2 });
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: date });
    const { rows } = await db.pool.query(
      `SELECT unit_id AS "unitId", amount_fen AS "amountFen", reference FROM contribution_payments WHERE unit_id = ANY($1::bigint[]) ORDER BY unit_id`, [[a.id, b.id]],
    );
    expect(rows).toEqual([
      { unitId: a.id, amountFen: a.owedFen, reference: expect.stringMatching(/^HUB-E\d+-0-2025$/) },
      { unitId: b.id, amountFen: b.owedFen, reference: expect.stringMatching(/^HUB-E\d+-0-2025$/) },
    ]);
  });

  it('keeps a document with another currency or a fraction of a fen REJECTED, naming the element, and stores nothing of it', async () => {
    const statement = fixture('camt053-ccb-20250610-noref.xml').replaceAll('2025-06-10', '2025-05-14').replaceAll('2025-06-09', '2025-05-13');
    const counts = await tableCounts(db.pool);
    const fraction = await importConfirmed(db.pool, statement.replace('<Amt Ccy="CNY">88.50</Amt>', '<Amt Ccy="CNY">88.505</Amt>'));
    expect(fraction).toMatchObject({ status: 'REJECTED', problems: [{ field: 'Document/BkToCstmrStmt/Stmt[1]/Ntry[2]/Amt', reason: 'has more than 2 decimals (88.505)' }] });
    const foreign = await importConfirmed(db.pool, statement.replace('<Amt Ccy="CNY">88.50</Amt>', '<Amt Ccy="USD">88.50</Amt>'));
    expect(foreign).toMatchObject({ status: 'REJECTED', problems: [{ field: 'Document/BkToCstmrStmt/Stmt[1]/Ntry[2]/Amt', reason: 'currency is USD, expected CNY' }] });
    expect(await tableCounts(db.pool)).toEqual({ ...counts, bank_documents: counts.bank_documents! + 2, audit_log: counts.audit_log! + 2 });
    // Processing a refused document again finds the same reasons.
    expect(await processDocument(db.pool, fraction.documentId, HUB)).toMatchObject({ status: 'REJECTED', problems: fraction.problems });
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
    const result = await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: date });
    expect(result.settled).toBe(2);
    expect((await db.pool.query(`SELECT s.state FROM statement_entry_states s JOIN statement_entries e ON e.id = s.entry_id WHERE e.account_servicer_ref = $1`, [debit.accountServicerRef])).rows).toEqual([{ state: 'MATCHED' }]);
    const { rows: matches } = await db.pool.query(`SELECT rule, kind FROM reconciliation_matches m JOIN statement_entries e ON e.id = m.entry_id WHERE e.booking_date = $1`, [date]);
    expect(matches).toEqual([{ rule: 'BATCH', kind: 'PAYOUT' }, { rule: 'BATCH', kind: 'PAYOUT' }]);
    expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['SETTLED', 'SETTLED']);
    expect((await db.pool.query('SELECT status FROM payout_batches WHERE id = $1', [batch.id])).rows[0].status).toBe('SETTLED');
  });
});
