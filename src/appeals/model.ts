import type { Transitions } from '../kernel/transitions.ts';
import { addDays, chinaToday, parseChinaTime } from '../kernel/time.ts';
import { isWorkingDay } from '../kernel/workingDays.ts';

/**
 * Appeals (复核申请): a member asks for reconsideration of a decided claim within APPEAL_PERIOD_DAYS
 * of its decision; a second reviewer decides. Rules (kept by the service and by the database,
 * migration 0017):
 * - only a decided claim (APPEALABLE_CLAIM_STATUSES), one OPEN appeal per claim;
 * - the decider is a REVIEWER or ADMIN who neither decided the claim (claims.decided_by when the
 *   appeal was filed, copied by a trigger) nor filed the appeal (four eyes);
 * - OPEN → UPHELD | DISMISSED, once.
 */

/**
 * The appeal period (复核申请期限) as configured: APPEAL_PERIOD_DAYS, and the public holidays
 * (PROMISE_HOLIDAYS, yyyy-MM-dd) a last day may not fall on.
 */
export interface AppealPeriod {
  days: number;
  holidays: readonly string[];
}

/**
 * The last day (China date yyyy-MM-dd) on which a claim decided at `decidedAt` may be appealed, as
 * the Civil Code counts a period in days (民法典 art. 201, 203): it starts the day after the
 * decision's China date, so its last day is that date + `days`; a last day that is no working day
 * (a Saturday or Sunday, or one of `holidays`: src/kernel/workingDays.ts) moves to the next working
 * day. Whatever the hour of the decision, the period ends at 24:00 China time of its last day.
 */
export function appealLastDay(decidedAt: Date, period: AppealPeriod): string {
  const holidays = new Set(period.holidays);
  let day = addDays(chinaToday(decidedAt), period.days);
  while (!isWorkingDay(day, holidays)) day = addDays(day, 1);
  return day;
}

/**
 * The instant the appeal period ends (exclusive): 24:00 China time of its last day, i.e. 00:00 of
 * the day after (`appealLastDay`). An appeal filed before it is in time; at or after it, late.
 */
export function appealDeadline(decidedAt: Date, period: AppealPeriod): Date {
  return parseChinaTime(`${addDays(appealLastDay(decidedAt, period), 1)} 00:00:00`)!;
}

export type AppealStatus = 'OPEN' | 'UPHELD' | 'DISMISSED';
export type AppealDecision = 'UPHOLD' | 'DISMISS';

/** Mirrors the trigger appeals_guard_update (0017): a decided appeal never changes again. */
export const APPEAL_TRANSITIONS: Transitions<AppealStatus> = {
  OPEN: ['UPHELD', 'DISMISSED'],
  UPHELD: [],
  DISMISSED: [],
};

/** Claim statuses an appeal may be filed against: decided ones (not waiting for review, not cancelled by a reversal). */
export const APPEALABLE_CLAIM_STATUSES = ['INELIGIBLE', 'APPROVED', 'REJECTED'] as const;
export type AppealableClaimStatus = (typeof APPEALABLE_CLAIM_STATUSES)[number];

/** Who may file an appeal: the member itself, or staff on its behalf. */
export const APPEAL_FILERS = ['MEMBER', 'UNIT_OPERATOR', 'ADMIN'] as const;
/** Who decides appeals (as claims are reviewed). */
export const APPEAL_DECIDERS = ['REVIEWER', 'ADMIN'] as const;
/** Who may list every appeal. */
export const APPEAL_READERS = ['REVIEWER', 'ADMIN', 'AUDITOR'] as const;

export interface AppealRow {
  id: number;
  claimId: number;
  memberId: number;
  status: AppealStatus;
  claimStatusWhenFiled: AppealableClaimStatus;
  /** Who decided the claim when the appeal was filed (may not decide the appeal); null for an automatic decision without a person. */
  claimDecidedBy: string | null;
  /** Who decided the claim as it stands (a reviewer who rejected it after the appeal was filed, say); may not decide the appeal either. */
  claimDecidedByNow: string | null;
  reason: string;
  filedBy: string;
  filedRole: string;
  filedAt: Date;
  decidedBy: string | null;
  decidedRole: string | null;
  decidedAt: Date | null;
  decisionReason: string | null;
}
