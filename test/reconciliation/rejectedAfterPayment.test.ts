import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BankTimeoutError, type BankAdapter } from '../../src/banks/adapter.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { firstRows } from '../../src/kernel/page.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { createBatch, retryPayout } from '../../src/payouts/decisions.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { matchException, writeOffException } from '../../src/reconciliation/resolve.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { listExceptions, report as dayReport } from '../../src/reconciliation/store/reads.ts';
import { testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { approvedBatch, approvedClaims, clerk, keys, oneLineReport, payoutsOf, resetPayouts, settings, submissionContext, ScriptedBank } from '../payouts/support.ts';
import { commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed } from './support.ts';

/**
 * The bank answers RJCT (pain.002) for a payment the hub already holds as paid: the bank had
 * reported it credited (ACSC) and the statement's debit is matched to it (the payout SETTLED), or
 * the debit comes after the refusal; or the bank had only accepted it (ACSP) when its debit was
 * matched. The bank's status and its statement disagree. A report never moves a final PAID, so the
 * payout stays paid (its member is not told it failed) and no one can retry it; the contradiction
 * is a reconciliation exception (REJECTED_AFTER_PAYMENT) in the clerks' work queue and the day's
 * report, naming the payout, its EndToEndId and the bank's reason, resolved as any other (written
 * off, with what the bank said). Driven with a scripted bank (the test sets each pain.002).
 */
const pki = testFilePki();
let db: TestDatabase;
let gw: TestGateway;

const bank = new ScriptedBank();

const ADMIN = { subject: 'admin-solo', role: 'ADMIN' };
const FINANCE_A = { subject: 'finance-a', role: 'FINANCE' };
const FINANCE_B = { subject: 'finance-b', role: 'FINANCE' };
const FOUR_EYES_ABOVE_FEN = 100_000;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { PII_KEY: keys.encryptionKey.toString('base64'), FOUR_EYES_ABOVE_FEN: String(FOUR_EYES_ABOVE_FEN) });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});
beforeEach(async () => {
  await resetPayouts(db.pool);
  await db.pool.query('TRUNCATE notifications, four_eyes_proposals, reconciliation_matches, reconciliation_exceptions, statement_entry_states, statement_entries, bank_statements, bank_documents RESTART IDENTITY CASCADE');
  bank.reset();
});

async function sentAttempt() {
  const [claim] = await approvedClaims(db.pool, 1);
  const batch = await approvedBatch(db.pool);
  const { rows: [a] } = await db.pool.query<{ id: number; e2e: string; payoutId: number; amountFen: number; pmtInfId: string }>(
    `SELECT a.id, a.end_to_end_id AS e2e, a.payout_id AS "payoutId", a.amount_fen AS "amountFen", b.pmt_inf_id AS "pmtInfId"
       FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.batch_id = $1`, [batch.id],
  );
  return { batch, attempt: a!, memberId: claim!.memberId };
}

/** Today's statement with the payment's debit (naming its EndToEndId), reconciled: the id of the debit's entry. */
async function debitOnStatement(attempt: { e2e: string; amountFen: number }): Promise<number> {
  const today = chinaToday();
  const debit = bookedEntry('DBIT', attempt.amountFen, today, { details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, remittanceInfo: [] }] });
  expect(await importConfirmed(db.pool, handStatement(today, 10_000_000, [debit], UNION_ACCOUNT))).toMatchObject({ status: 'ACCEPTED' });
  expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 1 });
  const { rows: [entry] } = await db.pool.query<{ id: number }>('SELECT id FROM statement_entries WHERE account_servicer_ref = $1', [debit.accountServicerRef]);
  return entry!.id;
}


