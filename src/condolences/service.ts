import { inTransaction } from '../db/pool.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { UNSCOPED, type Scope } from '../kernel/scope.ts';
import { check, checkAll, conflict, DomainError, forbidden, invalid, notFound, reasonOf } from '../kernel/errors.ts';
import { chinaToday, isIsoDate } from '../kernel/time.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { recordNotifications } from '../notifications/store.ts';
import type { CondolenceRules } from '../benefits/rules/ruleSet.ts';
import type { RuleSetCache } from '../benefits/catalogue.ts';
import { governingRuleSet } from '../benefits/governing.ts';
import { lockPlanYearEnrolments } from '../members/store/eligibility.ts';
import {
  CONDOLENCE_APPLICANTS, CONDOLENCE_DECIDERS, type CondolenceReason, type CondolenceRow,
} from './model.ts';
import * as store from './store.ts';

const amountProblem = (fen: number): string | null => (Number.isSafeInteger(fen) && fen > 0 ? null : 'must be a whole number of fen above 0');

/**
 * The condolence section of the rule set governing the worker's unit in the plan year on `on`,
 * with the rule set's id and version; refused when the rule set has none.
 */
async function condolenceRules(
  tx: Tx, ruleSets: RuleSetCache, worker: { unitId: number; organisationName: string }, planYear: number, on: string,
): Promise<{ rules: CondolenceRules; ruleSetId: string; ruleSetVersion: number }> {
  const ruleSet = await governingRuleSet(tx, { unitId: worker.unitId, planYear, on }, ruleSets);
  if (!ruleSet?.condolence) throw conflict(`the rule set of ${worker.organisationName} ${planYear} has no condolence programme`, 'input.planYear');
  return { rules: ruleSet.condolence, ruleSetId: ruleSet.id, ruleSetVersion: ruleSet.version };
}

/** Why the rule set does not pay `reason` (its section names the reasons it pays), or null. */
function unpaidReason(rules: CondolenceRules, ruleSetId: string, reason: CondolenceReason): string | null {
  return rules.reasons.includes(reason) ? null : `the rule set ${ruleSetId} pays condolences only for ${rules.reasons.join(', ')}, not ${reason}`;
}

/** One case: the worker, the reason and the day it happened. */
interface CondolenceCase {
  memberId: number;
  planYear: number;
  reason: CondolenceReason;
  occurredOn: string;
}

/**
 * Refuses `amountFen` over what is left of the per-case cap (the same case may be applied for again,
 * but what is approved for it stays within the cap) or of the worker's annual cap (approved
 * condolences of the plan year). Takes the worker-year lock first: the totals read here stay true
 * until the commit.
 */
async function checkCaps(tx: Tx, rules: CondolenceRules, c: CondolenceCase, amountFen: number, field: string): Promise<number> {
  const { memberId, planYear } = c;
  if (amountFen > rules.perCaseCapFen) throw invalid(field, `must be at most the per-case cap of ${rules.perCaseCapFen} fen (${amountFen} asked)`);
  await store.lockWorkerYear(tx, memberId, planYear);
  const approvedForCase = await store.approvedTotalOfCase(tx, c);
  if (approvedForCase + amountFen > rules.perCaseCapFen) {
    throw conflict(
      `the worker was approved ${approvedForCase} fen for this case (${c.reason} on ${c.occurredOn}); with ${amountFen} more the per-case cap of ${rules.perCaseCapFen} fen would be passed (at most ${Math.max(0, rules.perCaseCapFen - approvedForCase)} left)`,
      field,
    );
  }
  const approved = await store.approvedTotalOfWorker(tx, memberId, planYear);
  if (approved + amountFen > rules.annualCapFenPerWorker) {
    throw conflict(
      `the worker was approved ${approved} fen of condolence payments in ${planYear}; with ${amountFen} more the annual cap of ${rules.annualCapFenPerWorker} fen would be passed (at most ${Math.max(0, rules.annualCapFenPerWorker - approved)} left)`,
      field,
    );
  }
  return approved;
}

export interface ApplyForCondolence {
  memberId: number;
  planYear: number;
  reason: CondolenceReason;
  amountFen: number;
  description: string;
  /** yyyy-MM-dd, within the plan year and not after today. */
  occurredOn: string;
}

/**
 * Applies for a condolence payment for a worker on a roster in `scope` who is not enrolled in the
 * plan year, within the governing rule set's condolence caps. The worker's unit union
 * (UNIT_OPERATOR) or staff (REVIEWER, ADMIN). Audited.
 */
