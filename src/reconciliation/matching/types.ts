/**
 * What reconciliation matches (pure): booked statement entries on one side, what the hub meant to
 * move on the other (payout attempts, units' contributions), and what matching concludes (matches,
 * exceptions). Plain values: the matcher (matcher.ts) and the proof (proof.ts) are pure.
 */

/**
 * What matching reads of a booked entry: the fields of a camt.053 / camt.054 `Ntry` it uses. A
 * parsed entry (src/banks/iso20022/camtEntry.ts `CamtEntry`) is one; a core imports no other core,
 * so the shape it relies on is named here.
 */
export interface BankEntry {
  /** Always positive; the direction is `creditDebit`. */
  amountFen: number;
  creditDebit: 'CRDT' | 'DBIT';
  accountServicerRef?: string;
  /** ISO bank transaction code (PMNT/ICDT/RRTN: a return) and/or the bank's own. */
  bankTransactionCode: {
    domain?: { code: string; family: string; subFamily: string };
    proprietary?: { code: string; issuer?: string };
  };
  batch?: { msgId?: string; pmtInfId?: string };
  /**
   * `RvslInd`: the entry undoes an earlier booking (冲正), a credit undoing a debit and a debit a
   * credit. Which booking, and what that means for a payout or a contribution, is a person's call.
   */
  reversal?: boolean;
  details: EntryTransaction[];
  additionalInfo?: string;
}

/** One transaction (`TxDtls`) of an entry. */
export interface EntryTransaction {
  msgId?: string;
  accountServicerRef?: string;
  pmtInfId?: string;
  endToEndId?: string;
  /** This transaction's amount, where the entry books several (`AmtDtls/TxAmt`). */
  amountFen?: number;
  debtor?: EntryParty;
  creditor?: EntryParty;
  /** `RmtInf/Ustrd` lines (附言). */
  remittanceInfo: string[];
  /** Why a payout came back (退票): e.g. AC04 closed account. */
  returnInfo?: { reasonCode?: string; additionalInfo?: string };
}

export interface EntryParty {
  name?: string;
  account?: string;
  agent?: string;
}

export const EXCEPTION_KINDS = [
  'UNMATCHED_DEBIT', 'DUPLICATE_DEBIT', 'MISSING_DEBIT', 'AMOUNT_MISMATCH', 'UNKNOWN_CREDIT', 'RETURN_AFTER_SETTLEMENT',
  // The bank answered RJCT for a payment it had reported credited or whose debit is matched (src/reconciliation/refusals.ts).
  'REJECTED_AFTER_PAYMENT',
  // Its mirror: the bank reported credited (ACSC) a payment it had refused (the same file).
  'PAID_AFTER_REJECTION',
  // A file the bank says it never received not sent again: it holds a one-person retry of a payout found paid since (refusals.ts).
  'RESEND_WITHHELD',
] as const;
export type ExceptionKind = (typeof EXCEPTION_KINDS)[number];

export const MATCH_KINDS = ['PAYOUT', 'RETURN', 'CONTRIBUTION'] as const;
export type MatchKind = (typeof MATCH_KINDS)[number];

/** How a transaction was matched, strongest first. */
export const MATCH_RULES = [
  'END_TO_END_ID', 'BANK_REFERENCE', 'BATCH', 'AMOUNT_DATE_NAME', 'RECORDED_PAYMENT', 'CONTRIBUTION_REFERENCE', 'PAYER_ACCOUNT', 'MANUAL',
] as const;
export type MatchRule = (typeof MATCH_RULES)[number];

/** A payout attempt's status as payouts keeps it (payout_attempts.status). */
export type AttemptStatus = 'PLANNED' | 'SENT' | 'UNKNOWN' | 'ACCEPTED' | 'PAID' | 'REJECTED' | 'RETURNED' | 'CANCELLED';

/** Attempts the bank may still debit (or has debited): sent, credited or later returned. */
export const DEBITABLE: readonly AttemptStatus[] = ['SENT', 'UNKNOWN', 'ACCEPTED', 'PAID', 'RETURNED'];

/** A booked entry of one of our accounts, as stored (its id) and as the bank reported it. */
export interface EntryToMatch {
  id: number;
  account: string;
  /** China date the bank booked it (yyyy-MM-dd). */
  bookingDate: string;
  entry: BankEntry;
}

