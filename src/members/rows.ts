/** Rows as the members domain reads them from SQL (camelCase aliases); resolvers map them to the schema. */
import type { PlanType } from './contributions.ts';

export interface UnitRow {
  id: number;
  creditCode: string;
  name: string;
  planType: PlanType;
  createdAt: Date;
  updatedAt: Date;
}

export interface MemberRow {
  id: number;
  unitId: number;
  name: string;
  idNumberMasked: string;
  birthDate: string;
  gender: 'M' | 'F';
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

/** One changed field of a member (member_changes): values masked as staff see them. */
export interface MemberChangeRow {
  id: number;
  memberId: number;
  at: Date;
  actor: string;
  role: string;
  action: 'roster.import' | 'member.update' | 'member.move';
  importId: number | null;
  reason: string | null;
  field: 'UNIT' | 'NAME' | 'PHONE' | 'BANK_ACCOUNT';
  before: string | null;
  after: string | null;
}

export interface EnrolmentRow {
  id: number;
  memberId: number;
  unitId: number;
  planYear: number;
  plan: PlanType;
  specialDisease: boolean;
  enrolledOn: string;
  firstEnrolledOn: string;
}

export interface ContributionKey {
  unitId: number;
  planYear: number;
}

export interface RosterImportRow {
  id: number;
  fileName: string;
  status: 'PENDING' | 'RUNNING' | 'DONE' | 'FAILED';
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

export interface RevealedRow {
  member: MemberRow;
  idNumber: string;
  bankCardNumber: string | null;
}

/** A page of a connection plus a lazy count, run only when `totalCount` is selected. */
export interface CountedConnection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  count?: () => Promise<number>;
}
export type UnitConnectionResult = CountedConnection<UnitRow>;
export type MemberConnectionResult = CountedConnection<MemberRow>;
