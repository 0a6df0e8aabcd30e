import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { retryPayout } from '../../src/payouts/decisions.ts';
import { paidByBank } from '../../src/payouts/store/payouts.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { openAccount, startBank, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, keys, resetPayouts, settings, submissionContext } from '../payouts/support.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The bank executes a payment and debits the hub's account for it on its execution day, then
 * answers RJCT for it four days later (the hub applies it: attempt REJECTED, payout FAILED); the
 * statement of the execution day, reconciled after that, shows the debit with the amount and the
 * payee's name only. Attack 79's rule (debitAfterRefusal.test.ts) must still name the refused
 * attempt, yet it looked for refused attempts only within the amount + name rule's window (3 days)
 * of their last status, the refusal: the debit named nothing, the payout did not count as paid by
 * the bank, and one ADMIN could retry it (paid twice). A refused attempt may have been debited any
 * day from its execution (its batch's requested execution date, or the day it was sent where
 * earlier: ExpectedPayout.executedOn) to its refusal, and within the window either side: the store
 * reads refused attempts whose span meets the chunk's days (refusedPayoutsOfAmounts), and the
 * matcher measures a booking's distance to that span.
 */
const pki = testFilePki();
let db: TestDatabase;

const ADMIN = { subject: 'admin-solo', role: 'ADMIN' };

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await resetPayouts(db.pool);
  await db.pool.query('TRUNCATE reconciliation_matches, reconciliation_exceptions, statement_entry_states, statement_entries, bank_statements, bank_documents RESTART IDENTITY CASCADE');
});

interface Attempt {
  id: number;
  e2e: string;
  payoutId: number;
  amountFen: number;
  creditorName: string;
}

/**
 * The refused attempt as if executed `days` days ago: its batch's requested execution date and the
 * time it was sent moved back (what was sent never changes once it is, so behind the triggers'
 * back); its refusal stays today's.
 */
async function executedDaysAgo(attempt: Attempt, batchId: number, days: number): Promise<string> {
  const executedOn = addDays(chinaToday(), -days);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL session_replication_role = replica');
    await client.query('UPDATE payout_batches SET requested_execution_date = $2::date WHERE id = $1', [batchId, executedOn]);
    await client.query(`UPDATE payout_attempts SET sent_at = ($2::date + time '10:00') AT TIME ZONE 'Asia/Shanghai' WHERE id = $1`, [attempt.id, executedOn]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
  return executedOn;
}

describe('a payment debited on its execution day, the bank\'s RJCT for it applied four days later', () => {
  it('is named by the debit of amount and name only on the statement of its execution day: paid by the bank, no one-person retry', async () => {
    const bank = await startBank(pki);
    const card = openAccount();
    bank.simulator.bank.setAccount({ account: card, status: 'CLOSED' });
    await approvedClaims(db.pool, 1, { 0: card });
    const batch = await approvedBatch(db.pool);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('REJECTED');
    } finally {
      ctx.remove();
    }
    const { rows: [attempt] } = await db.pool.query<Attempt & { refusedOn: string }>(
      `SELECT id, end_to_end_id AS e2e, payout_id AS "payoutId", amount_fen AS "amountFen", creditor_name AS "creditorName",
              (status_at AT TIME ZONE 'Asia/Shanghai')::date::text AS "refusedOn"
         FROM payout_attempts WHERE batch_id = $1 AND status = 'REJECTED'`, [batch.id],
    );
    expect(attempt!.refusedOn).toBe(chinaToday());
    const executedOn = await executedDaysAgo(attempt!, batch.id, 4);
    expect(await paidByBank(db.pool, [attempt!.payoutId])).toEqual([false]);

    // The statement of the execution day: the debit with the amount and the payee's name, no reference.
    await importConfirmed(db.pool, handStatement(executedOn, 10_000_000, [
      bookedEntry('DBIT', attempt!.amountFen, executedOn, { details: [{ amountFen: attempt!.amountFen, creditor: { name: attempt!.creditorName }, remittanceInfo: [] }] }),
    ], UNION_ACCOUNT));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 0, exceptions: 1 });
    const [exception] = await exceptionsOf(db.pool);
    expect(exception).toMatchObject({ kind: 'UNMATCHED_DEBIT', status: 'OPEN', attemptId: attempt!.id, amountFen: attempt!.amountFen });
    const { rows: [row] } = await db.pool.query<{ evidence: Record<string, unknown> }>(
      'SELECT evidence FROM reconciliation_exceptions WHERE entry_id = $1', [exception!.entryId],
    );
    expect(row!.evidence).toMatchObject({ endToEndId: attempt!.e2e, attemptStatus: 'REJECTED', reason: expect.stringContaining('after the bank refused it') });
    expect((await db.pool.query('SELECT count(*)::int AS n FROM reconciliation_matches')).rows).toEqual([{ n: 0 }]);

    // Attack 79's guarantee: the payout counts as paid by the bank, and one ADMIN may not retry it.
    expect(await paidByBank(db.pool, [attempt!.payoutId])).toEqual([true]);
    await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, attempt!.payoutId, 'the member asked again'))
      .rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('a statement shows it debited') });
  });
});
