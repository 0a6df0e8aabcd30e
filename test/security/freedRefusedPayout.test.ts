import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { retryPayout } from '../../src/payouts/decisions.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { startBank, testFilePki } from '../banks/simulator/support.ts';
import { byNameOnly, debit, refusalScene, type RefusalScene } from '../payouts/refusalSupport.ts';
import { payoutsOf, resetPayoutsAndStatements, settings } from '../payouts/support.ts';
import { exceptionsOf } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * A debit of no reference that a payout the bank refused (RJCT) may be counts that payout as paid
 * by the bank, so one person cannot retry it. A person matching the debit to another payout of the
 * same amount took that away: alone, at or below FOUR_EYES_ABOVE_FEN, they (or an ADMIN trusting
 * the match) could then retry the refused payout and pay its member twice, the other payout marked
 * paid by a debit that was not its own. Such a match now waits for a second person, whatever its
 * amount; one that frees nothing, as a match of another transaction of a batch booking (0066), is
 * still one person's. Each test but the last failed on the code before.
 */
const pki = testFilePki();
let db: TestDatabase;
let scene: RefusalScene;

/** One person decides any amount: only the debit's refused payout can call for a second person. */
const ANY_AMOUNT_ALONE = Number.MAX_SAFE_INTEGER;
const ADMIN = { subject: 'admin-solo', role: 'ADMIN' };
const FINANCE_A = { subject: 'finance-a', role: 'FINANCE' };
const FINANCE_B = { subject: 'finance-b', role: 'FINANCE' };

beforeAll(async () => {
  db = await freshDatabase();
  scene = refusalScene(db.pool, pki);
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await resetPayoutsAndStatements(db.pool);
});

const payoutStatus = async (payoutId: number) => (await payoutsOf(db.pool)).find((p) => p.id === payoutId)!.status;
const matchCount = async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM reconciliation_matches')).rows[0]!.n;

describe('a debit naming a refused payout, matched by one person to another payout of that amount', () => {
  it('is proposed, not applied, however small; the refused payout stays paid by the bank; a second person\'s confirmation applies it', async () => {
    const bank = await startBank(pki);
    const [refused] = await scene.refusedPayouts(bank, 1);
    const [exceptionId] = await scene.reconciled(debit(byNameOnly(refused!)));
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: refused!.id }]);
    const other = await scene.paidPayout(bank);
    expect(other.amountFen).toBe(refused!.amountFen);

    const proposal = await matchException(db.pool, FINANCE_A, exceptionId!, { endToEndIds: [other.e2e], note: '银行确认: 该笔为另一会员的付款' }, ANY_AMOUNT_ALONE);
    expect(proposal).toEqual(expect.any(Number));
    expect(await scene.proposedBecause(proposal!)).toBe(
      `the bank's debit counts payout ${refused!.payoutId} (${refused!.e2e}) as paid by the bank: matched to another payout it no longer would, and one person could retry it`);
    expect(await exceptionsOf(db.pool)).toMatchObject([{ status: 'OPEN' }]);
    expect(await matchCount()).toBe(0);
    expect(await payoutStatus(other.payoutId)).toBe('PAID');
    await scene.expectNoRetryAlone(refused!.payoutId);

    // The proposer cannot confirm it; a second person can, and then the match is made as proposed.
    await expect(decideProposal(db.pool, FINANCE_A, proposal!, true, 'confirmed')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await decideProposal(db.pool, FINANCE_B, proposal!, true, 'checked the bank\'s answer');
    expect(await exceptionsOf(db.pool)).toMatchObject([{ status: 'RESOLVED', resolution: 'MATCHED' }]);
    expect(await payoutStatus(other.payoutId)).toBe('SETTLED');
    expect(await scene.wasPaid(refused!.payoutId)).toBe(false);
    expect(await retryPayout(db.pool, ADMIN, UNSCOPED, settings, refused!.payoutId, 'two people found the bank paid another member')).toBe('RETRIED');
  });

  it('listing the refused payouts of two members, matched to a third payout: proposed, both stay paid by the bank', async () => {
    const bank = await startBank(pki);
    const [first, second] = await scene.refusedPayouts(bank, 2);
    const [exceptionId] = await scene.reconciled(debit(byNameOnly(first!)));
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: null }]);
    const other = await scene.paidPayout(bank);

    const proposal = await matchException(db.pool, ADMIN, exceptionId!, { endToEndIds: [other.e2e] }, ANY_AMOUNT_ALONE);
    expect(proposal).toEqual(expect.any(Number));
    expect(await scene.proposedBecause(proposal!)).toContain(`payout ${first!.payoutId} (${first!.e2e}), payout ${second!.payoutId} (${second!.e2e})`);
    expect(await matchCount()).toBe(0);
    for (const attempt of [first!, second!]) await scene.expectNoRetryAlone(attempt.payoutId);
  });

  it('in a batch booking, matching another of its transactions to a payout frees nothing: applied at once, the refused one stays paid by the bank', async () => {
    const bank = await startBank(pki);
    const [refused] = await scene.refusedPayouts(bank, 1);
    // One booking of two transactions: the refused payout's amount and name, and as much to no one named.
    const exceptionIds = await scene.reconciled(debit(byNameOnly(refused!), { amountFen: refused!.amountFen, remittanceInfo: [] }));
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: refused!.id }, { kind: 'UNMATCHED_DEBIT', attemptId: null }]);
    const other = await scene.paidPayout(bank);

    expect(await matchException(db.pool, FINANCE_A, exceptionIds[1]!, { endToEndIds: [other.e2e] }, ANY_AMOUNT_ALONE)).toBeNull();
    expect(await matchCount()).toBe(1);
    expect(await payoutStatus(other.payoutId)).toBe('SETTLED');
    await scene.expectNoRetryAlone(refused!.payoutId);
  });

  it('a debit that counts no payout as paid is still matched by one person at once (the threshold aside)', async () => {
    const bank = await startBank(pki);
    const other = await scene.paidPayout(bank);
    const [exceptionId] = await scene.reconciled(debit({ amountFen: other.amountFen, remittanceInfo: [] }));
    expect(await matchException(db.pool, FINANCE_A, exceptionId!, { endToEndIds: [other.e2e] }, ANY_AMOUNT_ALONE)).toBeNull();
    expect(await payoutStatus(other.payoutId)).toBe('SETTLED');
  });
});
