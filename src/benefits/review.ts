import { inTransaction } from '../db/pool.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { heldTotals } from './model.ts';
import * as store from './store.ts';
import { conflict, DomainError, invalid, forbidden, notFound, noteOf } from '../kernel/errors.ts';
import type { Scope } from '../kernel/scope.ts';
import { recordNotifications } from '../notifications/store.ts';
import { claimDecidedNotification } from './adjudicate.ts';
import { approvalBarRefusal, sameStaysMayPay, sameStayWarning } from './decision.ts';
import { refigureWaitingAfter } from './redecide.ts';
import { fenToCnyGrouped } from '../kernel/money.ts';

/**
 * Review (maker-checker) of claims in PENDING_REVIEW. Each decision runs in one transaction that
 * locks the member-year totals row first (the same order as adjudication), then the claim (an
 * approval then the member's approvals across years), and records the audit entry. Rules decided here:
 * - approve: the claim and its lines become APPROVED, only at the total the reviewer checked
 *   (`checkedTotalFen`, its total as they read it): a waiting claim is figured again when an earlier
 *   one of its year is rejected, lowered or reversed (`refigureWaitingAfter`), its total up or down,
 *   and an approval of the old figures must not pay the new ones nobody saw (CONFLICT on the field);
 *   not by anyone who adjusted one of its lines
 *   (four eyes: claims.adjusted_by, kept by the database, whose CHECK claims_four_eyes also refuses it),
 *   nor by anyone who set the targeted groups of its enrolment (setEnrolmentCategories: the groups
 *   decide which programmes pay, e.g. CRITICAL to HARDSHIP only; enrolments.categories_set_by, whose
 *   trigger claims_categories_four_eyes also refuses it, migration 0057), nor by anyone who entered
 *   or submitted the application it was settled from (staff for the member, or the member's own
 *   subject in any role: applications.entered_by and member_submitters, whose trigger
 *   claims_applicant_four_eyes also refuses it, migration 0069).
 *   A claim another settlement may share its stay with, whose claim may pay (decision.ts
 *   `sameStaysMayPay`), is approved only on its own, never in a bulk approval, and with a note saying
 *   why they are two stays when that other claim is APPROVED: paying both may pay one stay twice.
 * - reject (reason required): REJECTED; its line amounts and its out-of-pocket contribution leave
 *   the member-year totals and its first-diagnosis grants are released (the claim no longer counts).
 *   The member-year's claims decided after it and still waiting are figured again without it
 *   (redecide.ts `refigureWaitingAfter`), as after a line lowered.
 * - adjust a line (reason required): only downwards, 0 ≤ amount ≤ computed (raising would bypass
 *   the rules' caps; a higher entitlement needs a rule change and replay). The computed amount
 *   stays beside the adjusted one; the member-year totals drop by the difference; the running
 *   out-of-pocket total keeps the computed figures; a first-diagnosis line cut to 0 releases its
 *   disease groups. The claim stays PENDING_REVIEW for a decision.
 */
/** Who reviews claims (the review mutations' role check). */
export const REVIEWERS = ['REVIEWER', 'ADMIN'] as const;

export type ReviewDecision = 'approve' | 'reject' | 'adjust';

/**
 * Why `actor` may not make `decision` on a claim now, or null: a REVIEWER or ADMIN, the claim
 * PENDING_REVIEW, and (approval) not one who adjusted a line of it, nor one of its ApprovalBars: who
 * set the targeted groups of its enrolment, who entered or submitted its application (four eyes).
 * The decisions below throw it, and the API's hints (Claim.viewerCan…) show whether it is null for
 * the caller, an approval's always with the bars read: given none, only the other refusals are known.
 */
export function reviewRefusal(
  actor: Actor, claim: Pick<store.ReviewedClaim, 'status' | 'adjustedBy'> & Partial<store.ApprovalBars>,
  decision: ReviewDecision, field = 'input.claimId',
): DomainError | null {
  if (!(REVIEWERS as readonly string[]).includes(actor.role)) return forbidden(`reviewing claims needs the role REVIEWER or ADMIN; you are ${actor.role}`);
  if (claim.status !== 'PENDING_REVIEW') return conflict(`the claim is ${claim.status}, not PENDING_REVIEW`, field);
  if (decision !== 'approve') return null;
  if (claim.adjustedBy.includes(actor.subject)) {
    // The claim's own record refuses it (whoever adjusted it), not the caller's role: a CONFLICT, reported with the claim.
    return conflict(`${actor.subject} adjusted this claim and cannot also approve it; another REVIEWER or ADMIN must (four eyes)`, field);
  }
  return approvalBarRefusal(actor.subject, claim, 'also approve it', 'another REVIEWER or ADMIN', field);
}

