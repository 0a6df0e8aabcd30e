import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../src/kernel/transaction.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { applyManualPayment } from '../../src/members/contributions.ts';
import { contributionReference } from '../../src/members/model.ts';
import { contributionFigures } from '../../src/members/store.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';
import { seedEnrolment, seedMember } from '../benefits/seed.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed, owingUnit } from './support.ts';
import { keys } from '../payouts/support.ts';

/**
 * A unit's transfer that a clerk records by hand (under the bank's reference) while reconciliation
 * matches the statement holding it: counted once. Reconciliation reads the payments already
 * recorded, then writes a BANK payment for a credit none of them is; a clerk's payment committed in
 * between would have been counted a second time, under a reference derived from the entry.
 */
let db: TestDatabase;
const DAY = '2025-06-03';
const CLERK = { subject: 'finance-zhou', role: 'FINANCE' };
const SECOND = { subject: 'finance-sun', role: 'FINANCE' };

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(() => db.drop());

describe('a payment recorded by hand while the statement is reconciled', () => {
  it('is the payment the credit matches: one payment of the transfer, matched once', async () => {
    const unit = await owingUnit(db.pool, 3);
    const credit = bookedEntry('CRDT', unit.owedFen, DAY, { details: [{ debtor: { name: '某公司工会', account: '35050164620700000123' }, remittanceInfo: [unit.reference] }] });
    await importConfirmed(db.pool, handStatement(DAY, 100_000_000, [credit]));

    // The clerk's payment is being recorded (not committed) when the run starts: the run must wait for it.
    const payment = { unitId: unit.id, planYear: 2025, amountFen: unit.owedFen, reference: credit.accountServicerRef!, paidOn: DAY };
    const { work: run } = await commitOnceWaitedOn(
      db.pool,
      (held) => applyManualPayment(held as unknown as Tx, CLERK, payment),
      () => reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' }),
    );
    expect(await run).toMatchObject({ entries: 1, matched: 1, exceptions: 0 });

    const { rows } = await db.pool.query(
      `SELECT cp.reference, cp.source, cp.amount_fen AS "amountFen", m.rule
         FROM contribution_payments cp LEFT JOIN reconciliation_matches m ON m.contribution_payment_id = cp.id
        WHERE cp.unit_id = $1 ORDER BY cp.id`,
      [unit.id],
    );
    expect(rows).toEqual([{ reference: credit.accountServicerRef, source: 'MANUAL', amountFen: unit.owedFen, rule: 'RECORDED_PAYMENT' }]);
  });
});

describe('a payment recorded by hand before a person matches the credit', () => {
  it('is the payment the person\'s match links: a match naming other contributions is refused, the one naming it counts the transfer once', async () => {
    const day = '2025-06-04';
    const unit = await owingUnit(db.pool, 2);
    // No reference and an unknown payer account: the matcher cannot place it (UNKNOWN_CREDIT).
    const credit = bookedEntry('CRDT', unit.owedFen, day, { details: [{ debtor: { name: '某单位', account: '35050164620700000999' }, remittanceInfo: ['会费'] }] });
    await importConfirmed(db.pool, handStatement(day, 100_000_000, [credit]));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ exceptions: 1 });
    const { rows: [exception] } = await db.pool.query<{ id: number }>(`SELECT id FROM reconciliation_exceptions WHERE kind = 'UNKNOWN_CREDIT' AND status = 'OPEN'`);
    // Meanwhile a clerk records the transfer from the bank's advice, under the bank's reference.
    await inTransaction(db.pool, (tx) => applyManualPayment(tx, CLERK, { unitId: unit.id, planYear: 2025, amountFen: unit.owedFen, reference: credit.accountServicerRef!, paidOn: day }));

    const other = { contributions: [{ unitId: unit.id, planYear: 2024, amountFen: unit.owedFen }] };
    await expect(matchException(db.pool, CLERK, exception!.id, other, Number.MAX_SAFE_INTEGER))
      .rejects.toMatchObject({ code: 'CONFLICT', field: 'input.contributions', message: expect.stringContaining(credit.accountServicerRef!) });
    expect((await exceptionsOf(db.pool)).find((x) => x.kind === 'UNKNOWN_CREDIT')).toMatchObject({ status: 'OPEN' });

    await matchException(db.pool, CLERK, exception!.id, { contributions: [{ unitId: unit.id, planYear: 2025, amountFen: unit.owedFen }] }, Number.MAX_SAFE_INTEGER);
    const { rows } = await db.pool.query(
      `SELECT cp.reference, cp.source, cp.plan_year AS "planYear", cp.amount_fen AS "amountFen", m.rule
         FROM contribution_payments cp LEFT JOIN reconciliation_matches m ON m.contribution_payment_id = cp.id
        WHERE cp.unit_id = $1 ORDER BY cp.id`,
      [unit.id],
    );
    expect(rows).toEqual([{ reference: credit.accountServicerRef, source: 'MANUAL', planYear: 2025, amountFen: unit.owedFen, rule: 'MANUAL' }]);
  });
});

