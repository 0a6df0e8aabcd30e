import { inTransaction } from '../db/pool.ts';
import type { Db } from '../kernel/transaction.ts';
import { UNSCOPED, type Scope } from '../kernel/scope.ts';
import { conflict, DomainError, forbidden, invalid, notFound, reasonOf } from '../kernel/errors.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import { recordNotifications } from '../notifications/store.ts';
import type { NewAttachment } from '../attachments/model.ts';
import { storeAttachments } from '../attachments/service.ts';
import type { RuleSetCache } from '../benefits/catalogue.ts';
import { redecideClaim } from '../benefits/redecide.ts';
import { approvalBarsOfClaim } from '../benefits/store.ts';
import { approvalBarRefusal } from '../benefits/decision.ts';
import { checkTotalAsRead, checkTotalGiven, type CheckedTotal } from '../benefits/review.ts';
import { addDays, chinaToday } from '../kernel/time.ts';
import {
  APPEAL_DECIDERS, APPEAL_FILERS, APPEALABLE_CLAIM_STATUSES, appealDeadline, appealLastDay, type AppealDecision, type AppealPeriod, type AppealRow,
} from './model.ts';
import * as store from './store.ts';

export interface FileAppeal {
  claimId: number;
  reason: string;
  attachments: readonly NewAttachment[];
}

/**
 * Files an appeal against a decided claim in `scope` (a member its own; a unit operator its unit's),
 * within `period` of the claim's decision (until 24:00 China time of its last day: `appealLastDay`),
 * with its documents, in one transaction. Audited.
 */
export async function fileAppeal(
  db: Db, keys: PersonalDataKeys, actor: Actor, scope: Scope, period: AppealPeriod, input: FileAppeal, now = new Date(),
): Promise<AppealRow> {
  if (!(APPEAL_FILERS as readonly string[]).includes(actor.role)) throw forbidden(`fileAppeal needs one of the roles ${APPEAL_FILERS.join(', ')}; you are ${actor.role}`);
  const reason = reasonOf('input.reason', input.reason);
  return inTransaction(db, async (tx) => {
    const claim = await store.claimForAppeal(tx, input.claimId, scope);
    if (!claim) throw notFound('claim', 'input.claimId');
    if (!(APPEALABLE_CLAIM_STATUSES as readonly string[]).includes(claim.status)) {
      throw conflict(`the claim is ${claim.status}: only a decided claim (${APPEALABLE_CLAIM_STATUSES.join(', ')}) may be appealed`, 'input.claimId');
    }
    if (claim.reversed) throw conflict('the platform reversed (冲销) the claim\'s settlement: the stay is void and nothing of it is paid', 'input.claimId');
    if (now.getTime() >= appealDeadline(claim.decidedAt, period).getTime()) {
      const decidedOn = chinaToday(claim.decidedAt);
      const lastDay = appealLastDay(claim.decidedAt, period);
      const nominal = addDays(decidedOn, period.days);
      const moved = lastDay === nominal ? '' : ` (day ${period.days}, ${nominal}, was a weekend or holiday, so the period ran to the next working day)`;
      throw conflict(
        `the appeal period (APPEAL_PERIOD_DAYS: ${period.days} days after the claim's decision on ${decidedOn}, China time) ended at the end of ${lastDay} (24:00 China time)${moved}`,
        'input.claimId',
      );
    }
    const appeal = await store.insertAppeal(tx, { claimId: claim.id, reason, filedBy: actor.subject, filedRole: actor.role });
    if (!appeal) throw conflict('the claim has an OPEN appeal already: wait for its decision', 'input.claimId');
    const attachments = await storeAttachments(tx, keys, { memberId: claim.memberId }, input.attachments, actor);
    await store.linkAttachments(tx, appeal.id, attachments.map((a) => a.id));
    await recordAudit(tx, actor, {
      action: 'appeal.file', targetType: 'Appeal', targetId: String(appeal.id), reason,
      details: { claimId: claim.id, claimStatus: claim.status, attachmentIds: attachments.map((a) => a.id) },
    });
    return appeal;
  });
}

const roleRefusal = (actor: Actor): DomainError | null => ((APPEAL_DECIDERS as readonly string[]).includes(actor.role)
  ? null
  : forbidden(`deciding appeals needs the role ${APPEAL_DECIDERS.join(' or ')}; you are ${actor.role}`));

/**
 * Why `actor` may not decide the appeal now, or null: a REVIEWER or ADMIN, the appeal OPEN, and
 * neither the person who decided the claim (when the appeal was filed, or since: a claim decided
 * again while its appeal is open may be rejected by a reviewer) nor the one who filed the appeal
 * (four eyes; the database's CHECK appeals_four_eyes refuses the decider at filing and the filer
 * too). `viewerCanDecide` shows it.
 */
export function decideRefusal(actor: Actor, appeal: Pick<AppealRow, 'status' | 'claimDecidedBy' | 'claimDecidedByNow' | 'filedBy'>): DomainError | null {
  const role = roleRefusal(actor);
  if (role) return role;
  if (appeal.status !== 'OPEN') return conflict(`the appeal is ${appeal.status} already`, 'input.appealId');
  if (appeal.claimDecidedBy === actor.subject || appeal.claimDecidedByNow === actor.subject) {
    return conflict(`${actor.subject} decided the claim and cannot decide its appeal; another reviewer must (four eyes)`, 'input.appealId');
  }
  if (appeal.filedBy === actor.subject) return conflict(`${actor.subject} filed this appeal and cannot decide it; another reviewer must (four eyes)`, 'input.appealId');
  return null;
}