const attemptOf = async (id: number) => (await db.pool.query<{ status: string; bankStatus: string | null; reasonCode: string | null }>(
  'SELECT status, bank_status AS "bankStatus", reason_code AS "reasonCode" FROM payout_attempts WHERE id = $1', [id],
)).rows[0]!;
const told = async (memberId: number) => (await db.pool.query<{ kind: string }>(
  `SELECT kind FROM notifications WHERE member_id = $1 AND kind LIKE 'PAYOUT%' ORDER BY id`, [memberId],
)).rows.map((r) => r.kind);
const entryState = async (id: number) => (await db.pool.query<{ state: string }>('SELECT state FROM statement_entry_states WHERE entry_id = $1', [id])).rows[0]!.state;

/** No one retries it: not one person, not two FINANCE people, and no batch takes it. */
async function expectNoRetry(payoutId: number): Promise<void> {
  for (const actor of [ADMIN, FINANCE_A, FINANCE_B]) {
    await expect(retryPayout(db.pool, actor, UNSCOPED, settings, payoutId, 'the bank says it was refused')).rejects.toMatchObject({ code: 'CONFLICT' });
  }
  expect(await createBatch(db.pool, clerk, settings, 10)).toBeNull();
}

/** The existing resolution: written off by FINANCE, above FOUR_EYES_ABOVE_FEN confirmed by a second FINANCE person. */
async function writtenOff(exceptionId: number, amountFen: number, reason: string): Promise<void> {
  const proposal = await writeOffException(db.pool, FINANCE_A, exceptionId, reason, FOUR_EYES_ABOVE_FEN);
  if (amountFen > FOUR_EYES_ABOVE_FEN) {
    expect(proposal).not.toBeNull();
    await decideProposal(db.pool, FINANCE_B, proposal!, true, 'read the bank\'s answer');
  } else {
    expect(proposal).toBeNull();
  }
}