describe('a transfer counted from the statement, then typed in by hand from the bank\'s advice', () => {
  // Reconciliation keeps a transfer paying two plan years as `<reference>/<year>`, or under a reference of the entry's where that would not fit 35 characters.
  const cases = [
    { name: 'kept as <reference>/<year>', day: '2025-06-05', reference: undefined, kept: (r: string, _entryId: number, year: number) => `${r}/${year}` },
    { name: 'kept under the entry\'s reference', day: '2025-06-06', reference: 'BOC35050020250606000000000000000001', kept: (_r: string, entryId: number, year: number) => `HUB-E${entryId}-0-${year}` },
  ];
  it.each(cases)('is refused on input.reference, in any letter case: one transfer paying two plan years stays paid once ($name)', async ({ day, reference: bankReference, kept }) => {
    // 100 CNY owed for 2024 and 100 for 2025, paid in one transfer quoting both references.
    const unit = await owingUnit(db.pool, 1, 2024);
    await seedEnrolment(db.pool, await seedMember(db.pool, unit.id), unit.id, { year: 2025 });
    const credit = bookedEntry('CRDT', 20_000, day, {
      details: [{ remittanceInfo: [`${unit.reference} ${contributionReference(unit.creditCode, 2025)}`] }], ...(bankReference ? { accountServicerRef: bankReference } : {}),
    });
    await importConfirmed(db.pool, handStatement(day, 100_000_000, [credit]));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ entries: 1, matched: 1, exceptions: 0 });
    const reference = credit.accountServicerRef!;
    const { rows: [entry] } = await db.pool.query<{ id: number }>('SELECT id FROM statement_entries WHERE account_servicer_ref = $1', [reference]);
    const [for2024, for2025] = [kept(reference, entry!.id, 2024), kept(reference, entry!.id, 2025)];

    for (const typed of [reference, reference.toLowerCase()]) {
      const payment = { unitId: unit.id, planYear: 2025, amountFen: 10_000, reference: typed, paidOn: day };
      await expect(inTransaction(db.pool, (tx) => applyManualPayment(tx, CLERK, payment))).rejects.toMatchObject({
        code: 'CONFLICT', field: 'input.reference', message: expect.stringContaining(`${for2024} (from the bank's statement), ${for2025} (from the bank's statement)`),
      });
    }
    const { rows } = await db.pool.query('SELECT reference, source, plan_year AS "planYear" FROM contribution_payments WHERE unit_id = $1 ORDER BY plan_year', [unit.id]);
    expect(rows).toEqual([{ reference: for2024, source: 'BANK', planYear: 2024 }, { reference: for2025, source: 'BANK', planYear: 2025 }]);
    expect(await contributionFigures(db.pool, [{ unitId: unit.id, planYear: 2024 }, { unitId: unit.id, planYear: 2025 }]))
      .toMatchObject([{ owedFen: 10_000, paidFen: 10_000 }, { owedFen: 10_000, paidFen: 10_000 }]);
  });
});

