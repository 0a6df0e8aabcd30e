import type { Queue } from 'bullmq';
import { inTransaction } from '../db/pool.ts';
import { clearStaleJobIds } from '../queues.ts';
import { enqueueRedecisions, redecisionJobId } from './queue.ts';
import type { Db, Queryable, Tx } from '../kernel/transaction.ts';
import { conflict, forbidden, notFound } from '../kernel/errors.ts';
import type { Scope } from '../kernel/scope.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { recordNotifications } from '../notifications/store.ts';
import { evaluateBenefits, paidSoFar, type BenefitResult, type EnrolmentFacts, type PlanYearTotals } from './rules/engine.ts';
import { PROGRAMMES, type Programme, type RuleSet } from './rules/ruleSet.ts';
import { bilingual } from './rules/explain.ts';
import { ruleSetOf, type RuleSetCache } from './catalogue.ts';
import {
  approvalBarRefusal, benefitLinesOf, claimStatusOf, enrolmentFactsOf, enrolmentsCovered, governingKeyOf, heldBySameStay, sameStaysMayPay, sameStayWarning, settlementFacts, totalsOf, withSameStayWarnings,
} from './decision.ts';
import { governingRuleSets } from './governing.ts';
import { benefitSettings } from './settings.ts';
import { heldTotals, MUTABLE_REFUSALS, type BenefitTotalsRow, type ClaimStatus, type PendingSettlementRow, type RedecisionCause } from './model.ts';
import type { RedecidedClaim } from './store.ts';
import * as store from './store.ts';

/**
 * Re-decision (重新核定): a refused claim decided again when a fact it was refused for changed (the
 * unit paid, the enrolment was added or corrected), or on appeal. One transaction per claim, with
 * the locks of adjudication in its order (the member-year totals row, then the claim), so a
 * re-decision and a batch of the same member never interleave. It writes, together: the history row
 * (claim_redecisions, which the claims trigger requires before a refused claim may become payable),
 * the claim's new status, figures and facts, its new lines, the member-year totals, the
 * first-diagnosis grants, the audit entry and the CLAIM_REDECIDED notification.
 *
 * A re-decided claim is decided against the member-year totals as they stand now: claims decided
 * while it was refused keep their amounts, and it takes what room the caps have left. It is figured
 * after them, so it takes the last place in the year's order (claims.figured_seq), which says what
 * each waiting claim figured again counts before it (`refigureWaitingAfter`), not its old id.
 */
export interface RedecisionOptions {
  actor: Actor;
  cause: RedecisionCause;
  /** An appeal upheld by a reviewer: an eligible result is APPROVED even above the automatic-approval limit, decided by `actor`. */
  approve?: boolean;
  ruleSets: RuleSetCache;
  /** Eligible claims up to this (no warnings, no line paid for a targeted group) are APPROVED; default AUTO_APPROVE_MAX_FEN. */
  autoApproveMaxFen?: number;
}

export interface RedecisionOutcome {
  claimId: number;
  before: ClaimStatus;
  after: ClaimStatus;
  /** What the claim pays as decided now (`Claim.totalFen`). */
  totalFen: number;
}

export const REDECISION_ACTOR: Actor = { subject: 'redecision', role: 'SERVICE' };

/** The claim, locked, with its settlement and member-year totals (locked first); null when the claim does not exist. */
async function lockForRedecision(tx: Tx, claimId: number) {
  const key = await store.claimKey(tx, claimId);
  if (!key) return null;
  const [totals] = await store.lockTotalsOfSettlements(tx, [key.settlementId]);
  const claim = (await store.claimForRedecision(tx, claimId, { forUpdate: true }))!;
  const settlement = await store.settlementOfClaim(tx, claimId);
  // A claim's settlement stays MATCHED; a reversal cancels the claim instead.
  if (!totals || !settlement) throw conflict(`the settlement of claim ${claimId} is no longer matched`, 'input.claimId');
  // A reversal leaves a REJECTED claim as it is (nothing of it counts): deciding it again would pay a voided stay.
  if (claim.reversed) throw conflict(`the platform reversed (冲销) the settlement of claim ${claimId}: it is not decided again`, 'input.claimId');
  return { claim, settlement, totals };
}

