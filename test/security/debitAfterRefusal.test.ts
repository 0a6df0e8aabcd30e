import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { approveBatch, createBatch, requestSubmission, retryPayout } from '../../src/payouts/decisions.ts';
import { paidByBank } from '../../src/payouts/store/payouts.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { openAccount, startBank, testFilePki, UNION_ACCOUNT, type RunningBank } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, clerk, finance, payoutsOf, resetPayouts, settings, submissionContext, keys } from '../payouts/support.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The bank answers RJCT for a payment (the payout FAILED, one person may retry it) but debits the
 * hub's account for it all the same, and its statement shows the debit with the amount and the
 * payee's name only: no EndToEndId, no PmtInfId. The amount + name rule never matches such a debit
 * to anything, but it must not overlook the refused payment it may be: the exception names it, so
 * the payout counts as paid by the bank (payout_paid_by_bank) and its retry takes two FINANCE
 * people; and an open payment of that amount and name (the retry's new attempt) is not given it.
 * Refusals come from the bank simulator (a payee account it holds CLOSED: AC04).
 */
const pki = testFilePki();
let db: TestDatabase;

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
  await db.pool.query('TRUNCATE reconciliation_matches, reconciliation_exceptions, statement_entry_states, statement_entries, bank_statements, bank_documents RESTART IDENTITY CASCADE');
});

interface Attempt {
  id: number;
  e2e: string;
  payoutId: number;
  amountFen: number;
  creditorName: string;
  status: string;
}

const attemptsOf = async (payoutId: number): Promise<Attempt[]> => (await db.pool.query<Attempt>(
  `SELECT id, end_to_end_id AS e2e, payout_id AS "payoutId", amount_fen AS "amountFen", creditor_name AS "creditorName", status
     FROM payout_attempts WHERE payout_id = $1 ORDER BY attempt_no`, [payoutId],
)).rows;

/** Sends the batch to the simulator until its final answer. */
async function send(bank: RunningBank, batchId: number): Promise<string> {
  const ctx = submissionContext(db.pool, pki, bank);
  try {
    return await advanceUntilFinal(ctx, batchId);
  } finally {
    ctx.remove();
  }
}

/** `members` payouts to cards the bank holds closed, sent in one batch and refused (RJCT AC04): their attempts. */
async function refusedPayouts(bank: RunningBank, members: number): Promise<{ attempts: Attempt[]; cards: string[] }> {
  const cards: string[] = [];
  // One member at a time: each claim the same stay, so the same amount (and every seeded member has the same name).
  for (let i = 0; i < members; i += 1) {
    const card = openAccount();
    bank.simulator.bank.setAccount({ account: card, status: 'CLOSED' });
    await approvedClaims(db.pool, 1, { 0: card });
    cards.push(card);
  }
  const batch = await approvedBatch(db.pool);
  expect(await send(bank, batch.id)).toBe('REJECTED');
  const attempts = (await db.pool.query<Attempt>(
    `SELECT id, end_to_end_id AS e2e, payout_id AS "payoutId", amount_fen AS "amountFen", creditor_name AS "creditorName", status
       FROM payout_attempts WHERE batch_id = $1 ORDER BY id`, [batch.id],
  )).rows;
  expect(attempts.map((a) => a.status)).toEqual(attempts.map(() => 'REJECTED'));
  return { attempts, cards };
}

/** A debit as the bank books it without reference: the amount and the payee's name, nothing else. */
const debitByNameOnly = (attempt: Attempt, date: string) =>
  bookedEntry('DBIT', attempt.amountFen, date, { details: [{ amountFen: attempt.amountFen, creditor: { name: attempt.creditorName }, remittanceInfo: [] }] });

const wasPaid = async (payoutId: number) => (await paidByBank(db.pool, [payoutId]))[0];
const evidenceOf = async (entryId: number) => (await db.pool.query<{ evidence: Record<string, unknown> }>(
  'SELECT evidence FROM reconciliation_exceptions WHERE entry_id = $1', [entryId],
)).rows.map((r) => r.evidence);

