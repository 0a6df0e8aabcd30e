import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Actor } from '../audit/audit.ts';
import { recordAudit } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { localizedText } from '../benefits/rules/explain.ts';
import { PROGRAMME_LABELS, type Programme } from '../benefits/rules/ruleSet.ts';
import { notFound } from '../kernel/errors.ts';
import { fenToCnyGrouped } from '../kernel/money.ts';
import type { Scope } from '../kernel/scope.ts';
import { UNSCOPED } from '../kernel/scope.ts';
import { chinaToday, planYearOf } from '../kernel/time.ts';
import type { Db, Queryable } from '../kernel/transaction.ts';
import { decryptBytes, encryptBytes, type PersonalDataKeys } from '../privacy/personalData.ts';
import type { Seal } from '../seals/cms/seal.ts';
import { noticeFonts } from './font.ts';
import {
  APPEAL_STATUS_ZH, APPLICATION_STATUS_ZH, CLAIM_STATUS_ZH, isNoticeKind, RETURN_REASON_ZH, noticeNumber, noticeTitle, PAYMENT_OUTCOME_ZH,
  type NoticeContent, type NoticeRow, type NoticeKind,
} from './model.ts';
import { renderNotice } from './render.ts';
import { sealPdf } from './sign.ts';
import * as store from './store.ts';

/**
 * Issuing notices: for a decision or payment notification, the notice's content is gathered,
 * rendered, sealed, encrypted and stored with an audit entry in one transaction. Idempotent: a
 * notification has at most one notice (UNIQUE), and a second worker that rendered the same one
 * keeps the first. The PDF names the member: it is stored encrypted like other personal data.
 */

/** What issuing needs beyond the database. */
export interface NoticeSettings {
  keys: PersonalDataKeys;
  /** The union's seal (src/seals/settings.ts configuredSeal): the same that seals bank files. */
  seal: Seal;
  /** The union's name as printed and as the seal's text (NOTICE_UNION_NAME). */
  unionName: string;
  /** Days after a claim's decision within which it may be appealed (APPEAL_PERIOD_DAYS), as the notice tells the member. */
  appealPeriodDays: number;
}

export const NOTICE_ACTOR: Actor = { subject: 'notices', role: 'SERVICE' };

/** Notices issued per call of `issuePendingNotices` at most (one worker job's share). */
export const NOTICE_PAGE = 100;

/** Issues the notice of one notification; its id, or null when the notification needs none. */
export async function issueNotice(db: Db, settings: NoticeSettings, notificationId: number, actor: Actor = NOTICE_ACTOR, now = new Date()): Promise<number | null> {
  const issued = await store.noticeOfNotification(db, notificationId);
  if (issued) return issued.id;
  const source = await store.noticeSource(db, notificationId);
  if (!source || !isNoticeKind(source.kind) || source.subjectType === 'Member') return null;
  const kind: NoticeKind = source.kind;
  const number = noticeNumber(planYearOf(source.createdAt), notificationId);
  const content = await noticeContent(db, settings, source, kind, number, now);
  const pdf = await sealPdf(await renderNotice(content, noticeFonts()), settings.seal, now, {
    name: settings.unionName, reason: `${number} ${content.title}`, location: settings.unionName,
  });
  const sha256 = createHash('sha256').update(pdf).digest();
  return inTransaction(db, async (tx) => {
    const id = await store.insertNotice(tx, {
      notificationId, memberId: source.memberId, kind, subjectType: source.subjectType, subjectId: source.subjectId,
      number, sha256, pdfEnc: encryptBytes(settings.keys, pdf),
    });
    if (id === null) return (await store.noticeOfNotification(tx, notificationId))!.id;
    await recordAudit(tx, actor, {
      action: 'notice.issue', targetType: 'Notice', targetId: number,
      details: { noticeId: id, notificationId, kind, subjectType: source.subjectType, subjectId: source.subjectId, sha256: sha256.toString('hex') },
    });
    return id;
  });
}

/** Issues the notices still missing (of one member when given), oldest first, at most `limit`; their ids. */
export async function issuePendingNotices(
  db: Db, settings: NoticeSettings, options: { memberId?: number | null; limit?: number; actor?: Actor } = {},
): Promise<number[]> {
  const ids: number[] = [];
  for (const notificationId of await store.notificationsWithoutNotice(db, options.limit ?? NOTICE_PAGE, options.memberId ?? null)) {
    const id = await issueNotice(db, settings, notificationId, options.actor);
    if (id !== null) ids.push(id);
  }
  return ids;
}

