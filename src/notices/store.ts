import type { Queryable, Tx } from '../kernel/transaction.ts';
import type { Scope } from '../kernel/scope.ts';
import { memberRowScopeSql } from '../db/scope.ts';
import { Params } from '../db/sql.ts';
import { NOTICE_KINDS, type NoticeRow, type NoticeKind } from './model.ts';

/**
 * SQL of the notices domain: the notifications still waiting for their notice (read from the
 * notifications outbox, which this domain never writes), what a notice prints (claims, settlements,
 * payouts and their attempts, and members, read), and the notices themselves.
 */

const NOTICE_COLUMNS = `x.id, x.notification_id AS "notificationId", x.member_id AS "memberId", x.kind,
  x.subject_type AS "subjectType", x.subject_id AS "subjectId", x.number, x.sha256, x.created_at AS "createdAt",
  EXISTS (SELECT 1 FROM payouts p WHERE x.subject_type = 'Payout' AND p.id = x.subject_id AND p.claim_id IS NULL) AS condolence`;

/** Notifications of a notice kind that have no notice yet, oldest first (of one member when given). */
export async function notificationsWithoutNotice(db: Queryable, limit: number, memberId: number | null = null): Promise<number[]> {
  const p = new Params();
  const { rows } = await db.query<{ id: number }>(
    `SELECT n.id FROM notifications n
      WHERE n.kind = ANY(${p.add(NOTICE_KINDS)}) ${memberId === null ? '' : `AND n.member_id = ${p.add(memberId)}`}
        AND NOT EXISTS (SELECT 1 FROM notices x WHERE x.notification_id = n.id)
      ORDER BY n.id LIMIT ${p.add(limit)}`,
    p.values,
  );
  return rows.map((r) => r.id);
}

export interface NoticeSourceRow {
  notificationId: number;
  memberId: number;
  kind: string;
  subjectType: string;
  subjectId: number;
  facts: Record<string, string | number | boolean | null>;
  createdAt: Date;
  memberName: string;
  idNumberMasked: string;
  unitName: string;
}

/** The notification and its member (name, masked ID number, unit), or null. */
export async function noticeSource(db: Queryable, notificationId: number): Promise<NoticeSourceRow | null> {
  const { rows } = await db.query<NoticeSourceRow>(
    `SELECT n.id AS "notificationId", n.member_id AS "memberId", n.kind, n.subject_type AS "subjectType", n.subject_id AS "subjectId",
            n.facts, n.created_at AS "createdAt", m.name AS "memberName", m.id_number_masked AS "idNumberMasked", u.name AS "unitName"
       FROM notifications n JOIN members m ON m.id = n.member_id JOIN units u ON u.id = m.unit_id
      WHERE n.id = $1`,
    [notificationId],
  );
  return rows[0] ?? null;
}

export interface NoticeClaimRow {
  id: number;
  memberId: number;
  status: string;
  totalFen: number;
  reasons: string[];
  decisionReason: string | null;
  setlTime: Date;
  medfeeSumamt: number;
  fundPaySumamt: number;
  psnPartAmt: number;
  fulamtOwnpayAmt: number;
  overlmtSelfpay: number;
  /** The stay, when the claim came from an application (the platform's feed carries no stay dates). */
  hospital: string | null;
  stayFrom: string | null;
  stayTo: string | null;
  lines: { programme: string; amountFen: number; adjustedFen: number | null; adjustmentReason: string | null; explanation: string }[];
}

/** A claim with its settlement's figures and its benefit lines, or null. */
export async function claimForNotice(db: Queryable, claimId: number): Promise<NoticeClaimRow | null> {
  const { rows } = await db.query<NoticeClaimRow>(
    `SELECT c.id, c.member_id AS "memberId", c.status, c.total_fen AS "totalFen", c.reasons, c.decision_reason AS "decisionReason",
            s.setl_time AS "setlTime", s.medfee_sumamt AS "medfeeSumamt", s.fund_pay_sumamt AS "fundPaySumamt",
            s.psn_part_amt AS "psnPartAmt", s.fulamt_ownpay_amt AS "fulamtOwnpayAmt", s.overlmt_selfpay AS "overlmtSelfpay",
            a.fixmedins_name AS hospital, a.begndate AS "stayFrom", a.enddate AS "stayTo",
            coalesce((SELECT jsonb_agg(jsonb_build_object('programme', l.programme, 'amountFen', l.amount_fen, 'adjustedFen', l.adjusted_fen,
                                                          'adjustmentReason', l.adjustment_reason, 'explanation', l.explanation) ORDER BY l.id)
                        FROM benefit_lines l WHERE l.claim_id = c.id), '[]') AS lines
       FROM claims c JOIN settlements s ON s.id = c.settlement_id LEFT JOIN applications a ON a.settlement_id = c.settlement_id
      WHERE c.id = $1`,
    [claimId],
  );
  return rows[0] ?? null;
}

export interface NoticePaymentRow {
  /** Null for a condolence payment's payout (it pays no claim). */
  claimId: number | null;
  memberId: number;
  /** The attempt's amount and masked card, as sealed into the bank's file (never changed after). */
  amountFen: number;
  cardMasked: string;
  reasonCode: string | null;
  reason: string | null;
}

/**
 * The payout of a payment notification and the attempt it tells of (its facts' `attemptNo`, as
 * src/notifications/store.ts records them), or null. The attempt, not the member's card on record
 * now: the member may have changed cards since the bank was told where to pay.
 */