// Facts stored before the add-on had its own start lack it: the add-on covered from the enrolment's date (null).
// Those stored before the enrolment's own date was kept lack it: unknown (the rules did not check a late renewal),
// so its appearing is no correction; a corrected date is.
const sameFacts = (a: Partial<EnrolmentFacts>, b: EnrolmentFacts) =>
  a.planYear === b.planYear && a.plan === b.plan && a.specialDisease === b.specialDisease
  && a.firstEnrolledOn === b.firstEnrolledOn && (a.enrolledOn === undefined || a.enrolledOn === b.enrolledOn)
  && (a.specialDiseaseAddedOn ?? null) === (b.specialDiseaseAddedOn ?? null) && a.contributionPaid === b.contributionPaid;

const sameCodes = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((code, i) => code === b[i]);

/** What `redecideClaim` decides again (an appeal upholds): a refused claim. */
const REFUSED: readonly ClaimStatus[] = ['INELIGIBLE', 'REJECTED'];

/**
 * Decides the claim again (an upheld appeal calls this), in the caller's transaction. Allowed from
 * INELIGIBLE and REJECTED; any other status is a CONFLICT. When the new decision is the old one
 * (still refused for the same reasons), nothing but the claim's facts changes and no history is
 * written: `after` equals `before`.
 */
export async function redecideClaim(tx: Tx, claimId: number, options: RedecisionOptions): Promise<RedecisionOutcome> {
  return redecideFrom(tx, claimId, options, REFUSED, 'only an INELIGIBLE or REJECTED claim is decided again');
}

/**
 * What upholding an appeal against the claim would approve now (`redecideClaim` with `approve`, as
 * decideAppeal upholds), changing and locking nothing: the same figuring (`figureAgain`) against the
 * member-year as it stands, for the reviewer to check before upholding (`Appeal.upholdPreview`). Null
 * where upholding is refused whatever the figures: the claim not refused, its settlement reversed
 * or no longer matched, the rules still finding it ineligible, or another claim that may pay the
 * same stay holding it. The uphold figures again under its locks and pays only the total checked.
 */
export async function upholdFigures(db: Queryable, claimId: number, ruleSets: RuleSetCache): Promise<BenefitResult | null> {
  const claim = await store.claimForRedecision(db, claimId);
  if (!claim || !REFUSED.includes(claim.status) || claim.reversed) return null;
  const settlement = await store.settlementOfClaim(db, claimId);
  if (!settlement) return null;
  const [totals] = await store.memberYearTotals(db, [settlement]);
  const { ruleSet, facts } = await currentFacts(db, settlement, ruleSets);
  const figured = await figureAgain(db, settlement, totals!, ruleSet, facts, { approve: true });
  return figured.heldBy || figured.status !== 'APPROVED' ? null : figured.result;
}

/** Decides the claim again if, under its lock, its status is one of `from`; else a CONFLICT saying `only`. */
async function redecideFrom(tx: Tx, claimId: number, options: RedecisionOptions, from: readonly ClaimStatus[], only: string): Promise<RedecisionOutcome> {
  // A claim exists, so its plan year's rule sets are stored already (no ensureShipped inside the caller's transaction).
  const locked = await lockForRedecision(tx, claimId);
  if (!locked) throw notFound('claim', 'input.claimId');
  if (!from.includes(locked.claim.status)) throw conflict(`the claim is ${locked.claim.status}; ${only}`, 'input.claimId');
  const { ruleSet, facts } = await currentFacts(tx, locked.settlement, options.ruleSets);
  return decideAgain(tx, locked, options, ruleSet, facts);
}

/**
 * Decides a claim again if it is still INELIGIBLE for a reason that can change and the facts it was
 * decided on have changed since, in its own transaction; null when there is nothing to do (already
 * re-decided, facts unchanged, not refused any more). The cause is read from the facts: the
 * contribution became paid, else the enrolment changed. Safe to call any number of times.
 */
export async function redecideIfFactsChanged(
  db: Db, claimId: number, options: Omit<RedecisionOptions, 'cause' | 'approve' | 'actor'> & { actor?: Actor },
): Promise<(RedecisionOutcome & { memberId: number; unitId: number }) | null> {
  await options.ruleSets.ensureShipped(db);
  return inTransaction(db, async (tx) => {
    const locked = await lockForRedecision(tx, claimId);
    if (!locked || locked.claim.status !== 'INELIGIBLE') return null;
    if (!locked.claim.reasonCodes.some((c) => (MUTABLE_REFUSALS as readonly string[]).includes(c))) return null;
    const { ruleSet, facts } = await currentFacts(tx, locked.settlement, options.ruleSets);
    if (sameFacts(locked.claim.facts, facts)) return null;
    const cause: RedecisionCause = !locked.claim.facts.contributionPaid && facts.contributionPaid ? 'CONTRIBUTION_PAID' : 'ENROLMENT_CHANGED';
    const outcome = await decideAgain(tx, locked, { ...options, actor: options.actor ?? REDECISION_ACTOR, cause }, ruleSet, facts);
    return { ...outcome, memberId: locked.settlement.memberId, unitId: locked.settlement.unitId };
  });
}