async function noticeContent(
  db: Queryable, settings: NoticeSettings, source: store.NoticeSourceRow, kind: NoticeKind, number: string, now: Date,
): Promise<NoticeContent> {
  const payout = source.subjectType === 'Payout' ? await store.paymentForNotice(db, source.notificationId) : null;
  // Every payment notification names its attempt (src/notifications/store.ts): without it there is no payment to tell of.
  if (source.subjectType === 'Payout' && !payout) throw new Error(`notification ${source.notificationId}: the payment attempt it tells of is not recorded`);
  const appeal = source.subjectType === 'Appeal' ? await store.appealForNotice(db, source.subjectId) : null;
  const application = source.subjectType === 'Application' ? await store.applicationForNotice(db, source.subjectId) : null;
  const claimId = source.subjectType === 'Claim' ? source.subjectId : payout?.claimId ?? appeal?.claimId ?? null;
  const claim = claimId === null ? null : await store.claimForNotice(db, claimId);
  // A notification always tells of its own member; a subject of another member would be a bug upstream.
  if ([claim, payout, appeal, application].some((row) => row && row.memberId !== source.memberId)) {
    throw new Error(`notification ${source.notificationId}: its subject belongs to another member`);
  }
  const condolence = payout !== null && payout.claimId === null;
  return {
    number, kind, title: noticeTitle(kind, condolence), unionName: settings.unionName,
    // An appeal's decision is final here, and a condolence payment (慰问金) had no 核定 to review: neither offers an appeal.
    appealPeriodDays: kind === 'APPEAL_DECIDED' || condolence ? null : settings.appealPeriodDays,
    issuedOn: chinaToday(now),
    member: { name: source.memberName, idNumberMasked: source.idNumberMasked, unitName: source.unitName },
    claim: claim && claimContent(kind, source.facts, claim),
    application: application && {
      hospital: application.hospital, from: application.stayFrom, to: application.stayTo, medicalTotalFen: application.medfeeSumamt,
      status: APPLICATION_STATUS_ZH[application.status] ?? application.status,
      returnReason: application.returnReason && (RETURN_REASON_ZH[application.returnReason] ?? application.returnReason),
      returnNote: application.returnNote,
    },
    appeal: appeal && { status: APPEAL_STATUS_ZH[appeal.status] ?? appeal.status, decisionReason: appeal.decisionReason },
    payout: payout && {
      amountFen: payout.amountFen, cardMasked: payout.cardMasked, outcome: PAYMENT_OUTCOME_ZH[kind] ?? kind,
      // Recorded in the transaction that applied the bank's answer: the notification's time is the answer's.
      answeredOn: chinaToday(source.createdAt),
      // The bank's reason for a refusal or return; a paid attempt returned later carries the return's, not the payment's.
      reason: kind === 'PAYOUT_PAID' ? null : [payout.reasonCode, payout.reason].filter(Boolean).join(' ') || null,
    },
    facts: claim || payout || application ? [] : factLines(source.facts),
  };
}

/** What a decision's notification recorded of the claim: the status it gave and its amount (an appeal records no amount: the claim's). */
function recordedDecision(kind: NoticeKind, facts: store.NoticeSourceRow['facts'], claim: store.NoticeClaimRow): { status: string; totalFen: number } | null {
  if (kind === 'APPEAL_DECIDED') return typeof facts.claimStatus === 'string' ? { status: facts.claimStatus, totalFen: claim.totalFen } : null;
  if (kind !== 'CLAIM_DECIDED' && kind !== 'CLAIM_REDECIDED') return null;
  return typeof facts.status === 'string' && typeof facts.amountFen === 'number' ? { status: facts.status, totalFen: facts.amountFen } : null;
}

/** Only an APPROVED claim grants its total; a refused one keeps the total its lines computed (claims.total_fen), and grants 0. */
const grantedFen = (d: { status: string; totalFen: number }) => (d.status === 'APPROVED' ? d.totalFen : 0);

/**
 * A claim as the notice's decision left it: the status and total its notification recorded, since
 * the notice may be issued after the claim was decided again (an appeal upheld, a review after a
 * re-decision) or reversed. Then it says what the claim is now and leaves out the lines and
 * reasons, which are the later decision's. A payment's notice tells of the claim as it is.
 */