export async function applyForCondolence(db: Db, ruleSets: RuleSetCache, actor: Actor, scope: Scope, input: ApplyForCondolence, now = new Date()): Promise<CondolenceRow> {
  if (!(CONDOLENCE_APPLICANTS as readonly string[]).includes(actor.role)) {
    throw forbidden(`applyForCondolence needs one of the roles ${CONDOLENCE_APPLICANTS.join(', ')}; you are ${actor.role}`);
  }
  const today = chinaToday(now);
  checkAll({
    'input.planYear': Number.isInteger(input.planYear) && input.planYear >= 2000 && input.planYear <= 2100 ? null : 'must be a year from 2000 to 2100',
    'input.amountFen': amountProblem(input.amountFen),
    'input.occurredOn': !isIsoDate(input.occurredOn) ? 'must be a date (yyyy-MM-dd)'
      : input.occurredOn > today ? `must not be after today (${today})`
      : input.occurredOn.slice(0, 4) !== String(input.planYear) ? `must fall in the plan year ${input.planYear}` : null,
  });
  const description = reasonOf('input.description', input.description);
  await ruleSets.ensureShipped(db);
  return inTransaction(db, async (tx) => {
    const worker = await store.workerInScope(tx, input.memberId, input.planYear, scope);
    if (!worker) throw notFound('worker', 'input.memberId');
    if (worker.enrolled) {
      throw conflict(
        `the worker is enrolled in the mutual-aid plan of ${input.planYear}: their medical costs are claimed (claims), not paid as a condolence`,
        'input.memberId',
      );
    }
    const { rules, ruleSetId, ruleSetVersion } = await condolenceRules(tx, ruleSets, worker, input.planYear, input.occurredOn);
    const unpaid = unpaidReason(rules, ruleSetId, input.reason);
    if (unpaid) throw conflict(unpaid, 'input.reason');
    const approvedBefore = await checkCaps(
      tx, rules, { memberId: worker.memberId, planYear: input.planYear, reason: input.reason, occurredOn: input.occurredOn }, input.amountFen, 'input.amountFen',
    );
    const funderId = await store.funderIdByCode(tx, rules.funder);
    // A rule set naming an unknown funder is refused when proposed: this is a fault, not input.
    if (funderId === null) throw new Error(`rule set ${ruleSetId} v${ruleSetVersion} names funder ${rules.funder}, which does not exist`);
    const condolence = await store.insertCondolence(tx, {
      memberId: worker.memberId, planYear: input.planYear, reason: input.reason, description, occurredOn: input.occurredOn,
      requestedFen: input.amountFen, funderId, ruleSetId, ruleSetVersion, appliedBy: actor.subject, appliedRole: actor.role,
    });
    await recordAudit(tx, actor, {
      action: 'condolence.apply', targetType: 'Condolence', targetId: String(condolence.id), reason: description,
      details: {
        memberId: worker.memberId, planYear: input.planYear, reason: input.reason, requestedFen: input.amountFen, funder: rules.funder,
        ruleSet: `${ruleSetId} v${ruleSetVersion}`, approvedBefore,
      },
    });
    return condolence;
  });
}

const deciderRefusal = (actor: Actor): DomainError | null => ((CONDOLENCE_DECIDERS as readonly string[]).includes(actor.role)
  ? null
  : forbidden(`deciding condolences needs the role ${CONDOLENCE_DECIDERS.join(' or ')}; you are ${actor.role}`));

/**
 * Why `actor` may not approve or reject the condolence now, or null: a REVIEWER or ADMIN, the
 * condolence PENDING, and not its applicant (four eyes; the CHECK condolences_four_eyes refuses it
 * too). `viewerCanDecide` shows it.
 */
export function decideRefusal(actor: Actor, c: Pick<CondolenceRow, 'status' | 'appliedBy'>): DomainError | null {
  return deciderRefusal(actor)
    ?? (c.status !== 'PENDING' ? conflict(`the condolence is ${c.status} already`, 'input.condolenceId') : null)
    ?? (c.appliedBy === actor.subject ? conflict(`${actor.subject} applied for this condolence and cannot decide it; another reviewer must (four eyes)`, 'input.condolenceId') : null);
}

/** Why `actor` may not withdraw the condolence now, or null: only its applicant, while PENDING. `viewerCanWithdraw` shows it. */
export function withdrawRefusal(actor: Actor, c: Pick<CondolenceRow, 'status' | 'appliedBy'>): DomainError | null {
  if (c.appliedBy !== actor.subject) return forbidden('only the person who applied may withdraw a condolence application');
  return c.status === 'PENDING' ? null : conflict(`the condolence is ${c.status} already`, 'input.condolenceId');
}

async function lockedCondolence(tx: Tx, id: number, scope: Scope): Promise<CondolenceRow> {
  const condolence = await store.lockCondolence(tx, id, scope);
  if (!condolence) throw notFound('condolence', 'input.condolenceId');
  return condolence;
}

/**
 * Approves a PENDING condolence, for the amount asked or less, in one transaction: the caps are
 * checked again under the worker-year lock (two approvals never pass the annual cap together), the
 * worker is told (CONDOLENCE_APPROVED); audited. Payout planning then pays it from its funder.
 */
