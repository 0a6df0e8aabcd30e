import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { approveBatch, cancelBatch, createBatch, requestSubmission, retryPayout } from '../../src/payouts/decisions.ts';
import { approvePaymentPolicy, proposePaymentPolicy, releaseUnderPolicies } from '../../src/payouts/policies.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { approvedBatch, approvedClaims, clerk, finance, keys, oneLineReport, payoutsOf, resetPayouts, settings, submissionContext, ScriptedBank } from '../payouts/support.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * A payout the bank debited and then answered RJCT for (ACSP, the debit on the hub's statement,
 * then RJCT), or debited after refusing it: the bank's status says it failed, the statement says
 * the money left. One person retrying it could pay the member twice: its retry takes one FINANCE
 * person's proposal and another's confirmation, as for a payout whose money came back, in code
 * (retryPayout, Payout.viewerCanRetry) and in the database. Driven with a scripted bank adapter
 * (the test sets each pain.002 the bank answers).
 */
const pki = testFilePki();
let db: TestDatabase;
let gw: TestGateway;

const bank = new ScriptedBank();

const ADMIN = { subject: 'admin-solo', role: 'ADMIN' };
const FINANCE_A = { subject: 'finance-a', role: 'FINANCE' };
const FINANCE_B = { subject: 'finance-b', role: 'FINANCE' };

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64') });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});
beforeEach(async () => {
  await resetPayouts(db.pool);
  await db.pool.query('TRUNCATE reconciliation_matches, reconciliation_exceptions, statement_entry_states, statement_entries, bank_statements, bank_documents RESTART IDENTITY CASCADE');
  bank.reset();
});

async function sentAttempt() {
  await approvedClaims(db.pool, 1);
  const batch = await approvedBatch(db.pool);
  const { rows: [a] } = await db.pool.query<{ id: number; e2e: string; payoutId: number; amountFen: number; pmtInfId: string }>(
    `SELECT a.id, a.end_to_end_id AS e2e, a.payout_id AS "payoutId", a.amount_fen AS "amountFen", b.pmt_inf_id AS "pmtInfId"
       FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.batch_id = $1`, [batch.id],
  );
  return { batch, attempt: a! };
}

const attemptStatus = async (id: number) => (await db.pool.query<{ status: string }>('SELECT status FROM payout_attempts WHERE id = $1', [id])).rows[0]!.status;

async function viewerCanRetry(payoutId: number): Promise<boolean> {
  const result = await gw.query({ role: 'ADMIN', sub: 'admin-solo' }, `query($id: ID!) { payout(id: $id) { viewerCanRetry } }`, { id: toGlobalId('Payout', payoutId) });
  if (result.errors) throw new Error(JSON.stringify(result.errors));
  return result.data.payout.viewerCanRetry;
}

/** One person may not retry it; two FINANCE people may, and only then is a second attempt planned. */
async function expectFourEyesRetry(payoutId: number, amountFen: number): Promise<void> {
  expect(await viewerCanRetry(payoutId)).toBe(false);
  await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, payoutId, 'the member asked again'))
    .rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('a statement shows it debited') });
  // Nor behind the code's back: the database refuses the payout waiting again without a confirmed proposal.
  await expect(db.pool.query(`UPDATE payouts SET status = 'READY', status_reason = NULL WHERE id = $1`, [payoutId])).rejects.toThrow(/the bank had paid it/);
  expect(await createBatch(db.pool, clerk, settings, 10)).toBeNull();

  expect(await retryPayout(db.pool, FINANCE_A, UNSCOPED, settings, payoutId, 'the bank confirms the payment did not reach the member')).toBe('PROPOSED');
  expect(await createBatch(db.pool, clerk, settings, 10)).toBeNull();
  expect(await retryPayout(db.pool, FINANCE_B, UNSCOPED, settings, payoutId, 'checked the bank\'s answer')).toBe('RETRIED');
  expect(await createBatch(db.pool, clerk, settings, 10)).not.toBeNull();
  const { rows } = await db.pool.query('SELECT attempt_no AS n, status, amount_fen AS "amountFen" FROM payout_attempts WHERE payout_id = $1 ORDER BY attempt_no', [payoutId]);
  expect(rows).toEqual([{ n: 1, status: 'REJECTED', amountFen }, { n: 2, status: 'PLANNED', amountFen }]);
}

