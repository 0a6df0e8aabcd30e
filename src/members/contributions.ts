import type { Tx } from '../kernel/transaction.ts';
import { conflict } from '../kernel/errors.ts';
import { bankReferenceKey } from '../kernel/identifiers.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { CONTRIBUTION_FEN, type ContributionStatus, type PlanType } from './model.ts';
import { insertContributionPayment, lockContributionPayments } from './store.ts';
import { paymentsCountingBooking } from './store/contributionPayments.ts';
import type { EnrolmentCoverageFigures } from './store/coverage.ts';

/**
 * Yearly contributions per enrolled person (programme terms, `CONTRIBUTION_FEN`; docs/design.md):
 * owed amounts and status from counts and payments (pure), and payments recorded by hand.
 */

export function enrolmentContributionFen(plan: PlanType, specialDisease: boolean): number {
  return CONTRIBUTION_FEN[plan] + (specialDisease ? CONTRIBUTION_FEN.SPECIAL_DISEASE : 0);
}

export function contributionStatus(owedFen: number, paidFen: number): ContributionStatus {
  if (paidFen > 0 && paidFen >= owedFen) return 'PAID';
  return paidFen > 0 ? 'PARTIALLY_PAID' : 'OWED';
}

/** How a unit's payments cover its enrolments (the rule set's `eligibility.coverage`). */
export type CoverageRule = 'ENROLMENT_ORDER' | 'WHOLE_UNIT';

/**
 * Whether the unit's contribution covers one enrolment. ENROLMENT_ORDER: the payments cover the
 * enrolments in the order they were owed (store/coverage.ts), so an enrolment is covered once the
 * unit paid at least what it owes for it and every enrolment owed before it. WHOLE_UNIT: only when
 * the unit's plan year is paid in full.
 */
export function contributionCovered(rule: CoverageRule, f: Pick<EnrolmentCoverageFigures, 'owedThroughFen' | 'owedFen' | 'paidFen'>): boolean {
  if (rule === 'WHOLE_UNIT') return contributionStatus(f.owedFen, f.paidFen) === 'PAID';
  // No figure up to this enrolment: the year is paid in full or not at all (store/coverage.ts), and the payment alone decides.
  return f.paidFen > 0 && (f.owedThroughFen ?? f.owedFen) <= f.paidFen;
}

/**
 * The reference a unit quotes on its transfer (≤ 35 characters, the ISO 20022 limit), so
 * reconciliation can match the credit: `MAH` + plan year + credit code.
 */
export function contributionReference(creditCode: string, planYear: number): string {
  return `MAH${planYear}${creditCode}`;
}

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
 * Records a manual payment, in the caller's transaction: at once (manualPayments.ts), or when a
 * second person confirms its proposal (reconciliation/fourEyes.ts), with who proposed it.
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