describe('a payment the bank answered RJCT for after paying it', () => {
  it('ACSC, its debit matched (SETTLED), then RJCT: stays SETTLED, unretryable and untold, and is an exception in the work queue and the day\'s report', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt, memberId } = await sentAttempt();
      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSC', accountServicerRef: 'BANKTX1' });
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'ACCEPTED', waiting: false });
      const entryId = await debitOnStatement(attempt);
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'SETTLED' });
      expect(await exceptionsOf(db.pool)).toEqual([]);

      const rjct = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'RJCT', reasonCode: 'AC04', additionalInfo: 'closed account' });
      expect(await bank.deliver(ctx, rjct)).toBe(1);

      // The hub keeps what it holds: a report never moves a final PAID, the payout stays SETTLED.
      expect(await attemptOf(attempt.id)).toEqual({ status: 'PAID', bankStatus: 'ACSC', reasonCode: null });
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'SETTLED', statusReason: null, attempts: 1 });
      expect(await told(memberId)).toEqual(['PAYOUT_PAID']);
      await expectNoRetry(attempt.payoutId);

      // The contradiction is an open exception on the matched debit, naming the payout and the bank's reason.
      expect(await exceptionsOf(db.pool)).toEqual([
        { kind: 'REJECTED_AFTER_PAYMENT', status: 'OPEN', resolution: null, entryId, attemptId: attempt.id, amountFen: attempt.amountFen },
      ]);
      const today = chinaToday();
      const [queued, ...others] = await listExceptions(db.pool, {}, firstRows(50));
      expect(others).toEqual([]);
      expect(queued).toMatchObject({
        kind: 'REJECTED_AFTER_PAYMENT', account: UNION_ACCOUNT, occurredOn: today, entryId, payoutId: attempt.payoutId, endToEndId: attempt.e2e,
        amountFen: attempt.amountFen, status: 'OPEN',
        evidence: { endToEndId: attempt.e2e, payoutId: attempt.payoutId, bankStatus: 'RJCT', reasonCode: 'AC04', additionalInfo: 'closed account', report: rjct.msgId },
      });
      expect(String(queued!.evidence.reason)).toMatch(/RJCT AC04 \(closed account\).*debited.*SETTLED/);
      expect((await dayReport(db.pool, UNION_ACCOUNT, today)).openExceptions).toEqual([{ kind: 'REJECTED_AFTER_PAYMENT', count: 1, amountFen: attempt.amountFen }]);

      // The bank's feed repeats the report: still one exception.
      expect(await bank.deliver(ctx, rjct)).toBe(1);
      expect(await exceptionsOf(db.pool)).toHaveLength(1);

      // Its debit is matched already: nothing to match by hand. FINANCE writes it off with what the bank said.
      await expect(matchException(db.pool, FINANCE_A, queued!.id, { endToEndIds: [attempt.e2e] }, FOUR_EYES_ABOVE_FEN))
        .rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.exceptionId' });
      await writtenOff(queued!.id, attempt.amountFen, 'the bank confirms the credit stands; its RJCT was sent in error');
      expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'REJECTED_AFTER_PAYMENT', status: 'RESOLVED', resolution: 'WRITTEN_OFF' }]);
      expect(await entryState(entryId)).toBe('MATCHED');
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'SETTLED' });
      expect(await told(memberId)).toEqual(['PAYOUT_PAID']);
      await expectNoRetry(attempt.payoutId);
    } finally {
      ctx.remove();
    }
  });

  it('ACSC, RJCT, then its debit: the exception is raised at the refusal, on no entry yet, and stays when the debit settles the payout', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt, memberId } = await sentAttempt();
      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSC' });
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'ACCEPTED', waiting: false });
      expect(await bank.deliver(ctx, oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'RJCT', reasonCode: 'AM04' }))).toBe(1);

      expect(await attemptOf(attempt.id)).toMatchObject({ status: 'PAID' });
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'PAID' });
      expect(await exceptionsOf(db.pool)).toEqual([
        { kind: 'REJECTED_AFTER_PAYMENT', status: 'OPEN', resolution: null, entryId: null, attemptId: attempt.id, amountFen: attempt.amountFen },
      ]);
      const [queued] = await listExceptions(db.pool, {}, firstRows(50));
      expect(queued).toMatchObject({ occurredOn: chinaToday(), payoutId: attempt.payoutId, endToEndId: attempt.e2e, evidence: { reasonCode: 'AM04' } });
      expect(String(queued!.evidence.reason)).toMatch(/RJCT AM04 .*credited \(ACSC\).*no debit/);

      await debitOnStatement(attempt);
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'SETTLED' });
      expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'REJECTED_AFTER_PAYMENT', status: 'OPEN', attemptId: attempt.id }]);
      expect(await told(memberId)).toEqual(['PAYOUT_PAID']);
      await expectNoRetry(attempt.payoutId);
    } finally {
      ctx.remove();
    }
  });

  it('ACSP, its debit matched, then RJCT: FAILED as before (retried by two FINANCE people only), and an exception on the debit', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt } = await sentAttempt();
      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSP' });
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'SUBMITTED', waiting: true });
      const entryId = await debitOnStatement(attempt);

      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'RJCT', reasonCode: 'AC04' });
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });
      expect(await attemptOf(attempt.id)).toMatchObject({ status: 'REJECTED', reasonCode: 'AC04' });
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'FAILED' });
      await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, attempt.payoutId, 'the member asked again')).rejects.toMatchObject({ code: 'FORBIDDEN' });

      expect(await exceptionsOf(db.pool)).toEqual([
        { kind: 'REJECTED_AFTER_PAYMENT', status: 'OPEN', resolution: null, entryId, attemptId: attempt.id, amountFen: attempt.amountFen },
      ]);
      const [queued] = await listExceptions(db.pool, {}, firstRows(50));
      expect(String(queued!.evidence.reason)).toMatch(/RJCT AC04 .*debited.*FAILED/);
    } finally {
      ctx.remove();
    }
  });

  it('a refusal of a payment the bank never paid is no exception', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt, memberId } = await sentAttempt();
      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'RJCT', reasonCode: 'AC04' });
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });
      expect(await bank.deliver(ctx, bank.current)).toBe(1);
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'FAILED' });
      expect(await told(memberId)).toEqual(['PAYOUT_FAILED']);
      expect(await exceptionsOf(db.pool)).toEqual([]);
    } finally {
      ctx.remove();
    }
  });
});

