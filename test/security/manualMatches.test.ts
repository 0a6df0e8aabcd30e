import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chinaToday } from '../../src/kernel/time.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { matchException } from '../../src/reconciliation/resolve.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { startBank, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { PROVINCE_ACCOUNT, provinceFunder, provincialLine } from '../payouts/fundersSupport.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, clerk, finance, payoutsOf, settings, submissionContext, keys } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { bookedEntry, exceptionsOf, handStatement, importConfirmed } from '../reconciliation/support.ts';

/**
 * A person matching a bank transaction by hand (matchReconciliationException) is held to what the
 * matcher holds: a payout is debited, and comes back, only on the account its batch is paid from;
 * and a reversal (冲正) is never matched by itself, while a person may match a reversal of a
 * payout's debit as that payout's return.
 */

const pki = testFilePki();
const ANY_AMOUNT_AT_ONCE = Number.MAX_SAFE_INTEGER; // one person decides (the four-eyes threshold is not what is tested)
const RETURN_CODE = { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'RRTN' } };
let db: TestDatabase;

beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await db.drop();
});

/** A payout paid by the bank simulator from `funderIds`' account (the union's when none): its attempt. */
async function paidAttempt(funderIds?: number[]): Promise<{ id: number; e2e: string; payoutId: number; amountFen: number }> {
  if (funderIds) {
    await planPayouts(db.pool, settings);
    const batch = (await createBatch(db.pool, clerk, settings, 100, funderIds))!;
    await approveBatch(db.pool, finance, batch.id);
    await requestSubmission(db.pool, finance, batch.id);
  }
  const batchId = funderIds ? (await db.pool.query<{ id: number }>('SELECT max(id) AS id FROM payout_batches')).rows[0]!.id : (await approvedBatch(db.pool)).id;
  const bank = await startBank(pki);
  const ctx = submissionContext(db.pool, pki, bank);
  try {
    expect(await advanceUntilFinal(ctx, batchId)).toBe('ACCEPTED');
  } finally {
    ctx.remove();
  }
  const { rows: [attempt] } = await db.pool.query<{ id: number; e2e: string; payoutId: number; amountFen: number }>(
    'SELECT id, end_to_end_id AS e2e, payout_id AS "payoutId", amount_fen AS "amountFen" FROM payout_attempts WHERE batch_id = $1', [batchId],
  );
  return attempt!;
}

const exceptionIds = async () => (await db.pool.query<{ id: number }>('SELECT id FROM reconciliation_exceptions ORDER BY id')).rows.map((r) => r.id);
const payoutStatus = async (payoutId: number) => (await payoutsOf(db.pool)).find((p) => p.id === payoutId)!.status;

describe('a transaction on one funder\'s account matched by hand to another funder\'s payout', () => {
  it('is refused, for a debit and for a return, naming the account: the payout stays PAID and nothing is matched', async () => {
    const [claim] = await approvedClaims(db.pool, 1);
    const province = await provinceFunder(db.pool);
    await provincialLine(db.pool, claim!.claimId, province.id, 250_000);
    const attempt = await paidAttempt([province.id]);
    const today = chinaToday();
    const debit = bookedEntry('DBIT', attempt.amountFen, today, { details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, remittanceInfo: [] }] });
    const back = bookedEntry('CRDT', attempt.amountFen, today, {
      bankTransactionCode: RETURN_CODE, details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, remittanceInfo: [], returnInfo: { reasonCode: 'AC04' } }],
    });
    expect(await importConfirmed(db.pool, handStatement(today, 10_000_000, [debit, back], UNION_ACCOUNT))).toMatchObject({ status: 'ACCEPTED' });
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 0, exceptions: 2 });
    expect((await exceptionsOf(db.pool)).map((x) => x.kind)).toEqual(['UNMATCHED_DEBIT', 'UNKNOWN_CREDIT']);

    for (const exceptionId of await exceptionIds()) {
      await expect(matchException(db.pool, finance, exceptionId, { endToEndIds: [attempt.e2e] }, ANY_AMOUNT_AT_ONCE)).rejects.toMatchObject({
        code: 'BAD_USER_INPUT', field: 'input.endToEndIds[0]', reason: expect.stringContaining(`is paid from account ${PROVINCE_ACCOUNT}, not from ${UNION_ACCOUNT}`),
      });
    }
    expect(await payoutStatus(attempt.payoutId)).toBe('PAID');
    expect((await db.pool.query('SELECT count(*)::int AS n FROM reconciliation_matches')).rows).toEqual([{ n: 0 }]);
    expect((await exceptionsOf(db.pool)).map((x) => x.status)).toEqual(['OPEN', 'OPEN']);
  });
});

describe('the bank reverses a payout\'s debit (冲正)', () => {
  it('is an exception naming the payout, not a contribution nor a return on a guess; a person matches it as the return, and the settled payout is FAILED again', async () => {
    await approvedClaims(db.pool, 1);
    const attempt = await paidAttempt();
    const today = chinaToday();
    const debit = bookedEntry('DBIT', attempt.amountFen, today, { details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, remittanceInfo: [] }] });
    const reversal = bookedEntry('CRDT', attempt.amountFen, today, {
      reversal: true, details: [{ endToEndId: attempt.e2e, amountFen: attempt.amountFen, remittanceInfo: ['冲正'] }],
    });
    expect(await importConfirmed(db.pool, handStatement(today, 10_000_000, [debit, reversal], UNION_ACCOUNT))).toMatchObject({ status: 'ACCEPTED' });
    expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 1, settled: 1, exceptions: 1 });
    expect(await payoutStatus(attempt.payoutId)).toBe('SETTLED');
    const [raised] = await exceptionsOf(db.pool);
    expect(raised).toMatchObject({ kind: 'UNKNOWN_CREDIT', attemptId: attempt.id, status: 'OPEN' });

    const [exceptionId] = await exceptionIds();
    expect(await matchException(db.pool, finance, exceptionId!, { endToEndIds: [attempt.e2e] }, ANY_AMOUNT_AT_ONCE)).toBeNull();
    expect(await payoutStatus(attempt.payoutId)).toBe('FAILED');
    expect((await exceptionsOf(db.pool)).map((x) => [x.kind, x.status])).toEqual([['UNKNOWN_CREDIT', 'RESOLVED'], ['RETURN_AFTER_SETTLEMENT', 'OPEN']]);
    const { rows: matches } = await db.pool.query('SELECT kind, rule, payout_attempt_id AS "attemptId" FROM reconciliation_matches ORDER BY id');
    expect(matches).toEqual([{ kind: 'PAYOUT', rule: 'END_TO_END_ID', attemptId: attempt.id }, { kind: 'RETURN', rule: 'MANUAL', attemptId: attempt.id }]);
  });
});
