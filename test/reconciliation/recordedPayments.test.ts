import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../src/kernel/transaction.ts';
import { applyManualPayment } from '../../src/members/contributions.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { freshDatabase, untilBlockedBy, type TestDatabase } from '../support/db.ts';
import { bookedEntry, handStatement, importConfirmed, owingUnit } from './support.ts';

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
    const held = await db.pool.connect();
    try {
      await held.query('BEGIN');
      const payment = { unitId: unit.id, planYear: 2025, amountFen: unit.owedFen, reference: credit.accountServicerRef!, paidOn: DAY };
      await applyManualPayment(held as unknown as Tx, CLERK, payment);
      const run = reconcileAccount(db.pool, UNION_ACCOUNT, { startedBy: 'test' });
      await untilBlockedBy(db.pool, held, run);
      await held.query('COMMIT');
      expect(await run).toMatchObject({ entries: 1, matched: 1, exceptions: 0 });
    } finally {
      await held.query('ROLLBACK').catch(() => undefined);
      held.release();
    }

    const { rows } = await db.pool.query(
      `SELECT cp.reference, cp.source, cp.amount_fen AS "amountFen", m.rule
         FROM contribution_payments cp LEFT JOIN reconciliation_matches m ON m.contribution_payment_id = cp.id
        WHERE cp.unit_id = $1 ORDER BY cp.id`,
      [unit.id],
    );
    expect(rows).toEqual([{ reference: credit.accountServicerRef, source: 'MANUAL', amountFen: unit.owedFen, rule: 'RECORDED_PAYMENT' }]);
  });
});