describe('a credit under a reference a clerk recorded by hand that does not fit the recorded payment', () => {
  // The clerk recorded 100 CNY of the 300 owed for 2025 under the bank's reference; the bank's booking is otherwise.
  const cases = [
    { name: 'another amount', day: '2025-06-09', typed: (r: string) => r, transactions: [{ amountFen: 20_000, planYear: 2025 }] },
    { name: 'another amount, the reference typed in another letter case', day: '2025-06-10', typed: (r: string) => r.toLowerCase(), transactions: [{ amountFen: 20_000, planYear: 2025 }] },
    {
      name: 'a batch booking whose first transaction is the recorded amount', day: '2025-06-11', typed: (r: string) => r,
      transactions: [{ amountFen: 10_000, planYear: 2025 }, { amountFen: 10_000, planYear: 2024 }],
    },
  ];
  it.each(cases)('is not credited again but an exception naming the payment: $name', async ({ day, typed, transactions }) => {
    const unit = await owingUnit(db.pool, 3);
    await seedEnrolment(db.pool, await seedMember(db.pool, unit.id), unit.id, { year: 2024 });
    const details = transactions.map((t) => ({ ...(transactions.length > 1 ? { amountFen: t.amountFen } : {}), remittanceInfo: [contributionReference(unit.creditCode, t.planYear)] }));
    const credit = bookedEntry('CRDT', transactions.reduce((sum, t) => sum + t.amountFen, 0), day, { details });
    const reference = typed(credit.accountServicerRef!);
    await inTransaction(db.pool, (tx) => applyManualPayment(tx, CLERK, { unitId: unit.id, planYear: 2025, amountFen: 10_000, reference, paidOn: day }));
    const { rows: [recorded] } = await db.pool.query<{ id: number }>('SELECT id FROM contribution_payments WHERE reference = $1', [reference]);
    await importConfirmed(db.pool, handStatement(day, 100_000_000, [credit]));

    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ entries: 1, matched: 0, exceptions: transactions.length });
    expect(await contributionFigures(db.pool, [{ unitId: unit.id, planYear: 2024 }, { unitId: unit.id, planYear: 2025 }]))
      .toMatchObject([{ owedFen: 10_000, paidFen: 0 }, { owedFen: 30_000, paidFen: 10_000 }]);
    const { rows: exceptions } = await db.pool.query(
      `SELECT x.kind, x.status, x.tx_index AS "txIndex", x.evidence->'recordedPayments' AS recorded, x.evidence->>'reason' AS reason
         FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id WHERE e.account_servicer_ref = $1 ORDER BY x.tx_index`,
      [credit.accountServicerRef],
    );
    expect(exceptions).toEqual(transactions.map((_, i) => ({
      kind: 'AMOUNT_MISMATCH', status: 'OPEN', txIndex: transactions.length > 1 ? i + 1 : 0,
      recorded: [{ id: recorded!.id, reference, unitId: unit.id, planYear: 2025, amountFen: 10_000 }], reason: expect.stringContaining(`${reference} (payment ${recorded!.id}`),
    })));
  });
});