/** The rule set governing the settlement's claim, and its enrolment's facts now under it. */
async function currentFacts(db: Queryable, s: PendingSettlementRow, cache: RuleSetCache): Promise<{ ruleSet: RuleSet; facts: EnrolmentFacts }> {
  const ruleSet = (await governingRuleSets(db, cache, [governingKeyOf(s)]))(governingKeyOf(s));
  const covered = await enrolmentsCovered(db, [{ enrolmentId: s.enrolmentId, ruleSet }]);
  return { ruleSet, facts: enrolmentFactsOf(s, covered.get(s.enrolmentId) ?? false) };
}

/**
 * The settlement's claim figured again on `facts` under `ruleSet`, against its member-year as
 * `totals` leave it, after every claim it counts: the result (with the same stay's warnings), the
 * status it takes, and, for an approval (`approve`, an upheld appeal), the other claim that may pay
 * the same stay and holds it back, or null. A re-decision calls it under its locks; `upholdFigures` without.
 */
async function figureAgain(
  db: Queryable, s: PendingSettlementRow, totals: BenefitTotalsRow, ruleSet: RuleSet, facts: EnrolmentFacts,
  options: Pick<RedecisionOptions, 'approve' | 'autoApproveMaxFen'>,
) {
  const before: PlanYearTotals = totalsOf(totals);
  const groups = (await store.grantedDiseaseGroups(db, [s.memberId])).get(s.memberId) ?? [];
  const sameStay = (await sameStaysMayPay(db, [s.id])).get(s.id);
  const computed = evaluateBenefits(ruleSet, { settlement: settlementFacts(s), enrolment: facts, planYearTotals: before, priorDiseaseGroups: groups });
  // An upheld appeal approves past the rules' warnings, but not past another claim that may pay the same stay.
  const heldBy = options.approve && heldBySameStay(computed, sameStay) ? sameStay[0]! : null;
  const result = withSameStayWarnings(computed, sameStay);
  const status = claimStatusOf(result, options.autoApproveMaxFen ?? benefitSettings().AUTO_APPROVE_MAX_FEN, options.approve);
  return { before, result, status, heldBy };
}

/** Decides the locked claim again on `facts` (its enrolment's facts now) under `ruleSet`. */
async function decideAgain(
  tx: Tx, { claim, settlement: s, totals }: NonNullable<Awaited<ReturnType<typeof lockForRedecision>>>, options: RedecisionOptions,
  ruleSet: RuleSet, facts: EnrolmentFacts,
): Promise<RedecisionOutcome> {
  const { actor, cause } = options;
  // As an approval: a re-decision may approve, and the other claim of the stay may be of another plan year.
  await store.lockMemberApprovals(tx, s.memberId);
  const { before, result, status, heldBy } = await figureAgain(tx, s, totals, ruleSet, facts, options);
  if (heldBy) throw conflict(`${sameStayWarning(heldBy)}: the appeal is upheld only once that claim is refused; or dismiss it`, 'input.decision');
  // An approval here is the actor's (decided_by): not one of whom the claim's approval is barred to,
  // e.g. the unit operator who entered the member's application asking for it again (0057, 0069).
  if (status === 'APPROVED') {
    const barred = approvalBarRefusal(
      actor.subject, await store.approvalBarsOfClaim(tx, claim.id), 'have it approved in their name by deciding it again', 'the re-decision sweep or another person', 'input.claimId',
    );
    if (barred) throw barred;
  }

  // Still refused: an INELIGIBLE claim whose reasons are the same keeps its decision (only its facts
  // move on, so the change is not seen again); a REJECTED one stays REJECTED.
  if (status === 'INELIGIBLE' && (claim.status === 'REJECTED' || sameCodes(claim.reasonCodes, result.reasonCodes))) {
    if (claim.status === 'INELIGIBLE') await store.updateClaimFacts(tx, claim.id, facts);
    return { claimId: claim.id, before: claim.status, after: claim.status, totalFen: claim.totalFen };
  }

  // A rejected claim left the count when it was rejected; an ineligible one never did.
  // Figured against the year as it stands, after every claim it counts: it takes the last place in the year's order.
  const redecisionId = await writeRedecision(
    tx, claim, s, { result, status, before, ruleSet, facts, cause, actor, figuredLast: true }, claim.status === 'REJECTED' ? 1 : 0,
  );
  await recordNotifications(tx, [{
    memberId: s.memberId, kind: 'CLAIM_REDECIDED', subjectType: 'Claim', subjectId: claim.id, eventKey: String(redecisionId),
    facts: {
      cause, before: claim.status, after: status, status, amountFen: result.totalFen, planYear: s.planYear,
      reasonCodes: result.reasonCodes.join(','), reasonCode: result.reasonCodes[0] ?? null,
    },
  }]);
  await recordAudit(tx, actor, {
    action: 'claim.redecide', targetType: 'Claim', targetId: String(claim.id),
    details: {
      cause, redecisionId, before: claim.status, after: status, totalFen: result.totalFen, ruleSet: `${ruleSet.id}@${ruleSet.version}`,
      previousReasonCodes: claim.reasonCodes, reasonCodes: result.reasonCodes, approve: options.approve ?? false,
    },
  });
  return { claimId: claim.id, before: claim.status, after: status, totalFen: result.totalFen };
}

