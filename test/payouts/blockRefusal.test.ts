import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Pain002Parsed, Pain002TransactionStatus } from '../../src/banks/iso20022/pain002.ts';
import type { AttemptState } from '../../src/payouts/model.ts';
import { readStatusReport } from '../../src/payouts/statusReport.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { testFilePki } from '../banks/simulator/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { approvedBatch, approvedClaims, payoutsOf, resetPayouts, ScriptedBank, submissionContext } from './support.ts';

/**
 * A pain.002 refusing the batch's payment information block as a whole: PmtInfSts RJCT with its
 * reason (AM04, no funds on the paying account, say), no status line and no group status. Every
 * payment of the block the report does not list is REJECTED with the block's reason, so the batch
 * is answered and its payouts FAILED (retryable, their members told), rather than SENT for good. A
 * block status naming another PmtInfId is not the batch's and moves nothing.
 */
const pki = testFilePki();
let db: TestDatabase;
const bank = new ScriptedBank();

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await resetPayouts(db.pool);
  bank.current = null;
});

let reportsMade = 0;
/** The bank's report on the block `pmtInfId` of the file `msgId`: refused whole, with `lines` listed beside it. */
function blockRefused(msgId: string, pmtInfId: string, lines: Pain002TransactionStatus[] = []): Pain002Parsed {
  reportsMade += 1;
  return {
    msgId: `RPT-BLOCK-${reportsMade}`, createdAt: new Date().toISOString(), originalMsgId: msgId, originalMsgNameId: 'pain.001.001.03',
    paymentInfoStatuses: [{ originalPmtInfId: pmtInfId, status: 'RJCT', reason: { reasonCode: 'AM04', additionalInfo: 'insufficient funds' }, transactions: lines }],
    transactions: lines,
  };
}

describe('readStatusReport: a payment information block refused as a whole', () => {
  const attempts: AttemptState[] = [
    { id: 1, endToEndId: 'E2E-1', status: 'SENT' },
    { id: 2, endToEndId: 'E2E-2', status: 'ACCEPTED' },
    { id: 3, endToEndId: 'E2E-3', status: 'SENT' },
  ];

  it('rejects every payment of the block the report does not list, with the block\'s reason', () => {
    const reading = readStatusReport(blockRefused('MSG-1', 'PMT-1', [{ originalEndToEndId: 'E2E-3', status: 'ACSC' }]), attempts, 'PMT-1');
    expect(reading.updates.map((u) => [u.id, u.status, u.bankStatus, u.reasonCode, u.reason])).toEqual([
      [3, 'PAID', 'ACSC', null, null], [1, 'REJECTED', 'RJCT', 'AM04', 'insufficient funds'], [2, 'REJECTED', 'RJCT', 'AM04', 'insufficient funds'],
    ]);
    expect(reading.refusals.map((r) => [r.attemptId, r.reasonCode])).toEqual([[1, 'AM04'], [2, 'AM04']]);
  });

  it('moves nothing when the refused block is not the batch\'s', () => {
    const reading = readStatusReport(blockRefused('MSG-1', 'PMT-OTHER'), attempts, 'PMT-1');
    expect(reading.updates).toEqual([]);
    expect(reading.refusals).toEqual([]);
  });
});

describe('a batch whose block the bank refuses as a whole', () => {
  it('is REJECTED and its payouts FAILED with the bank\'s reason, not left SENT for good', async () => {
    const ctx = submissionContext(db.pool, pki, { adapter: bank.adapter } as never);
    try {
      await approvedClaims(db.pool, 2);
      const batch = await approvedBatch(db.pool);
      const { rows: [row] } = await db.pool.query<{ pmtInfId: string }>('SELECT pmt_inf_id AS "pmtInfId" FROM payout_batches WHERE id = $1', [batch.id]);
      bank.current = blockRefused(batch.msgId, row!.pmtInfId);
      expect(await advanceBatch(ctx, batch.id)).toEqual({ status: 'REJECTED', waiting: false });

      const { rows: attempts } = await db.pool.query('SELECT status, bank_status AS "bankStatus", reason_code AS "reasonCode" FROM payout_attempts WHERE batch_id = $1', [batch.id]);
      expect(attempts).toEqual([
        { status: 'REJECTED', bankStatus: 'RJCT', reasonCode: 'AM04' }, { status: 'REJECTED', bankStatus: 'RJCT', reasonCode: 'AM04' },
      ]);
      expect((await payoutsOf(db.pool)).map((p) => [p.status, p.statusReason])).toEqual([
        ['FAILED', 'rejected by the bank: AM04 insufficient funds'], ['FAILED', 'rejected by the bank: AM04 insufficient funds'],
      ]);
      const { rows: told } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications WHERE kind = 'PAYOUT_FAILED'`);
      expect(told).toEqual([{ n: 2 }]);
    } finally {
      ctx.remove();
    }
  });
});
