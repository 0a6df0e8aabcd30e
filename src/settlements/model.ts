import type { Transitions } from '../kernel/transitions.ts';
import type { FieldProblem } from '../kernel/problems.ts';

/**
 * The settlement (结算) as the national medical-insurance platform reports it: the `setlinfo` of
 * transactions 2207 (outpatient) and 2304 (inpatient), reversed by 2208 / 2305; its sources, runs
 * and rejections as the hub stores them. Pure definitions: types, status unions, the moves each
 * status may make, and the rows as the store reads them.
 */

/** Amount fields in the platform's own names; stored and computed as integer fen. */
export const AMOUNT_FIELDS = [
  { field: 'medfee_sumamt', name: 'totalFeesFen', required: true, label: '医疗费总额 total medical fees' },
  { field: 'fulamt_ownpay_amt', name: 'fullyOwnPayFen', required: true, label: '全自费金额 fully self-funded' },
  { field: 'overlmt_selfpay', name: 'overLimitSelfPayFen', required: true, label: '超限价自费 above the price cap' },
  { field: 'preselfpay_amt', name: 'preSelfPayFen', required: false, label: '先行自付金额 class-B upfront self-pay' },
  { field: 'inscp_scp_amt', name: 'inPolicyFen', required: false, label: '符合政策范围金额 in-policy amount' },
  { field: 'act_pay_dedc', name: 'deductibleFen', required: false, label: '实际支付起付线 deductible applied' },
  { field: 'hifp_pay', name: 'pooledFundFen', required: false, label: '统筹基金支出 pooled fund' },
  { field: 'hifmi_pay', name: 'seriousIllnessInsuranceFen', required: false, label: '居民大病保险 serious-illness insurance' },
  { field: 'hifob_pay', name: 'largeExpenseSubsidyFen', required: false, label: '职工大额医疗费用补助 large-expense subsidy' },
  { field: 'maf_pay', name: 'medicalAssistanceFen', required: false, label: '医疗救助基金 medical assistance' },
  { field: 'cvlserv_pay', name: 'civilServantSubsidyFen', required: false, label: '公务员医疗补助 civil-servant subsidy' },
  { field: 'hifes_pay', name: 'enterpriseSupplementFen', required: false, label: '企业补充医疗保险 enterprise supplement' },
  { field: 'oth_pay', name: 'otherFundsFen', required: false, label: '其他支出 other funds' },
  { field: 'fund_pay_sumamt', name: 'fundsTotalFen', required: true, label: '基金支付总额 all funds' },
  { field: 'psn_part_amt', name: 'personBurdenFen', required: true, label: '个人负担总金额 patient burden' },
  { field: 'acct_pay', name: 'personalAccountFen', required: true, label: '个人账户支出 personal account' },
  { field: 'psn_cash_pay', name: 'cashPaidFen', required: true, label: '个人现金支出 paid in cash' },
  { field: 'hosp_part_amt', name: 'hospitalBorneFen', required: false, label: '医院负担金额 borne by the hospital' },
] as const;

export type AmountField = (typeof AMOUNT_FIELDS)[number]['field'];

/** Amounts in fen; an optional field the source did not send is null (not zero). */
export type Amounts = Record<AmountField, number | null>;

/** Identity and classification fields, all required. */
export const TEXT_FIELDS = [
  { field: 'setl_id', maxLength: 30 },
  { field: 'mdtrt_id', maxLength: 30 },
  { field: 'psn_no', maxLength: 30 },
  { field: 'psn_name', maxLength: 50 },
  { field: 'insutype', maxLength: 6 },
  { field: 'med_type', maxLength: 6 },
] as const;

export type TextField = (typeof TEXT_FIELDS)[number]['field'];

/** The transactions whose output is a settlement, and the reversal of each. */
export const SETTLEMENT_INFNOS = { '2207': 'SETTLEMENT', '2304': 'SETTLEMENT', '2208': 'REVERSAL', '2305': 'REVERSAL' } as const;
export type Infno = keyof typeof SETTLEMENT_INFNOS;
export type SettlementKind = (typeof SETTLEMENT_INFNOS)[Infno];

export type SettlementStatus = 'RECEIVED' | 'MATCHED' | 'UNMATCHED' | 'DUPLICATE';
export type UnmatchedReason = 'NO_MEMBER' | 'NO_ENROLMENT' | 'ORIGINAL_NOT_FOUND';
export type RejectionStatus = 'OPEN' | 'RESOLVED' | 'SUPERSEDED';
/** APPLICATION: the settlements of accepted applications (src/settlements/fromApplication.ts). */
export type SourceKind = 'PLATFORM' | 'DROP' | 'FILE' | 'APPLICATION';

/** Whether a source is pulled (PLATFORM, DROP); FILE and APPLICATION sources are pushed to. */
export const isPulledKind = (kind: SourceKind): boolean => kind === 'PLATFORM' || kind === 'DROP';
/** A run is a pull from a source's cursor until caught up (PULL), or one file (FILE). */
export type RunKind = 'PULL' | 'FILE';
export type RunStatus = 'RUNNING' | 'DONE' | 'FAILED';

/*
 * The moves each status may make. The database has no transition trigger on these tables (its
 * CHECKs name the statuses, test/settlements/model.test.ts compares them with these unions): each
 * of the store's UPDATEs names the status it moves from, and these tables are the list of them.
 */

/** Settlements: the match step moves a row out of RECEIVED once; UNMATCHED ones may be released to be matched again. */
export const SETTLEMENT_TRANSITIONS = {
  // applyMatches (the match step), only `WHERE status = 'RECEIVED'`.
  RECEIVED: ['MATCHED', 'UNMATCHED', 'DUPLICATE'],
  // releaseWaitingReversals / releaseStrandedReversals (a reversal's original arrived), releaseUnmatched (`hub settlements rematch`).
  UNMATCHED: ['RECEIVED'],
  MATCHED: [],
  DUPLICATE: [],
} as const satisfies Transitions<SettlementStatus>;

