/**
 * The payouts domain's values: the statuses of payouts, batches, attempts and retry proposals (the
 * CHECK constraints of migrations 0004 and 0010), the moves between them that the database allows
 * (its transition triggers, mirrored here and checked against it by test/payouts/model.test.ts),
 * and the rows as the store reads them.
 */

import type { Tx } from '../kernel/transaction.ts';
import type { Transitions } from '../kernel/transitions.ts';

// ---- statuses ----

/**
 * Where a payout stands (one per approved claim).
 *   HELD      approved, but not payable yet: no bank account on record, or a replaced card cooling off (status_reason says so)
 *   READY     waiting for a batch
 *   IN_BATCH  its live attempt is in a batch not yet sent
 *   SENT      its live attempt went to the bank; the bank's final word is awaited
 *   PAID      the bank credited the member (pain.002 ACSC)
 *   SETTLED   the debit is matched on the bank statement (reconciliation)
 *   FAILED    the bank rejected it or returned it (退票): a person may retry (a new attempt)
 *   CANCELLED its claim was reversed or rejected before it was sent
 */
export const PAYOUT_STATUSES = ['HELD', 'READY', 'IN_BATCH', 'SENT', 'PAID', 'SETTLED', 'FAILED', 'CANCELLED'] as const;
export type PayoutStatus = (typeof PAYOUT_STATUSES)[number];

/**
 * A batch: one pain.001 from one paying account through one bank channel.
 *   DRAFT -> APPROVED (by FINANCE, not its creator) -> SEALED (file written and sealed)
 *   -> SUBMITTED -> ACCEPTED | PARTIALLY_ACCEPTED | REJECTED -> SETTLED (every payment on the statement)
 *   DRAFT or APPROVED -> CANCELLED (its payouts wait for another batch).
 */