describe('a transaction of a batch booking a person matches, when a clerk recorded the transfer by hand', () => {
  it('links the recorded payment it names, refuses paying that payment\'s year afresh, and counts the other transaction once', async () => {
    const day = '2025-06-13';
    // The clerk recorded 100 CNY for 2025 (the reference typed in another letter case); the bank booked 2025 and 2024 as one entry.
    const unit = await owingUnit(db.pool, 3);
    await seedEnrolment(db.pool, await seedMember(db.pool, unit.id), unit.id, { year: 2024 });
    const details = [2025, 2024].map((planYear) => ({ amountFen: 10_000, remittanceInfo: [contributionReference(unit.creditCode, planYear)] }));
    const credit = bookedEntry('CRDT', 20_000, day, { details });
    const reference = credit.accountServicerRef!;
    await inTransaction(db.pool, (tx) => applyManualPayment(tx, CLERK, { unitId: unit.id, planYear: 2025, amountFen: 10_000, reference: reference.toLowerCase(), paidOn: day }));
    await importConfirmed(db.pool, handStatement(day, 100_000_000, [credit]));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 0, exceptions: 2 });
    const { rows: [first, second] } = await db.pool.query<{ id: number }>(
      `SELECT x.id FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id WHERE e.account_servicer_ref = $1 ORDER BY x.tx_index`, [reference],
    );

    // Half of it as 2025 beside the recorded 2025 payment would count the transfer twice.
    const halves = { contributions: [2025, 2024].map((planYear) => ({ unitId: unit.id, planYear, amountFen: 5_000 })) };
    await expect(matchException(db.pool, CLERK, first!.id, halves, Number.MAX_SAFE_INTEGER))
      .rejects.toMatchObject({ code: 'CONFLICT', field: 'input.contributions', message: expect.stringContaining(reference.toLowerCase()) });
    expect(await matchException(db.pool, CLERK, first!.id, { contributions: [{ unitId: unit.id, planYear: 2025, amountFen: 10_000 }] }, Number.MAX_SAFE_INTEGER)).toBeNull();
    // Paying the unit's 2024 covers its enrolment: a second person confirms it (attack 139).
    const proposal = await matchException(db.pool, CLERK, second!.id, { contributions: [{ unitId: unit.id, planYear: 2024, amountFen: 10_000 }] }, Number.MAX_SAFE_INTEGER);
    await decideProposal(db.pool, SECOND, proposal!, true, null);

    const { rows } = await db.pool.query(
      `SELECT cp.reference, cp.source, cp.plan_year AS "planYear", m.tx_index AS "txIndex"
         FROM contribution_payments cp LEFT JOIN reconciliation_matches m ON m.contribution_payment_id = cp.id
        WHERE cp.unit_id = $1 ORDER BY cp.id`,
      [unit.id],
    );
    expect(rows).toEqual([
      { reference: reference.toLowerCase(), source: 'MANUAL', planYear: 2025, txIndex: 1 }, { reference: `${reference}/2024`, source: 'BANK', planYear: 2024, txIndex: 2 },
    ]);
    expect(await contributionFigures(db.pool, [{ unitId: unit.id, planYear: 2024 }, { unitId: unit.id, planYear: 2025 }]))
      .toMatchObject([{ owedFen: 10_000, paidFen: 10_000 }, { owedFen: 30_000, paidFen: 10_000 }]);
  });
});

describe('a batch booking whose transactions pay the same unit\'s plan year', () => {
  it('is credited once per transaction under references derived from the entry, and the run completes', async () => {
    const day = '2025-06-12';
    const unit = await owingUnit(db.pool, 3);
    // Two transfers of one unit's union paying 2025 in parts, booked by the bank as one entry.
    const details = [10_000, 20_000].map((amountFen) => ({ amountFen, remittanceInfo: [unit.reference] }));
    const credit = bookedEntry('CRDT', 30_000, day, { details });
    await importConfirmed(db.pool, handStatement(day, 100_000_000, [credit]));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ entries: 1, exceptions: 0 });
    const { rows } = await db.pool.query(
      `SELECT cp.reference, cp.amount_fen AS "amountFen" FROM contribution_payments cp WHERE cp.unit_id = $1 ORDER BY cp.amount_fen`, [unit.id]);
    expect(rows.map((r) => r.amountFen)).toEqual([10_000, 20_000]);
    expect(rows.every((r) => r.reference.startsWith('HUB-E'))).toBe(true);
    expect(await contributionFigures(db.pool, [{ unitId: unit.id, planYear: 2025 }])).toMatchObject([{ owedFen: 30_000, paidFen: 30_000 }]);
  });
});
