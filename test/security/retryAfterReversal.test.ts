import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CamtEntry } from '../../src/banks/iso20022/camtEntry.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { approveBatch, createBatch, requestSubmission, retryPayout } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { sealBatch } from '../../src/payouts/sealing.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { approvedBatch, approvedClaims, clerk, finance, keys, oneLineReport, payoutsOf, settings, submissionContext, ScriptedBank } from '../payouts/support.ts';
import { resetRetryScene, retryAttemptsOf, type RetryAttempt } from '../payouts/retrySupport.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The attack (audit R): the bank credits a payment (ACSC), then books its return (退票): the attempt
 * RETURNED, the payout FAILED. FINANCE X proposes a retry and FINANCE Y confirms it, rightly: the
 * money came back. The retry's batch is approved and sealed. Then a statement books a reversal
 * (冲正, RvslInd) debit naming the first attempt's EndToEndId: the return was booked in error and the
 * member kept the money. Its exception said "the payout must not be paid again", but the sealing
 * and hand-over rechecks asked only whether a confirmation followed the last attempt, so the worker
 * handed the sealed retry to the bank and paid the member twice. Now a confirmation is void once an
 * exception on a debit naming an earlier attempt is detected after it (payout_retry_confirmed, 0070):
 * the hand-over cancels the unsent batch as for a one-person retry, the payout FAILED, and only a
 * fresh confirmation by two FINANCE people lets it go. The exception lists the retry it stops.
 */
const pki = testFilePki();
let db: TestDatabase;
const bank = new ScriptedBank();

const FINANCE_X = { subject: 'finance-x', role: 'FINANCE' };
const FINANCE_Y = { subject: 'finance-y', role: 'FINANCE' };

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });
beforeEach(async () => { await resetRetryScene(db.pool, bank); });

type Ctx = ReturnType<typeof submissionContext>;

const today = chinaToday();
const yesterday = addDays(today, -1);

/** The statement of `date` booking one entry of `attempt`'s EndToEndId, reconciled. */
async function booked(date: string, attempt: RetryAttempt, entry: Partial<CamtEntry> & { creditDebit: 'CRDT' | 'DBIT' }): Promise<void> {
  const { creditDebit, ...over } = entry;
  await importConfirmed(db.pool, handStatement(date, 10_000_000, [bookedEntry(creditDebit, attempt.amountFen, date, {
    ...over, details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, creditor: { name: attempt.name }, remittanceInfo: [], ...over.details?.[0] }],
  })], UNION_ACCOUNT));
  await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
}

/** The first attempt credited, then returned (退票) on yesterday's statement; X proposes a retry and Y confirms it. */
async function returnedAndConfirmed(ctx: Ctx): Promise<{ first: { id: number; msgId: string }; attempt: RetryAttempt }> {
  await approvedClaims(db.pool, 1);
  const first = await approvedBatch(db.pool);
  const [attempt] = await retryAttemptsOf(db.pool, first.id);
  bank.current = oneLineReport(first.msgId, attempt!.pmtInfId, { e2e: attempt!.e2e, status: 'ACSC' });
  expect(await advanceBatch(ctx, first.id)).toEqual({ status: 'ACCEPTED', waiting: false });
  bank.current = null;
  await booked(yesterday, attempt!, {
    creditDebit: 'CRDT', bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'RRTN' } },
    details: [{ returnInfo: { reasonCode: 'AC04' }, remittanceInfo: [] }],
  });
  expect((await payoutsOf(db.pool))[0]).toMatchObject({ id: attempt!.payoutId, status: 'FAILED' });
  expect(await retryPayout(db.pool, FINANCE_X, UNSCOPED, settings, attempt!.payoutId, 'the bank returned it: the card was closed')).toBe('PROPOSED');
  expect(await retryPayout(db.pool, FINANCE_Y, UNSCOPED, settings, attempt!.payoutId, 'the return is on the statement; new card checked')).toBe('RETRIED');
  return { first, attempt: attempt! };
}

/** The payouts READY made into a batch, approved and asked to be sent. */
async function requestedBatch(): Promise<{ id: number; msgId: string }> {
  await planPayouts(db.pool, settings);
  const batch = await createBatch(db.pool, clerk, settings, 10);
  expect(batch).not.toBeNull();
  await approveBatch(db.pool, finance, batch!.id);
  await requestSubmission(db.pool, finance, batch!.id);
  return batch!;
}

