import type { Transitions } from '../kernel/transitions.ts';
import type { MemberCategory, Plan, Programme, UnitType } from './rules/ruleSet.ts';
import type { CapHit, EnrolmentFacts, PlanYearTotals, SettlementFacts } from './rules/engine.ts';

/**
 * The benefits domain's statuses and rows (as the store reads them from SQL, camelCase aliases;
 * resolvers map them to the schema). Money is integer fen.
 */

export type ClaimStatus = 'INELIGIBLE' | 'PENDING_REVIEW' | 'APPROVED' | 'REJECTED' | 'CANCELLED';
export type LineStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'CANCELLED' | 'PAID';
export type RecoveryStatus = 'OPEN' | 'RECOVERED' | 'WAIVED';
/** What a reversal settlement did to the claim of the settlement it reverses (claim_reversals.outcome). */
export type ReversalOutcome = 'CANCELLED' | 'ALREADY_CANCELLED' | 'CANCELLED_BEFORE_ADJUDICATION';
/**
 * claims.decided_by of a claim a reversal cancelled before anyone decided it: decided_at is then when
 * it closed (its decision promise is kept), not a decision the measured waiting counts.
 */
export const REVERSAL_DECIDER = 'reversal';

/**
 * The status changes of a claim. Adjudication inserts a claim INELIGIBLE, PENDING_REVIEW or
 * APPROVED (or CANCELLED, for a settlement reversed before it was adjudicated); a reviewer decides a
 * PENDING_REVIEW claim; a reversal cancels any claim not already out (REJECTED, CANCELLED).
 * Re-decision (redecide.ts) moves a refused claim (INELIGIBLE, or REJECTED on appeal) to
 * PENDING_REVIEW or APPROVED when a fact it was refused for changed; the database lets it only in
 * a transaction that wrote the claim's claim_redecisions row (trigger claims_guard_redecision,
 * migration 0018). The database checks the statuses (claims.status CHECK); this table is the rest
 * of the rule, and the code that changes a status reads it.
 */
export const CLAIM_TRANSITIONS: Transitions<ClaimStatus> = {
  INELIGIBLE: ['PENDING_REVIEW', 'APPROVED', 'CANCELLED'],
  PENDING_REVIEW: ['APPROVED', 'REJECTED', 'CANCELLED'],
  APPROVED: ['CANCELLED'],
  REJECTED: ['PENDING_REVIEW', 'APPROVED'],
  CANCELLED: [],
};

/** Why a claim was decided again (claim_redecisions.cause). */
export const REDECISION_CAUSES = ['CONTRIBUTION_PAID', 'ENROLMENT_CHANGED', 'MEMBER_MATCHED', 'CORRECTION', 'APPEAL', 'EARLIER_CLAIM_RELEASED'] as const;
export type RedecisionCause = (typeof REDECISION_CAUSES)[number];

/**
 * The reasons for refusal that rest on facts that can change later (the unit pays, the enrolment is
 * corrected): a claim INELIGIBLE for one of them is decided again when its facts change.
 * MED_TYPE_NOT_COVERED and the like rest on the settlement itself and never change.
 */
export const MUTABLE_REFUSALS = ['CONTRIBUTION_UNPAID', 'WAITING_PERIOD', 'NO_ENROLMENT'] as const;

export interface ClaimRow {
  id: number;
  settlementId: number;
  memberId: number;
  unitId: number;
  enrolmentId: number;
  planYear: number;
  setlTime: Date;
  ruleSetId: string | null;
  ruleSetVersion: number | null;
  status: ClaimStatus;
  eligible: boolean;
  psnPartAmt: number;
  computedTotalFen: number;
  totalFen: number;
  reasons: string[];
  reasonCodes: string[];
  warnings: string[];
  outOfPocketFen: number;
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionReason: string | null;
  /** Everyone who adjusted a line of the claim (they may not approve it). */
  adjustedBy: string[];
  createdAt: Date;
  updatedAt: Date;
  /** Whether the unit's contribution covered the enrolment when the claim was last decided (claims.facts). */
  contributionCovered: boolean;
}

export interface BenefitLineRow {
  id: number;
  claimId: number;
  programme: Programme;
  basisFen: number;
  ratioBp: number | null;
  fixedFen: number | null;
  beforeCapsFen: number;
  capsHit: CapHit[];
  /** Whose money the line is (funders.code). */
  funder: string;
  amountFen: number;
  adjustedFen: number | null;
  adjustmentReason: string | null;
  adjustedBy: string | null;
  adjustedAt: Date | null;
  diseaseGroups: string[];
  explanation: string;
  status: LineStatus;
  paidAt: Date | null;
}

export interface RuleSetRow {
  ruleSetId: string;
  version: number;
  planYears: number[];
  /** The rule set JSON as stored; `ruleSetOf` (catalogue.ts) validates it. */
  definition: unknown;
  shipped: boolean;
  publishedAt: Date;
  publishedBy: string;
}

