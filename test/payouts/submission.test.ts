import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startBank, testFilePki } from '../banks/simulator/support.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { unfinishedBatchIds } from '../../src/payouts/store/batches.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { advanceUntilFinal, approvedClaims, clerk, creditedByPayout, finance, payoutsOf, resetPayouts, settings, submissionContext } from './support.ts';

/**
 * When a batch is sealed. The bank judges a seal's signing time at receipt (72 hours at most before
 * it, SEAL_SIGNING_WINDOW_HOURS); a batch is asked to be sent when someone asks, perhaps days
 * after its approval.
 */
const pki = testFilePki();
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(() => resetPayouts(db.pool));

describe('a batch asked to be sent days after its approval', () => {
  it('is sealed when asked, not when approved: the bank takes it, and no payout FAILED for the delay', async () => {
    await approvedClaims(db.pool, 2);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      // Four days ago: created, approved, and its job run (the approval asks for it).
      vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, now: Date.now() - 96 * 3_600_000 });
      const batch = await (async () => {
        try {
          await planPayouts(db.pool, settings);
          const created = (await createBatch(db.pool, clerk, settings, 10))!;
          await approveBatch(db.pool, finance, created.id);
          expect(await advanceBatch(ctx, created.id)).toMatchObject({ waiting: false });
          return created;
        } finally {
          vi.useRealTimers();
        }
      })();
      expect(await unfinishedBatchIds(db.pool)).toEqual([]);

      await requestSubmission(db.pool, finance, batch.id);
      expect(await unfinishedBatchIds(db.pool)).toEqual([batch.id]);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const payouts = await payoutsOf(db.pool);
      expect(payouts.map((p) => p.status)).toEqual(['PAID', 'PAID']);
      const credited = await creditedByPayout(db.pool, bank);
      for (const p of payouts) expect(credited.get(p.id)).toBe(p.amountFen);
    } finally {
      ctx.remove();
    }
  });
});
