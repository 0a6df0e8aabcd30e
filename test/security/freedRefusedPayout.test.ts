import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chinaToday } from '../../src/kernel/time.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { retryPayout } from '../../src/payouts/decisions.ts';
import { paidByBank } from '../../src/payouts/store/payouts.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { openAccount, startBank, testFilePki, UNION_ACCOUNT, type RunningBank } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, keys, payoutsOf, resetPayouts, settings, submissionContext } from '../payouts/support.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * A debit of no reference that a payout the bank refused (RJCT) may be counts that payout as paid
 * by the bank, so one person cannot retry it. A person matching the debit to another payout of the
 * same amount took that away: alone, at or below FOUR_EYES_ABOVE_FEN, they (or an ADMIN trusting
 * the match) could then retry the refused payout and pay its member twice, the other payout marked
 * paid by a debit that was not its own. Such a match now waits for a second person, whatever its
 * amount; one that frees nothing is still one person's. Each test but the last failed on the code
 * before.
 */
const pki = testFilePki();
let db: TestDatabase;

/** One person decides any amount: only the debit's refused payout can call for a second person. */
const ANY_AMOUNT_ALONE = Number.MAX_SAFE_INTEGER;
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
  await db.pool.query(`TRUNCATE four_eyes_proposals, reconciliation_matches, reconciliation_exceptions, statement_entry_states, statement_entries,
                                bank_statements, bank_documents RESTART IDENTITY CASCADE`);
});

interface Attempt {
  id: number;
  e2e: string;
  payoutId: number;
  amountFen: number;
  creditorName: string;
}

const attemptsOfBatch = async (batchId: number): Promise<Attempt[]> => (await db.pool.query<Attempt>(
  `SELECT id, end_to_end_id AS e2e, payout_id AS "payoutId", amount_fen AS "amountFen", creditor_name AS "creditorName"
     FROM payout_attempts WHERE batch_id = $1 ORDER BY id`, [batchId],
)).rows;

/** Sends a batch of everything ready to the simulator: its final answer and its attempts. */
async function sent(bank: RunningBank): Promise<{ status: string; attempts: Attempt[] }> {
  const batch = await approvedBatch(db.pool);
  const ctx = submissionContext(db.pool, pki, bank);
  try {
    return { status: await advanceUntilFinal(ctx, batch.id), attempts: await attemptsOfBatch(batch.id) };
  } finally {
    ctx.remove();
  }
}

/** `members` payouts of the same amount and name to cards the bank holds closed, refused (RJCT AC04). */
async function refusedPayouts(bank: RunningBank, members: number): Promise<Attempt[]> {
  for (let i = 0; i < members; i += 1) {
    const card = openAccount();
    bank.simulator.bank.setAccount({ account: card, status: 'CLOSED' });
    await approvedClaims(db.pool, 1, { 0: card });
  }
  const { status, attempts } = await sent(bank);
  expect(status).toBe('REJECTED');
  return attempts;
}

/** Another member's payout of that amount, credited by the bank and awaiting its debit (PAID). */
async function paidPayout(bank: RunningBank): Promise<Attempt> {
  await approvedClaims(db.pool, 1);
  const { status, attempts: [attempt] } = await sent(bank);
  expect(status).toBe('ACCEPTED');
  return attempt!;
}

/** Debits as the bank books them on today's statement, reconciled: the exceptions' ids, in order. */
async function reconciled(...entries: ReturnType<typeof bookedEntry>[]): Promise<number[]> {
  const today = chinaToday();
  await importConfirmed(db.pool, handStatement(today, 10_000_000, entries, UNION_ACCOUNT));
  await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
  return (await db.pool.query<{ id: number }>('SELECT id FROM reconciliation_exceptions ORDER BY id')).rows.map((r) => r.id);
}

/** A debit with the amount and the payee's name only, no reference. */
const byNameOnly = (attempt: Attempt) => ({ amountFen: attempt.amountFen, creditor: { name: attempt.creditorName }, remittanceInfo: [] });
const debit = (...details: { amountFen: number; creditor?: { name: string }; remittanceInfo: string[] }[]) =>
  bookedEntry('DBIT', details.reduce((sum, d) => sum + d.amountFen, 0), chinaToday(), { details });

const wasPaid = async (payoutId: number) => (await paidByBank(db.pool, [payoutId]))[0];
const payoutStatus = async (payoutId: number) => (await payoutsOf(db.pool)).find((p) => p.id === payoutId)!.status;
const matchCount = async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM reconciliation_matches')).rows[0]!.n;
const proposedBecause = async (id: number) => (await db.pool.query<{ reason: string }>(
  // The newest: proposal ids start again in each test, the audit log does not.
  `SELECT reason FROM audit_log WHERE action = 'four_eyes.propose' AND target_id = $1 ORDER BY seq DESC LIMIT 1`, [String(id)])).rows[0]?.reason;

