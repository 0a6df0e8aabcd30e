import type pg from 'pg';
import { expect } from 'vitest';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { retryPayout } from '../../src/payouts/decisions.ts';
import { paidByBank } from '../../src/payouts/store/payouts.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { approvedBatch, approvedClaims, keys, oneLineReport, resetPayoutsAndStatements, type ScriptedBank, type submissionContext } from './support.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed } from '../reconciliation/support.ts';

/**
 * The scene of the one-person retry attacks (a payout refused by the bank, retried by one ADMIN, then
 * found paid by the bank after all), shared by the tests of what the hand-over and the re-send do then.
 */

type Ctx = ReturnType<typeof submissionContext>;

/** The one person who retries: an ADMIN, as the hub allows while nothing shows the bank paid. */
export const SOLE_ADMIN = { subject: 'admin-solo', role: 'ADMIN' };

export interface RetryAttempt {
  id: number;
  e2e: string;
  payoutId: number;
  pmtInfId: string;
  amountFen: number;
  name: string;
  status: string;
}

/** A batch's attempts, in the order they were made. */
export const retryAttemptsOf = async (db: pg.Pool, batchId: number): Promise<RetryAttempt[]> => (await db.query<RetryAttempt>(
  `SELECT a.id, a.end_to_end_id AS e2e, a.payout_id AS "payoutId", b.pmt_inf_id AS "pmtInfId", a.amount_fen AS "amountFen", a.creditor_name AS name, a.status
     FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.batch_id = $1 ORDER BY a.id`, [batchId],
)).rows;

/** Payouts, bank documents, statements and exceptions emptied, the scripted bank forgotten. */
export async function resetRetryScene(db: pg.Pool, bank: ScriptedBank): Promise<void> {
  await resetPayoutsAndStatements(db);
  bank.reset();
}

/** The bank refuses the first attempt (AC04); one ADMIN retries it. */
export async function refusedAndRetried(db: pg.Pool, bank: ScriptedBank, ctx: Ctx): Promise<{ batch: { id: number; msgId: string }; attempt: RetryAttempt }> {
  await approvedClaims(db, 1);
  const batch = await approvedBatch(db);
  const [attempt] = await retryAttemptsOf(db, batch.id);
  bank.current = oneLineReport(batch.msgId, attempt!.pmtInfId, { e2e: attempt!.e2e, status: 'RJCT', reasonCode: 'AC04' });
  expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });
  bank.current = null;
  expect(await retryPayout(db, SOLE_ADMIN, UNSCOPED, ctx.settings, attempt!.payoutId, 'the member says the account is open')).toBe('RETRIED');
  return { batch, attempt: attempt! };
}

/** The bank reports the refused attempt credited after all (ACSC): an exception, and the payout counts as paid by the bank. */
export async function creditedAfterAll(db: pg.Pool, bank: ScriptedBank, ctx: Ctx, first: { msgId: string }, attempt: RetryAttempt): Promise<void> {
  expect(await bank.deliver(ctx, oneLineReport(first.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSC', accountServicerRef: 'BANKTX9' }))).toBe(1);
  expect((await exceptionsOf(db)).map((x) => x.kind)).toEqual(['PAID_AFTER_REJECTION']);
  expect((await paidByBank(db, [attempt.payoutId]))[0]).toBe(true);
}

/** A statement shows the refused attempt debited: an UNMATCHED_DEBIT naming it, and the payout counts as paid by the bank. */
export async function debitedAfterAll(db: pg.Pool, attempt: RetryAttempt): Promise<void> {
  const today = chinaToday();
  await importConfirmed(db, handStatement(today, 10_000_000, [
    bookedEntry('DBIT', attempt.amountFen, today, { details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, creditor: { name: attempt.name }, remittanceInfo: [] }] }),
  ], UNION_ACCOUNT));
  await reconcileAccount(db, UNION_ACCOUNT, { keys, startedBy: 'test' });
  expect((await exceptionsOf(db)).map((x) => [x.kind, x.attemptId])).toEqual([['UNMATCHED_DEBIT', attempt.id]]);
  expect((await paidByBank(db, [attempt.payoutId]))[0]).toBe(true);
}