/**
 * Decides an OPEN appeal, in one transaction with everything it causes: UPHOLD decides the claim
 * again, approved (src/benefits/redecide.ts), and is refused when the rules still find it
 * ineligible, or when it pays another total than `checkedTotalFen`, the one the reviewer checked
 * (`upholdFigures` as read: required to uphold, ignored to dismiss); DISMISS leaves the claim as it
 * is. The member is told (APPEAL_DECIDED); audited.
 */
export async function decideAppeal(
  db: Db, ruleSets: RuleSetCache, actor: Actor, scope: Scope, appealId: number, decision: AppealDecision, reasonText: string,
  checkedTotalFen?: number | null,
): Promise<AppealRow> {
  const notDecider = roleRefusal(actor);
  if (notDecider) throw notDecider;
  const reason = reasonOf('input.reason', reasonText);
  let checked: CheckedTotal | null = null;
  if (decision === 'UPHOLD') {
    // Upholding approves what the rules give against the year as it stands: only the figures the reviewer saw.
    const read = 'the total upholding pays as read (Appeal.upholdPreview.totalFen)';
    if (checkedTotalFen === undefined || checkedTotalFen === null) throw invalid('input.checkedTotalFen', `is required to UPHOLD: ${read}`);
    checked = { checkedTotalFen, totalField: 'input.checkedTotalFen' };
    checkTotalGiven(checked, read);
  }
  await ruleSets.ensureShipped(db);
  return inTransaction(db, async (tx) => {
    // Out of the decider's scope (another organisation's member) answers as a missing appeal.
    const appeal = await store.lockAppeal(tx, appealId, scope);
    if (!appeal) throw notFound('appeal', 'input.appealId');
    const refusal = decideRefusal(actor, appeal);
    if (refusal) throw refusal;
    let claimStatus: string;
    if (decision === 'UPHOLD') {
      const claim = (await store.claimForAppeal(tx, appeal.claimId, UNSCOPED))!;
      if (claim.status !== 'INELIGIBLE' && claim.status !== 'REJECTED') {
        throw conflict(
          `the claim is ${claim.status} now: upholding decides a refused (INELIGIBLE or REJECTED) claim again, and an approved claim's amounts change only with the rules (a new rule set and replay); dismiss the appeal`,
          'input.decision',
        );
      }
      if (claim.reversed) {
        throw conflict('the platform reversed (冲销) the claim\'s settlement since the appeal was filed: the stay is void and nothing of it is paid; dismiss the appeal', 'input.decision');
      }
      // Upholding approves the claim: not by anyone who shaped its lines (the claims' own four eyes).
      if (claim.adjustedBy.includes(actor.subject)) {
        throw conflict(`${actor.subject} adjusted a line of this claim and cannot uphold its appeal, which approves it; another reviewer must (four eyes)`, 'input.appealId');
      }
      // Nor by anyone who set the member's groups, which decide what the rules pay (0057), nor who entered or submitted its application (0069).
      const barred = approvalBarRefusal(actor.subject, await approvalBarsOfClaim(tx, appeal.claimId), 'uphold its appeal, which approves it', 'another reviewer', 'input.appealId');
      if (barred) throw barred;
      const outcome = await redecideClaim(tx, appeal.claimId, { actor, cause: 'APPEAL', approve: true, ruleSets });
      if (outcome.after !== 'APPROVED') {
        // Thrown: the transaction (and the re-decision in it) is undone.
        throw conflict(
          `the rules still find the claim ${outcome.after} on its facts: correct the facts first (the contribution payment, the enrolment) and uphold again, or dismiss`,
          'input.decision',
        );
      }
      // Under the member-year's lock the re-decision took: the total approved is the one compared.
      checkTotalAsRead(outcome.totalFen, checked!, 'upholding figures the claim against the member\'s year as it stands, which changed after it was read');
      claimStatus = outcome.after;
    } else {
      claimStatus = (await store.claimForAppeal(tx, appeal.claimId, UNSCOPED))!.status;
    }
    const decided = await store.decideAppeal(tx, appealId, {
      status: decision === 'UPHOLD' ? 'UPHELD' : 'DISMISSED', decidedBy: actor.subject, decidedRole: actor.role, reason,
    });
    await recordNotifications(tx, [{
      memberId: decided.memberId, kind: 'APPEAL_DECIDED', subjectType: 'Appeal', subjectId: decided.id,
      // `status` as the message reads it: an appeal upheld changes the decision (已改判); one dismissed keeps it (维持原结论).
      facts: { outcome: decided.status, claimStatus, status: decided.status === 'UPHELD' ? 'OVERTURNED' : 'UPHELD' },
    }]);
    await recordAudit(tx, actor, {
      action: decision === 'UPHOLD' ? 'appeal.uphold' : 'appeal.dismiss', targetType: 'Appeal', targetId: String(appealId), reason,
      details: { claimId: decided.claimId, claimStatusWhenFiled: decided.claimStatusWhenFiled, claimStatus },
    });
    return decided;
  });
}
