import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../src/kernel/transaction.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { applyManualPayment } from '../../src/members/contributions.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed, owingUnit } from './support.ts';

/**
 * A unit's transfer that a clerk records by hand (under the bank's reference) while reconciliation
 * matches the statement holding it: counted once. Reconciliation reads the payments already
 * recorded, then writes a BANK payment for a credit none of them is; a clerk's payment committed in
 * between would have been counted a second time, under a reference derived from the entry.
 */
let db: TestDatabase;
const DAY = '2025-06-03';
const CLERK = { subject: 'finance-zhou', role: 'FINANCE' };

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
      () => reconcileAccount(db.pool, UNION_ACCOUNT, { startedBy: 'test' }),
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
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { startedBy: 'test' })).toMatchObject({ exceptions: 1 });
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