describe('a payout the bank debited, then answered RJCT for', () => {
  it('is retried only by two FINANCE people: ACSP, the debit matched on the statement, then RJCT', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt } = await sentAttempt();
      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSP', accountServicerRef: 'BANKTX1' });
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'SUBMITTED', waiting: true });
      const today = chinaToday();
      const debit = bookedEntry('DBIT', attempt.amountFen, today, { details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, remittanceInfo: [] }] });
      expect(await importConfirmed(db.pool, handStatement(today, 10_000_000, [debit], UNION_ACCOUNT))).toMatchObject({ status: 'ACCEPTED' });
      expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 1, exceptions: 0 });

      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'RJCT', reasonCode: 'AC04', additionalInfo: 'closed account' });
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });
      expect(await attemptStatus(attempt.id)).toBe('REJECTED');
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'FAILED' });
      await expectFourEyesRetry(attempt.payoutId, attempt.amountFen);
    } finally {
      ctx.remove();
    }
  });

  it('is retried only by two FINANCE people: RJCT first, then the debit on the statement (an exception naming it)', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt } = await sentAttempt();
      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'RJCT', reasonCode: 'AC04' });
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });
      // Before any debit is seen, the bank's refusal stands: one person may retry (checked, not done).
      expect(await viewerCanRetry(attempt.payoutId)).toBe(true);

      const today = chinaToday();
      const debit = bookedEntry('DBIT', attempt.amountFen, today, { details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, remittanceInfo: [] }] });
      await importConfirmed(db.pool, handStatement(today, 10_000_000, [debit], UNION_ACCOUNT));
      expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 0, exceptions: 1 });
      expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', status: 'OPEN', attemptId: attempt.id }]);
      await expectFourEyesRetry(attempt.payoutId, attempt.amountFen);
    } finally {
      ctx.remove();
    }
  });
});

/** Refused (RJCT) though debited, retried by two FINANCE people: its second attempt PLANNED in a DRAFT batch. */
async function confirmedRetry(ctx: ReturnType<typeof submissionContext>) {
  const { batch, attempt } = await sentAttempt();
  bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'RJCT', reasonCode: 'AC04' });
  expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });
  const today = chinaToday();
  const debit = bookedEntry('DBIT', attempt.amountFen, today, { details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, remittanceInfo: [] }] });
  await importConfirmed(db.pool, handStatement(today, 10_000_000, [debit], UNION_ACCOUNT));
  await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
  await expectFourEyesRetry(attempt.payoutId, attempt.amountFen);
  const { rows: [second] } = await db.pool.query<{ batchId: number; msgId: string; pmtInfId: string; e2e: string }>(
    `SELECT b.id AS "batchId", b.msg_id AS "msgId", b.pmt_inf_id AS "pmtInfId", a.end_to_end_id AS e2e
       FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.payout_id = $1 AND a.attempt_no = 2`, [attempt.payoutId],
  );
  return { payoutId: attempt.payoutId, second: second! };
}

describe('a payout the bank debited, retried by two FINANCE people', () => {
  it('is sent, also after the batch first holding its retry was cancelled before sealing', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { payoutId, second } = await confirmedRetry(ctx);
      // The batch holding the confirmed retry is withdrawn before it is sealed; the next one carries it.
      await cancelBatch(db.pool, finance, settings, second.batchId, 'made on the wrong day');
      const next = (await createBatch(db.pool, clerk, settings, 10))!;
      await approveBatch(db.pool, finance, next.id);
      await requestSubmission(db.pool, finance, next.id);
      await advanceBatch(ctx, next.id);
      expect(bank.sent).toContain(next.msgId);
      expect((await payoutsOf(db.pool)).find((p) => p.id === payoutId)).toMatchObject({ status: 'SENT' });
    } finally {
      ctx.remove();
    }
  });
});

/**
 * The trigger on payouts and the sealing check ask one question (payout_retry_confirmed, 0045): did
 * a second FINANCE person confirm a retry after the last attempt that reached the bank? Attempts
 * withdrawn before the bank had them (CANCELLED) do not use a confirmation up; an attempt the bank
 * answered does.
 */