/** A claim's new decision as `writeRedecision` stores it. */
interface NewDecision {
  result: BenefitResult;
  status: ClaimStatus;
  /** The member-year totals it was decided against. */
  before: PlanYearTotals;
  ruleSet: RuleSet;
  facts: EnrolmentFacts;
  cause: RedecisionCause;
  actor: Actor;
  /** Figured after every claim of the year (it moves to the last place of the year's order), or in its place (it keeps it). */
  figuredLast: boolean;
}

/**
 * Stores a claim's new decision (its lines, grants and what it adds to the member-year totals, the
 * history row first), in place of its old one: the caller has taken what the old lines held out of
 * the totals, or they held nothing. `counted`: 1 when the claim enters the year's count again.
 */
async function writeRedecision(
  tx: Tx, claim: Pick<RedecidedClaim, 'id' | 'status' | 'reasonCodes' | 'totalFen'>, s: PendingSettlementRow,
  { result, status, before, ruleSet, facts, cause, actor, figuredLast }: NewDecision, counted: number,
): Promise<number> {
  const redecisionId = await store.insertRedecision(tx, {
    claimId: claim.id, cause, previousStatus: claim.status, previousReasonCodes: claim.reasonCodes, previousTotalFen: claim.totalFen,
    previousLines: await store.linesOfClaimForHistory(tx, claim.id), newStatus: status, newReasonCodes: result.reasonCodes,
    newTotalFen: result.totalFen, ruleSetId: ruleSet.id, ruleSetVersion: ruleSet.version, decidedBy: actor.subject,
  });
  await store.deleteRefusedLines(tx, claim.id);
  await store.updateRedecidedClaim(tx, claim.id, {
    status, eligible: result.eligible, totalFen: result.totalFen, reasons: result.reasons.map((r) => bilingual(r.text)),
    reasonCodes: result.reasonCodes, warnings: result.warnings, outOfPocketFen: result.planYearTotalsAfter.outOfPocket - before.outOfPocket,
    ruleSetId: ruleSet.id, ruleSetVersion: ruleSet.version, facts, totalsBefore: before,
    decidedBy: status === 'APPROVED' ? actor.subject : null, decisionReason: `decided again: ${cause}`, figuredLast,
  });
  await store.insertBenefitLines(tx, benefitLinesOf(claim.id, result, status));
  const grants = result.diseaseGroupsGranted.map((diseaseGroup) => ({ memberId: s.memberId, diseaseGroup, claimId: claim.id }));
  if ((await store.grantDiseaseGroups(tx, grants)) !== grants.length) {
    throw new Error('a first-diagnosis grant was taken concurrently by another plan year; retrying the re-decision');
  }
  const after = result.planYearTotalsAfter;
  await store.addToTotals(tx, s.memberId, s.planYear, {
    INPATIENT: after.INPATIENT - before.INPATIENT, CRITICAL: after.CRITICAL - before.CRITICAL, MAJOR_DISEASE: after.MAJOR_DISEASE - before.MAJOR_DISEASE,
    PROVINCIAL_SUBSIDY: paidSoFar(after, 'PROVINCIAL_SUBSIDY') - paidSoFar(before, 'PROVINCIAL_SUBSIDY'), outOfPocket: after.outOfPocket - before.outOfPocket,
    claims: counted,
  });
  return redecisionId;
}

