import type { Scope } from '../kernel/scope.ts';

/**
 * The published figures (数据公布): what an organisation subtree enrolled, raised, decided and paid
 * in a year, against its targets (扩面目标) and the previous year.
 */

/** Who reads the figures and the yearly report: staff, each in its scope. Unit operators and members do not. */
export const FIGURES_READERS = ['ADMIN', 'REVIEWER', 'FINANCE', 'AUDITOR'] as const;
/** Who reads the reconciliation calendar: those who work on or check the accounts. */
export const CALENDAR_READERS = ['ADMIN', 'FINANCE', 'AUDITOR'] as const;
/** Who sets targets. */
export const TARGET_SETTERS = ['ADMIN'] as const;

export const BREAKDOWNS = ['ORGANISATION', 'MONTH', 'PROGRAMME', 'MEMBER_CATEGORY', 'UNIT_TYPE'] as const;
export type Breakdown = (typeof BREAKDOWNS)[number];
/** How a query groups its rows: one of the breakdowns, or all in one (TOTAL). */
export type Grouping = Breakdown | 'TOTAL';

/** Child organisations one ORGANISATION breakdown shows at most (by code). */
export const MAX_BREAKDOWN_ORGANISATIONS = 200;
/** Days one reconciliation calendar shows at most (a year and a day). */
export const MAX_CALENDAR_DAYS = 367;
/** Targets one `enrolmentTargets` answer holds at most. */
export const MAX_TARGETS = 500;

export const TARGET_LIMITS = { members: 100_000_000, units: 10_000_000, contributionsFen: 100_000_000_000_000 } as const;

/** The subtree counted: an organisation, or the whole hub (null). */
export interface FiguresOrganisation {
  id: number;
  code: string;
  name: string;
}

export interface FiguresQuery {
  organisation: FiguresOrganisation | null;
  planYear: number;
  month: number | null;
  programme: string | null;
  /** A member category (src/members MEMBER_CATEGORIES). */
  memberCategory: string | null;
}

/** One group's counts for one year (null: not counted under this grouping or filter). */
export interface YearFigures {
  units: number;
  membersEnrolled: number | null;
  contributionsOwedFen: number | null;
  contributionsRaisedFen: number | null;
  claims: number;
  claimsApprovedFen: number;
  payouts: number;
  paidFen: number;
  condolences: number;
  condolencesApprovedFen: number;
  /** The people behind claims, payouts and condolences (distinct members): what the report's small-cell rule counts too; not published. */
  claimants: number;
  payees: number;
  condolenceRecipients: number;
}

export interface TargetFigures {
  membersTarget: number;
  unitsTarget: number;
  contributionsTargetFen: number;
}

export interface FiguresRowResult extends YearFigures {
  key: string;
  label: string;
  enrolmentTarget: number | null;
  completionRate: number | null;
  unitsTarget: number | null;
  unitsCompletionRate: number | null;
  contributionsTargetFen: number | null;
  contributionsCompletionRate: number | null;
  previousYear: YearFigures;
  yearOnYear: { units: number | null; membersEnrolled: number | null; contributionsRaised: number | null; claims: number | null; paid: number | null };
}

export interface TurnaroundFigures {
  decided: number;
  decisionMedianDays: number | null;
  decisionP90Days: number | null;
  paid: number;
  paymentMedianDays: number | null;
  paymentP90Days: number | null;
}

export const EXCEPTION_AGES = ['DAYS_0_TO_2', 'DAYS_3_TO_7', 'DAYS_8_TO_30', 'OVER_30_DAYS'] as const;
export type ExceptionAge = (typeof EXCEPTION_AGES)[number];

export interface ExceptionAgeBuckets {
  days0To2: number;
  days3To7: number;
  days8To30: number;
  over30Days: number;
  total: number;
}

/** What `figures` answers before its breakdowns are asked for (they are read when selected). */
export interface FiguresReportResult {
  query: FiguresQuery;
  scope: Scope;
  totals: FiguresRowResult;
}

export interface EnrolmentTargetRow extends TargetFigures {
  organisationId: number;
  organisationCode: string;
  planYear: number;
  setBy: string;
  setAt: Date;
}

/** One account's day in the reconciliation calendar. */
export interface CalendarDay {
  date: string;
  account: string;
  statementPresent: boolean;
  proven: boolean | null;
  openExceptions: number;
  age: ExceptionAge | null;
}

/** The key and label of the units directly under the report's organisation in an ORGANISATION breakdown. */
export const DIRECT_UNITS = { key: '-', label: '本级直属单位' } as const;
