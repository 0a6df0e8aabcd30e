/**
 * The members domain's types: units, members, enrolments, their changes, contributions and roster
 * imports, as the store reads them from SQL (camelCase aliases) and resolvers map them to the
 * schema. Pure: no I/O, nothing but types and the programme's constant terms.
 */

import type { EnrolmentRule } from '../benefits/rules/enrolment.ts';
import type { RuleSet } from '../benefits/rules/ruleSet.ts';

// ---- units and plans ----

/** The plan of a unit and its enrolments (docs/design.md): PUBLIC (机关事业单位 / 国有企业) or PRIVATE (非公企业). */
export type PlanType = 'PUBLIC' | 'PRIVATE';

/** A unit's type (单位性质): 机关, 事业单位, 国有企业, 非公企业, 社会组织. Refines PlanType; rule sets may condition on it. */
export const UNIT_TYPES = ['GOVERNMENT', 'PUBLIC_INSTITUTION', 'STATE_OWNED', 'NON_PUBLIC', 'SOCIAL_ORGANISATION'] as const;
export type UnitType = (typeof UNIT_TYPES)[number];

/** Targeted groups a member is recorded in at enrolment (see schema MemberCategory). */
export const MEMBER_CATEGORIES = ['NEW_EMPLOYMENT_FORM', 'SANITATION', 'MIGRANT_WORKER', 'HARDSHIP', 'MODEL_WORKER'] as const;
export type MemberCategory = (typeof MEMBER_CATEGORIES)[number];

/**
 * Yearly contributions per enrolled person (programme terms; docs/design.md): PUBLIC 100 CNY,
 * PRIVATE 48 CNY, the 职工特病 add-on 25 CNY.
 */
export const CONTRIBUTION_FEN = { PUBLIC: 10_000, PRIVATE: 4_800, SPECIAL_DISEASE: 2_500 } as const;

export type ContributionStatus = 'OWED' | 'PARTIALLY_PAID' | 'PAID';

/*
 * The figures of contributions (pure): what an enrolment owes, a unit-year's status, whether a
 * unit's payments cover an enrolment, the reference a unit quotes. Here, beside the terms, so that
 * adjudication, reconciliation and the API read them without calling members' services.
 */

export function enrolmentContributionFen(plan: PlanType, specialDisease: boolean): number {
  return CONTRIBUTION_FEN[plan] + (specialDisease ? CONTRIBUTION_FEN.SPECIAL_DISEASE : 0);
}

export function contributionStatus(owedFen: number, paidFen: number): ContributionStatus {
  if (paidFen > 0 && paidFen >= owedFen) return 'PAID';
  return paidFen > 0 ? 'PARTIALLY_PAID' : 'OWED';
}

/** How a unit's payments cover its enrolments (the rule set's `eligibility.coverage`). */
export type CoverageRule = RuleSet['eligibility']['coverage'];

/** A unit-year's figures as they bear on one enrolment (store/coverage.ts reads them). */
export interface CoverageFigures {
  /**
   * Owed for this enrolment and those owed before it in its unit's plan year; taken only when it
   * decides, for a year partly paid. Null when the unit paid the year in full (`paidFen > 0` and at
   * least `owedFen`: every enrolment is covered, whatever its place) or paid nothing towards it (none is).
   */
  owedThroughFen: number | null;
  /** Owed for all of the unit's enrolments of the plan year. */
  owedFen: number;
  /** Paid by the unit towards the plan year. */
  paidFen: number;
}

/**
 * Whether the unit's contribution covers one enrolment. ENROLMENT_ORDER: the payments cover the
 * enrolments in the order they were owed (store/coverage.ts), so an enrolment is covered once the
 * unit paid at least what it owes for it and every enrolment owed before it. WHOLE_UNIT: only when
 * the unit's plan year is paid in full.
 */