/** One person alone cannot put the refused payout back in line, in code nor behind the code's back. */
async function expectNoRetryAlone(payoutId: number): Promise<void> {
  expect(await wasPaid(payoutId)).toBe(true);
  await expect(retryPayout(db.pool, ADMIN, UNSCOPED, settings, payoutId, 'the match shows the member was not paid'))
    .rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('a statement shows it debited') });
  await expect(db.pool.query(`UPDATE payouts SET status = 'READY', status_reason = NULL WHERE id = $1`, [payoutId])).rejects.toThrow(/the bank had paid it/);
}

describe('a debit naming a refused payout, matched by one person to another payout of that amount', () => {
  it('is proposed, not applied, however small; the refused payout stays paid by the bank; a second person\'s confirmation applies it', async () => {
    const bank = await startBank(pki);
    const [refused] = await refusedPayouts(bank, 1);
    const [exceptionId] = await reconciled(debit(byNameOnly(refused!)));
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: refused!.id }]);
    const other = await paidPayout(bank);
    expect(other.amountFen).toBe(refused!.amountFen);

    const proposal = await matchException(db.pool, FINANCE_A, exceptionId!, { endToEndIds: [other.e2e], note: '银行确认: 该笔为另一会员的付款' }, ANY_AMOUNT_ALONE);
    expect(proposal).toEqual(expect.any(Number));
    expect(await proposedBecause(proposal!)).toBe(
      `the bank's debit counts payout ${refused!.payoutId} (${refused!.e2e}) as paid by the bank: matched to another payout it no longer would, and one person could retry it`);
    expect(await exceptionsOf(db.pool)).toMatchObject([{ status: 'OPEN' }]);
    expect(await matchCount()).toBe(0);
    expect(await payoutStatus(other.payoutId)).toBe('PAID');
    await expectNoRetryAlone(refused!.payoutId);

    // The proposer cannot confirm it; a second person can, and then the match is made as proposed.
    await expect(decideProposal(db.pool, FINANCE_A, proposal!, true, 'confirmed')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await decideProposal(db.pool, FINANCE_B, proposal!, true, 'checked the bank\'s answer');
    expect(await exceptionsOf(db.pool)).toMatchObject([{ status: 'RESOLVED', resolution: 'MATCHED' }]);
    expect(await payoutStatus(other.payoutId)).toBe('SETTLED');
    expect(await wasPaid(refused!.payoutId)).toBe(false);
    expect(await retryPayout(db.pool, ADMIN, UNSCOPED, settings, refused!.payoutId, 'two people found the bank paid another member')).toBe('RETRIED');
  });

  it('listing the refused payouts of two members, matched to a third payout: proposed, both stay paid by the bank', async () => {
    const bank = await startBank(pki);
    const [first, second] = await refusedPayouts(bank, 2);
    const [exceptionId] = await reconciled(debit(byNameOnly(first!)));
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: null }]);
    const other = await paidPayout(bank);

    const proposal = await matchException(db.pool, ADMIN, exceptionId!, { endToEndIds: [other.e2e] }, ANY_AMOUNT_ALONE);
    expect(proposal).toEqual(expect.any(Number));
    expect(await proposedBecause(proposal!)).toContain(`payout ${first!.payoutId} (${first!.e2e}), payout ${second!.payoutId} (${second!.e2e})`);
    expect(await matchCount()).toBe(0);
    for (const attempt of [first!, second!]) await expectNoRetryAlone(attempt.payoutId);
  });

  it('in a batch booking, matching another of its transactions to a payout frees the refused one as well: proposed', async () => {
    const bank = await startBank(pki);
    const [refused] = await refusedPayouts(bank, 1);
    // One booking of two transactions: the refused payout's amount and name, and as much to no one named.
    const exceptionIds = await reconciled(debit(byNameOnly(refused!), { amountFen: refused!.amountFen, remittanceInfo: [] }));
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: refused!.id }, { kind: 'UNMATCHED_DEBIT', attemptId: null }]);
    const other = await paidPayout(bank);

    const proposal = await matchException(db.pool, FINANCE_A, exceptionIds[1]!, { endToEndIds: [other.e2e] }, ANY_AMOUNT_ALONE);
    expect(proposal).toEqual(expect.any(Number));
    expect(await matchCount()).toBe(0);
    await expectNoRetryAlone(refused!.payoutId);
  });

  it('a debit that counts no payout as paid is still matched by one person at once (the threshold aside)', async () => {
    const bank = await startBank(pki);
    const other = await paidPayout(bank);
    const [exceptionId] = await reconciled(debit({ amountFen: other.amountFen, remittanceInfo: [] }));
    expect(await matchException(db.pool, FINANCE_A, exceptionId!, { endToEndIds: [other.e2e] }, ANY_AMOUNT_ALONE)).toBeNull();
    expect(await payoutStatus(other.payoutId)).toBe('SETTLED');
  });
});
