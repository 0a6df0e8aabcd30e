/**
 * Sealed notices (通知书): the PDF a member receives for each decision and payment, signed with
 * the union's seal. One notice per notification of the kinds below (the outbox row is its source);
 * a notice once issued is never changed: a later decision brings a notification, and a notice, of its own.
 */

/** The notification kinds (src/notifications/model.ts) that are a decision or a payment: each gets a notice. */
export const NOTICE_KINDS = [
  'CLAIM_DECIDED', 'CLAIM_REDECIDED', 'APPLICATION_ACCEPTED', 'APPLICATION_RETURNED', 'APPEAL_DECIDED',
  'PAYOUT_PAID', 'PAYOUT_FAILED', 'PAYOUT_RETURNED',
] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

export const isNoticeKind = (kind: string): kind is NoticeKind => (NOTICE_KINDS as readonly string[]).includes(kind);

/** The notice's title, as printed at its top. */
const NOTICE_TITLES: Record<NoticeKind, string> = {
  CLAIM_DECIDED: '职工医疗互助金核定通知书',
  CLAIM_REDECIDED: '职工医疗互助金重新核定通知书',
  APPLICATION_ACCEPTED: '职工医疗互助金申请受理通知书',
  APPLICATION_RETURNED: '职工医疗互助金申请退回通知书',
  APPEAL_DECIDED: '职工医疗互助金复核决定通知书',
  PAYOUT_PAID: '职工医疗互助金支付通知书',
  PAYOUT_FAILED: '职工医疗互助金支付未成功通知书',
  PAYOUT_RETURNED: '职工医疗互助金退票通知书',
};

/** A condolence payment's payout (慰问金, paying no claim) is told of as such, as its message is (src/notifications/messages.ts). */
const CONDOLENCE_PAYOUT_TITLES: Partial<Record<NoticeKind, string>> = {
  PAYOUT_PAID: '工会慰问金支付通知书',
  PAYOUT_FAILED: '工会慰问金支付未成功通知书',
  PAYOUT_RETURNED: '工会慰问金退票通知书',
};

export const noticeTitle = (kind: NoticeKind, condolence: boolean): string =>
  (condolence ? CONDOLENCE_PAYOUT_TITLES[kind] : undefined) ?? NOTICE_TITLES[kind];

/**
 * Who may read notices: the member (its own only), and the staff who decide, pay and audit.
 * Not a UNIT_OPERATOR: a notice shows an employee's medical costs, which the employer has no need to see.
 */
export const NOTICE_READERS = ['MEMBER', 'ADMIN', 'REVIEWER', 'FINANCE', 'AUDITOR'] as const;
/** Who may have the pending notices of a member issued at once (instead of waiting for the worker). */
export const NOTICE_ISSUERS = ['ADMIN'] as const;

/** Statuses and reasons in the words of a notice. */
export const CLAIM_STATUS_ZH: Record<string, string> = {
  INELIGIBLE: '不符合互助条件', PENDING_REVIEW: '待审核', APPROVED: '核定给付', REJECTED: '不予给付', CANCELLED: '已撤销',
};
export const APPLICATION_STATUS_ZH: Record<string, string> = { SUBMITTED: '已提交', ACCEPTED: '已受理', RETURNED: '退回补正' };
export const RETURN_REASON_ZH: Record<string, string> = {
  MISSING_DOCUMENT: '材料不全', UNREADABLE_DOCUMENT: '材料无法辨认', FIGURES_DIFFER: '金额与票据不符', DATES_DIFFER: '日期与票据不符',
  HOSPITAL_DIFFERS: '医院与票据不符', DUPLICATE: '重复申请', OTHER: '其他',
};
export const APPEAL_STATUS_ZH: Record<string, string> = { OPEN: '复核中', UPHELD: '复核成立，原核定已撤销并重新核定', DISMISSED: '复核不成立，维持原核定' };
/** By the payment notice's kind: the bank's answer it tells of, whatever the payout went through since. */
export const PAYMENT_OUTCOME_ZH: Partial<Record<NoticeKind, string>> = {
  PAYOUT_PAID: '已支付', PAYOUT_FAILED: '支付未成功', PAYOUT_RETURNED: '已被银行退回（退票）',
};

/** A notice as stored (without its PDF). */
export interface NoticeRow {
  id: number;
  notificationId: number;
  memberId: number;
  kind: NoticeKind;
  /** What the notification told of. */
  subjectType: 'Claim' | 'Application' | 'Appeal' | 'Payout';
  subjectId: number;
  /** The number printed on it, e.g. `HZ2026-00000042`. */
  number: string;
  sha256: Buffer;
  createdAt: Date;
  /** About a condolence payment's payout (paying no claim): titled as such (noticeTitle). */
  condolence: boolean;
}

/** `HZ<year>-<notification id, 8 digits>`: unique because the notification is. */
export const noticeNumber = (year: number, notificationId: number) => `HZ${year}-${String(notificationId).padStart(8, '0')}`;

/** A calculation line of a claim: one benefit line of a programme. */
export interface NoticeLine {
  programme: string;
  amountFen: number;
  /** The Chinese half of the line's explanation (the steps of the calculation). */
  calculation: string;
  adjustment: string | null;
}

/** Everything printed on a notice; the renderer only lays it out. */
export interface NoticeContent {
  number: string;
  kind: NoticeKind;
  title: string;
  unionName: string;
  /** APPEAL_PERIOD_DAYS: the appeal the notice offers, counted from the claim's decision; null when it offers none. */
  appealPeriodDays: number | null;
  /** China date the notice is issued, yyyy-MM-dd. */
  issuedOn: string;
  member: { name: string; idNumberMasked: string; unitName: string };
  claim: {
    reference: string;
    settledOn: string;
    /** Hospital and stay, when the claim came from an application. */
    stay: { hospital: string; from: string; to: string } | null;
    medicalTotalFen: number;
    fundPaidFen: number;
    personalPartFen: number;
    ownPayFen: number;
    overLimitFen: number;
    /** The status the notice's decision gave the claim. */
    status: string;
    /** Whether that decision granted the lines (APPROVED); otherwise they are calculated, not granted. */
    granted: boolean;
    /** The lines, reasons and reviewer's words of that decision: none when the claim was changed since (see `changedTo`). */
    lines: NoticeLine[];
    /** What that decision granted: 0 unless APPROVED. */
    totalFen: number;
    reasons: string[];
    decisionReason: string | null;
    /** The claim's status now, when it was decided again or changed after the notice's decision; else null. */
    changedTo: string | null;
  } | null;
  application: { hospital: string; from: string; to: string; medicalTotalFen: number; status: string; returnReason: string | null; returnNote: string | null } | null;
  appeal: { status: string; decisionReason: string | null } | null;
  /**
   * The payment attempt the notice tells of, as the bank was told it (amount, masked card) and as
   * it answered (outcome, China date, reason code and text).
   */
  payout: { amountFen: number; cardMasked: string; outcome: string; answeredOn: string; reason: string | null } | null;
  /** Other figures of the notification (applications, appeals): label and value. */
  facts: [string, string][];
}