/** A payout attempt the bank may debit: what was sent, and what the hub knows of it. */
export interface ExpectedPayout {
  attemptId: number;
  payoutId: number;
  endToEndId: string;
  /** AcctSvcrRef the bank gave in its pain.002 for the credit, when it did. */
  bankReference: string | null;
  amountFen: number;
  creditorName: string;
  /** The payee's card as the attempt fixed it, masked (`6222 **** **** 0123`). */
  creditorAccountMasked: string;
  /** Its keyed hash (hex), what a reported payee account is compared with; null for attempts planned before it was kept. */
  creditorAccountHash: string | null;
  debtorAccount: string;
  batchMsgId: string;
  pmtInfId: string;
  status: AttemptStatus;
  /**
   * China date the debit is expected on: the day of the attempt's last status (the bank reporting
   * the credit; for a refused attempt, its refusal), else the requested execution date.
   */
  expectedOn: string;
  /**
   * China date the bank may first have executed it: its batch's requested execution date, or the
   * day it was sent to the bank where that is earlier. A refused attempt may have been debited any
   * day from this one to its refusal (`expectedOn`): banks debit on execution and answer RJCT days
   * later. Only the refused attempts' rule reads it (MatchBook.refused).
   */
  executedOn: string;
  /** The entry that already debited it (an earlier run), if any. */
  debitEntryId: number | null;
  /** A return of it is already matched. */
  returned: boolean;
}

/** One unit's plan year: what it owes and what is recorded as paid so far. */
export interface ExpectedContribution {
  unitId: number;
  planYear: number;
  owedFen: number;
  paidFen: number;
}

/** A contribution payment a clerk recorded by hand with the bank's reference of the transfer. */
export interface RecordedPayment {
  id: number;
  reference: string;
  unitId: number;
  planYear: number;
  amountFen: number;
}

/** Everything the matcher may match entries against. */
export interface MatchBook {
  payouts: readonly ExpectedPayout[];
  /**
   * Attempts the bank refused (REJECTED, no debit matched to them) that a debit of no reference may
   * still be: of the account, of the amounts the amount + name rule decides, executed or refused
   * within its date window of the booking, or in between (from `executedOn` to `expectedOn`, the
   * refusal). A bank can debit a payment on its execution day and answer RJCT for it days later all
   * the same. Never matched: a debit by amount and name that no expected payout is but one of them
   * could be is an exception naming it (so its payout counts as paid by the bank and its retry takes
   * four eyes).
   */
  refused: readonly ExpectedPayout[];
  units: readonly { unitId: number; creditCode: string }[];
  /** Every plan year of those units with enrolments or payments. */
  contributions: readonly ExpectedContribution[];
  /** Accounts units paid from before (learned from credits matched by reference). */
  payers: readonly { account: string; unitId: number }[];
  recordedPayments: readonly RecordedPayment[];
}

/** One match: a transaction of an entry (txIndex 0: the whole entry; n: its n-th TxDtls) to what it pays. */
export type MatchDecision = {
  entryId: number;
  txIndex: number;
  rule: MatchRule;
  amountFen: number;
} & (
  | { kind: 'PAYOUT'; attemptId: number }
  | { kind: 'RETURN'; attemptId: number; endToEndId: string; reasonCode: string; reason: string | null }
  | { kind: 'CONTRIBUTION'; unitId: number; planYear: number; recordedPaymentId: number | null }
);

/** Something a person must look at, with what the matcher saw. `key` makes a re-run find the same one. */
export interface ExceptionFinding {
  key: string;
  kind: ExceptionKind;
  entryId: number | null;
  txIndex: number | null;
  attemptId: number | null;
  amountFen: number;
  evidence: Record<string, unknown>;
}

/** What matching makes of an entry (statement_entries.state after a run). */
export type EntryState = 'MATCHED' | 'EXCEPTION';

export interface MatchOutcome {
  matches: MatchDecision[];
  exceptions: ExceptionFinding[];
  /** Every entry given: MATCHED when all its transactions matched. */
  entryStates: Map<number, EntryState>;
  /** Payer accounts newly seen paying for a unit (credits matched by reference). */
  learnedPayers: { account: string; unitId: number }[];
}

export const exceptionKey = (kind: ExceptionKind, entryId: number, txIndex: number) => `${kind}:${entryId}:${txIndex}`;
export const missingDebitKey = (attemptId: number) => `MISSING_DEBIT:${attemptId}`;
/** One per attempt: the bank's refusal of a payment it had paid is raised once, however often it is repeated. */
export const rejectedAfterPaymentKey = (attemptId: number) => `REJECTED_AFTER_PAYMENT:${attemptId}`;
/** One per attempt, likewise: the bank's credit of a payment it had refused. */
export const paidAfterRejectionKey = (attemptId: number) => `PAID_AFTER_REJECTION:${attemptId}`;
/** One per retry attempt: its batch not sent again is raised once, however often the bank is asked. */
export const resendWithheldKey = (attemptId: number) => `RESEND_WITHHELD:${attemptId}`;
