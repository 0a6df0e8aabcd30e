import type { Queryable } from '../kernel/transaction.ts';
import type { PlanCounts } from './model.ts';
import type { PayoutSettings } from './settings.ts';
import { cancelPayoutsOfUnapprovedClaims, createPayoutsOfApprovedClaims, followBankCards } from './store/payouts.ts';
import { createPayoutsOfApprovedCondolences } from './store/condolences.ts';

/**
 * Payouts from approved claims, derived from the rows alone (so re-running is harmless):
 * a payout for every APPROVED claim with approved lines that has none yet (UNIQUE(claim_id));
 * a payout for every APPROVED condolence payment (慰问金) that has none yet;
 * payouts waiting for a batch (HELD, READY) follow their member's bank card (HELD without a card
 * on record, or while a replaced card cools off: BANK_CARD_COOLING_OFF_DAYS, `coolingOffDays`);
 * payouts not yet on their way whose claim is no longer approved (reversed, rejected on review)
 * are CANCELLED.
 */
export async function planPayouts(db: Queryable, settings: Pick<PayoutSettings, 'coolingOffDays'>): Promise<PlanCounts> {
  const counts: PlanCounts = { created: 0, held: 0, released: 0, withheld: 0, cancelled: 0 };
  // Page after page from the claim the last one ended on; a claim approved meanwhile below it waits for the next round.
  for (let from = 0; ;) {
    const page = await createPayoutsOfApprovedClaims(db, settings.coolingOffDays, from);
    counts.created += page.created;
    counts.held += page.held;
    if (!page.more) break;
    from = page.lastClaimId;
  }
  const condolences = await createPayoutsOfApprovedCondolences(db, settings.coolingOffDays);
  counts.created += condolences.created;
  counts.held += condolences.held;
  const moved = await followBankCards(db, settings.coolingOffDays);
  counts.released = moved.released;
  counts.withheld = moved.withheld;
  counts.cancelled = await cancelPayoutsOfUnapprovedClaims(db);
  return counts;
}
