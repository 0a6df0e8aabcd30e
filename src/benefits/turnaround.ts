import DataLoader from 'dataloader';
import type { Page } from '../kernel/page.ts';
import { chinaToday } from '../kernel/time.ts';
import type { Queryable } from '../kernel/transaction.ts';
import type { Scope } from '../kernel/scope.ts';
import { lateReceivedBefore, turnaroundOf, type Turnaround, type TurnaroundPromise } from '../kernel/workingDays.ts';

export { promiseOf } from '../kernel/workingDays.ts';
import type { ClaimRow } from './model.ts';
import { claimTimes, countClaimBreaches, listClaimBreaches, type BreachBounds, type ClaimTimes } from './store/turnaround.ts';

/**
 * Claims' turnaround (办理时限) against the programme's promise, where a claim stands in words for
 * the member, and the open claims that broke the promise (for staff).
 */

/** Who may list the breaches: the staff who act on them or check them. */
export const READ_BREACHES = ['ADMIN', 'REVIEWER', 'FINANCE', 'AUDITOR'] as const;

export type BreachKind = 'DECISION' | 'PAYMENT';

// One loader per request (keyed by the request's loaders object; a subscription's fresh loaders get a
// fresh one): the claims of a page read their times in one query.
const timesLoaders = new WeakMap<object, DataLoader<number, ClaimTimes | null>>();
async function timesOf(db: Queryable, request: object, claimId: number): Promise<ClaimTimes> {
  let loader = timesLoaders.get(request);
  if (!loader) timesLoaders.set(request, (loader = new DataLoader((ids) => claimTimes(db, ids))));
  const times = await loader.load(claimId);
  // The caller loaded the claim in its scope; its settlement exists with it (foreign key).
  if (!times) throw new Error(`claim ${claimId} has no times`);
  return times;
}

/** A claim's turnaround now. `request`: one object per request (its loaders), to batch the reads. */
export async function claimTurnaround(db: Queryable, request: object, claimId: number, promise: TurnaroundPromise, now = new Date()): Promise<Turnaround> {
  return turnaroundOf(await timesOf(db, request, claimId), promise, now);
}

const text = (zh: string, en: string) => ({ zh, en });

/** Where a claim stands, for the member: the claim's status, then its payout's. */
export async function claimStage(db: Queryable, request: object, claimId: number): Promise<{ zh: string; en: string }> {
  const times = await timesOf(db, request, claimId);
  switch (times.status) {
    case 'INELIGIBLE': return text('不符合互助条件（原因见下）', 'Not eligible (see the reasons)');
    case 'REJECTED': return text('未获批准（见审核意见）', 'Not approved (see the reviewer\'s reason)');
    case 'CANCELLED': return text('已撤销：医保结算已冲正', 'Cancelled: the insurance settlement was reversed');
    case 'PENDING_REVIEW': return text('审核中', 'Under review');
    case 'APPROVED':
      if (!times.paymentExpected) return text('已批准，无应付金额', 'Approved, nothing to pay');
      switch (times.payoutStatus) {
        case 'PAID': case 'SETTLED': return text('已付款', 'Paid');
        case 'HELD': return text('已批准，付款暂缓（银行账户待确认或缺失）', 'Approved, payment on hold (bank account to be confirmed or missing)');
        case 'FAILED': return text('付款未成功，正在处理', 'Payment did not go through; being handled');
        case 'IN_BATCH': case 'SENT': return text('付款处理中', 'Payment on its way');
        default: return text('已批准，待付款', 'Approved, waiting for payment');
      }
  }
}

/** A page of the open claims that broke the promise (`kinds`, default both), and their count. */
export async function claimBreaches(
  db: Queryable, scope: Scope, kinds: readonly BreachKind[] | null | undefined, promise: TurnaroundPromise, page: Page, now = new Date(),
): Promise<{ rows: ClaimRow[]; count: () => Promise<number> }> {
  const wanted = new Set<BreachKind>(kinds?.length ? kinds : ['DECISION', 'PAYMENT']);
  const holidays = new Set(promise.holidays);
  const today = chinaToday(now);
  const bounds: BreachBounds = {
    decisionLateBefore: wanted.has('DECISION') ? lateReceivedBefore(today, promise.decisionWorkingDays, holidays) : null,
    paymentLateBefore: wanted.has('PAYMENT') ? lateReceivedBefore(today, promise.paymentWorkingDays, holidays) : null,
  };
  return { rows: await listClaimBreaches(db, scope, bounds, page), count: () => countClaimBreaches(db, scope, bounds) };
}