export async function paymentForNotice(db: Queryable, notificationId: number): Promise<NoticePaymentRow | null> {
  const { rows } = await db.query<NoticePaymentRow>(
    `SELECT p.claim_id AS "claimId", p.member_id AS "memberId", a.amount_fen AS "amountFen", a.creditor_account_masked AS "cardMasked",
            a.reason_code AS "reasonCode", a.reason
       FROM notifications n JOIN payouts p ON p.id = n.subject_id
       JOIN payout_attempts a ON a.payout_id = p.id AND a.attempt_no = (n.facts ->> 'attemptNo')::int
      WHERE n.id = $1 AND n.subject_type = 'Payout'`,
    [notificationId],
  );
  return rows[0] ?? null;
}

export interface NoticeApplicationRow {
  memberId: number;
  status: string;
  hospital: string;
  stayFrom: string;
  stayTo: string;
  medfeeSumamt: number;
  returnReason: string | null;
  returnNote: string | null;
}

export async function applicationForNotice(db: Queryable, applicationId: number): Promise<NoticeApplicationRow | null> {
  const { rows } = await db.query<NoticeApplicationRow>(
    `SELECT member_id AS "memberId", status, fixmedins_name AS hospital, begndate AS "stayFrom", enddate AS "stayTo",
            medfee_sumamt AS "medfeeSumamt", return_reason AS "returnReason", return_note AS "returnNote"
       FROM applications WHERE id = $1`,
    [applicationId],
  );
  return rows[0] ?? null;
}

export interface NoticeAppealRow {
  memberId: number;
  claimId: number;
  status: string;
  decisionReason: string | null;
}

export async function appealForNotice(db: Queryable, appealId: number): Promise<NoticeAppealRow | null> {
  const { rows } = await db.query<NoticeAppealRow>(
    `SELECT member_id AS "memberId", claim_id AS "claimId", status, decision_reason AS "decisionReason" FROM appeals WHERE id = $1`,
    [appealId],
  );
  return rows[0] ?? null;
}

export interface NewNotice {
  notificationId: number;
  memberId: number;
  kind: NoticeKind;
  subjectType: string;
  subjectId: number;
  number: string;
  sha256: Buffer;
  pdfEnc: Buffer;
}

/** Stores a notice; null when its notification has one already (another worker was first). */
export async function insertNotice(tx: Tx, notice: NewNotice): Promise<number | null> {
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO notices (notification_id, member_id, kind, subject_type, subject_id, number, sha256, pdf_enc)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (notification_id) DO NOTHING RETURNING id`,
    [notice.notificationId, notice.memberId, notice.kind, notice.subjectType, notice.subjectId, notice.number, notice.sha256, notice.pdfEnc],
  );
  return rows[0]?.id ?? null;
}

/** Notices by id within the caller's scope (another member's is simply not there). */
export async function noticesByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<NoticeRow[]> {
  const p = new Params();
  const { rows } = await db.query<NoticeRow>(
    `SELECT ${NOTICE_COLUMNS} FROM notices x WHERE x.id = ANY(${p.add(ids)}) AND ${memberRowScopeSql(p, scope, 'x')}`,
    p.values,
  );
  return rows;
}

/** The notices of each member, newest first, within the caller's scope. */
export async function noticesOfMembers(db: Queryable, memberIds: readonly number[], scope: Scope): Promise<NoticeRow[]> {
  const p = new Params();
  const { rows } = await db.query<NoticeRow>(
    `SELECT ${NOTICE_COLUMNS} FROM notices x
      WHERE x.member_id = ANY(${p.add(memberIds)}) AND ${memberRowScopeSql(p, scope, 'x')}
      ORDER BY x.member_id, x.id DESC`,
    p.values,
  );
  return rows;
}

/** The notices about each claim, directly or through its payouts, newest first, within the caller's scope. */
export async function noticesOfClaims(db: Queryable, claimIds: readonly number[], scope: Scope): Promise<(NoticeRow & { claimId: number })[]> {
  const p = new Params();
  const ids = p.add(claimIds);
  const { rows } = await db.query<NoticeRow & { claimId: number }>(
    `SELECT ${NOTICE_COLUMNS}, coalesce(py.claim_id, x.subject_id) AS "claimId"
       FROM notices x LEFT JOIN payouts py ON x.subject_type = 'Payout' AND py.id = x.subject_id
      WHERE ((x.subject_type = 'Claim' AND x.subject_id = ANY(${ids})) OR py.claim_id = ANY(${ids}))
        AND ${memberRowScopeSql(p, scope, 'x')}
      ORDER BY x.id DESC`,
    p.values,
  );
  return rows;
}

/** A notice with its encrypted PDF, within the caller's scope. */
export async function noticeWithPdf(db: Queryable, id: number, scope: Scope): Promise<(NoticeRow & { pdfEnc: Buffer }) | null> {
  const p = new Params();
  const { rows } = await db.query<NoticeRow & { pdfEnc: Buffer }>(
    `SELECT ${NOTICE_COLUMNS}, x.pdf_enc AS "pdfEnc" FROM notices x WHERE x.id = ${p.add(id)} AND ${memberRowScopeSql(p, scope, 'x')}`,
    p.values,
  );
  return rows[0] ?? null;
}

/** The notice of a notification, if issued. */
export async function noticeOfNotification(db: Queryable, notificationId: number): Promise<NoticeRow | null> {
  const { rows } = await db.query<NoticeRow>(`SELECT ${NOTICE_COLUMNS} FROM notices x WHERE x.notification_id = $1`, [notificationId]);
  return rows[0] ?? null;
}
