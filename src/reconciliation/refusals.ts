import { chinaToday } from '../kernel/time.ts';
import type { Tx } from '../kernel/transaction.ts';
import { paidAfterRejectionKey, rejectedAfterPaymentKey, resendWithheldKey } from './matching/types.ts';
import type { CreditAfterRefusal, LaterAttempt, PaymentRefusal, RefusalsAfterPayment, WithheldResend } from '../payouts/model.ts';
import { insertExceptions, lockAccounts, paidAttemptsOf, type PlacedException, type RefusedPayment } from './store/runs.ts';

/**
 * The bank's refusal (pain.002 RJCT) of a payment it had paid: one it had reported credited (ACSC,
 * the attempt PAID) or whose debit a statement shows, matched to it. The bank's status contradicts
 * its own earlier word or its statement. The payouts side keeps what it holds (a report never moves
 * a final PAID: the payout stays PAID or SETTLED, its member is not told it failed, and no one can
 * retry it; a payout the report did fail may be retried by two FINANCE people only, as the bank had
 * paid it). The contradiction is a person's to clear up with the bank: a REJECTED_AFTER_PAYMENT
 * exception in the work queue and the day's report, naming the attempt and the bank's reason. It
 * sits on the matched debit's entry (whose day it is shown under), or on none while no debit is
 * matched (under the day the bank reported the credit); one per attempt, however often the bank
 * repeats its report. Nothing to match by hand (the debit is matched already): it is written off
 * with what the bank said. Money that comes back is a return (退票), which fails the payout.
 *
 * Its mirror: the bank's credit (ACSC) of a payment it had refused (RJCT). The attempt stays
 * REJECTED and its payout as it is (FAILED, or retried since), but the member may have the money:
 * a PAID_AFTER_REJECTION exception, on no entry (the bank's word is all there is), makes the payout
 * count as paid by the bank (payout_paid_by_bank, 0051) whatever becomes of it, so that its retry
 * takes two FINANCE people and a retry one person made is withdrawn at sealing. A retry already
 * handed to the bank may have paid the member a second time: the exception says so, for a person to
 * recover one of the two.
 */

/**
 * Taken first by a transaction that applies refusals to the account's payments, as a reconciliation
 * run takes it before reading what its entries may match: a debit a run matches is committed before
 * the refusal looks for it, or the run reads the attempts as the refusal left them (a debit naming
 * an attempt the refusal moved to REJECTED is then an UNMATCHED_DEBIT naming it, as for any refused
 * payment). Without it, a run that had read the attempt ACCEPTED could match its debit just after
 * the refusal looked, and the contradiction would go unseen.
 */
export async function lockAccountForRefusals(tx: Tx, account: string): Promise<void> {
  await lockAccounts(tx, [account]);
}

/**
 * Raises the refusals of payments the bank had paid (the others are ordinary refusals): returns the
 * attempts concerned and how many exceptions are new (a repeated report raises none).
 */
export async function raiseRefusalsAfterPayment(tx: Tx, refusals: readonly PaymentRefusal[]): Promise<{ attemptIds: number[]; raised: number }> {
  if (refusals.length === 0) return { attemptIds: [], raised: 0 };
  const byAttempt = new Map(refusals.map((r) => [r.attemptId, r]));
  const paid = await paidAttemptsOf(tx, [...byAttempt.keys()]);
  const raised = await insertExceptions(tx, paid.map((p) => finding(p, byAttempt.get(p.attemptId)!)));
  return { attemptIds: paid.map((p) => p.attemptId), raised };
}

/** Raises the credits of payments the bank had refused (PAID_AFTER_REJECTION): how many exceptions are new (a repeated report raises none). */
export async function raisePaidAfterRejection(tx: Tx, credits: readonly CreditAfterRefusal[]): Promise<number> {
  const today = chinaToday();
  return insertExceptions(tx, credits.map((c) => ({
    key: paidAfterRejectionKey(c.attemptId), kind: 'PAID_AFTER_REJECTION', entryId: null, txIndex: null, attemptId: c.attemptId,
    amountFen: c.amountFen, account: c.account, occurredOn: today,
    evidence: {
      endToEndId: c.endToEndId, payoutId: c.payoutId, attemptStatus: 'REJECTED', payoutStatus: c.payoutStatus, refusedWith: c.refusedWith,
      bankStatus: 'ACSC', accountServicerRef: c.bankReference, report: c.report, retries: c.retries, reason: creditReason(c),
    },
  })));
}

/**
 * A batch handed to the bank without an answer, which the bank then said it never received, was not
 * sent again (src/payouts/submission.ts): it holds a retry one person made of a payout the bank has
 * since been found to have paid. A RESEND_WITHHELD exception per such retry, on no entry, naming the
 * batch: a person must find out from the bank what became of the file. How many are new.
 */
