import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { middleman, staleFirstDocument, startBank, testFilePki, type RunningBank } from '../banks/simulator/support.ts';
import { BankTimeoutError } from '../../src/banks/adapter.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { retryPayout } from '../../src/payouts/decisions.ts';
import { sealBatch } from '../../src/payouts/sealing.ts';
import { advanceBatch, readStatusFeed } from '../../src/payouts/submission.ts';
import { withBatchLock } from '../../src/payouts/store/submission.ts';
import { sealDocument } from '../../src/seals/cms/seal.ts';
import {
  advanceUntilFinal, approvedBatch, approvedClaims, creditedByPayout, finance, payoutsOf, resetPayouts, sealedFile, settings, submissionContext,
} from './support.ts';

/**
 * Exactly once under the bank's faults. The oracle is the simulator's ledger: whatever happened on
 * the wire, every payout is credited once with its amount, and our rows say PAID.
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

async function batchState(batchId: number) {
  const { rows } = await db.pool.query<{ status: string; submission: string; attempts: string[] }>(
    `SELECT b.status, b.submission, array_agg(DISTINCT a.status) AS attempts
       FROM payout_batches b JOIN payout_attempts a ON a.batch_id = b.id WHERE b.id = $1 GROUP BY b.id`,
    [batchId],
  );
  return rows[0]!;
}

async function expectPaidOnce(bank: RunningBank, count: number) {
  const payouts = await payoutsOf(db.pool);
  expect(payouts).toHaveLength(count);
  const credited = await creditedByPayout(db.pool, bank);
  for (const p of payouts) {
    expect(p.status).toBe('PAID');
    expect(credited.get(p.id)).toBe(p.amountFen);
  }
  expect(credited.size).toBe(count);
}

describe('a batch whose submission gets no answer', () => {
  it('timeout after the bank executed it: UNKNOWN, then the status query settles it without sending again', async () => {
    await approvedClaims(db.pool, 4);
    const bank = await startBank(pki, { timeoutMs: 800 });
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      bank.simulator.setFaults({ timeoutNext: 1 });
      await expect(advanceBatch(ctx, batch.id)).rejects.toBeInstanceOf(BankTimeoutError);
      expect(await batchState(batch.id)).toEqual({ status: 'SUBMITTED', submission: 'UNKNOWN', attempts: ['UNKNOWN'] });
      expect(await bank.ledger()).toHaveLength(4); // the bank did pay

      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      await expectPaidOnce(bank, 4);
    } finally {
      ctx.remove();
    }
  });

  it('connection cut before the bank read it: the bank never received it, the same sealed file is sent again', async () => {
    await approvedClaims(db.pool, 3);
    const bank = await startBank(pki, { timeoutMs: 2000 });
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      bank.simulator.setFaults({ dropBeforeAccept: 1 });
      await expect(advanceBatch(ctx, batch.id)).rejects.toBeInstanceOf(BankTimeoutError);
      expect(await bank.ledger()).toHaveLength(0);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      await expectPaidOnce(bank, 3);
    } finally {
      ctx.remove();
    }
  });

  it('crash after the bank accepted, before our commit: the next run asks first and pays nothing twice', async () => {
    await approvedClaims(db.pool, 3);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      // The process dies the moment the bank's acknowledgement arrives: SENDING is committed, nothing after it.
      const dying = {
        ...ctx,
        adapter: Object.assign(Object.create(bank.adapter), {
          submitBatch: async (...args: Parameters<typeof bank.adapter.submitBatch>) => {
            await bank.adapter.submitBatch(...args);
            throw new Error('killed');
          },
        }),
      };
      await expect(advanceBatch(dying, batch.id)).rejects.toThrow('killed');
      expect(await batchState(batch.id)).toEqual({ status: 'SUBMITTED', submission: 'SENDING', attempts: ['SENT'] });
      expect(await bank.ledger()).toHaveLength(3);

      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      await expectPaidOnce(bank, 3);
    } finally {
      ctx.remove();
    }
  });
});

describe('a file the bank already holds under the batch\'s MsgId (DU01)', () => {
  // As after a restore of the database from before the batch was sealed: the bank paid the file sealed
  // then, and the same batch (its MsgId and EndToEndIds fixed at creation) is sealed again, its
  // CreDtTm and so its bytes another's. The bank refuses this copy only; the earlier file stands.
  it('fails no payment: the earlier file\'s status decides them, each is paid once and none may be retried', async () => {
    await approvedClaims(db.pool, 2);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      await sealBatch(db.pool, ctx.sealing, settings, batch.id);
      const earlier = (await sealedFile(db.pool, batch.id))!.replace(/<CreDtTm>[^<]+<\/CreDtTm>/, '<CreDtTm>2025-06-03T09:30:00+08:00</CreDtTm>');
      expect(await bank.adapter.submitBatch({ msgId: batch.msgId, xml: earlier, seal: sealDocument(Buffer.from(earlier, 'utf8'), pki.union) }))
        .toMatchObject({ accepted: true });
      expect(await bank.ledger()).toHaveLength(2);

      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'SUBMITTED', waiting: true });
      expect(await batchState(batch.id)).toEqual({ status: 'SUBMITTED', submission: 'UNKNOWN', attempts: ['UNKNOWN'] });
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      await expectPaidOnce(bank, 2);
      for (const payout of await payoutsOf(db.pool)) {
        await expect(retryPayout(db.pool, finance, UNSCOPED, settings, payout.id, 'the bank refused the file')).rejects.toMatchObject({ code: 'CONFLICT' });
      }
    } finally {
      ctx.remove();
    }
  });
});

describe('answers twice and out of order', () => {
  it('keeps every report as evidence and never moves a payment back from its final status', async () => {
    await approvedClaims(db.pool, 3);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      bank.simulator.setFaults({ answerTwice: true, outOfOrder: true });
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      // The feed holds the final report, its copy, and a stale interim report (and its copy) issued after them.
      expect(await readStatusFeed(ctx)).toEqual({ applied: 4, refused: 0, unknown: 0 });
      expect(await readStatusFeed(ctx)).toEqual({ applied: 0, refused: 0, unknown: 0 });
      const { rows } = await db.pool.query<{ groupStatus: string }>(`SELECT group_status AS "groupStatus" FROM bank_status_reports ORDER BY received_at, msg_id`);
      expect(rows).toHaveLength(4);
      expect(await batchState(batch.id)).toEqual({ status: 'ACCEPTED', submission: 'RECEIVED', attempts: ['PAID'] });
      await expectPaidOnce(bank, 3);
      // The database refuses the backward move too.
      await expect(db.pool.query(`UPDATE payout_attempts SET status = 'ACCEPTED' WHERE batch_id = $1`, [batch.id])).rejects.toThrow(/PAID -> ACCEPTED/);
    } finally {
      ctx.remove();
    }
  });
});

describe('the status feed', () => {
  it('sets a report whose seal is refused aside and applies the rest, moving on past it', async () => {
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    const stale = await middleman(pki, bank.simulator.url, staleFirstDocument(pki, '/status-reports'));
    try {
      for (let i = 0; i < 2; i += 1) {
        await approvedClaims(db.pool, 1);
        expect(await advanceUntilFinal(ctx, (await approvedBatch(db.pool)).id)).toBe('ACCEPTED');
      }
      expect(await readStatusFeed({ ...ctx, adapter: stale.adapter })).toEqual({ applied: 1, refused: 1, unknown: 0 });
      expect(await readStatusFeed({ ...ctx, adapter: stale.adapter })).toEqual({ applied: 0, refused: 0, unknown: 0 });
    } finally {
      await stale.close();
      ctx.remove();
    }
  });
});

describe('one worker at a time per batch', () => {
  it('a batch held by another worker is BUSY; a batch of the same id in another schema of the database is not', async () => {
    await approvedClaims(db.pool, 1);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    const other = await freshDatabase();
    const otherCtx = submissionContext(other.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      await approvedClaims(other.pool, 1);
      const otherBatch = await approvedBatch(other.pool);
      expect(otherBatch.id).toBe(batch.id); // both schemas number their batches alike
      // While this schema's batch is held (as a worker holds it while sending), the other schema's is sent.
      const whileHeld = await withBatchLock(db.pool, batch.id, null, async () => ({
        here: await advanceBatch(ctx, batch.id),
        there: await advanceUntilFinal(otherCtx, otherBatch.id),
      }));
      expect(whileHeld).toEqual({ here: { status: 'BUSY', waiting: true }, there: 'ACCEPTED' });
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      for (const pool of [db.pool, other.pool]) expect((await payoutsOf(pool)).map((p) => p.status)).toEqual(['PAID']);
      expect(await bank.ledger()).toHaveLength(2);
    } finally {
      ctx.remove();
      otherCtx.remove();
      await other.drop();
    }
  });
});