const WHOLE_FACTS = ['planYear', 'plan', 'specialDisease', 'firstEnrolledOn', 'contributionPaid'] as const;

/**
 * A reviewer's rejection of a claim, a line of it lowered, or the platform's reversal of its
 * settlement (冲销, adjudicate.ts) releases what it held of its member-year: room under the annual caps, out-of-pocket toward a threshold, a first-diagnosis grant.
 * The member-year's claims figured after it that still wait for a reviewer were figured with it
 * counted (the stay's other copy, kept while this one is rejected, paid no lump sum because this one
 * held it; a later stay crossed the out-of-pocket threshold only with it): each is figured again
 * (cause EARLIER_CLAIM_RELEASED), in the order they were figured (claims.figured_seq: a claim decided
 * again came after every claim counted then, whatever its id), on the facts and rule set it was
 * decided on, after the claims figured before it as they stand now (its caps against every other
 * claim), keeping its place, and keeps waiting for its reviewer. A line a
 * reviewer lowered pays at most what they lowered it to (their adjustment stays, with its reason).
 * One whose figures come out the same is left as it is; claims decided already keep their amounts.
 * In the reviewer's (or the adjudication batch's) transaction, under the member-year's lock. Returns the claims figured again.
 */
export async function refigureWaitingAfter(tx: Tx, released: { id: number; memberId: number; planYear: number }, actor: Actor): Promise<number[]> {
  const refigured: number[] = [];
  for (const waiting of await store.waitingClaimsAfter(tx, released.id, released.memberId, released.planYear)) {
    // Facts stored before claims kept them whole cannot be decided on again.
    if (!WHOLE_FACTS.every((f) => waiting.facts[f] !== undefined)) continue;
    const facts = waiting.facts as EnrolmentFacts;
    const s = (await store.settlementOfClaim(tx, waiting.id))!;
    const [row] = await store.ruleSetVersions(tx, [{ id: waiting.ruleSetId, version: waiting.ruleSetVersion }]);
    const ruleSet = ruleSetOf(row!);
    const lines = await store.payableLinesOfClaim(tx, waiting.id);
    const held = heldTotals(lines, waiting.outOfPocketFen);
    const ownGroups = await store.grantsOfClaim(tx, waiting.id);
    const [totals] = await store.lockTotalsOfSettlements(tx, [s.id]);
    const now = totalsOf(totals!);
    // The year's running totals as the claims decided before it leave them (the thresholds count up to
    // it: counting later claims' out-of-pocket too paid it the year's top slice again), and each
    // annual cap against every other claim, later ones included (as releaseFromTotals leaves the year).
    const earlier = await store.heldBefore(tx, waiting.id, s.memberId, s.planYear);
    const before = heldTotals(earlier.lines, earlier.outOfPocketFen);
    const capsPaidBefore = Object.fromEntries(PROGRAMMES.map((p) => [p, Math.max(0, paidSoFar(now, p) - paidSoFar(held, p), paidSoFar(before, p))]));
    const groups = ((await store.grantedDiseaseGroups(tx, [s.memberId])).get(s.memberId) ?? []).filter((g) => !ownGroups.includes(g));
    const result = withSameStayWarnings(
      evaluateBenefits(ruleSet, { settlement: settlementFacts(s), enrolment: facts, planYearTotals: before, capsPaidBefore, priorDiseaseGroups: groups }),
      (await sameStaysMayPay(tx, [s.id])).get(s.id),
    );
    const adjustmentOf = (p: Programme) => lines.find((l) => l.programme === p)?.adjustment ?? null;
    const payable = (l: { programme: Programme; amountFen: number }) => Math.min(l.amountFen, adjustmentOf(l.programme)?.fen ?? Infinity);
    const grantsAfter = result.lines.some((l) => l.programme === 'MAJOR_DISEASE' && payable(l) === 0) ? [] : [...result.diseaseGroupsGranted].sort();
    const unchanged = result.lines.length === lines.length
      && result.lines.every((l) => paidSoFar(held, l.programme) === payable(l))
      && sameCodes(grantsAfter, ownGroups)
      && result.planYearTotalsAfter.outOfPocket - before.outOfPocket === waiting.outOfPocketFen;
    if (unchanged) continue;
    await store.releaseFromTotals(tx, s.memberId, s.planYear, held);
    await store.releaseDiseaseGroupGrants(tx, waiting.id);
    // Still waiting: the reviewer decides it, on these figures. Figured in its place, it keeps it.
    const redecisionId = await writeRedecision(
      tx, waiting, s, { result, status: 'PENDING_REVIEW', before, ruleSet, facts, cause: 'EARLIER_CLAIM_RELEASED', actor, figuredLast: false }, 1,
    );
    const lineIds = await store.lineIdsOfClaim(tx, waiting.id);
    for (const l of result.lines) {
      const adjustment = adjustmentOf(l.programme);
      if (!adjustment || adjustment.fen >= l.amountFen) continue;
      await store.adjustLine(
        tx, { id: lineIds.get(l.programme)!, claimId: waiting.id, programme: l.programme, memberId: s.memberId, planYear: s.planYear },
        adjustment.fen, l.amountFen - adjustment.fen, adjustment.reason, adjustment.by,
      );
    }
    await recordAudit(tx, actor, {
      action: 'claim.redecide', targetType: 'Claim', targetId: String(waiting.id),
      details: {
        cause: 'EARLIER_CLAIM_RELEASED', redecisionId, releasedBy: released.id, before: 'PENDING_REVIEW', after: 'PENDING_REVIEW',
        previousTotalFen: waiting.totalFen, computedFen: result.totalFen, ruleSet: `${ruleSet.id}@${ruleSet.version}`,
      },
    });
    refigured.push(waiting.id);
  }
  return refigured;
}