async function lockClaim(tx: Tx, actor: Actor, claimId: number, scope: Scope, decision: ReviewDecision, field: string): Promise<store.ReviewedClaim> {
  const found = await store.claimInScope(tx, claimId, scope);
  if (!found) throw notFound('claim', field);
  await store.lockMemberYear(tx, found.memberId, found.planYear);
  const claim = await store.lockClaim(tx, claimId);
  const bars = decision === 'approve' ? await store.approvalBarsOfClaim(tx, claimId) : {};
  const refusal = reviewRefusal(actor, { ...claim, ...bars }, decision, field);
  if (refusal) throw refusal;
  return claim;
}

/** A claim is reviewed once per decision of it: the first review, then once after each re-decision (an appeal). */
async function reviewEventKey(tx: Tx, claimId: number): Promise<string> {
  const n = await store.redecisionCount(tx, claimId);
  return n ? `after-redecision-${n}` : '';
}

/** A claim to approve and the total its reviewer checked (`Claim.totalFen` as they read it), each with the field naming it. */
export interface CheckedClaim {
  id: number;
  field: string;
  checkedTotalFen: number;
  totalField: string;
}

// An approval's note is kept with the decision, audited and printed on the member's notice: bounded as every note (noteOf).
export async function approveClaim(
  db: Db, actor: Actor, scope: Scope, claimId: number, checkedTotalFen: number, note: string | null | undefined,
): Promise<void> {
  const claim = { id: claimId, field: 'input.claimId', checkedTotalFen, totalField: 'input.checkedTotalFen' };
  await approve(db, actor, scope, claim, noteOf('input.note', note), 'alone');
}

/** The total a reviewer checked before a decision that pays (`checkedTotalFen`), and the field naming it. */
export type CheckedTotal = Pick<CheckedClaim, 'checkedTotalFen' | 'totalField'>;

/** Refuses (INVALID on its field) a checked total that is none: `read` says what the reviewer reads it as. */
export function checkTotalGiven(checked: CheckedTotal, read = 'the claim\'s total as read (totalFen)'): void {
  if (!Number.isSafeInteger(checked.checkedTotalFen) || checked.checkedTotalFen < 0) {
    throw invalid(checked.totalField, `must be ${read}: a whole number of fen, not negative`);
  }
}

/**
 * Refuses (CONFLICT on the checked total's field, naming both totals) a decision that would pay
 * `totalFen` when the reviewer checked another total: figures that changed after they were read
 * (`changed` says how) are not paid unseen. Called under the member-year's lock, which any
 * refiguring holds too: the total paid is the one compared.
 */
export function checkTotalAsRead(totalFen: number, checked: CheckedTotal, changed = 'the claim was figured again after it was read'): void {
  if (totalFen === checked.checkedTotalFen) return;
  throw conflict(
    `${changed}: it pays ${totalFen} fen (${fenToCnyGrouped(totalFen)} CNY) now, `
    + `not the ${checked.checkedTotalFen} fen (${fenToCnyGrouped(checked.checkedTotalFen)} CNY) checked; read it again and check the new figures`,
    checked.totalField,
  );
}

/** Approves one claim with a note checked already; `among others`: in a bulk approval. */
async function approve(db: Db, actor: Actor, scope: Scope, checked: CheckedClaim, note: string | null, how: 'alone' | 'among others'): Promise<void> {
  const { id: claimId, field } = checked;
  checkTotalGiven(checked);
  await inTransaction(db, async (tx) => {
    const claim = await lockClaim(tx, actor, claimId, scope, 'approve', field);
    checkTotalAsRead(claim.totalFen, checked);
    // Before the other claims of the stay are read: an approval of one of another plan year commits first, and is seen.
    await store.lockMemberApprovals(tx, claim.memberId);
    const sameStay = (await sameStaysMayPay(tx, [claim.settlementId])).get(claim.settlementId) ?? [];
    if (sameStay.length && how === 'among others') throw conflict(`approve this claim on its own (approveClaim), not among others: ${sameStayWarning(sameStay[0]!)}`, field);
    const approved = sameStay.find((o) => o.otherClaimStatus === 'APPROVED');
    if (approved && !note) {
      throw invalid('input.note', `${sameStayWarning(approved)}: approving this one too pays that stay twice unless they are two stays; say in the note how that was checked`);
    }
    const totalFen = await store.approveClaim(tx, claimId, actor.subject, note);
    await recordNotifications(tx, [claimDecidedNotification(claim.memberId, claimId, claim.planYear, 'APPROVED', totalFen, [], await reviewEventKey(tx, claimId))]);
    await recordAudit(tx, actor, { action: 'claim.approve', targetType: 'Claim', targetId: String(claimId), reason: note, details: { totalFen } });
  });
}