/** What the match step decides: every status a settlement can leave RECEIVED for. */
export type DecidedStatus = (typeof SETTLEMENT_TRANSITIONS.RECEIVED)[number];

/** Whether `status` is one the match step decides (not RECEIVED). */
export function isDecided(status: SettlementStatus): status is DecidedStatus {
  return (SETTLEMENT_TRANSITIONS.RECEIVED as readonly SettlementStatus[]).includes(status);
}

/** Rejections: closed once, by a retry that stored the record (RESOLVED) or by the source sending it again valid (SUPERSEDED). */
export const REJECTION_TRANSITIONS = {
  // resolveRejection (a retry, on the row lockOpenRejection locked OPEN), supersedeRejections (`WHERE status = 'OPEN'`).
  OPEN: ['RESOLVED', 'SUPERSEDED'],
  RESOLVED: [],
  SUPERSEDED: [],
} as const satisfies Transitions<RejectionStatus>;

/** Runs: finished once, by the page that says nothing more is there (DONE) or by a failure (FAILED). */
export const RUN_TRANSITIONS = {
  // addRunPage (the page that ends the open run), finishRun and failOpenPullRun (`WHERE status = 'RUNNING'`).
  RUNNING: ['DONE', 'FAILED'],
  DONE: [],
  FAILED: [],
} as const satisfies Transitions<RunStatus>;

/**
 * The stay a settlement pays for, as far as the sender tells it: the hospital (fixmedins_code) and
 * the admission and discharge dates (China dates). The feed may leave them out; an application
 * always has them. They tell a feed settlement and an application for the same stay apart
 * (src/settlements/fromApplication.ts).
 */
export interface Stay {
  hospitalCode: string | null;
  admittedOn: string | null;
  dischargedOn: string | null;
}

/** A settlement that passed validation, personal data still in clear (never stored so). */
export interface ParsedSettlement {
  infno: Infno;
  kind: SettlementKind;
  setlId: string;
  /** For a reversal: the setl_id of the settlement it cancels (原结算ID, `init_setl_id`). */
  reversesSetlId: string | null;
  mdtrtId: string;
  psnNo: string;
  psnName: string;
  certno: string;
  insutype: string;
  medType: string;
  setlTime: Date;
  diagnoses: string[];
  amounts: Amounts;
  stay: Stay;
}

/** Inpatient medical types start with 2 (docs/design.md); 2304 / 2305 are the inpatient transactions. */
export function isInpatient(medType: string): boolean {
  return medType.startsWith('2');
}

/**
 * Settlements and rejections as stored: the ID number and name encrypted (AES-GCM), hashed for
 * matching (keyed HMAC) and masked for display; the record as received only encrypted.
 */
export interface SettlementWrite {
  setlId: string;
  infno: Infno;
  kind: SettlementKind;
  reversesSetlId: string | null;
  mdtrtId: string;
  psnNo: string;
  psnNameEnc: Buffer;
  psnNameMasked: string;
  certnoEnc: Buffer;
  certnoHash: Buffer;
  certnoMasked: string;
  insutype: string;
  medType: string;
  setlTime: Date;
  diagnoses: string[];
  amounts: Amounts;
  stay: Stay;
  rawEnc: Buffer;
}

export interface RejectionWrite {
  recordKey: string;
  setlId: string | null;
  position: string;
  rawEnc: Buffer;
  rawMasked: Record<string, unknown>;
  problems: FieldProblem[];
}

/**
 * Matching a stored settlement to a member and the enrolment of its plan year: SQL gathers the
 * facts (by keyed hash of the ID number, plan year = calendar year of setl_time in China time; for a
 * reversal, of the settlement it cancels), matching.ts decides.
 */
export interface MatchFacts {
  id: number;
  kind: SettlementKind;
  /**
   * The same setl_id stored earlier from another source (the earliest copy is the one that counts):
   * a copy of it, since a record contradicting it is never stored (store.ts `insertSettlements`).
   */
  duplicateOfId: number | null;
  memberId: number | null;
  enrolmentId: number | null;
  enrolmentUnitId: number | null;
  /** For a reversal: the stored settlement it cancels. */
  reversesId: number | null;
}

export interface MatchDecision {
  id: number;
  status: DecidedStatus;
  unmatchedReason: UnmatchedReason | null;
  memberId: number | null;
  enrolmentId: number | null;
  unitId: number | null;
  duplicateOfId: number | null;
  reversesId: number | null;
}

/** A settlement the match step moved out of RECEIVED, and where to. */
export interface MatchedSettlement {
  id: number;
  status: DecidedStatus;
}

// ---- rows as the store reads them (camelCase aliases); resolvers map them to the schema ----

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
  /** The stay as the sender told it (fixmedins_code, begndate, enddate); null where it did not. */
  hospitalCode: string | null;
  admittedOn: string | null;
  dischargedOn: string | null;
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

/**
 * The settlement another source stored first under a setl_id, as a later record under that setl_id
 * is compared with it (validation.ts `copyProblems`): the person only by keyed hash of the ID number.
 */
export type FirstCopy = SettlementRow & { certnoHash: Buffer };

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
  kind: RunKind;
  fileName: string | null;
  status: RunStatus;
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
  problems: FieldProblem[];
  status: RejectionStatus;
  settlementId: number | null;
  retries: number;
  receivedAt: Date;
  resolvedAt: Date | null;
  resolvedBy: string | null;
}
