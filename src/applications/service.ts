import type pg from 'pg';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { conflict, invalid, notFound, reasonOf } from '../kernel/errors.ts';
import { UNSCOPED, type Scope } from '../kernel/scope.ts';
import type { Tx } from '../kernel/transaction.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import { storeAttachments } from '../attachments/service.ts';
import type { NewAttachment } from '../attachments/model.ts';
import { recordNotifications } from '../notifications/store.ts';
import { lockStaysForAcceptance, sameStaySettlements, settleApplication } from '../settlements/fromApplication.ts';
import { lockMemberInScope } from '../members/store.ts';
import { isInpatient } from '../settlements/model.ts';
import type { ApplicationChannel, ApplicationReturnReason } from './model.ts';
import * as store from './store.ts';
import type { ApplicationRow, ApplicationStay } from './store.ts';

/**
 * Applications: submitted by a member (or staff on its behalf), accepted or returned by a reviewer,
 * resubmitted once fixed. Each decision is one transaction with its audit row, its notification and
 * (on acceptance) the settlement it becomes. A stay is paid once: an application duplicating a
 * settlement (feed or application) or another application of the member is refused, on submission
 * and again on acceptance (src/settlements/fromApplication.ts keeps the feed side).
 */

/** Documents that show the figures: a first submission needs one of them. */
const FIGURE_DOCUMENTS = new Set(['SETTLEMENT_SHEET', 'INVOICE']);

export interface Submission {
  memberId: number;
  channel: ApplicationChannel;
  stay: ApplicationStay;
  attachments: readonly NewAttachment[];
}

/** Refuses a stay already settled or applied for, naming what it duplicates. */
async function refuseDuplicates(tx: Tx, memberId: number, stay: ApplicationStay, except: number | null, field: string): Promise<void> {
  const key = {
    memberId, inpatient: isInpatient(stay.medType), hospitalCode: stay.hospitalCode, admittedOn: stay.admittedOn, dischargedOn: stay.dischargedOn,
    totalFen: stay.amounts.medfee_sumamt!,
  };
  const [settlement] = await sameStaySettlements(tx, key);
  if (settlement) {
    const reversed = settlement.reversed ? ', which the platform reversed (冲销): a person must look; the platform settles a stay again as a new settlement, through the feed' : '';
    throw conflict(`${field}: this stay (same hospital, dates and total) was already settled: settlement ${settlement.id} from source ${settlement.source}${reversed}`, field);
  }
  const [application] = await store.sameStayApplications(tx, memberId, { ...key }, except);
  if (application !== undefined) throw conflict(`${field}: application ${application} is already for this stay (same hospital, dates and total)`, field);
}

async function linkDocuments(tx: Tx, keys: PersonalDataKeys, application: { id: number; memberId: number; round: number }, items: readonly NewAttachment[], actor: Actor) {
  const stored = await storeAttachments(tx, keys, { memberId: application.memberId }, items, actor);
  await store.linkAttachments(tx, application.id, application.round, stored.map((a) => a.id));
  return stored.length;
}

const stayFacts = (stay: ApplicationStay) => ({
  hospitalCode: stay.hospitalCode, admittedOn: stay.admittedOn, dischargedOn: stay.dischargedOn, medType: stay.medType, totalFeesFen: stay.amounts.medfee_sumamt,
});

async function reload(tx: Tx, id: number): Promise<ApplicationRow> {
  const [row] = await store.applicationsByIds(tx, [id], UNSCOPED);
  return row!;
}

/** A new application for a member in `scope`; the caller checked that the channel fits its role. */
export async function submitApplication(db: pg.Pool, keys: PersonalDataKeys, s: Submission, scope: Scope, actor: Actor): Promise<ApplicationRow> {
  if (!s.attachments.some((a) => FIGURE_DOCUMENTS.has(a.kind))) {
    throw invalid('input.attachments', 'needs the settlement sheet (SETTLEMENT_SHEET) or the invoice (INVOICE) that shows the figures');
  }
  return inTransaction(db, async (tx) => {
    // Out of scope (another unit's member) reads as missing. Locked as for a change: a second
    // submission or resubmission for the member waits, then sees this one's application.
    if (!(await lockMemberInScope(tx, s.memberId, null, scope, 'change'))) throw notFound('Member', 'input.memberId');
    await refuseDuplicates(tx, s.memberId, s.stay, null, 'input.stay');
    const id = await store.insertApplication(tx, { memberId: s.memberId, channel: s.channel, stay: s.stay, submittedBy: actor.subject, submittedRole: actor.role });
    const documents = await linkDocuments(tx, keys, { id, memberId: s.memberId, round: 1 }, s.attachments, actor);
    await recordAudit(tx, actor, {
      action: 'application.submit', targetType: 'Application', targetId: String(id),
      details: { memberId: s.memberId, channel: s.channel, ...stayFacts(s.stay), documents },
    });
    return reload(tx, id);
  });
}

/** A RETURNED application, fixed: SUBMITTED again, in its next round. */
export async function resubmitApplication(
  db: pg.Pool, keys: PersonalDataKeys, id: number, scope: Scope, stay: ApplicationStay, attachments: readonly NewAttachment[], actor: Actor,
): Promise<ApplicationRow> {
  return inTransaction(db, async (tx) => {
    // Its member locked as a submission locks it: one at a time checks the member's stays.
    const current = await store.lockApplication(tx, id, scope, 'change');
    if (!current) throw notFound('Application', 'input.applicationId');
    if (current.status !== 'RETURNED') throw conflict(`input.applicationId: the application is ${current.status}; only a RETURNED one is resubmitted`, 'input.applicationId');
    await refuseDuplicates(tx, current.memberId, stay, id, 'input.stay');
    await store.resubmitApplication(tx, id, stay, actor);
    const documents = await linkDocuments(tx, keys, { id, memberId: current.memberId, round: current.round + 1 }, attachments, actor);
    await recordAudit(tx, actor, {
      action: 'application.resubmit', targetType: 'Application', targetId: String(id),
      details: { memberId: current.memberId, round: current.round + 1, ...stayFacts(stay), documents },
    });
    return reload(tx, id);
  });
}

