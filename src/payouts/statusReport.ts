import type { StatusReason } from '../banks/iso20022/components.ts';
import type { Pain002Parsed, TransactionStatus, GroupStatus } from '../banks/iso20022/pain002.ts';
import type { AttemptState, AttemptStatus, AttemptUpdate, PaymentCredit, PaymentRefusal } from './model.ts';

/**
 * What a pain.002 means for a batch's attempts (pure). Bank answers may come twice and out of
 * order: an attempt only moves forward, and a final status (PAID, REJECTED) is never changed by a
 * report. The database's transition trigger refuses the same moves as a second line of defence.
 * A refusal (RJCT) of a payment the bank had reported credited (PAID) therefore moves nothing, but
 * is not dropped: it is among the reading's `refusals`, for reconciliation to raise; and likewise a
 * credit (ACSC) of a payment it had refused (REJECTED) is among its `credits`.
 */

export interface ReportReading {
  updates: AttemptUpdate[];
  /** EndToEndIds the report names that are not in this batch (reported, never applied). */
  strangers: string[];
  /**
   * Every payment of the batch the report refuses (RJCT), with the bank's reason, whether or not
   * it moved its attempt (a PAID one stays PAID): the bank's refusal of a payment it had credited,
   * or whose debit a statement shows, is a contradiction for a person (src/reconciliation/refusals.ts).
   */
  refusals: PaymentRefusal[];
  /**
   * Every payment of the batch the report credits (ACSC), whether or not it moved its attempt (a
   * REJECTED one stays REJECTED): the bank's credit of a payment it had refused may have paid a
   * member whose payout failed and could be retried (src/reconciliation/refusals.ts).
   */
  credits: PaymentCredit[];
}

/** Whether the report gives `status` to anything: a line, a payment information or the whole file. */
const reports = (report: Pain002Parsed, status: GroupStatus): boolean => report.groupStatus === status
  || report.paymentInfoStatuses.some((info) => info.status === status || info.transactions.some((tx) => tx.status === status));

/** Whether the report refuses anything (a line, a payment information or the whole file RJCT). */
export function refusesPayments(report: Pain002Parsed): boolean {
  return reports(report, 'RJCT');
}

/** Whether the report credits anything (ACSC): of a payment refused before, a contradiction for a person. */
export function creditsPayments(report: Pain002Parsed): boolean {
  return reports(report, 'ACSC');
}

const RANK: Record<AttemptStatus, number> = {
  PLANNED: 0, SENT: 1, UNKNOWN: 1, ACCEPTED: 2, PAID: 3, REJECTED: 3, RETURNED: 4, CANCELLED: 4,
};

/** ACSC: settled on the creditor's account; RJCT: refused; everything else is on its way. */
function meaning(status: TransactionStatus | GroupStatus): AttemptUpdate['status'] | null {
  if (status === 'ACSC') return 'PAID';
  if (status === 'RJCT') return 'REJECTED';
  if (status === 'RCVD' || status === 'PART') return null; // about the file, not a payment
  return 'ACCEPTED';
}

/**
 * `pmtInfId` is the batch's payment information id: a status the report gives a payment information
 * as a whole (PmtInfSts) concerns the batch's payments only when it names it.
 */
export function readStatusReport(report: Pain002Parsed, attempts: readonly AttemptState[], pmtInfId: string): ReportReading {
  const byEndToEndId = new Map(attempts.map((a) => [a.endToEndId, a]));
  const updates = new Map<string, AttemptUpdate>();
  const strangers: string[] = [];
  const refusals = new Map<string, PaymentRefusal>();
  const credits = new Map<string, PaymentCredit>();
  const propose = (attempt: AttemptState, update: Omit<AttemptUpdate, 'id' | 'endToEndId'>) => {
    // A refusal or a credit is kept even when it moves nothing (a PAID attempt stays PAID, a REJECTED
    // one REJECTED): reconciliation raises the one that contradicts the bank's earlier word.
    if (update.status === 'REJECTED' && !refusals.has(attempt.endToEndId)) {
      refusals.set(attempt.endToEndId, { attemptId: attempt.id, reasonCode: update.reasonCode ?? 'NARR', additionalInfo: update.reason, report: report.msgId });
    }
    if (update.status === 'PAID' && !credits.has(attempt.endToEndId)) {
      credits.set(attempt.endToEndId, { attemptId: attempt.id, bankReference: update.bankReference, report: report.msgId });
    }
    if (RANK[update.status] <= RANK[attempt.status]) return;
    const earlier = updates.get(attempt.endToEndId);
    if (earlier && RANK[earlier.status] >= RANK[update.status]) return;
    updates.set(attempt.endToEndId, { id: attempt.id, endToEndId: attempt.endToEndId, ...update });
  };

  const reported = new Set<string>();
  for (const info of report.paymentInfoStatuses) {
    for (const tx of info.transactions) {
      const attempt = byEndToEndId.get(tx.originalEndToEndId);
      if (!attempt) {
        strangers.push(tx.originalEndToEndId);
        continue;
      }
      // A line without its own status takes its payment information's, then the group's.
      const status = tx.status ?? info.status ?? report.groupStatus;
      const status_ = status && meaning(status);
      if (!status || !status_) continue;
      reported.add(attempt.endToEndId);
      const reason = tx.reasonCode ? tx : info.reason ?? report.groupReason;
      propose(attempt, {
        status: status_,
        bankStatus: status,
        reasonCode: status_ === 'REJECTED' ? reason?.reasonCode ?? 'NARR' : null,
        reason: status_ === 'REJECTED' ? reason?.additionalInfo ?? null : null,
        bankReference: tx.accountServicerRef ?? null,
      });
    }
  }
  // The batch's payment information refused as a whole (PmtInfSts RJCT: a bank refuses a block so, for
  // want of funds on the paying account, say), or the whole file (group RJCT), rejects every payment
  // the report does not list; the block's reason first, as the nearer one.
  const refuseUnlisted = (reason: StatusReason | undefined) => {
    for (const attempt of attempts) {
      if (reported.has(attempt.endToEndId)) continue;
      propose(attempt, { status: 'REJECTED', bankStatus: 'RJCT', reasonCode: reason?.reasonCode ?? 'NARR', reason: reason?.additionalInfo ?? null, bankReference: null });
    }
  };
  for (const info of report.paymentInfoStatuses) {
    if (info.originalPmtInfId === pmtInfId && info.status === 'RJCT') refuseUnlisted(info.reason ?? report.groupReason);
  }
  if (report.groupStatus === 'RJCT') refuseUnlisted(report.groupReason);
  return { updates: [...updates.values()], strangers, refusals: [...refusals.values()], credits: [...credits.values()] };
}

/** The batch's status once every attempt is final, or null while some are still on their way. */
export function finalBatchStatus(statuses: readonly AttemptStatus[]): 'ACCEPTED' | 'PARTIALLY_ACCEPTED' | 'REJECTED' | null {
  const live = statuses.filter((s) => s !== 'CANCELLED');
  if (live.some((s) => RANK[s] < 3)) return null;
  const paid = live.filter((s) => s === 'PAID' || s === 'RETURNED').length;
  if (paid === live.length) return 'ACCEPTED';
  return paid === 0 ? 'REJECTED' : 'PARTIALLY_ACCEPTED';
}
