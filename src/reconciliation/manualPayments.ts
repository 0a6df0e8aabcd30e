import type { Db, Tx } from '../kernel/transaction.ts';
import type { Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { proposeWhen, whyCoverageNeedsSecondPerson } from './fourEyes.ts';
import { applyManualPayment, type ManualPayment } from '../members/contributions.ts';
import { contributionFigures, lockContributionPayments, lockUnitInScope } from '../members/store.ts';
import { paidByHandAlone } from '../members/store/contributionPayments.ts';
import { fenToCnyGrouped } from '../kernel/money.ts';
import { notFound } from '../kernel/errors.ts';
import type { Scope } from '../kernel/scope.ts';

/**
 * Records a manual contribution payment at once, or proposes it for a second person to confirm
 * (fourEyes.ts, proposals.ts): the proposal's id, else null. A recorded payment is money the unit no
 * longer owes, so it needs the same four eyes as money paid out: above `aboveFen`
 * (FOUR_EYES_ABOVE_FEN) counted with what the same person recorded alone for the unit's plan year
 * (a year split into transfers each under the threshold is still above it), whenever it would
 * pay beyond what the unit owes, and whenever, whatever its amount, it would make the unit's
 * payments cover an enrolment they did not cover (the year brought to paid, or in the order owed
 * its first enrolments): their claims, those refused for the unpaid contribution too, would be paid.
 * Judged on everything paid so far, so the last of several payments that covered nothing waits.
 *
 * Here, beside the four eyes that confirm it, not in members: members records the payment
 * (`applyManualPayment`) and knows nothing of proposals, so the two domains depend one way.
 */
export async function recordManualPayment(db: Db, actor: Actor, scope: Scope, payment: ManualPayment, aboveFen: number): Promise<number | null> {
  return inTransaction(db, async (tx) => {
    // The unit stays in the caller's scope until the commit: one moved to another organisation meanwhile is not found.
    if (!(await lockUnitInScope(tx, payment.unitId, scope))) throw notFound('unit', 'input.unitId');
    // Before reading what is paid, until the commit: no other payment (of this person, or reconciliation's) lands in between, so two at once cannot both pass under the threshold.
    await lockContributionPayments(tx, 'exclusive');
    return proposeWhen(
      tx, actor, await whySecondPerson(tx, actor, payment, aboveFen),
      { kind: 'CONTRIBUTION_PAYMENT', unitId: payment.unitId, amountFen: payment.amountFen, decision: payment },
      () => applyManualPayment(tx, actor, payment),
    );
  });
}

/** Why the payment needs a second person, or null. */
async function whySecondPerson(tx: Tx, actor: Actor, payment: ManualPayment, aboveFen: number): Promise<string | null> {
  const { unitId, planYear, amountFen } = payment;
  const alone = await paidByHandAlone(tx, unitId, planYear, actor.subject) + amountFen;
  if (alone > aboveFen) {
    return `${actor.subject} would have recorded ${fenToCnyGrouped(alone)} by hand alone for unit ${unitId}'s ${planYear} (this `
      + `${fenToCnyGrouped(amountFen)} included): above FOUR_EYES_ABOVE_FEN (${fenToCnyGrouped(aboveFen)})`;
  }
  const { owedFen, paidFen } = (await contributionFigures(tx, [{ unitId, planYear }]))[0]!;
  if (paidFen + amountFen > owedFen) {
    return `unit ${unitId} owes ${fenToCnyGrouped(owedFen)} for ${planYear} and has paid ${fenToCnyGrouped(paidFen)}: this ${fenToCnyGrouped(amountFen)} would pay beyond it`;
  }
  return whyCoverageNeedsSecondPerson(tx, { unitId, planYear, owedFen, paidFen }, amountFen);
}
