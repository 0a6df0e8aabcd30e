import type { Transitions } from '../kernel/transitions.ts';
import type { CondolenceReason } from '../benefits/rules/ruleSet.ts';

/**
 * Condolence payments (慰问金) for workers who were NOT enrolled in the plan year: the worker's unit
 * union applies, within the caps of the governing rule set's `condolence` section; a second person
 * approves; the approved amount is paid as a payout of the section's funder. Rules (kept by the
 * service and by the database, migration 0024):
 * - the worker is on the unit's roster and not enrolled in the plan year (an enrolled worker claims);
 * - what is approved for one case (the same reason on the same day) is at most the per-case cap, and
 *   the worker's approved total in the year at most the annual cap (checked at application and again
 *   at approval, under a lock per worker and year);
 * - the decider is a REVIEWER or ADMIN who did not apply (four eyes: condolences_four_eyes);
 * - PENDING → APPROVED | REJECTED | WITHDRAWN, once.
 */

export const CONDOLENCE_STATUSES = ['PENDING', 'APPROVED', 'REJECTED', 'WITHDRAWN'] as const;
export type CondolenceStatus = (typeof CONDOLENCE_STATUSES)[number];

/** Why a condolence is paid (重病, 身故, 生活困难, 意外伤害): the reasons a rule set's condolence section may pay. */
export { CONDOLENCE_REASONS, type CondolenceReason } from '../benefits/rules/ruleSet.ts';

/** The 附言 and messages name the reason in Chinese. */
export const CONDOLENCE_REASON_NAMES: Record<CondolenceReason, string> = {
  SERIOUS_ILLNESS: '重病',
  DEATH: '身故',
  HARDSHIP: '生活困难',
  ACCIDENT: '意外伤害',
};

/** Mirrors the trigger condolences_guard_update (0024): a decided or withdrawn condolence never changes again. */
export const CONDOLENCE_TRANSITIONS: Transitions<CondolenceStatus> = {
  PENDING: ['APPROVED', 'REJECTED', 'WITHDRAWN'],
  APPROVED: [],
  REJECTED: [],
  WITHDRAWN: [],
};

/** Who applies: the worker's unit union, or staff for it. */
export const CONDOLENCE_APPLICANTS = ['UNIT_OPERATOR', 'REVIEWER', 'ADMIN'] as const;
/** Who approves or rejects (never the applicant). */
export const CONDOLENCE_DECIDERS = ['REVIEWER', 'ADMIN'] as const;
/** Who sees condolences, each in its scope (a unit operator its unit's, a member its own). */
export const CONDOLENCE_READERS = ['REVIEWER', 'ADMIN', 'AUDITOR', 'FINANCE', 'UNIT_OPERATOR', 'MEMBER'] as const;

export interface CondolenceRow {
  id: number;
  memberId: number;
  unitId: number;
  planYear: number;
  reason: CondolenceReason;
  description: string;
  /** yyyy-MM-dd. */
  occurredOn: string;
  requestedFen: number;
  /** Null unless APPROVED. */
  approvedFen: number | null;
  funderId: number;
  ruleSetId: string;
  ruleSetVersion: number;
  status: CondolenceStatus;
  appliedBy: string;
  appliedRole: string;
  appliedAt: Date;
  decidedBy: string | null;
  decidedRole: string | null;
  /** When it was approved, rejected or withdrawn. */
  decidedAt: Date | null;
  decisionNote: string | null;
}