export async function raiseWithheldResend(tx: Tx, withheld: WithheldResend): Promise<number> {
  const today = chinaToday();
  return insertExceptions(tx, withheld.retries.map((r) => ({
    key: resendWithheldKey(r.attemptId), kind: 'RESEND_WITHHELD', entryId: null, txIndex: null, attemptId: r.attemptId,
    amountFen: r.amountFen, account: withheld.account, occurredOn: today,
    evidence: {
      batchId: withheld.batchId, msgId: withheld.msgId, payoutId: r.payoutId, claimId: r.claimId, endToEndId: r.endToEndId,
      reason: `the batch ${withheld.msgId} was handed to the bank without an answer, and the bank now says it never received it; `
        + `it holds ${r.endToEndId}, a retry one person made of payout ${r.payoutId}, which the bank has since been found to have paid `
        + '(credited after refusing it, or debited on a statement). Its file is not sent again: it would pay the member twice. Nor is the batch '
        + 'withdrawn: the file may still reach the bank, and its other payments paid in another batch could then be paid twice. It waits, '
        + 'the bank asked about it by its MsgId (its report, if one comes, is applied). Ask the bank whether it holds or will execute the file, '
        + 'and whether the member was paid, then write this off with its answer',
    },
  })));
}

/** What payouts' submission is given (by jobs/) to apply to the refusals and credits it receives. */
export const refusalsAfterPayment: RefusalsAfterPayment = {
  lockAccount: lockAccountForRefusals, raise: raiseRefusalsAfterPayment, raiseCredits: raisePaidAfterRejection, raiseWithheldResend,
};

function finding(p: RefusedPayment, refusal: PaymentRefusal): PlacedException {
  return {
    key: rejectedAfterPaymentKey(p.attemptId), kind: 'REJECTED_AFTER_PAYMENT', entryId: p.entryId, txIndex: p.txIndex, attemptId: p.attemptId,
    amountFen: p.amountFen, account: p.account, occurredOn: p.debitedOn ?? p.creditedOn,
    evidence: {
      endToEndId: p.endToEndId, payoutId: p.payoutId, attemptStatus: p.attemptStatus, payoutStatus: p.payoutStatus,
      bankStatus: 'RJCT', reasonCode: refusal.reasonCode, additionalInfo: refusal.additionalInfo, report: refusal.report,
      ...(p.entryId === null ? { creditedOn: p.creditedOn } : { debitEntryId: p.entryId, debitedOn: p.debitedOn }),
      reason: reasonOf(p, refusal),
    },
  };
}

/** What is wrong, in words (ReconciliationException.reason). */
function reasonOf(p: RefusedPayment, refusal: PaymentRefusal): string {
  const bank = `the bank answered RJCT ${refusal.reasonCode}${refusal.additionalInfo ? ` (${refusal.additionalInfo})` : ''} for this payment`;
  const after = p.debitedOn !== null
    ? `after the statement of ${p.debitedOn} showed it debited`
    : `after reporting it credited (ACSC) on ${p.creditedOn}; no debit is on the statements yet`;
  const hub = p.attemptStatus === 'PAID'
    ? `the hub holds it paid: the payout stays ${p.payoutStatus}, its member is not told it failed, and it cannot be retried`
    : `the payout is ${p.payoutStatus}, and as the bank had paid it only two FINANCE people may retry it`;
  return `${bank} ${after}: ${hub}. Ask the bank which is true (money that comes back is a return, 退票), then write this off with its answer`;
}

/** A retry as an exception's reason names it: its number, EndToEndId and status, and the day it was sent, if it was. */
export function retryNamed(r: LaterAttempt): string {
  return `attempt ${r.attemptNo} (${r.endToEndId}, ${r.status})${r.sentOn === null ? '' : ` on ${r.sentOn}`}`;
}

/** What is wrong, in words, for a credit after a refusal: above all, whether a retry went to the bank too. */
function creditReason(c: CreditAfterRefusal): string {
  const bank = `the bank reported this payment credited (ACSC${c.bankReference ? ` ${c.bankReference}` : ''}) after refusing it (RJCT ${c.refusedWith})`;
  const sent = c.retries.filter((r) => r.sentOn !== null);
  const hub = sent.length > 0
    ? `the payout was retried and the bank was sent ${sent.map(retryNamed).join(', ')}: `
      + 'the member may have been paid twice. Ask the bank which payments it executed, recover the one too many, then write this off with its answer'
    : `${c.payoutStatus === 'FAILED' || c.payoutStatus === 'CANCELLED' ? `the payout is ${c.payoutStatus}` : `the payout was retried, not yet sent (it is ${c.payoutStatus})`}; `
      + 'it now counts as paid by the bank: a retry is withdrawn at sealing unless two FINANCE people confirmed it, and only two FINANCE people may retry it. '
      + 'Ask the bank whether the member was paid, then write this off with its answer';
  return `${bank}: ${hub}`;
}
