/** Rows as the settlements domain reads them from SQL (camelCase aliases); resolvers map them to the schema. */
import type { CountedConnection } from '../members/rows.ts';
import type { SettlementProblem } from './validation.ts';
import type { Amounts, Infno, RejectionStatus, SettlementKind, SettlementStatus, SourceKind, UnmatchedReason } from './model.ts';

export interface SettlementRow {
  id: number;
  source: string;
  runId: number | null;
  setlId: string;
  infno: Infno;
  kind: SettlementKind;
  reversesSetlId: string | null;
  reversesId: number | null;
  mdtrtId: string;
  psnNo: string;
  psnNameMasked: string;
  certnoMasked: string;
  insutype: string;
  medType: string;
  setlTime: Date;
  planYear: number;
  diagnoses: string[];
  amounts: Amounts;
  status: SettlementStatus;
  unmatchedReason: UnmatchedReason | null;
  memberId: number | null;
  enrolmentId: number | null;
  unitId: number | null;
  duplicateOfId: number | null;
  processingError: string | null;
  receivedAt: Date;
  matchedAt: Date | null;
}

export interface SettlementSourceRow {
  name: string;
  kind: SourceKind;
  endpoint: string | null;
  pageSize: number;
  pollSeconds: number | null;
  enabled: boolean;
  cursor: string | null;
  lastPolledAt: Date | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Settlements a source delivered, by status, and its open rejections. */
export interface SourceCounts {
  total: number;
  received: number;
  matched: number;
  unmatched: number;
  duplicate: number;
  openRejections: number;
}

export interface IngestionRunRow {
  id: number;
  source: string;
  kind: 'PULL' | 'FILE';
  fileName: string | null;
  status: 'RUNNING' | 'DONE' | 'FAILED';
  startedBy: string;
  cursorBefore: string | null;
  cursorAfter: string | null;
  pages: number;
  received: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  failure: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface RejectionRow {
  id: number;
  source: string;
  runId: number | null;
  setlId: string | null;
  position: string | null;
  rawMasked: Record<string, unknown>;
  problems: SettlementProblem[];
  status: RejectionStatus;
  settlementId: number | null;
  retries: number;
  receivedAt: Date;
  resolvedAt: Date | null;
  resolvedBy: string | null;
}

/** What `retrySettlementRejection` answers: the rejection as it now stands and, when valid, its settlement. */
export interface RetryResult {
  rejection: RejectionRow;
  settlement: SettlementRow | null;
}

export type SettlementConnectionResult = CountedConnection<SettlementRow>;
export type RejectionConnectionResult = CountedConnection<RejectionRow>;
export type IngestionRunConnectionResult = CountedConnection<IngestionRunRow>;