export const BATCH_STATUSES = ['DRAFT', 'APPROVED', 'SEALED', 'SUBMITTED', 'ACCEPTED', 'PARTIALLY_ACCEPTED', 'REJECTED', 'SETTLED', 'CANCELLED'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/**
 * What we know of a batch's hand-over to the bank: SENDING is written before the call, so a worker
 * that dies mid-call leaves a trace; UNKNOWN after no answer: the bank is asked by MsgId before
 * anything else; RECEIVED the bank has the file; REFUSED the bank refused the whole file.
 */
export const SUBMISSION_STATUSES = ['NOT_SENT', 'SENDING', 'UNKNOWN', 'RECEIVED', 'REFUSED'] as const;
export type SubmissionStatus = (typeof SUBMISSION_STATUSES)[number];

/**
 * An attempt to pay a payout, known to the bank by its EndToEndId.
 *   PLANNED -> SENT -> (UNKNOWN: no answer) -> ACCEPTED (interim) -> PAID (ACSC) -> RETURNED (退票)
 *   SENT | UNKNOWN | ACCEPTED -> REJECTED (RJCT, with the bank's reason);  PLANNED -> CANCELLED
 */
export const ATTEMPT_STATUSES = ['PLANNED', 'SENT', 'UNKNOWN', 'ACCEPTED', 'PAID', 'REJECTED', 'RETURNED', 'CANCELLED'] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

/**
 * A proposal to retry a payout the bank had paid (payout_retries): PROPOSED by one FINANCE person,
 * CONFIRMED by another (confirmed_at set), once. The table has no status column: this is
 * `confirmed_at IS NULL` read as a status.
 */
export const RETRY_STATUSES = ['PROPOSED', 'CONFIRMED'] as const;
export type RetryStatus = (typeof RETRY_STATUSES)[number];

// ---- transitions ----

/** The payout_batch_transition trigger (0004, restated in 0010): any other change of status is refused. */
export const BATCH_TRANSITIONS: Transitions<BatchStatus> = {
  DRAFT: ['APPROVED', 'CANCELLED'],
  APPROVED: ['SEALED', 'CANCELLED'],
  SEALED: ['SUBMITTED'],
  SUBMITTED: ['ACCEPTED', 'PARTIALLY_ACCEPTED', 'REJECTED'],
  ACCEPTED: ['SETTLED'],
  PARTIALLY_ACCEPTED: ['SETTLED'],
  REJECTED: [],
  SETTLED: [],
  CANCELLED: [],
};

/** The payout_attempt_transition trigger (0004): bank answers only move an attempt forward. */
export const ATTEMPT_TRANSITIONS: Transitions<AttemptStatus> = {
  PLANNED: ['SENT', 'CANCELLED'],
  SENT: ['UNKNOWN', 'ACCEPTED', 'PAID', 'REJECTED'],
  UNKNOWN: ['SENT', 'ACCEPTED', 'PAID', 'REJECTED'],
  ACCEPTED: ['PAID', 'REJECTED'],
  PAID: ['RETURNED'],
  REJECTED: [],
  RETURNED: [],
  CANCELLED: [],
};

/** The payout_retry_confirmation trigger (0010): a proposal is only ever confirmed, once; nothing else about it changes. */
export const RETRY_TRANSITIONS: Transitions<RetryStatus> = {
  PROPOSED: ['CONFIRMED'],
  CONFIRMED: [],
};

/**
 * The moves of a payout the code makes. Unlike batches and attempts, the database has no
 * transition trigger for payouts: it refuses only FAILED -> READY or HELD of a payout the bank had
 * paid (an attempt RETURNED) without a confirmed retry proposal (payout_retry_after_payment, 0010),
 * and the CHECKs of each status (a reason for HELD, FAILED and CANCELLED; paid_at for PAID and
 * SETTLED; settled_at exactly when SETTLED).
 */
export const PAYOUT_TRANSITIONS: Transitions<PayoutStatus> = {
  // released once a card is on record and not cooling off; cancelled when its claim is no longer approved
  HELD: ['READY', 'CANCELLED'],
  // held again when the card is replaced or removed; taken into a batch
  READY: ['HELD', 'IN_BATCH', 'CANCELLED'],
  // back to wait when its batch is cancelled or its card changed before sealing; cancelled when its
  // claim was reversed before sealing; sent; answered by a status report before SENT was recorded
  IN_BATCH: ['READY', 'SENT', 'PAID', 'FAILED', 'CANCELLED'],
  SENT: ['PAID', 'FAILED'],
  // settled on the statement; returned (退票)
  PAID: ['SETTLED', 'FAILED'],
  SETTLED: ['FAILED'],
  // retried (READY, or HELD as its card says); cancelled when its claim is no longer approved
  FAILED: ['READY', 'HELD', 'CANCELLED'],
  CANCELLED: [],
};

const isPayoutStatus = (value: string): value is PayoutStatus => (PAYOUT_STATUSES as readonly string[]).includes(value);

/** A payout status given as text (a status announcement's), checked. */
export function payoutStatusOf(value: string): PayoutStatus {
  if (!isPayoutStatus(value)) throw new RangeError(`not a payout status: ${value}`);
  return value;
}

// ---- rows ----

export interface PayoutRow {
  id: number;
  /** Null for the payout of a condolence payment (payouts.condolence_id), which pays no claim. */
  claimId: number | null;
  /** Whose money it is: the funder of the lines it pays, whose account pays it. */
  funderId: number;
  memberId: number;
  unitId: number;
  amountFen: number;
  status: PayoutStatus;
  statusReason: string | null;
  paidAt: Date | null;
  settledAt: Date | null;
  createdAt: Date;
}

export interface AttemptRow {
  id: number;
  payoutId: number;
  attemptNo: number;
  batchId: number;
  endToEndId: string;
  status: AttemptStatus;
  amountFen: number;
  creditorName: string;
  creditorAccountMasked: string;
  creditorAgent: string;
  remittanceInfo: string;
  bankStatus: string | null;
  reasonCode: string | null;
  reason: string | null;
  bankReference: string | null;
  statusAt: Date | null;
  /** When it was first handed to the bank. */
  sentAt: Date | null;
  /** When the bank first accepted it (ACCP or ACSC). */
  acceptedAt: Date | null;
}

/** A batch: its state, what its file's payment information says, and who did what when. */
export interface BatchRow {
  id: number;
  msgId: string;
  /** The funder whose payouts it holds and whose account it is paid from. */
  funderId: number;
  pmtInfId: string;
  status: BatchStatus;
  submission: SubmissionStatus;
  channel: string;
  debtorAccount: string;
  debtorName: string;
  debtorAgent: string;
  /** China date (yyyy-MM-dd). */
  requestedExecutionDate: string;
  paymentCount: number;
  totalFen: number;
  createdBy: string;
  createdAt: Date;
  approvedBy: string | null;
  approvedAt: Date | null;
  sealedAt: Date | null;
  submitRequestedBy: string | null;
  submitRequestedAt: Date | null;
  submittedAt: Date | null;
  bankReference: string | null;
  bankCode: string | null;
  bankReason: string | null;
  finalAt: Date | null;
  cancelReason: string | null;
  /** The standing payment policy that released it (null: a person approved it). */
  policyId: number | null;
  /** When its policy released it (null: a person approved it). */
  releasedAt: Date | null;
}

/** How many attempts of a batch are in a status. */
export interface AttemptCount {
  status: AttemptStatus;
  count: number;
}

/** A sealed batch's file as stored: encrypted (file_enc), or in clear when sealed before migration 0010 (file_xml). */
export interface StoredBatchFile {
  fileEnc: Buffer | null;
  fileXml: string | null;
}

export interface SealedBatchFile extends StoredBatchFile {
  seal: Buffer;
  /** SHA-256 of the clear file, which the seal covers. */
  sha256: Buffer;
}

export interface RetryProposalRow {
  id: number;
  proposedBy: string;
  proposedAt: Date;
  reason: string;
}

// ---- values of the decisions ----

/**
 * A funder (出资方): whose money a benefit line and its payout are. `account` is where its payouts
 * are paid from and reconciled against; null for the hub's own union (UNION), which pays from the
 * configured account (PAYOUT_ACCOUNT …).
 */
export interface FunderRow {
  id: number;
  code: string;
  name: string;
  organisationId: number;
  account: string | null;
  accountName: string | null;
  agent: string | null;
  createdAt: Date;
}

/** The funder of a payout made before funders existed, and of lines whose programme names none. */
export const UNION_FUNDER = 'UNION';

/**
 * A funder's figures for a plan year (fen), each from the rows: what was approved of its lines,
 * what its payouts came to (and how far each got), what its account's statements show settled.
 * The equation: approvedFen = payoutsFen + unpaidApprovedFen, and of the payouts on their way,
 * settledFen + unreconciledFen = paidFen; differenceFen = approvedFen − payoutsFen − unpaidApprovedFen
 * + (paidFen − settledFen − unreconciledFen), zero when the funder's books balance.
 */
export interface FunderBalanceRow {
  funderId: number;
  planYear: number;
  approvedFen: number;
  payoutsFen: number;
  unpaidApprovedFen: number;
  payoutsByStatus: { status: PayoutStatus; payouts: number; totalFen: number }[];
  paidFen: number;
  settledFen: number;
  unreconciledFen: number;
  differenceFen: number;
}

/** The paying account and channel (PAYOUT_* configuration). */
export interface PayingAccount {
  channel: string;
  account: string;
  name: string;
  agent: string;
}

/** What the payout decisions depend on (settings.ts reads it from configuration). */
export interface PayoutSettings {
  /** The paying account and channel (PAYOUT_*). */
  account: PayingAccount;
  /** BANK_CARD_COOLING_OFF_DAYS: payouts to a card that replaced another wait this long (or for a second person's confirmation). */
  coolingOffDays: number;
  /** PAYOUT_BATCH_MAX: the most payouts in one batch. */
  batchMax: number;
  /** PAYOUT_RELEASE_BATCH_MAX: the most payouts in one batch a payment policy releases. */
  releaseBatchMax: number;
}

/**
 * The account a funder's batches are paid from, through the configured channel: the funder's own,
 * or for the hub's own union (no account of its own in the table) the configured one.
 */
export function funderPayingAccount(settings: Pick<PayoutSettings, 'account'>, funder: Pick<FunderRow, 'account' | 'accountName' | 'agent'>): PayingAccount {
  if (funder.account === null || funder.accountName === null || funder.agent === null) return settings.account;
  return { channel: settings.account.channel, account: funder.account, name: funder.accountName, agent: funder.agent };
}

export interface CreatedBatch {
  id: number;
  msgId: string;
  nbOfTxs: number;
  ctrlSumFen: number;
}

export interface PlanCounts {
  created: number;
  held: number;
  released: number;
  withheld: number;
  cancelled: number;
}

/** What a retry did: the payout waits for a batch again, or (paid before) a second FINANCE person must confirm. */
export type RetryOutcome = 'RETRIED' | 'PROPOSED';

/** A payout whose status changed, with its member and unit for the status events. */
export interface PayoutChange {
  payoutId: number;
  memberId: number;
  unitId: number;
  status: PayoutStatus;
}

/** An attempt as a status report is read against it. */
export interface AttemptState {
  id: number;
  endToEndId: string;
  status: AttemptStatus;
}

/** What a status report says of one attempt (statusReport.ts). */
export interface AttemptUpdate {
  id: number;
  endToEndId: string;
  status: 'ACCEPTED' | 'PAID' | 'REJECTED';
  /** The ISO status the bank reported (ACSC, ACSP, RJCT ...). */
  bankStatus: string;
  reasonCode: string | null;
  reason: string | null;
  /** The bank's reference of the credit (AcctSvcrRef), when given. */
  bankReference: string | null;
}

export interface SettledPayout {
  payoutId: number;
  batchId: number;
}

export interface PayoutReturn {
  endToEndId: string;
  /** The bank's return reason code (AC04 closed account, ...). */
  reasonCode: string;
  reason?: string;
  /** The bank's reference of the return entry. */
  bankReference?: string;
}

export interface ReturnOutcome {
  endToEndId: string;
  /** Null: no paid attempt has this EndToEndId (already returned, or not ours). */
  payoutId: number | null;
  /** The payout had already been settled against the statement: a return after settlement. */
  wasSettled: boolean;
}

/** Who may plan payouts, make, cancel and retry batches (ADMIN or FINANCE). */
export const BATCH_MAKERS = ['ADMIN', 'FINANCE'] as const;
/** Who may read payout batches (their files masked, their seals). */
export const BATCH_READERS = ['ADMIN', 'FINANCE', 'AUDITOR'] as const;
/** Only FINANCE sees a batch file's card numbers in clear, and says why (audited). */
export const FILE_REVEALERS = ['FINANCE'] as const;

// ---- standing payment policies (即时办, migration 0027) ----

/**
 * Where a payment policy stands, read from its row (the table has no status column):
 *   PROPOSED  one FINANCE person proposed it; another must approve it
 *   SCHEDULED approved, not yet valid
 *   ACTIVE    approved and valid now: the worker releases payouts within it
 *   ENDED     its validity is over (or it was never approved before its end)
 *   REVOKED   stopped by a FINANCE person (also before approval: withdrawn)
 */
export const POLICY_STATUSES = ['PROPOSED', 'SCHEDULED', 'ACTIVE', 'ENDED', 'REVOKED'] as const;
export type PolicyStatus = (typeof POLICY_STATUSES)[number];

/** What a policy lets out without a per-batch approval, and for how long. */
export interface PolicyLimits {
  funderId: number;
  maxPayoutFen: number;
  dailySumFen: number;
  dailyCount: number;
  accountUnchangedDays: number;
  validFrom: Date;
  validUntil: Date;
}

export interface PaymentPolicyRow extends PolicyLimits {
  id: number;
  reason: string;
  proposedBy: string;
  proposedAt: Date;
  approvedBy: string | null;
  approvedAt: Date | null;
  revokedBy: string | null;
  revokedAt: Date | null;
  revokeReason: string | null;
}

/** A policy's status at `now`. */
export function policyStatus(policy: Pick<PaymentPolicyRow, 'approvedAt' | 'revokedAt' | 'validFrom' | 'validUntil'>, now = new Date()): PolicyStatus {
  if (policy.revokedAt) return 'REVOKED';
  if (now >= policy.validUntil) return 'ENDED';
  if (!policy.approvedAt) return 'PROPOSED';
  return now < policy.validFrom ? 'SCHEDULED' : 'ACTIVE';
}

/** What a policy has released from its paying account today (China day): payouts and their sum. */
export interface ReleasedToday {
  payouts: number;
  totalFen: number;
}

/** How a batch was released to the bank (PayoutRelease): a FINANCE person's approval, or a policy. */
export interface ReleaseRow {
  kind: 'APPROVAL' | 'POLICY';
  at: Date;
  approvedBy: string | null;
  policyId: number | null;
}

// ---- the bank refusing what it had paid, or paying what it had refused ----

/**
 * The bank's refusal (RJCT) of a payout attempt: a status report's (statusReport.ts reads it,
 * whether or not the report moved the attempt: one the hub holds as PAID stays PAID), or its
 * refusal of the whole file at submission.
 */
export interface PaymentRefusal {
  attemptId: number;
  /** The bank's reason code (AC04 closed account, ...; NARR when it gave none). */
  reasonCode: string;
  /** The bank's additional information (`AddtlInf`, or the file refusal's reason), when given. */
  additionalInfo: string | null;
  /** The status report's MsgId; for the whole file refused, the file's own MsgId. */
  report: string;
}

/** The bank's credit (ACSC) of a payout attempt, as a status report gives it (statusReport.ts reads it, whether or not it moved the attempt). */
export interface PaymentCredit {
  attemptId: number;
  /** The bank's reference of the credit (AcctSvcrRef), when given. */
  bankReference: string | null;
  /** The status report's MsgId. */
  report: string;
}

/** An attempt of the payout made after an earlier one (a retry): after the refused one, or the one a debit names. */
export interface LaterAttempt {
  attemptNo: number;
  endToEndId: string;
  status: AttemptStatus;
  /** China date it was handed to the bank; null while it waits in a batch not sent. */
  sentOn: string | null;
}

/**
 * A payment the bank reported credited (ACSC) after refusing it (RJCT): its attempt stays REJECTED
 * (no report changes a final status), but the member may have the money. What the exception needs.
 */
export interface CreditAfterRefusal extends PaymentCredit {
  payoutId: number;
  endToEndId: string;
  amountFen: number;
  /** The account its batch was paid from. */
  account: string;
  payoutStatus: PayoutStatus;
  /** The bank's reason for its refusal: its code, then its words when given. */
  refusedWith: string;
  /** The payout's attempts after this one, not cancelled: a retry made on the refusal. */
  retries: LaterAttempt[];
}

/**
 * A retry in a batch, not yet answered by the bank, of a payout the bank paid before, which no
 * second FINANCE person confirmed (the sealing check, PlannedAttempt.paidBeforeUnconfirmed).
 */
export interface UnconfirmedRetry {
  attemptId: number;
  payoutId: number;
  claimId: number | null;
  endToEndId: string;
  amountFen: number;
}

/**
 * A batch handed to the bank without an answer that the bank says it never received, not sent
 * again because it holds such retries (submission.ts): what their exceptions need.
 */
export interface WithheldResend {
  batchId: number;
  msgId: string;
  /** The account the batch is paid from. */
  account: string;
  retries: UnconfirmedRetry[];
}

/**
 * What the bank contradicting its own word sets off: a refusal of a payment it had paid (reported
 * credited, or its debit matched on a statement), or a credit of a payment it had refused; each a
 * reconciliation exception for a person. So is a file not sent again because of such a credit or
 * debit (WithheldResend). Passed in by the composition root (jobs/payouts.ts gives reconciliation's
 * `refusalsAfterPayment`), so payouts never call reconciliation, which calls payouts for what the
 * statements show.
 */
export interface RefusalsAfterPayment {
  /** Taken before anything of the batch is read by a transaction that may refuse or credit its payments: a reconciliation run matching their debits finishes first. */
  lockAccount(tx: Tx, account: string): Promise<void>;
  /** Raises the refusals of payments the bank had paid (the others are ordinary): the attempts concerned, and how many exceptions are new. */
  raise(tx: Tx, refusals: readonly PaymentRefusal[]): Promise<{ attemptIds: number[]; raised: number }>;
  /** Raises the credits of payments the bank had refused: how many exceptions are new (a repeated report raises none). */
  raiseCredits(tx: Tx, credits: readonly CreditAfterRefusal[]): Promise<number>;
  /** Raises the retries of a batch whose file was not sent again: how many exceptions are new (asked again, none). */
  raiseWithheldResend(tx: Tx, withheld: WithheldResend): Promise<number>;
}