export interface BenefitTotalsRow {
  memberId: number;
  planYear: number;
  inpatientFen: number;
  criticalFen: number;
  majorDiseaseFen: number;
  provincialSubsidyFen: number;
  outOfPocketFen: number;
  claims: number;
}

/** The amounts of a settlement as the engine reads them, in fen (null: not sent). */
export type SettlementAmounts = SettlementFacts['amountsFen'];

/** A MATCHED settlement (or reversal) waiting for adjudication, with its enrolment's facts. */
export interface PendingSettlementRow {
  id: number;
  kind: 'SETTLEMENT' | 'REVERSAL';
  reversesId: number | null;
  memberId: number;
  unitId: number;
  enrolmentId: number;
  planYear: number;
  plan: Plan;
  specialDisease: boolean;
  firstEnrolledOn: string;
  enrolledOn: string;
  /** EnrolmentFacts.specialDiseaseAddedOn: the add-on's chain start when after the enrolment chain's first day, else null. */
  specialDiseaseAddedOn: string | null;
  /** The unit's type and organisation now, and the categories on the enrolment (programme conditions, governing rule set). */
  unitType: UnitType;
  organisationId: number;
  memberCategories: MemberCategory[];
  medType: string;
  setlTime: Date;
  /** 入院日期 (begndate), null when the sender did not give it. */
  admittedOn: string | null;
  diagnoses: string[];
  amounts: SettlementAmounts;
}

/** A decided claim with its settlement and payable lines, for replay. */
export interface ReplayClaimRow {
  claimId: number;
  settlementId: number;
  memberId: number;
  status: ClaimStatus;
  eligible: boolean;
  /** The enrolment facts the rules saw (claims.facts). */
  facts: EnrolmentFacts;
  /** The unit's type and the enrolment's categories now (for facts stored before programme conditions). */
  current: Pick<EnrolmentFacts, 'unitType' | 'memberCategories'>;
  medType: string;
  setlTime: Date;
  admittedOn: string | null;
  diagnoses: string[];
  amounts: SettlementAmounts;
  lines: { programme: Programme; payable: number; funder: string }[];
}

/**
 * What a claim holds of its member-year's totals: each programme's payable lines summed, and its
 * out-of-pocket; what a rejection or a refiguring takes out again (store `releaseFromTotals`).
 */
export function heldTotals(lines: readonly { programme: Programme; payable: number }[], outOfPocketFen: number): PlanYearTotals & { PROVINCIAL_SUBSIDY: number } {
  const held = (p: Programme) => lines.filter((l) => l.programme === p).reduce((sum, l) => sum + l.payable, 0);
  return {
    INPATIENT: held('INPATIENT'), CRITICAL: held('CRITICAL'), MAJOR_DISEASE: held('MAJOR_DISEASE'), PROVINCIAL_SUBSIDY: held('PROVINCIAL_SUBSIDY'),
    outOfPocket: outOfPocketFen,
  };
}

/** What a line pays now: the reviewer's adjustment when there is one, else the computed amount. */
export const payableFen = (line: Pick<BenefitLineRow, 'amountFen' | 'adjustedFen'>): number => line.adjustedFen ?? line.amountFen;

/** One re-decision of a claim (claim_redecisions), as the API shows it. */
export interface RedecisionRow {
  id: number;
  claimId: number;
  cause: RedecisionCause;
  previousStatus: ClaimStatus;
  previousReasonCodes: string[];
  previousTotalFen: number;
  newStatus: ClaimStatus;
  newReasonCodes: string[];
  newTotalFen: number;
  ruleSetId: string;
  ruleSetVersion: number;
  decidedBy: string;
  decidedAt: Date;
}

export const RULE_SET_PROPOSAL_KINDS = ['PUBLICATION', 'ASSIGNMENT'] as const;
export type RuleSetProposalKind = (typeof RULE_SET_PROPOSAL_KINDS)[number];
export const RULE_SET_PROPOSAL_STATUSES = ['PROPOSED', 'APPROVED', 'REJECTED'] as const;
export type RuleSetProposalStatus = (typeof RULE_SET_PROPOSAL_STATUSES)[number];

/** A proposed rule-set change waiting for (or decided by) a second ADMIN (rule_set_proposals). */
export interface RuleSetProposalRow {
  id: number;
  kind: RuleSetProposalKind;
  status: RuleSetProposalStatus;
  ruleSetId: string;
  /** ASSIGNMENT: the version assigned; PUBLICATION: the version it became (null until approved). */
  ruleSetVersion: number | null;
  /** PUBLICATION: the definition proposed. */
  definition: Record<string, unknown> | null;
  /** ASSIGNMENT: the organisation assigned for; PUBLICATION: the proposer's organisation (null: hub-wide staff). */
  organisationId: number | null;
  planYear: number | null;
  /** yyyy-MM-dd */
  effectiveFrom: string | null;
  note: string;
  proposedBy: string;
  proposedAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionNote: string | null;
}
