import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { retryPayout } from '../../src/payouts/decisions.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { startBank, testFilePki } from '../banks/simulator/support.ts';
import { byEndToEndId, byNameOnly, debit, refusalScene, type RefusalScene } from '../payouts/refusalSupport.ts';
import { payoutsOf, resetPayoutsAndStatements, settings } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * A batch booking (one statement entry, several TxDtls): its first transaction carries another
 * payout's EndToEndId and is matched to it at once; its second carries only the amount and payee
 * name of a payout the bank refused (RJCT), so its exception names that payout (or lists it among
 * the refused ones it may be) as paid by the bank. The other payout's match, on another transaction,
 * used to free the refused one all the same, with no person involved: one ADMIN could retry it and
 * pay its member twice. Only a match of the exception's own transaction frees it now (0066), which
 * one person cannot make alone. Each test failed on the code before, where the refused payout was
 * free as soon as the statement was reconciled; the last shows two people can still free it.
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
/** The debit's matches and exceptions, by transaction. */
const matchesOf = async () => (await db.pool.query<{ txIndex: number; payoutId: number }>(
  `SELECT m.tx_index AS "txIndex", a.payout_id AS "payoutId" FROM reconciliation_matches m JOIN payout_attempts a ON a.id = m.payout_attempt_id ORDER BY m.id`,
)).rows;
const exceptionsByTransaction = async () => (await db.pool.query<{ txIndex: number; attemptId: number | null; refused: string[] | null }>(
  `SELECT tx_index AS "txIndex", payout_attempt_id AS "attemptId", evidence->'refused' AS refused FROM reconciliation_exceptions ORDER BY id`,
)).rows;

describe('a batch booking paying another payout on one transaction, a refused payout\'s amount and name on the next', () => {
  it('keeps the refused payout its exception names paid by the bank: one ADMIN\'s retry is FORBIDDEN', async () => {
    const bank = await startBank(pki);
    const [refused] = await scene.refusedPayouts(bank, 1);
    const other = await scene.paidPayout(bank);

    await scene.reconciled(debit(byEndToEndId(other), byNameOnly(refused!)));
    expect(await matchesOf()).toEqual([{ txIndex: 1, payoutId: other.payoutId }]);
    expect(await exceptionsByTransaction()).toEqual([{ txIndex: 2, attemptId: refused!.id, refused: null }]);
    expect(await payoutStatus(other.payoutId)).toBe('SETTLED');
    await scene.expectNoRetryAlone(refused!.payoutId);
  });

  it('keeps the refused payouts its exception lists paid by the bank', async () => {
    const bank = await startBank(pki);
    const [first, second] = await scene.refusedPayouts(bank, 2);
    const other = await scene.paidPayout(bank);

    await scene.reconciled(debit(byEndToEndId(other), byNameOnly(first!)));
    expect(await matchesOf()).toEqual([{ txIndex: 1, payoutId: other.payoutId }]);
    expect(await exceptionsByTransaction()).toEqual([{ txIndex: 2, attemptId: null, refused: expect.arrayContaining([first!.e2e, second!.e2e]) }]);
    for (const attempt of [first!, second!]) await scene.expectNoRetryAlone(attempt.payoutId);
  });

  it('frees the refused payout once its own transaction is matched to another payout, by two people', async () => {
    const bank = await startBank(pki);
    const [refused] = await scene.refusedPayouts(bank, 1);
    const other = await scene.paidPayout(bank);
    const [exceptionId] = await scene.reconciled(debit(byEndToEndId(other), byNameOnly(refused!)));
    // Paid after the statement was reconciled: the transaction was left to people, not given to it.
    const paidBy = await scene.paidPayout(bank);

    const proposal = await matchException(db.pool, FINANCE_A, exceptionId!, { endToEndIds: [paidBy.e2e] }, ANY_AMOUNT_ALONE);
    expect(await scene.proposedBecause(proposal!)).toBe(
      `the bank's debit counts payout ${refused!.payoutId} (${refused!.e2e}) as paid by the bank: matched to another payout it no longer would, and one person could retry it`);
    await scene.expectNoRetryAlone(refused!.payoutId);

    await decideProposal(db.pool, FINANCE_B, proposal!, true, 'the bank confirms the transaction paid the other member');
    expect(await matchesOf()).toEqual([{ txIndex: 1, payoutId: other.payoutId }, { txIndex: 2, payoutId: paidBy.payoutId }]);
    expect(await scene.wasPaid(refused!.payoutId)).toBe(false);
    expect(await retryPayout(db.pool, ADMIN, UNSCOPED, settings, refused!.payoutId, 'two people found the bank paid another member')).toBe('RETRIED');
  });
});
