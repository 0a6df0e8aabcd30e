import type { Db } from '../kernel/transaction.ts';
import type { Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { decideOrPropose } from './fourEyes.ts';
import { applyManualPayment, type ManualPayment } from '../members/contributions.ts';
import { lockUnitInScope } from '../members/store.ts';
import { notFound } from '../kernel/errors.ts';
import type { Scope } from '../kernel/scope.ts';

/**
 * Records a manual contribution payment at once, or above `aboveFen` (FOUR_EYES_ABOVE_FEN) proposes
 * it for a second person to confirm (fourEyes.ts, proposals.ts): the proposal's id, else null. A recorded payment
 * is money the unit no longer owes, so it needs the same four eyes as money paid out.
 *
 * Here, beside the four eyes that confirm it, not in members: members records the payment
 * (`applyManualPayment`) and knows nothing of proposals, so the two domains depend one way.
 */
export async function recordManualPayment(db: Db, actor: Actor, scope: Scope, payment: ManualPayment, aboveFen: number): Promise<number | null> {
  return inTransaction(db, async (tx) => {
    // The unit stays in the caller's scope until the commit: one moved to another organisation meanwhile is not found.
    if (!(await lockUnitInScope(tx, payment.unitId, scope))) throw notFound('unit', 'input.unitId');
    return decideOrPropose(
      tx, actor, aboveFen, { kind: 'CONTRIBUTION_PAYMENT', unitId: payment.unitId, amountFen: payment.amountFen, decision: payment },
      () => applyManualPayment(tx, actor, payment),
    );
  });
}
