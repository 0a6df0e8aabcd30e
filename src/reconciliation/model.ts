import type { Transitions } from '../kernel/transitions.ts';
import type { CamtEntry } from '../banks/iso20022/camtEntry.ts';
import type { Iso20022Problem } from '../banks/iso20022/xml.ts';
import type { DailyProof } from './matching/proof.ts';
import type { EntryState, ExceptionKind, MatchKind, MatchRule } from './matching/types.ts';

/**
 * Reconciliation's vocabulary: the statuses of its rows and the moves between them, the decisions
 * people make (manual matches, write-offs, four-eyes proposals), and its rows as the API reads
 * them. What matching works with and concludes is the pure core's (matching/types.ts).
 *
 * The database checks each status column against its list (CHECK constraints, 0005 and 0009
 * migrations; test/reconciliation/model.test.ts compares them); the tables below are the moves the
 * store's statements make, and the services check them before one. A bank document's updates are
 * also guarded by them (store/documents.ts), and a trigger holds its moves to DOCUMENT_TRANSITIONS
 * (migration 0034; test/reconciliation/documentGuard.test.ts compares them); no trigger guards the others.
 */

// ---------------------------------------------------------------- bank documents

export type DocumentKind = 'camt.053' | 'camt.054';
export type DocumentSource = 'BANK' | 'UPLOAD' | 'FILE';

/**
 *   RECEIVED              stored, not processed yet (or confirmed by a second person, to process)
 *   AWAITING_CONFIRMATION valid, not sealed by the bank: nothing of it stored until a second person confirms it
 *   ACCEPTED              its statements and entries are stored (final)
 *   REJECTED              refused with its problems; processed again on retry
 */
export type DocumentStatus = 'RECEIVED' | 'AWAITING_CONFIRMATION' | 'ACCEPTED' | 'REJECTED';

export const DOCUMENT_TRANSITIONS: Transitions<DocumentStatus> = {
  RECEIVED: ['AWAITING_CONFIRMATION', 'ACCEPTED', 'REJECTED'],
  // Confirmed (to RECEIVED, then processed), or processed again: sealed since, or retried.
  AWAITING_CONFIRMATION: ['RECEIVED', 'AWAITING_CONFIRMATION', 'ACCEPTED', 'REJECTED'],
  ACCEPTED: [],
  REJECTED: ['AWAITING_CONFIRMATION', 'ACCEPTED', 'REJECTED'],
};

/** What a parsed camt.053 / camt.054 contributes (documents.ts `recordsOf`): statements and booked entries. */
export interface DocumentRecords {
  msgId: string;
  statements: StatementRecord[];
  entries: EntryRecord[];
  /** Entries that move nothing on the account: not booked (PDNG, INFO) or of 0.00; not reconciled. */
  notBooked: number;
}

export interface StatementRecord {
  account: string;
  date: string;
  ref: string;
  /** The bank's creation time, with its zone (China time where the bank wrote none). */
  createdAt: string;
  final: boolean;
  /** Signed fen; null when the message has no such balance (a page without balances). */
  openingFen: number | null;
  closingFen: number | null;
}

export interface EntryRecord {
  account: string;
  /**
   * What the booking is stored once by (per account, column account_servicer_ref): the bank's
   * AcctSvcrRef, or `derivedKey` when it gave none. The entry itself keeps what the bank wrote.
   */
  key: string;
  creditDebit: CamtEntry['creditDebit'];
  amountFen: number;
  /** The bank's day (China) the entry is booked on. */
  bookingDate: string;
  valueDate: string | null;
  transactionCode: string | null;
  entry: CamtEntry;
  /** Index in `statements` of the statement listing it; null for a notification. */
  statement: number | null;
}

// ---------------------------------------------------------------- statement entries

/** PENDING: stored, not matched yet; MATCHED / EXCEPTION: as matching left it; RESOLVED: its exceptions resolved by a person. */
export type EntryStatus = 'PENDING' | EntryState | 'RESOLVED';

export const ENTRY_TRANSITIONS: Transitions<EntryStatus> = {
  PENDING: ['MATCHED', 'EXCEPTION'],
  MATCHED: [],
  EXCEPTION: ['RESOLVED'],
  RESOLVED: [],
};

// ---------------------------------------------------------------- exceptions

export type ExceptionStatus = 'OPEN' | 'RESOLVED';
/** MATCHED by hand; WRITTEN_OFF with the reason; CLEARED: the condition went away on its own (a missing debit arrived). */
export type ExceptionResolution = 'MATCHED' | 'WRITTEN_OFF' | 'CLEARED';