/** Today's statement books a reversal (冲正) debit of the first attempt's EndToEndId: the return was booked in error. */
async function returnReversed(attempt: RetryAttempt): Promise<string> {
  await booked(today, attempt, { creditDebit: 'DBIT', reversal: true });
  expect((await exceptionsOf(db.pool)).map((x) => [x.kind, x.attemptId])).toEqual([['UNMATCHED_DEBIT', attempt.id]]);
  const { rows: [x] } = await db.pool.query<{ reason: string }>(`SELECT evidence->>'reason' AS reason FROM reconciliation_exceptions`);
  return x!.reason;
}

const batchRow = async (batchId: number) => (await db.pool.query<{ status: string; submission: string }>(
  'SELECT status, submission FROM payout_batches WHERE id = $1', [batchId],
)).rows[0];

/** Only two FINANCE people confirming again after the reversal let the payout go: one of them alone does not. */
async function confirmedAfresh(ctx: Ctx, first: { msgId: string }, payoutId: number): Promise<void> {
  expect(await retryPayout(db.pool, FINANCE_X, UNSCOPED, settings, payoutId, 'the bank says the reversal was its own error')).toBe('PROPOSED');
  await expect(retryPayout(db.pool, FINANCE_X, UNSCOPED, settings, payoutId, 'again')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  expect(await retryPayout(db.pool, FINANCE_Y, UNSCOPED, settings, payoutId, 'read the bank\'s letter')).toBe('RETRIED');
  const again = await requestedBatch();
  expect(await advanceBatch(ctx, again.id)).toEqual({ status: 'SUBMITTED', waiting: true });
  expect(bank.sent).toEqual([first.msgId, again.msgId]);
}

describe('a retry two FINANCE people confirmed after a return, then the return reversed (冲正)', () => {
  it('is not handed to the bank when the reversal comes after the sealing: the batch is cancelled, a fresh confirmation needed', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { first, attempt } = await returnedAndConfirmed(ctx);
      const retry = await requestedBatch();
      expect((await sealBatch(db.pool, ctx.sealing, settings, retry.id)).file).not.toBeNull();
      const [planned] = await retryAttemptsOf(db.pool, retry.id);

      const reason = await returnReversed(attempt);
      expect(reason).toContain('the member kept the money and the payout must not be paid again');
      expect(reason).toContain(`The payout's retry attempt 2 (${planned!.e2e}, PLANNED) is not sent`);

      expect(await advanceBatch(ctx, retry.id)).toEqual({ status: 'CANCELLED', waiting: false });
      expect(bank.sent).toEqual([first.msgId]);
      expect(await batchRow(retry.id)).toEqual({ status: 'CANCELLED', submission: 'NOT_SENT' });
      expect((await retryAttemptsOf(db.pool, retry.id)).map((a) => a.status)).toEqual(['CANCELLED']);
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'FAILED' });

      await confirmedAfresh(ctx, first, attempt.payoutId);
    } finally {
      ctx.remove();
    }
  });

  it('leaves its batch at sealing when the reversal comes before', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { first, attempt } = await returnedAndConfirmed(ctx);
      const retry = await requestedBatch();
      await returnReversed(attempt);

      expect((await sealBatch(db.pool, ctx.sealing, settings, retry.id)).file).toBeNull();
      expect(await batchRow(retry.id)).toMatchObject({ status: 'CANCELLED' });
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'FAILED' });
      await confirmedAfresh(ctx, first, attempt.payoutId);
    } finally {
      ctx.remove();
    }
  });

  it('is refused by the database as well: the sealed batch cannot be marked handed over', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { attempt } = await returnedAndConfirmed(ctx);
      const retry = await requestedBatch();
      expect((await sealBatch(db.pool, ctx.sealing, settings, retry.id)).file).not.toBeNull();
      await returnReversed(attempt);
      await expect(db.pool.query(`UPDATE payout_batches SET status = 'SUBMITTED', submission = 'SENDING', submitted_at = now() WHERE id = $1`, [retry.id]))
        .rejects.toThrow(/paid by the bank before and its retry is not confirmed/);
    } finally {
      ctx.remove();
    }
  });
});
