import type { Tx } from '../kernel/transaction.ts';
import type pg from 'pg';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { decideOrPropose } from '../reconciliation/fourEyes.ts';
import { ResolutionError, type Confirmed } from '../reconciliation/resolve.ts';
import { insertContributionPayment } from './store.ts';

/**
 * Yearly contributions per enrolled person (programme terms; docs/design.md): PUBLIC 100 CNY,
 * PRIVATE 48 CNY, the 职工特病 add-on 25 CNY: owed amounts and status from counts and payments
 * (pure), and payments recorded by hand.
 */
export type PlanType = 'PUBLIC' | 'PRIVATE';

export const CONTRIBUTION_FEN = { PUBLIC: 10_000, PRIVATE: 4_800, SPECIAL_DISEASE: 2_500 } as const;

export function enrolmentContributionFen(plan: PlanType, specialDisease: boolean): number {
  return CONTRIBUTION_FEN[plan] + (specialDisease ? CONTRIBUTION_FEN.SPECIAL_DISEASE : 0);
}

export type ContributionStatus = 'OWED' | 'PARTIALLY_PAID' | 'PAID';

export function contributionStatus(owedFen: number, paidFen: number): ContributionStatus {
  if (paidFen > 0 && paidFen >= owedFen) return 'PAID';
  return paidFen > 0 ? 'PARTIALLY_PAID' : 'OWED';
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
 * Records a manual payment at once, or above `aboveFen` (FOUR_EYES_ABOVE_FEN) proposes it for a
 * second person to confirm (reconciliation/fourEyes.ts): the proposal's id, else null. A recorded
 * payment is money the unit no longer owes, so it needs the same four eyes as money paid out.
 */
export async function recordManualPayment(db: pg.Pool, actor: Actor, payment: ManualPayment, aboveFen: number): Promise<number | null> {
  return inTransaction(db, (tx) => decideOrPropose(
    tx, actor, aboveFen, { kind: 'CONTRIBUTION_PAYMENT', unitId: payment.unitId, amountFen: payment.amountFen, decision: payment },
    () => applyManualPayment(tx, actor, payment),
  ));
}

export async function applyManualPayment(tx: Tx, actor: Actor, payment: ManualPayment, confirmed?: Confirmed): Promise<void> {
  const { unitId, planYear, amountFen, reference, paidOn } = payment;
  const recorded = await insertContributionPayment(tx, { unitId, planYear, amountFen, reference, paidOn, source: 'MANUAL', recordedBy: actor.subject });
  if (!recorded) throw new ResolutionError('input.reference', `a payment with reference ${reference} is already recorded`, 'CONFLICT');
  await recordAudit(tx, actor, {
    action: 'contribution.payment', targetType: 'Unit', targetId: String(unitId),
    details: { planYear, amountFen, reference, ...confirmed },
  });
}
