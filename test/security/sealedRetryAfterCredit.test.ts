import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { approveBatch, createBatch, requestSubmission, retryPayout } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { sealBatch } from '../../src/payouts/sealing.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { testFilePki } from '../banks/simulator/support.ts';
import { approvedClaims, clerk, finance, oneLineReport, payoutsOf, settings, submissionContext, ScriptedBank } from '../payouts/support.ts';
import { creditedAfterAll, debitedAfterAll, refusedAndRetried, resetRetryScene, SOLE_ADMIN } from '../payouts/retrySupport.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The attack (audit B): the bank refuses a payment (RJCT), one ADMIN retries its payout alone (allowed:
 * nothing shows the bank paid it), and the retry's batch is approved and sealed; the worker dies
 * before the hand-over. Then the bank reports the refused attempt credited after all (ACSC: a
 * PAID_AFTER_REJECTION exception), or a statement shows it debited (an UNMATCHED_DEBIT naming it):
 * the payout now counts as paid by the bank. The sealing checked before that, so the restarted
 * worker would hand the sealed file over unchanged and pay the member twice on one person's word.
 * What refuses it: the hand-over (markSending, src/payouts/submission.ts) takes the account's
 * reconciliation lock and checks the sealed batch's retries again; one paid before and not
 * confirmed by a second FINANCE person cancels the unsent batch (0055 allows SEALED -> CANCELLED,
 * never sent, for such a batch): that payout FAILED with the reason, the other payouts READY again.
 * The database refuses the hand-over of such a batch too (payout_batch_hand_over, 0055).
 * Driven with a scripted bank (the test sets each pain.002).
 */
const pki = testFilePki();
let db: TestDatabase;

const bank = new ScriptedBank();

const FINANCE_A = { subject: 'finance-a', role: 'FINANCE' };
const FINANCE_B = { subject: 'finance-b', role: 'FINANCE' };

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await resetRetryScene(db.pool, bank);
});

type Ctx = ReturnType<typeof submissionContext>;

/** The retry's batch (with `others` new payouts beside it) is made, approved and asked to be sent; the worker seals it and dies before the hand-over. */
async function sealedRetryBatch(ctx: Ctx, others = 0): Promise<{ id: number; msgId: string }> {
  if (others > 0) await approvedClaims(db.pool, others);
  await planPayouts(db.pool, settings);
  const batch = await createBatch(db.pool, clerk, settings, 10);
  expect(batch).not.toBeNull();
  await approveBatch(db.pool, finance, batch!.id);
  await requestSubmission(db.pool, finance, batch!.id);
  expect((await sealBatch(db.pool, ctx.sealing, settings, batch!.id)).file).not.toBeNull();
  return batch!;
}

const batchRow = async (batchId: number) => (await db.pool.query<{ status: string; submission: string; cancelledBy: string | null }>(
  'SELECT status, submission, cancelled_by AS "cancelledBy" FROM payout_batches WHERE id = $1', [batchId],
)).rows[0];
const attemptsOf = async (batchId: number) => (await db.pool.query<{ payoutId: number; status: string }>(
  'SELECT payout_id AS "payoutId", status FROM payout_attempts WHERE batch_id = $1 ORDER BY id', [batchId],
)).rows;

/** The restarted worker moves the sealed batch on: nothing more reaches the bank, the batch is cancelled, the retry's payout FAILED with the reason. */
async function expectNotHandedOver(ctx: Ctx, first: { msgId: string }, retry: { id: number }, payoutId: number): Promise<void> {
  expect(await advanceBatch(ctx, retry.id)).toEqual({ status: 'CANCELLED', waiting: false });
  expect(bank.sent).toEqual([first.msgId]);
  expect(await batchRow(retry.id)).toEqual({ status: 'CANCELLED', submission: 'NOT_SENT', cancelledBy: 'payout-worker' });
  expect((await attemptsOf(retry.id)).every((a) => a.status === 'CANCELLED')).toBe(true);
  expect((await payoutsOf(db.pool)).find((p) => p.id === payoutId)).toMatchObject({
    status: 'FAILED', statusReason: expect.stringContaining('retried by one person: trying it again needs one FINANCE person'),
  });
  // One person still may not retry it; two FINANCE people may.
  await expect(retryPayout(db.pool, SOLE_ADMIN, UNSCOPED, settings, payoutId, 'the member asked again')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  expect(await retryPayout(db.pool, FINANCE_A, UNSCOPED, settings, payoutId, 'the bank confirms the member was not paid')).toBe('PROPOSED');
  expect(await retryPayout(db.pool, FINANCE_B, UNSCOPED, settings, payoutId, 'read the bank\'s answer')).toBe('RETRIED');
}

describe('a one-person retry sealed before the bank is found to have paid the refused attempt', () => {
  it('is not handed to the bank after the bank credits the refused attempt (ACSC): the batch is cancelled, its other payouts wait again', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch: first, attempt } = await refusedAndRetried(db.pool, bank, ctx);
      const retry = await sealedRetryBatch(ctx, 1);
      const other = (await attemptsOf(retry.id)).find((a) => a.payoutId !== attempt.payoutId)!;
      expect(other).toBeDefined();

      // Meanwhile the bank reports the refused attempt credited after all.
      await creditedAfterAll(db.pool, bank, ctx, first, attempt);

      await expectNotHandedOver(ctx, first, retry, attempt.payoutId);
      // The other payment of the batch was not the bank's doing: its payout waits for another batch.
      expect((await payoutsOf(db.pool)).find((p) => p.id === other.payoutId)).toMatchObject({ status: 'READY' });

      // The retry two FINANCE people confirmed goes, with the other payout, in a batch of its own.
      await planPayouts(db.pool, settings);
      const again = await createBatch(db.pool, clerk, settings, 10);
      await approveBatch(db.pool, finance, again!.id);
      await requestSubmission(db.pool, finance, again!.id);
      expect(await advanceBatch(ctx, again!.id)).toEqual({ status: 'SUBMITTED', waiting: true });
      expect(bank.sent).toHaveLength(2);
      expect((await attemptsOf(again!.id)).map((a) => [a.payoutId, a.status]).sort()).toEqual([[attempt.payoutId, 'SENT'], [other.payoutId, 'SENT']].sort());
    } finally {
      ctx.remove();
    }
  });

  it('is not handed to the bank after a statement shows the refused attempt debited (an exception naming it)', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch: first, attempt } = await refusedAndRetried(db.pool, bank, ctx);
      const retry = await sealedRetryBatch(ctx);
      await debitedAfterAll(db.pool, attempt);

      await expectNotHandedOver(ctx, first, retry, attempt.payoutId);
    } finally {
      ctx.remove();
    }
  });

  it('is refused by the database as well: such a batch cannot be marked handed over', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch: first, attempt } = await refusedAndRetried(db.pool, bank, ctx);
      const retry = await sealedRetryBatch(ctx);
      expect(await bank.deliver(ctx, oneLineReport(first.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSC' }))).toBe(1);
      await expect(db.pool.query(`UPDATE payout_batches SET status = 'SUBMITTED', submission = 'SENDING', submitted_at = now() WHERE id = $1`, [retry.id]))
        .rejects.toThrow(/paid by the bank before and its retry is not confirmed/);
      expect(await batchRow(retry.id)).toMatchObject({ status: 'SEALED', submission: 'NOT_SENT' });
    } finally {
      ctx.remove();
    }
  });
});