const DUE_PAGE = 1000;

/**
 * The INELIGIBLE claims refused for a reason that can change whose facts differ now from those they
 * were decided on (the unit's payments cover the enrolment now, the enrolment was corrected): the
 * work of the re-decision sweeper, read without locks (each is checked again under its lock).
 */
export async function redecisionsDue(db: Queryable, cache: RuleSetCache): Promise<number[]> {
  await cache.ensureShipped(db);
  const due: number[] = [];
  for (let after = 0; ;) {
    const refused = await store.refusedClaimsWithFacts(db, MUTABLE_REFUSALS, after, DUE_PAGE);
    if (!refused.length) break;
    const ruleSetOf = await governingRuleSets(db, cache, refused.map(governingKeyOf));
    const covered = await enrolmentsCovered(db, refused.map((r) => ({ enrolmentId: r.enrolmentId, ruleSet: ruleSetOf(governingKeyOf(r)) })));
    for (const r of refused) {
      if (!sameFacts(r.facts, { ...r.current, contributionPaid: covered.get(r.enrolmentId) ?? false })) due.push(r.claimId);
    }
    after = refused.at(-1)!.claimId;
  }
  return due;
}

/** Who may ask for a re-decision through the API (a UNIT_OPERATOR within their unit). */
export const REDECIDERS = ['ADMIN', 'REVIEWER', 'UNIT_OPERATOR'] as const;

/**
 * A re-decision asked for by staff (cause CORRECTION), of an INELIGIBLE claim within `scope`: out of
 * scope is NOT_FOUND as if it did not exist; a REJECTED claim is reconsidered only by appeal (a
 * reviewer's rejection is not undone by asking again), any other status is a CONFLICT.
 */
export async function redecideInScope(db: Db, actor: Actor, scope: Scope, claimId: number, ruleSets: RuleSetCache): Promise<RedecisionOutcome> {
  if (!(REDECIDERS as readonly string[]).includes(actor.role)) throw forbidden(`deciding a claim again needs the role ${REDECIDERS.join(', ')}; you are ${actor.role}`);
  await ruleSets.ensureShipped(db);
  return inTransaction(db, async (tx) => {
    if (!(await store.claimInScope(tx, claimId, scope))) throw notFound('claim', 'input.claimId');
    // The status is checked under the claim's lock: read before it, a claim re-decided and then rejected
    // by a reviewer in between would pass as INELIGIBLE and have the rejection undone.
    return redecideFrom(tx, claimId, { actor, cause: 'CORRECTION', ruleSets }, ['INELIGIBLE'], 'only an INELIGIBLE claim is decided again on request (a rejected one by appeal)');
  });
}

/**
 * A re-decision job for each refused claim whose facts changed; returns how many. Called by the
 * benefits sweep and, for promptness, right after a step that changes the facts (a roster import, a
 * reconciliation run, a payment recorded through the API): the worker decides each under its lock.
 */
export async function enqueueDueRedecisions(db: Queryable, queue: Queue, ruleSets: RuleSetCache): Promise<number> {
  const due = await redecisionsDue(db, ruleSets);
  await clearStaleJobIds(queue, due.map(redecisionJobId));
  await enqueueRedecisions(queue, due);
  return due.length;
}
