import type { CamtEntry } from '../banks/iso20022/camtEntry.ts';
import type { Iso20022Problem } from '../banks/iso20022/xml.ts';
import type { CountedConnection } from '../members/rows.ts';
import type { EntryState, ExceptionKind, MatchKind, MatchRule } from './model.ts';
import type { DailyProof } from './proof.ts';

/** Rows as the GraphQL resolvers get them (codegen mappers). */

export interface BankDocumentRow {
  id: number;
  kind: 'camt.053' | 'camt.054' | null;
  msgId: string | null;
  source: 'BANK' | 'UPLOAD' | 'FILE';
  fileName: string | null;
  receivedBy: string;
  sealedBy: string | null;
  sealProblem: string | null;
  confirmedBy: string | null;
  confirmedAt: Date | null;
  confirmationReason: string | null;
  status: 'RECEIVED' | 'AWAITING_CONFIRMATION' | 'ACCEPTED' | 'REJECTED';
  problems: Iso20022Problem[];
  entries: number;
  newEntries: number;
  receivedAt: Date;
  processedAt: Date | null;
}

export interface BankStatementRow {
  id: number;
  account: string;
  date: string;
  statementRef: string;
  final: boolean;
  openingFen: number | null;
  closingFen: number | null;
  bankCreatedAt: Date;
  documentId: number;
}

export interface StatementEntryRow {
  id: number;
  account: string;
  /** The bank's AcctSvcrRef, or the key derived from the booking where it gave none (`NOREF …`, never a bank's). */
  accountServicerRef: string;
  creditDebit: 'CRDT' | 'DBIT';
  amountFen: number;
  bookingDate: string;
  valueDate: string | null;
  transactionCode: string | null;
  entry: CamtEntry;
  state: EntryState | 'PENDING' | 'RESOLVED';
  statementId: number | null;
}

export interface ReconciliationMatchRow {
  id: number;
  entryId: number;
  transactionIndex: number;
  kind: MatchKind;
  rule: MatchRule;
  amountFen: number;
  endToEndId: string | null;
  payoutId: number | null;
  unitId: number | null;
  planYear: number | null;
  matchedBy: string;
  createdAt: Date;
}

export interface ReconciliationExceptionRow {
  id: number;
  kind: ExceptionKind;
  account: string;
  amountFen: number;
  occurredOn: string;
  entryId: number | null;
  transactionIndex: number | null;
  payoutId: number | null;
  endToEndId: string | null;
  evidence: Record<string, unknown>;
  status: 'OPEN' | 'RESOLVED';
  resolution: 'MATCHED' | 'WRITTEN_OFF' | 'CLEARED' | null;
  resolutionReason: string | null;
  resolvedBy: string | null;
  resolvedAt: Date | null;
  detectedAt: Date;
}

export interface DailyProofRow extends DailyProof {
  statementId: number;
  computedAt: Date;
}

export interface ReconciliationReportRow {
  account: string;
  date: string;
  proof: DailyProofRow | null;
  entries: number;
  matched: number;
  pending: number;
  openExceptions: { kind: ExceptionKind; count: number; amountFen: number }[];
}

export interface ReconciliationRunRow {
  id: number;
  account: string;
  startedBy: string;
  status: string;
  entries: number;
  matched: number;
  exceptions: number;
  failure: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

export type BankDocumentConnectionResult = CountedConnection<BankDocumentRow>;
export type BankStatementConnectionResult = CountedConnection<BankStatementRow>;
export type StatementEntryConnectionResult = CountedConnection<StatementEntryRow>;
export type ReconciliationMatchConnectionResult = CountedConnection<ReconciliationMatchRow>;
export type ReconciliationExceptionConnectionResult = CountedConnection<ReconciliationExceptionRow> & { total?: () => Promise<number> };
export type ReconciliationRunConnectionResult = CountedConnection<ReconciliationRunRow>;