describe('a payout the bank answered RJCT for, then debited by amount and name only', () => {
  it('is named by the debit\'s exception: paid by the bank, and retried only by two FINANCE people', async () => {
    const bank = await startBank(pki);
    const { attempts: [attempt] } = await refusedPayouts(bank, 1);
    expect(await wasPaid(attempt!.payoutId)).toBe(false);

    const today = chinaToday();
    await importConfirmed(db.pool, handStatement(today, 10_000_000, [debitByNameOnly(attempt!, today)], UNION_ACCOUNT));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 0, exceptions: 1 });
    const [exception] = await exceptionsOf(db.pool);
    expect(exception).toMatchObject({ kind: 'UNMATCHED_DEBIT', status: 'OPEN', attemptId: attempt!.id, amountFen: attempt!.amountFen });
    expect((await evidenceOf(exception!.entryId!))[0]).toMatchObject({
      endToEndId: attempt!.e2e, attemptStatus: 'REJECTED', reason: expect.stringContaining('debited by amount and name'),
    });
    expect((await db.pool.query('SELECT count(*)::int AS n FROM reconciliation_matches')).rows).toEqual([{ n: 0 }]);
    expect(await wasPaid(attempt!.payoutId)).toBe(true);

    // One person may not retry it, in code nor behind the code's back; two FINANCE people may.
    await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, attempt!.payoutId, 'the member asked again'))
      .rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('a statement shows it debited') });
    await expect(db.pool.query(`UPDATE payouts SET status = 'READY', status_reason = NULL WHERE id = $1`, [attempt!.payoutId])).rejects.toThrow(/the bank had paid it/);
    expect(await retryPayout(db.pool, FINANCE_A, UNSCOPED, settings, attempt!.payoutId, 'the bank confirms the member was not paid')).toBe('PROPOSED');
    expect(await createBatch(db.pool, clerk, settings, 10)).toBeNull();
    expect(await retryPayout(db.pool, FINANCE_B, UNSCOPED, settings, attempt!.payoutId, 'checked the bank\'s answer')).toBe('RETRIED');
  });

  it('names neither when the refused payments of two payouts have its amount and name: a person finds which the bank paid, both counted paid till then', async () => {
    const bank = await startBank(pki);
    const { attempts } = await refusedPayouts(bank, 2);
    const [first, second] = attempts;
    expect(second!.amountFen).toBe(first!.amountFen);
    expect(second!.creditorName).toBe(first!.creditorName);

    const today = chinaToday();
    await importConfirmed(db.pool, handStatement(today, 10_000_000, [debitByNameOnly(first!, today)], UNION_ACCOUNT));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 0, exceptions: 1 });
    const [exception] = await exceptionsOf(db.pool);
    expect(exception).toMatchObject({ kind: 'UNMATCHED_DEBIT', status: 'OPEN', attemptId: null });
    // What the person resolving it needs: both refused payments it may be.
    expect((await evidenceOf(exception!.entryId!))[0]).toMatchObject({
      refused: expect.arrayContaining([first!.e2e, second!.e2e]), reason: expect.stringContaining('the bank refused (RJCT) may each be what it debited'),
    });
    expect((await db.pool.query('SELECT count(*)::int AS n FROM reconciliation_matches')).rows).toEqual([{ n: 0 }]);
    // Either may be with its member: neither is retried by one person (0046) till a person finds which.
    for (const attempt of [first!, second!]) {
      expect(await wasPaid(attempt.payoutId)).toBe(true);
      await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, attempt.payoutId, 'the member asked again')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(db.pool.query(`UPDATE payouts SET status = 'READY', status_reason = NULL WHERE id = $1`, [attempt.payoutId])).rejects.toThrow(/the bank had paid it/);
    }
  });
});

