import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chinaToday } from '../../src/kernel/time.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { startBank, testFilePki } from '../banks/simulator/support.ts';
import { byNameOnly, debit, refusalScene, type RefusalScene, type SentAttempt } from '../payouts/refusalSupport.ts';
import { payoutsOf, resetPayoutsAndStatements } from '../payouts/support.ts';
import { bookedEntry, exceptionsOf } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * Whether one person's match of a debit frees a payout the bank may have paid is payout_paid_by_bank's
 * answer, asked before and after the match (then undone), not a copy of its clauses kept beside it.
 * The copy left out the clause counting a batch's refused (RJCT) payments as paid while a debit
 * naming that batch by PmtInfId is an exception (0043): the first test shows it sent to a second
 * person a match that frees nothing; the second, with that clause made to stop on a match as the
 * others do, that the copy let one person free the payout and retry it. Both failed on the code
 * before; the database counts the same throughout, the rows the check wrote never stay.
 */
const pki = testFilePki();
let db: TestDatabase;
let scene: RefusalScene;

/** One person decides any amount: only a payout the match frees can call for a second person. */
const ANY_AMOUNT_ALONE = Number.MAX_SAFE_INTEGER;
const FINANCE_A = { subject: 'finance-a', role: 'FINANCE' };

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
const count = async (table: string) => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

/** A debit of the refused payment's amount naming only its batch (PmtInfId), as a bank books a block (批量代付). */
async function batchDebit(refused: SentAttempt) {
  const { rows: [batch] } = await db.pool.query<{ pmtInfId: string }>(
    'SELECT b.pmt_inf_id AS "pmtInfId" FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.id = $1', [refused.id],
  );
  return bookedEntry('DBIT', refused.amountFen, chinaToday(), { batch: { pmtInfId: batch!.pmtInfId }, details: [] });
}

describe('a match of a debit that the database says frees no payout', () => {
  it('is made by one person at once: the refused payout stays paid by the bank through its batch\'s debit', async () => {
    const bank = await startBank(pki);
    const [refused] = await scene.refusedPayouts(bank, 1);
    const [byName, byBatch] = await scene.reconciled(debit(byNameOnly(refused!)), await batchDebit(refused!));
    expect(await exceptionsOf(db.pool)).toMatchObject([
      { kind: 'UNMATCHED_DEBIT', attemptId: refused!.id }, { kind: 'DUPLICATE_DEBIT', attemptId: null },
    ]);
    expect(byBatch).toEqual(expect.any(Number));
    const other = await scene.paidPayout(bank);

    expect(await matchException(db.pool, FINANCE_A, byName!, { endToEndIds: [other.e2e] }, ANY_AMOUNT_ALONE)).toBeNull();
    expect(await count('four_eyes_proposals')).toBe(0);
    expect(await exceptionsOf(db.pool)).toMatchObject([{ status: 'RESOLVED', resolution: 'MATCHED' }, { status: 'OPEN' }]);
    expect(await payoutStatus(other.payoutId)).toBe('SETTLED');
    await scene.expectNoRetryAlone(refused!.payoutId);
  });
});

describe('a match of a debit that the database says frees a payout, by a clause no copy of it knew', () => {
  it('is proposed, however small, and leaves nothing behind; the refused payout stays paid by the bank', async () => {
    const bank = await startBank(pki);
    const [refused] = await scene.refusedPayouts(bank, 1);
    const [byBatch] = await scene.reconciled(await batchDebit(refused!));
    expect(await exceptionsOf(db.pool)).toMatchObject([{ kind: 'DUPLICATE_DEBIT', attemptId: null }]);
    const other = await scene.paidPayout(bank);
    const auditRows = await count('audit_log');

    // The batch's clause stops counting once the debit's own transaction is matched to another payout, as the others do.
    await db.pool.query(`ALTER FUNCTION payout_paid_by_bank(bigint) RENAME TO payout_paid_by_bank_kept`);
    await db.pool.query(`
      CREATE FUNCTION payout_paid_by_bank(payout bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT payout_paid_by_bank_kept(payout) AND NOT EXISTS (
          SELECT 1 FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
            JOIN reconciliation_exceptions x ON x.evidence->>'pmtInfId' = b.pmt_inf_id AND x.payout_attempt_id IS NULL
            JOIN reconciliation_matches m ON m.entry_id = x.entry_id AND m.tx_index = coalesce(x.tx_index, 0) AND m.kind = 'PAYOUT'
            JOIN payout_attempts o ON o.id = m.payout_attempt_id AND o.payout_id <> payout
           WHERE a.payout_id = payout AND a.status = 'REJECTED')
      $$`);
    try {
      const proposal = await matchException(db.pool, FINANCE_A, byBatch!, { endToEndIds: [other.e2e] }, ANY_AMOUNT_ALONE);
      expect(proposal).toEqual(expect.any(Number));
      expect(await scene.proposedBecause(proposal!)).toBe(
        `the bank's debit counts payout ${refused!.payoutId} (${refused!.e2e}) as paid by the bank: matched to another payout it no longer would, and one person could retry it`);
      // The trial match is gone: no match, the other payout still awaits its debit, only the proposal is audited.
      expect(await count('reconciliation_matches')).toBe(0);
      expect(await exceptionsOf(db.pool)).toMatchObject([{ status: 'OPEN' }]);
      expect(await payoutStatus(other.payoutId)).toBe('PAID');
      expect(await count('audit_log')).toBe(auditRows + 1);
      await scene.expectNoRetryAlone(refused!.payoutId);
    } finally {
      await db.pool.query('DROP FUNCTION payout_paid_by_bank(bigint)');
      await db.pool.query('ALTER FUNCTION payout_paid_by_bank_kept(bigint) RENAME TO payout_paid_by_bank');
    }
  });
});