describe('the whole file refused after its debit', () => {
  it('no answer (UNKNOWN), the debit matched on a statement, then the bank refuses the whole file: FAILED, retried by two FINANCE people only, and an exception on the debit', async () => {
    let answer: 'none' | 'refused' = 'none';
    const refusing: BankAdapter = {
      ...bank.adapter,
      submitBatch: async (s) => {
        if (answer === 'none') throw new BankTimeoutError('the bank did not answer');
        return { accepted: false, msgId: s.msgId, code: 'FF01', reason: 'the file cannot be read' };
      },
    };
    const ctx = submissionContext(db.pool, pki, { adapter: refusing } as never);
    try {
      const { batch, attempt, memberId } = await sentAttempt();
      await expect(advanceBatch(ctx, batch.id)).rejects.toBeInstanceOf(BankTimeoutError);
      expect(await attemptOf(attempt.id)).toMatchObject({ status: 'UNKNOWN' });
      const entryId = await debitOnStatement(attempt);

      // Asked by MsgId, the bank says it never received the file; sent again, the file is refused whole.
      answer = 'refused';
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });
      expect(await attemptOf(attempt.id)).toMatchObject({ status: 'REJECTED', reasonCode: 'FF01' });
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'FAILED' });
      expect(await told(memberId)).toEqual(['PAYOUT_FAILED']);
      await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, attempt.payoutId, 'the member asked again')).rejects.toMatchObject({ code: 'FORBIDDEN' });

      expect(await exceptionsOf(db.pool)).toEqual([
        { kind: 'REJECTED_AFTER_PAYMENT', status: 'OPEN', resolution: null, entryId, attemptId: attempt.id, amountFen: attempt.amountFen },
      ]);
      const [queued] = await listExceptions(db.pool, {}, firstRows(50));
      expect(queued).toMatchObject({ payoutId: attempt.payoutId, endToEndId: attempt.e2e, evidence: { reasonCode: 'FF01', report: batch.msgId } });
      expect(String(queued!.evidence.reason)).toMatch(/RJCT FF01 \(the file cannot be read\) .*debited.*FAILED/);
    } finally {
      ctx.remove();
    }
  });

  it('a whole file refused with no debit on a statement is no exception', async () => {
    const refusing: BankAdapter = { ...bank.adapter, submitBatch: async (s) => ({ accepted: false, msgId: s.msgId, code: 'DS0B', reason: 'seal refused' }) };
    const ctx = submissionContext(db.pool, pki, { adapter: refusing } as never);
    try {
      const { batch, memberId } = await sentAttempt();
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'FAILED' });
      expect(await told(memberId)).toEqual(['PAYOUT_FAILED']);
      expect(await exceptionsOf(db.pool)).toEqual([]);
    } finally {
      ctx.remove();
    }
  });
});

