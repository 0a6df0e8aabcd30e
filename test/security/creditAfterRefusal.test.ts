import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Pain002TransactionStatus } from '../../src/banks/iso20022/pain002.ts';
import { firstRows } from '../../src/kernel/page.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { approveBatch, createBatch, requestSubmission, retryPayout } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { paidByBank } from '../../src/payouts/store/payouts.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { matchException, writeOffException } from '../../src/reconciliation/resolve.ts';
import { listExceptions } from '../../src/reconciliation/store/reads.ts';
import { testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { approvedBatch, approvedClaims, clerk, finance, oneLineReport, payoutsOf, resetPayouts, settings, submissionContext, ScriptedBank } from '../payouts/support.ts';
import { exceptionsOf } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The bank answers RJCT for a payment (its payout FAILED, which one person may retry), then reports
 * it credited (ACSC) after all: the mirror of RJCT after ACSC (test/reconciliation/rejectedAfterPayment.test.ts).
 * The attempt stays REJECTED (no report changes a final status), but the credit is not dropped: it
 * is a PAID_AFTER_REJECTION exception naming the payment, and the payout counts as paid by the bank,
 * so a retry one person made is withdrawn at sealing and a new one takes two FINANCE people. When the
 * retry went to the bank already, the exception says the member may have been paid twice.
 * Driven with a scripted bank (the test sets each pain.002).
 */
const pki = testFilePki();
let db: TestDatabase;

const bank = new ScriptedBank();

const ADMIN = { subject: 'admin-solo', role: 'ADMIN' };
const FINANCE_A = { subject: 'finance-a', role: 'FINANCE' };
const FINANCE_B = { subject: 'finance-b', role: 'FINANCE' };

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await resetPayouts(db.pool);
  await db.pool.query('TRUNCATE four_eyes_proposals, reconciliation_exceptions RESTART IDENTITY CASCADE');
  bank.reset();
});

interface Attempt {
  id: number;
  e2e: string;
  payoutId: number;
  amountFen: number;
  pmtInfId: string;
}

async function sentAttempt(): Promise<{ batch: { id: number; msgId: string }; attempt: Attempt }> {
  await approvedClaims(db.pool, 1);
  const batch = await approvedBatch(db.pool);
  const { rows: [attempt] } = await db.pool.query<Attempt>(
    `SELECT a.id, a.end_to_end_id AS e2e, a.payout_id AS "payoutId", a.amount_fen AS "amountFen", b.pmt_inf_id AS "pmtInfId"
       FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.batch_id = $1`, [batch.id],
  );
  return { batch, attempt: attempt! };
}

/** The bank refuses the payment (AC04): the payout FAILED, and one ADMIN retries it, as the hub allows. */
async function refusedAndRetried(ctx: ReturnType<typeof submissionContext>): Promise<{ batch: { id: number; msgId: string }; attempt: Attempt }> {
  const refused = await sentAttempt();
  bank.current = oneLineReport(refused.batch.msgId, refused.attempt.pmtInfId, { e2e: refused.attempt.e2e, status: 'RJCT', reasonCode: 'AC04' });
  expect(await advanceBatch(ctx, refused.batch.id)).toEqual({ status: 'REJECTED', waiting: false });
  expect(await retryPayout(db.pool, ADMIN, UNSCOPED, settings, refused.attempt.payoutId, 'the member says the account is open')).toBe('RETRIED');
  bank.current = null;
  return refused;
}

/** The retry's batch: made by a clerk, approved and asked to be sent by FINANCE, then moved on by the worker. */
async function retryBatch(ctx: ReturnType<typeof submissionContext>): Promise<{ id: number; status: string }> {
  await planPayouts(db.pool, settings);
  const batch = await createBatch(db.pool, clerk, settings, 10);
  expect(batch).not.toBeNull();
  await approveBatch(db.pool, finance, batch!.id);
  await requestSubmission(db.pool, finance, batch!.id);
  return { id: batch!.id, status: (await advanceBatch(ctx, batch!.id)).status };
}


const attemptsOf = async (payoutId: number) => (await db.pool.query<{ attemptNo: number; status: string; bankStatus: string | null }>(
  'SELECT attempt_no AS "attemptNo", status, bank_status AS "bankStatus" FROM payout_attempts WHERE payout_id = $1 ORDER BY attempt_no', [payoutId],
)).rows;
const wasPaid = async (payoutId: number) => (await paidByBank(db.pool, [payoutId]))[0];

