import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BankTimeoutError } from '../../src/banks/adapter.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { sealBatch } from '../../src/payouts/sealing.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { approvedClaims, clerk, finance, oneLineReport, payoutsOf, settings, submissionContext, ScriptedBank } from '../payouts/support.ts';
import { creditedAfterAll, debitedAfterAll, refusedAndRetried, resetRetryScene, retryAttemptsOf, type RetryAttempt } from '../payouts/retrySupport.ts';
import { exceptionsOf } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The attack (the limit left by the hand-over's re-check, sealedRetryAfterCredit.test.ts): the bank
 * refuses a payment (RJCT), one ADMIN retries its payout alone, and the retry's batch is sealed and
 * handed over; the call gets no answer (UNKNOWN), or the worker dies in it (SENDING). Then the bank
 * reports the refused attempt credited after all (ACSC), or a statement shows it debited: the payout
 * counts as paid by the bank. The bank's status query says it never received the retry's file, and
 * the worker would send the same file again: the member paid twice on one person's word.
 * What refuses it: before any re-send the worker checks the batch's retries as the hand-over does,
 * under the same lock. The file is not sent again; nor is the batch withdrawn, since "never
 * received" cannot tell a lost file from one still on its way, and its other payments paid in
 * another batch could then be paid twice. It waits, asked about by its MsgId, and each such retry
 * is a RESEND_WITHHELD exception for FINANCE naming the batch.
 */
const pki = testFilePki();
let db: TestDatabase;

const bank = new ScriptedBank();

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

const attemptsOf = (batchId: number) => retryAttemptsOf(db.pool, batchId);
const batchRow = async (batchId: number) => (await db.pool.query<{ status: string; submission: string }>(
  'SELECT status, submission FROM payout_batches WHERE id = $1', [batchId],
)).rows[0];
const payout = async (payoutId: number) => (await payoutsOf(db.pool)).find((p) => p.id === payoutId)!;

/**
 * The retry's batch, with one other new payout, made, approved, sealed and handed over: the call
 * gets no answer (`lost`: UNKNOWN) or the worker dies in it (SENDING). The bank never got the file.
 */
async function handedOverUnanswered(ctx: Ctx, how: 'lost' | 'killed'): Promise<{ id: number; msgId: string }> {
  await approvedClaims(db.pool, 1);
  await planPayouts(db.pool, settings);
  const batch = await createBatch(db.pool, clerk, settings, 10);
  await approveBatch(db.pool, finance, batch!.id);
  await requestSubmission(db.pool, finance, batch!.id);
  expect((await sealBatch(db.pool, ctx.sealing, settings, batch!.id)).file).not.toBeNull();
  const failing = how === 'lost' ? new BankTimeoutError('no answer from the bank') : new Error('killed');
  const handing = { ...ctx, adapter: { ...bank.adapter, submitBatch: async () => { throw failing; } } };
  await expect(advanceBatch(handing, batch!.id)).rejects.toBe(failing);
  expect(await batchRow(batch!.id)).toEqual({ status: 'SUBMITTED', submission: how === 'lost' ? 'UNKNOWN' : 'SENDING' });
  return batch!;
}

/**
 * The worker asks the bank, which says it never received the file: it is not sent again, the batch
 * waits as it was (its payments neither failed nor in another batch), and the retry is an exception.
 */
async function expectNotSentAgain(ctx: Ctx, first: { msgId: string }, retry: { id: number; msgId: string }, original: RetryAttempt, submission: string): Promise<void> {
  const before = await exceptionsOf(db.pool);
  expect(await advanceBatch(ctx, retry.id)).toEqual({ status: 'SUBMITTED', waiting: true });
  expect(bank.sent).toEqual([first.msgId]);
  expect(await batchRow(retry.id)).toEqual({ status: 'SUBMITTED', submission });

  const [retried, other] = await attemptsOf(retry.id);
  expect(retried!.payoutId).toBe(original.payoutId);
  const withheld = (await db.pool.query<{ kind: string; attemptId: number; amountFen: number; account: string; entryId: number | null; evidence: Record<string, unknown> }>(
    `SELECT kind, payout_attempt_id AS "attemptId", amount_fen AS "amountFen", account, entry_id AS "entryId", evidence
       FROM reconciliation_exceptions WHERE kind = 'RESEND_WITHHELD'`,
  )).rows;
  expect(withheld).toEqual([{
    kind: 'RESEND_WITHHELD', attemptId: retried!.id, amountFen: original.amountFen, account: UNION_ACCOUNT, entryId: null,
    evidence: expect.objectContaining({ batchId: retry.id, msgId: retry.msgId, payoutId: original.payoutId, endToEndId: retried!.e2e }),
  }]);
  expect(withheld[0]!.evidence.reason).toMatch(new RegExp(`batch ${retry.msgId}.*never received.*not sent again`));
  expect((await exceptionsOf(db.pool)).length).toBe(before.length + 1);

  // The file may still reach the bank: its payments stay as they are, the retry's payout not FAILED (no one retries it), the other not READY.
  const attemptStatus = submission === 'UNKNOWN' ? 'UNKNOWN' : 'SENT';
  expect([retried!.status, other!.status]).toEqual([attemptStatus, attemptStatus]);
  expect((await payout(original.payoutId)).status).toBe('SENT');
  expect((await payout(other!.payoutId)).status).toBe('SENT');
  await planPayouts(db.pool, settings);
  expect(await createBatch(db.pool, clerk, settings, 10)).toBeNull();

  // Asked again: still not sent, and no second exception (nor audit record).
  expect(await advanceBatch(ctx, retry.id)).toEqual({ status: 'SUBMITTED', waiting: true });
  expect(bank.sent).toEqual([first.msgId]);
  expect((await exceptionsOf(db.pool)).length).toBe(before.length + 1);
  const { rows: audits } = await db.pool.query(`SELECT details->'paidBefore' AS "paidBefore" FROM audit_log WHERE action = 'payout.batch.withhold' AND target_id = $1`, [retry.msgId]);
  expect(audits).toEqual([{ paidBefore: [expect.objectContaining({ payoutId: original.payoutId, amountFen: original.amountFen })] }]);
}

describe('a one-person retry handed to the bank without an answer, when the bank is then found to have paid the refused attempt', () => {
  it('is not sent again after the bank credits the refused attempt (ACSC); the other payment is paid once, by the file if it reaches the bank', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch: first, attempt } = await refusedAndRetried(db.pool, bank, ctx);
      const retry = await handedOverUnanswered(ctx, 'lost');
      await creditedAfterAll(db.pool, bank, ctx, first, attempt);

      await expectNotSentAgain(ctx, first, retry, attempt, 'UNKNOWN');

      // The first hand-over reaches the bank after all: its report is applied to the batch, and the other payout is paid, once.
      const other = (await attemptsOf(retry.id))[1]!;
      bank.current = oneLineReport(retry.msgId, other.pmtInfId, { e2e: other.e2e, status: 'ACSC' });
      expect(await advanceBatch(ctx, retry.id)).toEqual({ status: 'SUBMITTED', waiting: true });
      expect(bank.sent).toEqual([first.msgId]);
      expect((await payout(other.payoutId)).status).toBe('PAID');
      const { rows: live } = await db.pool.query(`SELECT id FROM payout_attempts WHERE payout_id = $1 AND status <> 'CANCELLED'`, [other.payoutId]);
      expect(live).toHaveLength(1);
    } finally {
      ctx.remove();
    }
  });

  it('is not sent again after a statement shows the refused attempt debited, the worker having died in the hand-over (SENDING)', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch: first, attempt } = await refusedAndRetried(db.pool, bank, ctx);
      const retry = await handedOverUnanswered(ctx, 'killed');
      await debitedAfterAll(db.pool, attempt);

      await expectNotSentAgain(ctx, first, retry, attempt, 'SENDING');
    } finally {
      ctx.remove();
    }
  });

  it('without the credit or debit, the file the bank never received is sent again as sealed', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch: first } = await refusedAndRetried(db.pool, bank, ctx);
      const retry = await handedOverUnanswered(ctx, 'lost');

      expect(await advanceBatch(ctx, retry.id)).toEqual({ status: 'SUBMITTED', waiting: true });
      expect(bank.sent).toEqual([first.msgId, retry.msgId]);
      expect(await batchRow(retry.id)).toEqual({ status: 'SUBMITTED', submission: 'RECEIVED' });
      expect(await exceptionsOf(db.pool)).toEqual([]);
    } finally {
      ctx.remove();
    }
  });
});
