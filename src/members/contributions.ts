import type { Tx } from '../kernel/transaction.ts';
import { conflict } from '../kernel/errors.ts';
import { bankReferenceKey } from '../kernel/identifiers.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { insertContributionPayment, lockContributionPayments } from './store.ts';
import { paymentsCountingBooking } from './store/contributionPayments.ts';

/**
 * Contribution payments recorded by hand (the figures, owed amounts and coverage, are the model's).
 */

/** A payment a clerk records by hand (checked by the caller: a visible unit, a plan year, positive fen). */
export interface ManualPayment {
  unitId: number;
  planYear: number;
  amountFen: number;
  /** The bank's reference of the transfer: the same transfer is never recorded twice. */
  reference: string;
  paidOn: string;
}

/**
 * Records a manual payment, in the caller's transaction: at once (reconciliation/manualPayments.ts), or when a
 * second person confirms its proposal (reconciliation/proposals.ts), with who proposed it.
 */
export async function applyManualPayment(
  tx: Tx,
  actor: Actor,
  payment: ManualPayment,
  confirmed?: { proposalId: number; proposedBy: string },
): Promise<void> {
  const { unitId, planYear, amountFen, reference, paidOn } = payment;
  await lockContributionPayments(tx, 'exclusive');
  // The transfer may be counted already under another spelling of its reference, or by reconciliation under one derived from it.
  const counted = await paymentsCountingBooking(tx, bankReferenceKey(reference));
  if (counted.length > 0) {
    const payments = counted.map((p) => `${p.reference} (${p.source === 'BANK' ? "from the bank's statement" : 'by hand'})`).join(', ');
    throw conflict(`input.reference: the transfer ${reference} is already counted as contribution: ${payments}`, 'input.reference');
  }
  const recorded = await insertContributionPayment(tx, { unitId, planYear, amountFen, reference, paidOn, source: 'MANUAL', recordedBy: actor.subject });
  if (!recorded) throw conflict(`input.reference: a payment with reference ${reference} is already recorded`, 'input.reference');
  await recordAudit(tx, actor, {
    action: 'contribution.payment', targetType: 'Unit', targetId: String(unitId),
    details: { planYear, amountFen, reference, ...confirmed },
  });
}