describe('a confirmed retry of a payout the bank debited, in the database and at sealing alike', () => {
  const waitAgain = (payoutId: number) => db.pool.query(`UPDATE payouts SET status = 'READY', status_reason = NULL WHERE id = $1`, [payoutId]);

  it('still holds after attempts that never reached the bank: a batch cancelled, then a name the file cannot carry at sealing', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { payoutId, second } = await confirmedRetry(ctx);
      await cancelBatch(db.pool, finance, settings, second.batchId, 'made on the wrong day');
      const { rows: [member] } = await db.pool.query<{ id: number; name: string }>(
        `SELECT m.id, m.name FROM members m JOIN payouts p ON p.member_id = m.id WHERE p.id = $1`, [payoutId],
      );
      // Written straight in the database, as a row from before names were checked: the third attempt leaves its batch at sealing.
      await db.pool.query(`UPDATE members SET name = $2 WHERE id = $1`, [member!.id, '张\t三']);
      const third = (await createBatch(db.pool, clerk, settings, 10))!;
      await approveBatch(db.pool, finance, third.id);
      await requestSubmission(db.pool, finance, third.id);
      await advanceBatch(ctx, third.id);
      expect(bank.sent).not.toContain(third.msgId);
      expect((await payoutsOf(db.pool)).find((p) => p.id === payoutId)).toMatchObject({ status: 'FAILED', attempts: 3, statusReason: expect.stringContaining('cannot carry') });

      // Nothing reached the bank since the confirmed retry: the database lets it wait again, and sealing sends it, on that confirmation.
      await db.pool.query(`UPDATE members SET name = $2 WHERE id = $1`, [member!.id, member!.name]);
      await waitAgain(payoutId);
      const fourth = (await createBatch(db.pool, clerk, settings, 10))!;
      await approveBatch(db.pool, finance, fourth.id);
      await requestSubmission(db.pool, finance, fourth.id);
      await advanceBatch(ctx, fourth.id);
      expect(bank.sent).toContain(fourth.msgId);
      expect((await payoutsOf(db.pool)).find((p) => p.id === payoutId)).toMatchObject({ status: 'SENT', attempts: 4 });
    } finally {
      ctx.remove();
    }
  });

  it('is used up by an attempt the bank answered: the next retry needs a confirmation of its own', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { payoutId, second } = await confirmedRetry(ctx);
      await approveBatch(db.pool, finance, second.batchId);
      await requestSubmission(db.pool, finance, second.batchId);
      bank.current = oneLineReport(second.msgId, second.pmtInfId, { e2e: second.e2e, status: 'RJCT', reasonCode: 'AC04' });
      expect(await advanceBatch(ctx, second.batchId)).toEqual({ status: 'REJECTED', waiting: false });
      await expect(waitAgain(payoutId)).rejects.toThrow(/the bank had paid it/);
      expect(await retryPayout(db.pool, FINANCE_A, UNSCOPED, settings, payoutId, 'the bank refused it again')).toBe('PROPOSED');
      await expect(waitAgain(payoutId)).rejects.toThrow(/the bank had paid it/);
      expect(await retryPayout(db.pool, FINANCE_B, UNSCOPED, settings, payoutId, 'checked the bank\'s answer')).toBe('RETRIED');
      expect((await payoutsOf(db.pool)).find((p) => p.id === payoutId)).toMatchObject({ status: 'READY', attempts: 2 });
    } finally {
      ctx.remove();
    }
  });
});

describe('a batch booking (批量代付) that debited a payment the bank answered RJCT for', () => {
  it('is retried only by two FINANCE people: the booking debited more than the block\'s credited payments', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      await approvedClaims(db.pool, 2);
      const batch = await approvedBatch(db.pool);
      const { rows: [a, b] } = await db.pool.query<{ e2e: string; payoutId: number; amountFen: number; pmtInfId: string }>(
        `SELECT a.end_to_end_id AS e2e, a.payout_id AS "payoutId", a.amount_fen AS "amountFen", b.pmt_inf_id AS "pmtInfId"
           FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.batch_id = $1 ORDER BY a.id`, [batch.id],
      );
      bank.current = oneLineReport(batch.msgId, a!.pmtInfId, { e2e: a!.e2e, status: 'ACSC' });
      bank.current = { ...bank.current, transactions: [...bank.current.transactions, { originalEndToEndId: b!.e2e, status: 'RJCT', reasonCode: 'AC04' }] };
      bank.current = { ...bank.current, paymentInfoStatuses: [{ originalPmtInfId: a!.pmtInfId, transactions: bank.current.transactions }] };
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'PARTIALLY_ACCEPTED', waiting: false });
      // One booking for the whole block, both payments: more than the one the bank credited.
      const today = chinaToday();
      const debit = bookedEntry('DBIT', a!.amountFen + b!.amountFen, today, { batch: { pmtInfId: a!.pmtInfId, msgId: batch.msgId }, details: [] });
      await importConfirmed(db.pool, handStatement(today, 100_000_000, [debit], UNION_ACCOUNT));
      await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
      expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'AMOUNT_MISMATCH', attemptId: null }]);
      await expectFourEyesRetry(b!.payoutId, b!.amountFen);
    } finally {
      ctx.remove();
    }
  });
});