export function contributionCovered(rule: CoverageRule, f: CoverageFigures): boolean {
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

/** How a contribution payment arrived: recorded by a clerk, or matched from a bank statement. */
export type ContributionPaymentSource = 'MANUAL' | 'BANK';

/** From the resident ID number (its 17th digit). */
export type Gender = 'M' | 'F';

// ---- member changes (member_changes) ----

/** The operation that changed a member. */
export type MemberChangeAction = 'roster.import' | 'member.update' | 'member.move';

/** A field of a member whose changes are recorded, one row each. */
export type MemberChangeField = 'UNIT' | 'NAME' | 'PHONE' | 'BANK_ACCOUNT';

// ---- roster imports (roster_imports) ----

/**
 * PENDING (uploaded, queued) → RUNNING (a worker or the CLI has it) → DONE or FAILED (the file could
 * not be read: its reason in `failure`). An upload that is not text is stored FAILED at once.
 */
export type RosterImportStatus = 'PENDING' | 'RUNNING' | 'DONE' | 'FAILED';

// ---- rows ----

export interface UnitRow {
  id: number;
  creditCode: string;
  name: string;
  planType: PlanType;
  organisationId: number;
  unitType: UnitType;
  /** A small or micro firm (小微企业). */
  smallMicro: boolean;
  /** Whether a second ADMIN confirmed its terms: false from its registration to then, and no member is enrolled (migration 0076). */
  termsConfirmed: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * A proposed change of a unit's terms (unit_terms_changes, migration 0058): null where it leaves the
 * unit's value as it is. Takes effect only when a second ADMIN confirms it (four eyes).
 */
export interface UnitTermsChangeRow {
  id: number;
  unitId: number;
  planType: PlanType | null;
  unitType: UnitType | null;
  smallMicro: boolean | null;
  reason: string;
  status: 'PROPOSED' | 'CONFIRMED' | 'WITHDRAWN';
  proposedBy: string;
  proposedAt: Date;
  confirmedBy: string | null;
  confirmedAt: Date | null;
  withdrawnBy: string | null;
  withdrawnAt: Date | null;
  withdrawalReason: string | null;
}

export interface MemberRow {
  id: number;
  unitId: number;
  name: string;
  idNumberMasked: string;
  birthDate: string;
  gender: Gender;
  phone: string | null;
  bankCardMasked: string | null;
  bankCode: string | null;
  /** Set when a card replaced a different one (not for a first card); payouts wait until confirmed or cooled off. */
  bankCardChangedAt: Date | null;
  bankCardChangedBy: string | null;
  bankCardConfirmedAt: Date | null;
  bankCardConfirmedBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A member as written: personal data encrypted, hashed for lookup and masked for display. */
export interface MemberWrite {
  unitId: number;
  name: string;
  idNumberEnc: Buffer;
  idNumberHash: Buffer;
  idNumberMasked: string;
  birthDate: string;
  gender: Gender;
  phone: string | null;
  bankCard: { enc: Buffer; hash: Buffer; masked: string; bankCode: string } | null;
}

/** The clear values of a member's personal data, shown once to a caller who gave a reason. */
export interface RevealedRow {
  member: MemberRow;
  idNumber: string;
  bankCardNumber: string | null;
}

/** One changed field of a member (member_changes): values masked as staff see them. */
export interface MemberChangeRow {
  id: number;
  memberId: number;
  at: Date;
  actor: string;
  role: string;
  action: MemberChangeAction;
  importId: number | null;
  reason: string | null;
  field: MemberChangeField;
  before: string | null;
  after: string | null;
}

/** A member_changes row as a write returns it. */
export type RecordedChange = Pick<MemberChangeRow, 'id' | 'field' | 'before' | 'after'>;

export interface EnrolmentRow {
  id: number;
  memberId: number;
  unitId: number;
  planYear: number;
  plan: PlanType;
  specialDisease: boolean;
  /**
   * The day the SPECIAL_DISEASE add-on started: the enrolment's date when enrolled with it, else the
   * day it was turned on (src/benefits/rules/enrolment.ts specialDiseaseFrom); null when it is off.
   */
  specialDiseaseFrom: string | null;
  /** Targeted groups recorded with the enrolment (MEMBER_CATEGORIES). */
  memberCategories: MemberCategory[];
  enrolledOn: string;
  firstEnrolledOn: string;
  /** The eligibility rules an ADMIN overrode for it (src/benefits/rules/enrolment.ts); null when none. */
  override: EnrolmentOverride | null;
}

/** An ADMIN's override of eligibility rules, as stored with the enrolment. */
export interface EnrolmentOverride {
  rules: EnrolmentRule[];
  reason: string;
  /** The ADMIN's token subject. */
  by: string;
  /** When (timestamptz as JSON text). */
  at: string;
}

/** An enrolment as written; `override` only when this write lets broken rules through. */
export type EnrolmentWrite = Omit<EnrolmentRow, 'id' | 'firstEnrolledOn' | 'override' | 'memberCategories' | 'specialDiseaseFrom'> & {
  /** The add-on's start when this write turns it on (null when it asks it off); an enrolment that has it keeps its own start. */
  specialDiseaseFrom: string | null;
  override: Pick<EnrolmentOverride, 'rules' | 'reason' | 'by'> | null;
  /** Null: none for a new enrolment, those recorded kept for a changed one. */
  memberCategories: readonly MemberCategory[] | null;
  /** Who writes it: joins categories_set_by when it sets groups (0057), as setEnrolmentCategories' caller does. */
  setBy: string;
};

/** A unit's contribution for one plan year (the schema's Contribution). */
export interface ContributionKey {
  unitId: number;
  planYear: number;
}

export interface ContributionFigures {
  enrolled: number;
  owedFen: number;
  paidFen: number;
}

export interface ContributionPaymentRow {
  unitId: number;
  planYear: number;
  amountFen: number;
  reference: string;
  paidOn: string;
  source: ContributionPaymentSource;
}

/** A payment as stored, with its id. */
export interface StoredContributionPayment extends ContributionPaymentRow {
  id: number;
  /** The day the bank reversed the transfer (冲正); a reversed payment no longer counts as paid. */
  reversedOn: string | null;
}

export interface RosterImportRow {
  id: number;
  fileName: string;
  status: RosterImportStatus;
  rowsTotal: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsUnchanged: number;
  rowsRejected: number;
  enrolmentsCreated: number;
  failure: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

export type RosterCounts = Pick<RosterImportRow,
  'rowsTotal' | 'rowsInserted' | 'rowsUpdated' | 'rowsUnchanged' | 'rowsRejected' | 'enrolmentsCreated'>;

/** A rejected roster row: its number in the file (the header is row 1), the column and why. */
export interface RowError {
  row: number;
  field: string;
  reason: string;
}