/**
 * Approves each claim as `approveClaim` does, each in its own transaction (same rules, four eyes,
 * the total checked, audit): one refused does not stop the others. Returns each claim's refusal, in
 * order; null for an approved one. A claim missing or out of `scope` is the same NOT_FOUND. A bad
 * note refuses the whole request (INVALID on input.note) before any claim is approved.
 */
export async function approveClaims(
  db: Db, actor: Actor, scope: Scope, claims: readonly CheckedClaim[], note: string | null | undefined,
): Promise<(DomainError | null)[]> {
  const checked = noteOf('input.note', note);
  const refusals: (DomainError | null)[] = [];
  for (const claim of claims) {
    refusals.push(await approve(db, actor, scope, claim, checked, 'among others').then(() => null, (error: unknown) => {
      if (error instanceof DomainError) return error;
      throw error;
    }));
  }
  return refusals;
}

export async function rejectClaim(db: Db, actor: Actor, scope: Scope, claimId: number, reason: string): Promise<void> {
  await inTransaction(db, async (tx) => {
    const claim = await lockClaim(tx, actor, claimId, scope, 'reject', 'input.claimId');
    const lines = await store.payableLinesOfClaim(tx, claimId);
    await store.releaseFromTotals(tx, claim.memberId, claim.planYear, heldTotals(lines, claim.outOfPocketFen));
    await store.rejectClaim(tx, claimId, actor.subject, reason);
    const refigured = await refigureWaitingAfter(tx, claim, actor);
    // The reviewer's words stay out of the notification (they may name people); the member reads them on the claim.
    await recordNotifications(tx, [claimDecidedNotification(claim.memberId, claimId, claim.planYear, 'REJECTED', 0, [], await reviewEventKey(tx, claimId))]);
    await recordAudit(tx, actor, {
      action: 'claim.reject', targetType: 'Claim', targetId: String(claimId), reason,
      details: { releasedFen: lines.reduce((sum, l) => sum + l.payable, 0), refigured },
    });
  });
}

/** Returns the claim id of the adjusted line. */
export async function adjustClaimLine(db: Db, actor: Actor, scope: Scope, lineId: number, amountFen: number, reason: string): Promise<number> {
  if (!Number.isSafeInteger(amountFen) || amountFen < 0) throw invalid('input.amountFen', 'must be a whole number of fen, not negative');
  return inTransaction(db, async (tx) => {
    const claimId = await store.claimOfLine(tx, lineId);
    // A missing line answers as one of a claim outside the caller's scope (lockClaim): nothing tells them apart.
    if (claimId === null) throw notFound('claim', 'input.lineId');
    const claim = await lockClaim(tx, actor, claimId, scope, 'adjust', 'input.lineId');
    const locked = await store.lockLine(tx, lineId);
    // Raising a lowered line again would take back year's room other claims may have taken since,
    // past the annual cap: only the rules, deciding the claim again, spend room.
    if (amountFen > locked.payable) {
      throw invalid(
        'input.amountFen',
        `must not exceed what the line pays now, ${locked.payable} fen (the rules computed ${locked.amountFen}): adjustments only lower a line; `
        + 'to pay more, reject the claim, and an appeal upheld by another reviewer decides it again within the year\'s caps',
      );
    }
    await store.adjustLine(
      tx, { id: lineId, claimId: claim.id, programme: locked.programme, memberId: claim.memberId, planYear: claim.planYear },
      amountFen, locked.payable - amountFen, reason, actor.subject,
    );
    const refigured = await refigureWaitingAfter(tx, claim, actor);
    await recordAudit(tx, actor, {
      action: 'claim.adjust_line', targetType: 'BenefitLine', targetId: String(lineId), reason,
      details: { claimId: claim.id, programme: locked.programme, computedFen: locked.amountFen, fromFen: locked.payable, toFen: amountFen, refigured },
    });
    return claim.id;
  });
}