export const EXCEPTION_TRANSITIONS: Transitions<ExceptionStatus> = {
  OPEN: ['RESOLVED'],
  RESOLVED: [],
};

/** An OPEN exception, locked, as a person's decision on it sees it. */
export interface OpenException {
  id: number;
  kind: ExceptionKind;
  account: string;
  entryId: number | null;
  txIndex: number | null;
  amountFen: number;
  occurredOn: string;
  status: ExceptionStatus;
}

export interface ManualMatch {
  /** A debit (or a return credit): the payouts it pays, by the EndToEndId of their attempt. */
  endToEndIds?: readonly string[];
  /** A credit: the units' plan years it pays, with the amount of each. */
  contributions?: readonly { unitId: number; planYear: number; amountFen: number }[];
  /** A reversal (冲正) of a unit's transfer, booked as a debit: the contribution payments it takes back. */
  reversedContributionPayments?: readonly number[];
  note?: string | null;
}

// ---------------------------------------------------------------- reconciliation runs

export type RunStatus = 'RUNNING' | 'DONE' | 'FAILED';

export const RECONCILIATION_RUN_TRANSITIONS: Transitions<RunStatus> = {
  RUNNING: ['DONE', 'FAILED'],
  DONE: [],
  FAILED: [],
};

// ---------------------------------------------------------------- four-eyes proposals

export type ProposalKind = 'CONTRIBUTION_PAYMENT' | 'EXCEPTION_MATCH' | 'EXCEPTION_WRITE_OFF';
/** The proposer may withdraw (REJECTED) a PENDING proposal, never confirm it (four_eyes_proposals CHECK). */
export type ProposalStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED';

export const PROPOSAL_TRANSITIONS: Transitions<ProposalStatus> = {
  PENDING: ['CONFIRMED', 'REJECTED'],
  CONFIRMED: [],
  REJECTED: [],
};

/** A contribution payment a clerk records by hand (src/members/contributions.ts), as a proposal keeps it. */
export interface ManualPaymentDecision {
  unitId: number;
  planYear: number;
  amountFen: number;
  /** The bank's reference of the transfer: the same transfer is never recorded twice. */
  reference: string;
  paidOn: string;
}

/** A decision a proposal holds, by its kind (four_eyes_proposals.decision). */
export type ProposalDecision =
  | { kind: 'CONTRIBUTION_PAYMENT'; decision: ManualPaymentDecision }
  | { kind: 'EXCEPTION_MATCH'; decision: ManualMatch }
  | { kind: 'EXCEPTION_WRITE_OFF'; decision: { reason: string } };

export type NewProposal =
  | { kind: 'CONTRIBUTION_PAYMENT'; unitId: number; amountFen: number; decision: ManualPaymentDecision }
  | { kind: 'EXCEPTION_MATCH'; exceptionId: number; amountFen: number; decision: ManualMatch }
  | { kind: 'EXCEPTION_WRITE_OFF'; exceptionId: number; amountFen: number; decision: { reason: string } };

/** Who proposed a decision a second person confirmed, for its audit record. */
export interface Confirmed {
  proposalId: number;
  proposedBy: string;
}

export interface ProposalRow {
  id: number;
  kind: ProposalKind;
  unitId: number | null;
  exceptionId: number | null;
  amountFen: number;
  decision: Record<string, unknown>;
  proposedBy: string;
  proposedAt: Date;
  status: ProposalStatus;
  decidedBy: string | null;
  decidedAt: Date | null;
  decisionReason: string | null;
}

/** A proposal locked to decide on, its decision checked against its kind. */
export type Proposal = Omit<ProposalRow, 'kind' | 'decision'> & ProposalDecision;

// ---------------------------------------------------------------- rows as the GraphQL resolvers get them (codegen mappers)

export interface BankDocumentRow {
  id: number;
  kind: DocumentKind | null;
  msgId: string | null;
  source: DocumentSource;
  fileName: string | null;
  receivedBy: string;
  sealedBy: string | null;
  sealProblem: string | null;
  confirmedBy: string | null;
  confirmedAt: Date | null;
  confirmationReason: string | null;
  status: DocumentStatus;
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
  state: EntryStatus;
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
  status: ExceptionStatus;
  resolution: ExceptionResolution | null;
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
  status: RunStatus;
  entries: number;
  matched: number;
  exceptions: number;
  failure: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}