export async function approveCondolence(
  db: Db, ruleSets: RuleSetCache, actor: Actor, scope: Scope, input: { condolenceId: number; amountFen?: number | null; note: string },
): Promise<CondolenceRow> {
  const notDecider = deciderRefusal(actor);
  if (notDecider) throw notDecider;
  const note = reasonOf('input.note', input.note);
  if (input.amountFen != null) check('input.amountFen', amountProblem(input.amountFen));
  await ruleSets.ensureShipped(db);
  return inTransaction(db, async (tx) => {
    // The year's enrolments wait for this approval and it for them, before any member row is locked
    // (an enrolment locks the year first too): a worker is never both enrolled and paid a condolence.
    const [seen] = await store.condolencesByIds(tx, [input.condolenceId], scope);
    if (!seen) throw notFound('condolence', 'input.condolenceId');
    await lockPlanYearEnrolments(tx, [seen.planYear], 'deciding');
    const condolence = await lockedCondolence(tx, input.condolenceId, scope);
    const refusal = decideRefusal(actor, condolence);
    if (refusal) throw refusal;
    const amountFen = input.amountFen ?? condolence.requestedFen;
    if (amountFen > condolence.requestedFen) throw invalid('input.amountFen', `must be at most the ${condolence.requestedFen} fen applied for (${amountFen} given)`);
    // Found in the caller's scope above; enrolled since the application, the worker claims instead.
    const worker = (await store.workerInScope(tx, condolence.memberId, condolence.planYear, UNSCOPED))!;
    if (worker.enrolled) throw conflict(`the worker has been enrolled in ${condolence.planYear} since the application: their costs are claimed, reject this`, 'input.condolenceId');
    const { rules, ruleSetId } = await condolenceRules(tx, ruleSets, worker, condolence.planYear, condolence.occurredOn);
    // Moved to a unit under other rules since the application: its caps and fund are not the ones applied for.
    if (ruleSetId !== condolence.ruleSetId || await store.funderIdByCode(tx, rules.funder) !== condolence.funderId) {
      throw conflict(
        `the worker's unit is governed by the rule set ${ruleSetId} (fund ${rules.funder}) since the application under ${condolence.ruleSetId}: reject this and apply again under the rules that govern the worker now`,
        'input.condolenceId',
      );
    }
    // A later version of the same rule set may have stopped paying the reason applied for.
    const unpaid = unpaidReason(rules, ruleSetId, condolence.reason);
    if (unpaid) throw conflict(`${unpaid} (changed since the application): reject this`, 'input.condolenceId');
    await checkCaps(tx, rules, condolence, amountFen, 'input.amountFen');
    const approved = await store.decideCondolence(tx, condolence.id, {
      status: 'APPROVED', approvedFen: amountFen, decidedBy: actor.subject, decidedRole: actor.role, note,
    });
    await recordNotifications(tx, [{
      memberId: approved.memberId, kind: 'CONDOLENCE_APPROVED', subjectType: 'Condolence', subjectId: approved.id,
      facts: { amountFen, reason: approved.reason },
    }]);
    await recordAudit(tx, actor, {
      action: 'condolence.approve', targetType: 'Condolence', targetId: String(approved.id), reason: note,
      details: { memberId: approved.memberId, planYear: approved.planYear, requestedFen: approved.requestedFen, approvedFen: amountFen },
    });
    return approved;
  });
}

/** Rejects a PENDING condolence (a REVIEWER or ADMIN who did not apply); audited. */
export async function rejectCondolence(db: Db, actor: Actor, scope: Scope, input: { condolenceId: number; reason: string }): Promise<CondolenceRow> {
  const notDecider = deciderRefusal(actor);
  if (notDecider) throw notDecider;
  const reason = reasonOf('input.reason', input.reason);
  return inTransaction(db, async (tx) => {
    const condolence = await lockedCondolence(tx, input.condolenceId, scope);
    const refusal = decideRefusal(actor, condolence);
    if (refusal) throw refusal;
    const rejected = await store.decideCondolence(tx, condolence.id, {
      status: 'REJECTED', approvedFen: null, decidedBy: actor.subject, decidedRole: actor.role, note: reason,
    });
    await recordAudit(tx, actor, { action: 'condolence.reject', targetType: 'Condolence', targetId: String(rejected.id), reason });
    return rejected;
  });
}

/** The applicant withdraws a PENDING condolence; audited. */
export async function withdrawCondolence(db: Db, actor: Actor, scope: Scope, input: { condolenceId: number; reason: string }): Promise<CondolenceRow> {
  const reason = reasonOf('input.reason', input.reason);
  return inTransaction(db, async (tx) => {
    const condolence = await lockedCondolence(tx, input.condolenceId, scope);
    const refusal = withdrawRefusal(actor, condolence);
    if (refusal) throw refusal;
    const withdrawn = await store.decideCondolence(tx, condolence.id, { status: 'WITHDRAWN', approvedFen: null, decidedBy: null, decidedRole: null, note: reason });
    await recordAudit(tx, actor, { action: 'condolence.withdraw', targetType: 'Condolence', targetId: String(withdrawn.id), reason });
    return withdrawn;
  });
}
