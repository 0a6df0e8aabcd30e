import type { Queryable } from '../kernel/transaction.ts';
import type { PayoutSettings, PlanCounts } from './model.ts';
import { cancelPayoutsOfUnapprovedClaims, createPayoutsOfApprovedClaims, followBankCards } from './store/payouts.ts';
import { createPayoutsOfApprovedCondolences } from './store/condolences.ts';

/**
 * Payouts from approved claims, derived from the rows alone (so re-running is harmless):
 * a payout for every (APPROVED claim, funder) with approved lines that has none yet
 * (UNIQUE(claim_id, funder_id)), in pages (planClaimPayouts);
 * a payout for every APPROVED condolence payment (慰问金) that has none yet;
 * payouts waiting for a batch (HELD, READY) follow their member's bank card (HELD without a card
 * on record, or while a replaced card cools off: BANK_CARD_COOLING_OFF_DAYS, `coolingOffDays`);
 * payouts not yet on their way whose claim is no longer approved (reversed, rejected on review)
 * are CANCELLED.
 */
export async function planPayouts(db: Queryable, settings: Pick<PayoutSettings, 'coolingOffDays'>): Promise<PlanCounts> {
  const counts: PlanCounts = { created: 0, held: 0, released: 0, withheld: 0, cancelled: 0 };
  for (const page of await planClaimPayouts(db, settings.coolingOffDays)) {
    counts.created += page.created;
    counts.held += page.held;
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

export type ClaimPayoutPage = Awaited<ReturnType<typeof createPayoutsOfApprovedClaims>>;

/**
 * One round of claims' payouts: page after page, each from the claim the last one ended on (a
 * claim approved meanwhile below it waits for the next round). Every page, as it went.
 */
export async function planClaimPayouts(db: Queryable, coolingOffDays: number, pageSize?: number): Promise<ClaimPayoutPage[]> {
  const pages: ClaimPayoutPage[] = [];
  for (let from = 0; ;) {
    const page = await createPayoutsOfApprovedClaims(db, coolingOffDays, from, pageSize);
    pages.push(page);
    if (!page.more) return pages;
    from = page.lastClaimId;
  }
}