export interface Acceptance {
  application: ApplicationRow;
  /** The settlement it became, to hand to the match queue; null when it was accepted before (nothing done now). */
  newSettlementId: number | null;
}

/**
 * Accepts a SUBMITTED application: its settlement is stored (matched and adjudicated after the
 * commit, by the caller's enqueue), the member told, the decision audited. Accepting an ACCEPTED one
 * again does nothing. Four eyes: no one who submitted any round of it, staff for the member or the
 * member themselves (by subject), may accept it, nor approve the claim it becomes (src/benefits/review.ts
 * `reviewRefusal`, an appeal upheld, a re-decision; trigger claims_applicant_four_eyes, 0069); and only
 * the round the reviewer checked is accepted. Returning stays open to them: it only delays the member's own claim.
 */
export async function acceptApplication(db: pg.Pool, keys: PersonalDataKeys, id: number, round: number, scope: Scope, actor: Actor): Promise<Acceptance> {
  return inTransaction(db, async (tx) => {
    const current = await store.lockApplication(tx, id, scope);
    if (!current) throw notFound('Application', 'input.applicationId');
    if (current.status === 'ACCEPTED') return { application: current, newSettlementId: null };
    if (current.status !== 'SUBMITTED') throw conflict(`input.applicationId: the application is ${current.status}; only a SUBMITTED one is accepted`, 'input.applicationId');
    refuseOtherRound(current, round);
    // Staff who submitted any round, not only the last submitter: a member's resubmission does not hide who entered it.
    if (current.enteredBy.includes(actor.subject)) {
      throw conflict(`input.applicationId: ${actor.subject} filed this application for the member and cannot also accept it; another REVIEWER or ADMIN must`, 'input.applicationId');
    }
    // A member's subject is the person (as for an appeal's filer): whoever filed a round of their own application does not accept it in another role.
    if (current.memberSubmitters.includes(actor.subject)) {
      throw conflict(`input.applicationId: ${actor.subject} filed this application as the member and cannot also accept it; another REVIEWER or ADMIN must (four eyes)`, 'input.applicationId');
    }
    // Ordered against feed pages: a feed settlement of this stay is either seen here or caught on arrival.
    await lockStaysForAcceptance(tx);
    await refuseDuplicates(tx, current.memberId, current, id, 'input.applicationId');
    const settlementId = await settleApplication(tx, keys, {
      applicationId: id, memberId: current.memberId, hospitalCode: current.hospitalCode, medType: current.medType,
      admittedOn: current.admittedOn, dischargedOn: current.dischargedOn, diagnoses: current.diagnoses, amounts: current.amounts,
    });
    await store.acceptApplication(tx, id, actor.subject, settlementId);
    await recordNotifications(tx, [{
      memberId: current.memberId, kind: 'APPLICATION_ACCEPTED', subjectType: 'Application', subjectId: id,
      facts: { totalFeesFen: current.amounts.medfee_sumamt, admittedOn: current.admittedOn, dischargedOn: current.dischargedOn, round: current.round },
    }]);
    await recordAudit(tx, actor, {
      action: 'application.accept', targetType: 'Application', targetId: String(id),
      details: { memberId: current.memberId, round: current.round, settlementId },
    });
    return { application: await reload(tx, id), newSettlementId: settlementId };
  });
}

/**
 * A reviewer decides on the round they checked: a member who resubmitted in between (other figures,
 * no new document needed) would otherwise have figures accepted that nobody looked at.
 */
function refuseOtherRound(current: ApplicationRow, round: number): void {
  if (current.round !== round) {
    throw conflict(`the member resubmitted the application since round ${round}: it is round ${current.round} now; check its figures and documents again`, 'input.round');
  }
}

/** Returns a SUBMITTED application to the member with what to fix; the member is told. */
export async function returnApplication(
  db: pg.Pool, id: number, round: number, scope: Scope, reason: ApplicationReturnReason, noteText: string, actor: Actor,
): Promise<ApplicationRow> {
  const note = reasonOf('input.note', noteText);
  if (note.length > 500) throw invalid('input.note', 'must be at most 500 characters');
  return inTransaction(db, async (tx) => {
    const current = await store.lockApplication(tx, id, scope);
    if (!current) throw notFound('Application', 'input.applicationId');
    if (current.status !== 'SUBMITTED') throw conflict(`input.applicationId: the application is ${current.status}; only a SUBMITTED one is returned`, 'input.applicationId');
    refuseOtherRound(current, round);
    await store.returnApplication(tx, id, actor.subject, reason, note);
    // The note is the reviewer's free text: the message names the reason code only.
    await recordNotifications(tx, [{
      memberId: current.memberId, kind: 'APPLICATION_RETURNED', subjectType: 'Application', subjectId: id,
      eventKey: `round-${current.round}`, facts: { reasonCode: reason, round: current.round },
    }]);
    await recordAudit(tx, actor, {
      action: 'application.return', targetType: 'Application', targetId: String(id), reason: note,
      details: { memberId: current.memberId, round: current.round, returnReason: reason },
    });
    return reload(tx, id);
  });
}