describe('racing a reconciliation run', () => {
  it('a RJCT applied while a run matches the payment\'s debit waits for the run, then finds the debit: an exception on it', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt } = await sentAttempt();
      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSP' });
      await advanceBatch(ctx, batch.id);
      const today = chinaToday();
      const debit = bookedEntry('DBIT', attempt.amountFen, today, { details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, remittanceInfo: [] }] });
      await importConfirmed(db.pool, handStatement(today, 10_000_000, [debit], UNION_ACCOUNT));
      const { rows: [entry] } = await db.pool.query<{ id: number }>('SELECT id FROM statement_entries WHERE account_servicer_ref = $1', [debit.accountServicerRef]);

      // A run's chunk has taken the account's lock and read its book (the attempt ACCEPTED, its debit to match); the refusal
      // arrives now; the chunk writes its match and commits once the refusal waits (or has ended).
      let run: { query: (sql: string, values: unknown[]) => Promise<unknown> } | null = null;
      const { work } = await commitOnceWaitedOn(db.pool, async (client) => {
        run = client;
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('reconciliation:' || $1))`, [UNION_ACCOUNT]);
      }, () => bank.deliver(ctx, oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'RJCT', reasonCode: 'AC04' })), async () => {
        await run!.query(
          `INSERT INTO reconciliation_matches (entry_id, tx_index, kind, rule, payout_attempt_id, amount_fen, matched_by)
           VALUES ($1, 0, 'PAYOUT', 'END_TO_END_ID', $2, $3, 'reconciliation')`, [entry!.id, attempt.id, attempt.amountFen],
        );
        await run!.query(`UPDATE statement_entry_states SET state = 'MATCHED', matched_at = now() WHERE entry_id = $1`, [entry!.id]);
      });
      expect(await work).toBe(1);

      expect(await attemptOf(attempt.id)).toMatchObject({ status: 'REJECTED' });
      expect(await exceptionsOf(db.pool)).toEqual([
        { kind: 'REJECTED_AFTER_PAYMENT', status: 'OPEN', resolution: null, entryId: entry!.id, attemptId: attempt.id, amountFen: attempt.amountFen },
      ]);
    } finally {
      ctx.remove();
    }
  });
});

describe('in the API', () => {
  it('FINANCE finds it in the exceptions and the day\'s report, with the payout and the bank\'s reason, and writes it off', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      const { batch, attempt } = await sentAttempt();
      bank.current = oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'ACSC' });
      await advanceBatch(ctx, batch.id);
      await debitOnStatement(attempt);
      expect(await bank.deliver(ctx, oneLineReport(batch.msgId, attempt.pmtInfId, { e2e: attempt.e2e, status: 'RJCT', reasonCode: 'AC04', additionalInfo: 'closed account' }))).toBe(1);

      const today = chinaToday();
      const read = await gw.query({ role: 'FINANCE', sub: 'finance-a' }, `query($account: String!, $date: Date!) {
        reconciliationExceptions(first: 10) { totalCount edges { node { id kind occurredOn endToEndId reason payout { id status } entry { creditDebit } viewerCanResolve } } }
        reconciliationReport(account: $account, date: $date) { openExceptions { kind count amountFen } }
      }`, { account: UNION_ACCOUNT, date: today });
      expect(read.errors).toBeUndefined();
      const node = read.data.reconciliationExceptions.edges[0].node;
      expect(read.data.reconciliationExceptions.totalCount).toBe(1);
      expect(node).toMatchObject({
        kind: 'REJECTED_AFTER_PAYMENT', occurredOn: today, endToEndId: attempt.e2e, payout: { id: toGlobalId('Payout', attempt.payoutId), status: 'SETTLED' },
        entry: { creditDebit: 'DBIT' }, viewerCanResolve: true,
      });
      expect(node.reason).toContain('AC04 (closed account)');
      expect(read.data.reconciliationReport.openExceptions).toEqual([{ kind: 'REJECTED_AFTER_PAYMENT', count: 1, amountFen: attempt.amountFen }]);

      const writeOff = `mutation($id: ID!) { writeOffReconciliationException(input: { exceptionId: $id, reason: "the bank confirms the credit stands" }) { userErrors { message } } }`;
      const first = await gw.query({ role: 'FINANCE', sub: 'finance-a' }, writeOff, { id: node.id });
      expect(first.errors).toBeUndefined();
      expect(first.data.writeOffReconciliationException.userErrors).toEqual([]);
      if (attempt.amountFen > FOUR_EYES_ABOVE_FEN) {
        const { rows: [p] } = await db.pool.query<{ id: number }>(`SELECT id FROM four_eyes_proposals WHERE status = 'PENDING'`);
        const confirmed = await gw.query({ role: 'FINANCE', sub: 'finance-b' }, `mutation($id: ID!) { confirmFourEyesProposal(input: { proposalId: $id }) { userErrors { message } } }`,
          { id: toGlobalId('FourEyesProposal', p!.id) });
        expect(confirmed.errors).toBeUndefined();
      }
      expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'REJECTED_AFTER_PAYMENT', status: 'RESOLVED', resolution: 'WRITTEN_OFF' }]);
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'SETTLED' });
    } finally {
      ctx.remove();
    }
  });
});