describe('a debit that named a refused payment, matched to another payout by one person and confirmed by a second', () => {
  it('no longer counts for the refused one: its payout may be retried by one person again', async () => {
    const bank = await startBank(pki);
    const { attempts: [refused] } = await refusedPayouts(bank, 1);
    const today = chinaToday();
    await importConfirmed(db.pool, handStatement(today, 10_000_000, [debitByNameOnly(refused!, today)], UNION_ACCOUNT));
    await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
    const [exception] = await exceptionsOf(db.pool);
    expect(exception).toMatchObject({ kind: 'UNMATCHED_DEBIT', attemptId: refused!.id });
    expect(await wasPaid(refused!.payoutId)).toBe(true);

    // The bank says the debit was another member's payment of that amount, credited since: FINANCE matches it there.
    await approvedClaims(db.pool, 1);
    const other = await approvedBatch(db.pool);
    expect(await send(bank, other.id)).toBe('ACCEPTED');
    const { rows: [paid] } = await db.pool.query<{ e2e: string; payoutId: number }>(
      `SELECT end_to_end_id AS e2e, payout_id AS "payoutId" FROM payout_attempts WHERE batch_id = $1`, [other.id],
    );
    const { rows: [opened] } = await db.pool.query<{ id: number }>('SELECT id FROM reconciliation_exceptions WHERE entry_id = $1', [exception!.entryId]);
    // Whatever its amount, it frees the refused payout: a second person confirms it (freedRefusedPayout.test.ts).
    const proposal = await matchException(db.pool, FINANCE_A, opened!.id, { endToEndIds: [paid!.e2e], note: '银行确认: 该笔为另一会员的付款' }, Number.MAX_SAFE_INTEGER);
    await decideProposal(db.pool, FINANCE_B, proposal!, true, 'checked the bank\'s answer');
    expect((await payoutsOf(db.pool)).find((p) => p.id === paid!.payoutId)).toMatchObject({ status: 'SETTLED' });
    expect(await wasPaid(refused!.payoutId)).toBe(false);
    expect(await retryPayout(db.pool, ADMIN, UNSCOPED, settings, refused!.payoutId, 'the bank confirms the member was not paid')).toBe('RETRIED');
  });
});

describe('a payout retried after RJCT, its new attempt credited and awaiting its debit', () => {
  it('is settled by its own debit of amount and name only: the refused first attempt does not take it, and no debit is reported missing', async () => {
    const bank = await startBank(pki);
    const { attempts: [first], cards: [card] } = await refusedPayouts(bank, 1);
    // No debit seen: one person may retry it. The member's account is open again and the retry is credited (PAID).
    expect(await retryPayout(db.pool, ADMIN, UNSCOPED, settings, first!.payoutId, 'the member opened the account again')).toBe('RETRIED');
    bank.simulator.bank.setAccount({ account: card!, status: 'OPEN' });
    const batch = (await createBatch(db.pool, clerk, settings, 10))!;
    await approveBatch(db.pool, finance, batch.id);
    await requestSubmission(db.pool, finance, batch.id);
    expect(await send(bank, batch.id)).toBe('ACCEPTED');
    const [, retry] = await attemptsOf(first!.payoutId);
    expect(retry).toMatchObject({ status: 'PAID', amountFen: first!.amountFen, creditorName: first!.creditorName });

    // The retry's debit, booked with the amount and the payee's name only, within days of the refusal.
    const today = chinaToday();
    await importConfirmed(db.pool, handStatement(today, 10_000_000, [debitByNameOnly(first!, today)], UNION_ACCOUNT));
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test', asOf: addDays(today, 7) })).toMatchObject({ matched: 1, exceptions: 0 });
    expect(await exceptionsOf(db.pool)).toEqual([]);
    expect((await payoutsOf(db.pool)).find((p) => p.id === first!.payoutId)).toMatchObject({ status: 'SETTLED' });
    expect(await wasPaid(first!.payoutId)).toBe(true);
  });
});