function claimContent(kind: NoticeKind, facts: store.NoticeSourceRow['facts'], claim: store.NoticeClaimRow): NonNullable<NoticeContent['claim']> {
  const decided = recordedDecision(kind, facts, claim) ?? claim;
  const changed = decided.status !== claim.status || grantedFen(decided) !== grantedFen(claim);
  return {
    reference: `C${claim.id}`,
    settledOn: chinaToday(claim.setlTime),
    stay: claim.hospital && claim.stayFrom && claim.stayTo ? { hospital: claim.hospital, from: claim.stayFrom, to: claim.stayTo } : null,
    medicalTotalFen: claim.medfeeSumamt, fundPaidFen: claim.fundPaySumamt, personalPartFen: claim.psnPartAmt,
    ownPayFen: claim.fulamtOwnpayAmt, overLimitFen: claim.overlmtSelfpay,
    status: CLAIM_STATUS_ZH[decided.status] ?? decided.status,
    granted: decided.status === 'APPROVED',
    lines: changed ? [] : claim.lines.map((l) => ({
      programme: PROGRAMME_LABELS[l.programme as Programme]?.zh ?? l.programme,
      amountFen: l.adjustedFen ?? l.amountFen,
      calculation: localizedText(l.explanation).zh,
      adjustment: l.adjustedFen === null ? null : `经审核调整为 ${fenToCnyGrouped(l.adjustedFen)} 元：${l.adjustmentReason ?? ''}`,
    })),
    totalFen: grantedFen(decided),
    reasons: changed ? [] : claim.reasons.map((r) => localizedText(r).zh),
    decisionReason: changed ? null : claim.decisionReason,
    changedTo: changed ? CLAIM_STATUS_ZH[claim.status] ?? claim.status : null,
  };
}

/** The notification's figures for notices without a claim or payout (applications, appeals). */
function factLines(facts: store.NoticeSourceRow['facts']): [string, string][] {
  return Object.entries(facts)
    .filter(([, v]) => v !== null)
    .map(([key, value]) => [key, typeof value === 'number' && /Fen$/.test(key) ? `${fenToCnyGrouped(value)} 元` : String(value)]);
}

/** A notice and its PDF within `scope`, checked against the hash it was issued with; null when not there. */
async function readNotice(db: Queryable, keys: PersonalDataKeys, noticeId: number, scope: Scope): Promise<{ notice: NoticeRow; pdf: Buffer } | null> {
  const row = await store.noticeWithPdf(db, noticeId, scope);
  if (!row) return null;
  const { pdfEnc, ...notice } = row;
  const pdf = decryptBytes(keys, pdfEnc);
  if (!createHash('sha256').update(pdf).digest().equals(notice.sha256)) throw new Error(`notice ${notice.number}: its stored PDF does not match its hash`);
  return { notice, pdf };
}

/** A notice's PDF for the caller's scope; another member's notice is NOT_FOUND, as one that does not exist. */
export async function noticePdf(db: Queryable, keys: PersonalDataKeys, noticeId: number, scope: Scope): Promise<{ notice: NoticeRow; pdf: Buffer }> {
  const found = await readNotice(db, keys, noticeId, scope);
  if (!found) throw notFound('notice');
  return found;
}

/**
 * A notice's PDF fetched through its signed URL: within the scope the URL was issued for (a
 * member's own), audited under the subject it was issued to; null when it is not there for them.
 */
export async function noticeForDownload(db: Queryable, keys: PersonalDataKeys, actor: Actor, scope: Scope, noticeId: number): Promise<{ notice: NoticeRow; pdf: Buffer } | null> {
  const found = await readNotice(db, keys, noticeId, scope);
  if (!found) return null;
  await recordAudit(db, actor, {
    action: 'notice.download', targetType: 'Notice', targetId: found.notice.number,
    details: { noticeId, memberId: found.notice.memberId, sha256: found.notice.sha256.toString('hex') },
  });
  return found;
}

/** Who exports notices: the `hub notices export` command, as the CLI names itself elsewhere. */
const EXPORT_ACTOR: Actor = { subject: 'cli', role: 'SERVICE' };

/**
 * Writes a notice's PDF to `path` (the `hub notices export` command, the demo); what was written.
 * The notice leaves the hub as a download does: audited, before any byte is written.
 */
export async function exportNotice(db: Queryable, keys: PersonalDataKeys, noticeId: number, path: string): Promise<{ path: string; number: string; sha256: string; bytes: number }> {
  const { notice, pdf } = await noticePdf(db, keys, noticeId, UNSCOPED);
  const sha256 = notice.sha256.toString('hex');
  await recordAudit(db, EXPORT_ACTOR, {
    action: 'notice.export', targetType: 'Notice', targetId: notice.number,
    details: { noticeId, memberId: notice.memberId, sha256, path },
  });
  // An existing file keeps its old mode on open (certs/devCa.ts): made 0600 before the notice goes in.
  const file = await open(path, 'w', 0o600);
  try {
    await file.chmod(0o600);
    await file.writeFile(pdf);
  } finally {
    await file.close();
  }
  return { path, number: notice.number, sha256, bytes: pdf.length };
}
