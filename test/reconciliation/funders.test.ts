import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chinaToday } from '../../src/kernel/time.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { fetchFromBank } from '../../src/reconciliation/fetch.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { knownAccounts } from '../../src/reconciliation/store/runs.ts';
import { startBank, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { PROVINCE_ACCOUNT, provinceFunder, provincialLine } from '../payouts/fundersSupport.ts';
import { advanceUntilFinal, approvedClaims, clerk, finance, payoutsOf, settings, submissionContext, keys } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { bookedEntry, exceptionsOf, handStatement, HUB, importConfirmed } from './support.ts';

/**
 * Reconciliation per funder account: a payout matches a debit only on the account its batch was
 * paid from. The province's payout debited on the city's account is an exception there, and is
 * settled by the debit on the province's own statement.
 */
const pki = testFilePki();
let db: TestDatabase;

beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await db.drop();
});

describe('reconciliation per funder account', () => {
  it('reconciles every funder account by default', async () => {
    await provinceFunder(db.pool);
    expect(await knownAccounts(db.pool, [settings.account.account])).toEqual([settings.account.account, PROVINCE_ACCOUNT].sort());
  });

  it('never matches a province payout\'s debit on the city account: an exception there, settled on the province\'s statement', async () => {
    const claims = await approvedClaims(db.pool, 1);
    const province = await provinceFunder(db.pool);
    await provincialLine(db.pool, claims[0]!.claimId, province.id, 250_000);
    await planPayouts(db.pool, settings);
    const batch = (await createBatch(db.pool, clerk, settings, 100, [province.id]))!;
    await approveBatch(db.pool, finance, batch.id);
    await requestSubmission(db.pool, finance, batch.id);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const { rows: [attempt] } = await db.pool.query<{ id: number; e2e: string; payoutId: number; amountFen: number }>(
        'SELECT id, end_to_end_id AS e2e, payout_id AS "payoutId", amount_fen AS "amountFen" FROM payout_attempts WHERE batch_id = $1', [batch.id],
      );
      const today = chinaToday();

      // The city account's statement shows the province payout's debit, by its EndToEndId and by its batch.
      const byEndToEndId = bookedEntry('DBIT', attempt!.amountFen, today, { details: [{ endToEndId: attempt!.e2e, amountFen: attempt!.amountFen, remittanceInfo: [] }] });
      const byBatch = bookedEntry('DBIT', attempt!.amountFen, today, { batch: { msgId: batch.msgId } });
      expect(await importConfirmed(db.pool, handStatement(today, 10_000_000, [byEndToEndId, byBatch], UNION_ACCOUNT))).toMatchObject({ status: 'ACCEPTED' });
      const city = await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
      expect(city).toMatchObject({ entries: 2, matched: 0, exceptions: 2, settled: 0 });
      const exceptions = await exceptionsOf(db.pool);
      expect(exceptions.map((x) => [x.kind, x.attemptId, x.amountFen])).toEqual([
        ['UNMATCHED_DEBIT', attempt!.id, attempt!.amountFen], ['UNMATCHED_DEBIT', null, attempt!.amountFen],
      ]);
      const evidence = (await db.pool.query<{ reason: string }>(`SELECT evidence->>'reason' AS reason FROM reconciliation_exceptions ORDER BY id`)).rows;
      expect(evidence.map((e) => e.reason)).toEqual([
        `the payout is paid from account ${PROVINCE_ACCOUNT}, not from ${UNION_ACCOUNT}`, `the batch is paid from account ${PROVINCE_ACCOUNT}, not from ${UNION_ACCOUNT}`,
      ]);
      expect((await payoutsOf(db.pool)).find((p) => p.id === attempt!.payoutId)).toMatchObject({ status: 'PAID' });

      // The province's own statement settles it.
      await fetchFromBank(db.pool, bank.adapter, [PROVINCE_ACCOUNT], today, 0, HUB);
      expect(await reconcileAccount(db.pool, PROVINCE_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 1, settled: 1, exceptions: 0 });
      expect((await payoutsOf(db.pool)).find((p) => p.id === attempt!.payoutId)).toMatchObject({ status: 'SETTLED' });
    } finally {
      ctx.remove();
    }
  });
});