describe('a debit on the statement after one person retried a payout the bank answered RJCT for', () => {
  /** Refused (RJCT), retried by one ADMIN while no debit was seen, then the statement shows the first attempt debited. */
  async function retriedThenDebited(): Promise<{ payoutId: number; amountFen: number }> {
    await approvedClaims(db.pool, 1);
    const batch = await approvedBatch(db.pool);
    const [attempt] = (await db.pool.query<{ e2e: string; payoutId: number; amountFen: number; pmtInfId: string }>(
      `SELECT a.end_to_end_id AS e2e, a.payout_id AS "payoutId", a.amount_fen AS "amountFen", b.pmt_inf_id AS "pmtInfId"
         FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.batch_id = $1`, [batch.id],
    )).rows;
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      bank.current = oneLineReport(batch.msgId, attempt!.pmtInfId, { e2e: attempt!.e2e, status: 'RJCT', reasonCode: 'AC04' });
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });
    } finally {
      ctx.remove();
    }
    expect(await retryPayout(db.pool, ADMIN, UNSCOPED, settings, attempt!.payoutId, 'the bank refused it')).toBe('RETRIED');
    const today = chinaToday();
    const debit = bookedEntry('DBIT', attempt!.amountFen, today, { details: [{ endToEndId: attempt!.e2e, amountFen: attempt!.amountFen, remittanceInfo: [] }] });
    await importConfirmed(db.pool, handStatement(today, 100_000_000, [debit], UNION_ACCOUNT));
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
    return attempt!;
  }

  /** The batch holding the second attempt reaches the bank without it: the payout FAILED with the reason, then two FINANCE people may retry it. */
  async function expectWithdrawnAtSealing(batchId: number, payout: { payoutId: number; amountFen: number }): Promise<void> {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      await advanceBatch(ctx, batchId);
    } finally {
      ctx.remove();
    }
    const { rows: [batch] } = await db.pool.query('SELECT status, msg_id AS "msgId" FROM payout_batches WHERE id = $1', [batchId]);
    expect(batch.status).toBe('CANCELLED');
    expect(bank.sent).not.toContain(batch.msgId);
    expect((await payoutsOf(db.pool)).find((p) => p.id === payout.payoutId)).toMatchObject({
      status: 'FAILED', statusReason: expect.stringContaining('a statement shows the bank paid an earlier attempt'),
    });
    await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, payout.payoutId, 'the member asked again')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await retryPayout(db.pool, FINANCE_A, UNSCOPED, settings, payout.payoutId, 'the bank confirms the member was not paid')).toBe('PROPOSED');
    expect(await retryPayout(db.pool, FINANCE_B, UNSCOPED, settings, payout.payoutId, 'checked the bank\'s answer')).toBe('RETRIED');
  }

  it('is not sent in an ordinary batch: the payment leaves it at sealing, and only two FINANCE people retry it', async () => {
    const payout = await retriedThenDebited();
    const batch = (await createBatch(db.pool, clerk, settings, 10))!;
    await approveBatch(db.pool, finance, batch.id);
    await requestSubmission(db.pool, finance, batch.id);
    await expectWithdrawnAtSealing(batch.id, payout);
  });

  it('is not sent by a standing payment policy (即时办), with no person: the payment leaves the released batch at sealing', async () => {
    const payout = await retriedThenDebited();
    const { rows: [funder] } = await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`);
    const now = Date.now();
    const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
      funderId: funder!.id, maxPayoutFen: 100_000_000, dailySumFen: 1_000_000_000, dailyCount: 1_000, accountUnchangedDays: settings.coolingOffDays,
      validFrom: new Date(now - 60_000), validUntil: new Date(now + 86_400_000), reason: '即时办 for small claims',
    });
    await approvePaymentPolicy(db.pool, { subject: 'finance-zhao', role: 'FINANCE' }, UNSCOPED, policy.id);
    const [released] = await releaseUnderPolicies(db.pool, settings);
    expect(released).toBeDefined();
    await expectWithdrawnAtSealing(released!.id, payout);
  });
});