describe('a payment the bank reported credited after refusing it', () => {
  it('is an exception, counts as paid by the bank, and the one-person retry waiting for sealing is withdrawn: nothing is sent twice', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt } = await refusedAndRetried(ctx);
      expect(await wasPaid(attempt.payoutId)).toBe(false);

      const acsc = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSC', accountServicerRef: 'BANKTX9' });
      expect(await bank.deliver(ctx, acsc)).toBe(1);

      // The refusal stands as the hub recorded it; the credit is the exception's, and the payout counts as paid by the bank.
      expect((await attemptsOf(attempt.payoutId))[0]).toEqual({ attemptNo: 1, status: 'REJECTED', bankStatus: 'RJCT' });
      expect(await exceptionsOf(db.pool)).toEqual([
        { kind: 'PAID_AFTER_REJECTION', status: 'OPEN', resolution: null, entryId: null, attemptId: attempt.id, amountFen: attempt.amountFen },
      ]);
      const [queued] = await listExceptions(db.pool, {}, firstRows(50));
      expect(queued).toMatchObject({
        kind: 'PAID_AFTER_REJECTION', account: UNION_ACCOUNT, occurredOn: chinaToday(), payoutId: attempt.payoutId, endToEndId: attempt.e2e,
        evidence: { bankStatus: 'ACSC', accountServicerRef: 'BANKTX9', report: acsc.msgId, refusedWith: 'AC04', payoutStatus: 'READY', retries: [] },
      });
      expect(String(queued!.evidence.reason)).toMatch(/credited \(ACSC BANKTX9\) after refusing it \(RJCT AC04\): the payout was retried, not yet sent \(it is READY\).*withdrawn at sealing/);
      expect(await wasPaid(attempt.payoutId)).toBe(true);

      // The bank's feed repeats the report: still one exception.
      expect(await bank.deliver(ctx, acsc)).toBe(1);
      expect(await exceptionsOf(db.pool)).toHaveLength(1);

      // The one-person retry leaves its batch at sealing: the batch is cancelled, no file goes to the bank.
      expect(await retryBatch(ctx)).toMatchObject({ status: 'CANCELLED' });
      expect((await attemptsOf(attempt.payoutId)).map((a) => a.status)).toEqual(['REJECTED', 'CANCELLED']);
      expect(bank.sent).toEqual([batch.msgId]);
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'FAILED' });

      // Nothing to match; written off, the bank's word still counts: only two FINANCE people may retry it.
      await expect(matchException(db.pool, FINANCE_A, queued!.id, { endToEndIds: [attempt.e2e] }, Number.MAX_SAFE_INTEGER))
        .rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.exceptionId' });
      expect(await writeOffException(db.pool, FINANCE_A, queued!.id, 'the bank says its ACSC was sent in error', Number.MAX_SAFE_INTEGER)).toBeNull();
      expect(await wasPaid(attempt.payoutId)).toBe(true);
      await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, attempt.payoutId, 'the member asked again')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(db.pool.query(`UPDATE payouts SET status = 'READY', status_reason = NULL WHERE id = $1`, [attempt.payoutId])).rejects.toThrow(/the bank had paid it/);
      expect(await retryPayout(db.pool, FINANCE_A, UNSCOPED, settings, attempt.payoutId, 'the bank confirms the member was not paid')).toBe('PROPOSED');
      expect(await retryPayout(db.pool, FINANCE_B, UNSCOPED, settings, attempt.payoutId, 'read the bank\'s answer')).toBe('RETRIED');
    } finally {
      ctx.remove();
    }
  });

  it('after the retry went to the bank: the exception says the member may have been paid twice', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt } = await refusedAndRetried(ctx);
      const retry = await retryBatch(ctx);
      expect(retry.status).toBe('SUBMITTED');
      expect(bank.sent).toHaveLength(2);
      const [, second] = (await db.pool.query<{ e2e: string }>(
        'SELECT end_to_end_id AS e2e FROM payout_attempts WHERE payout_id = $1 ORDER BY attempt_no', [attempt.payoutId],
      )).rows;

      expect(await bank.deliver(ctx, oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSC' }))).toBe(1);

      const [queued] = await listExceptions(db.pool, {}, firstRows(50));
      expect(queued).toMatchObject({
        kind: 'PAID_AFTER_REJECTION', payoutId: attempt.payoutId, endToEndId: attempt.e2e, entryId: null,
        evidence: { payoutStatus: 'SENT', retries: [{ attemptNo: 2, endToEndId: second!.e2e, status: 'SENT', sentOn: chinaToday() }] },
      });
      expect(String(queued!.evidence.reason)).toMatch(new RegExp(`sent attempt 2 \\(${second!.e2e}, SENT\\).*paid twice.*recover`));
      expect(await wasPaid(attempt.payoutId)).toBe(true);
    } finally {
      ctx.remove();
    }
  });

  it('RJCT then ACSC in one report: the payout FAILED, the credit an exception, and one person may not retry it', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt } = await sentAttempt();
      const lines: Pain002TransactionStatus[] = [
        { originalEndToEndId: attempt.e2e, status: 'RJCT', reasonCode: 'AM04' },
        { originalEndToEndId: attempt.e2e, status: 'ACSC' },
      ];
      bank.current = {
        msgId: `RPT-BOTH-${Date.now()}`, createdAt: new Date().toISOString(), originalMsgId: batch.msgId, originalMsgNameId: 'pain.001.001.03',
        paymentInfoStatuses: [{ originalPmtInfId: attempt.pmtInfId, transactions: lines }], transactions: lines,
      };
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });

      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'FAILED' });
      expect(await exceptionsOf(db.pool)).toEqual([
        { kind: 'PAID_AFTER_REJECTION', status: 'OPEN', resolution: null, entryId: null, attemptId: attempt.id, amountFen: attempt.amountFen },
      ]);
      const [queued] = await listExceptions(db.pool, {}, firstRows(50));
      expect(String(queued!.evidence.reason)).toMatch(/after refusing it \(RJCT AM04\): the payout is FAILED; it now counts as paid by the bank/);
      expect(await wasPaid(attempt.payoutId)).toBe(true);
      await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, attempt.payoutId, 'the member asked again')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    } finally {
      ctx.remove();
    }
  });
});
