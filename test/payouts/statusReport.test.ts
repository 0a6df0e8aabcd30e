import { describe, expect, it } from 'vitest';
import type { Pain002Parsed, Pain002TransactionStatus } from '../../src/banks/iso20022/pain002.ts';
import type { AttemptState } from '../../src/payouts/model.ts';
import { readStatusReport, refusesPayments } from '../../src/payouts/statusReport.ts';

/**
 * What a pain.002 means for a batch's attempts (pure): a final status is never changed by a report,
 * but a refusal (RJCT) of a payment the hub holds as PAID is not dropped either: it is among the
 * reading's refusals, with the bank's reason, for reconciliation to raise.
 */

function parsed(lines: Pain002TransactionStatus[], over: Partial<Pain002Parsed> = {}): Pain002Parsed {
  return {
    msgId: 'RPT-1', createdAt: '2026-12-06T10:00:00+08:00', originalMsgId: 'MSG-1', originalMsgNameId: 'pain.001.001.03',
    paymentInfoStatuses: [{ originalPmtInfId: 'PMT-1', transactions: lines }], transactions: lines, ...over,
  };
}

const attempts: AttemptState[] = [
  { id: 1, endToEndId: 'E2E-PAID', status: 'PAID' },
  { id: 2, endToEndId: 'E2E-ACCEPTED', status: 'ACCEPTED' },
  { id: 3, endToEndId: 'E2E-SENT', status: 'SENT' },
];

describe('readStatusReport', () => {
  it('leaves a PAID attempt PAID when the bank refuses it, and keeps the refusal with its reason', () => {
    const reading = readStatusReport(parsed([
      { originalEndToEndId: 'E2E-PAID', status: 'RJCT', reasonCode: 'AC04', additionalInfo: 'closed account' },
      { originalEndToEndId: 'E2E-ACCEPTED', status: 'RJCT', reasonCode: 'AM04' },
      { originalEndToEndId: 'E2E-SENT', status: 'ACSC' },
    ]), attempts, 'PMT-1');
    expect(reading.updates.map((u) => [u.id, u.status, u.reasonCode])).toEqual([[2, 'REJECTED', 'AM04'], [3, 'PAID', null]]);
    expect(reading.refusals).toEqual([
      { attemptId: 1, reasonCode: 'AC04', additionalInfo: 'closed account', report: 'RPT-1' },
      { attemptId: 2, reasonCode: 'AM04', additionalInfo: null, report: 'RPT-1' },
    ]);
  });

  it('counts a whole file refused (group RJCT) as a refusal of every payment, with the group\'s reason', () => {
    const report = parsed([], { groupStatus: 'RJCT', groupReason: { reasonCode: 'FF01' } });
    expect(refusesPayments(report)).toBe(true);
    const reading = readStatusReport(report, attempts, 'PMT-1');
    expect(reading.updates.map((u) => u.id)).toEqual([2, 3]);
    expect(reading.refusals.map((r) => [r.attemptId, r.reasonCode])).toEqual([[1, 'FF01'], [2, 'FF01'], [3, 'FF01']]);
  });

  it('has no refusals in a report that refuses nothing', () => {
    const report = parsed([{ originalEndToEndId: 'E2E-SENT', status: 'ACSP' }]);
    expect(refusesPayments(report)).toBe(false);
    expect(readStatusReport(report, attempts, 'PMT-1').refusals).toEqual([]);
  });
});
