import { canMove } from '../kernel/transitions.ts';
import { inTransaction } from '../db/pool.ts';
import type { Db, Queryable, Tx } from '../kernel/transaction.ts';
import { recordAudits, type Actor, type AuditRow } from '../audit/audit.ts';
import { enrolmentCoverageFigures } from '../members/store/coverage.ts';
import { contributionCovered } from '../members/model.ts';
import { recordNotifications } from '../notifications/store.ts';
import type { NewNotification } from '../notifications/model.ts';
import { evaluateBenefits, paidSoFar, type BenefitResult, type EnrolmentFacts, type PlanYearTotals, type SettlementFacts } from './rules/engine.ts';
import type { RuleSet } from './rules/ruleSet.ts';
import { bilingual, cny } from './rules/explain.ts';
import { otherSettlementsOfStays, type OtherSettlementOfStay } from '../settlements/store/applications.ts';
import { RuleSetCache } from './catalogue.ts';
import { governingRuleSets, settledOn } from './governing.ts';
import { CLAIM_TRANSITIONS, type BenefitTotalsRow, type ClaimStatus, type PendingSettlementRow, type ReversalOutcome } from './model.ts';
import * as store from './store.ts';
import { formatChinaTime } from '../kernel/time.ts';

/**
 * The adjudication step: matched settlements in, claims with benefit lines out, in one transaction
 * per batch (two when another batch holds some of its member-years). The member-year totals rows
 * are locked first (FOR UPDATE, in (member_id, plan_year) order, so concurrent batches cannot
 * deadlock), and only then is it decided which settlements still need a claim: a batch holding a
 * member's row sees every claim committed for that member before, so two settlements of one member
 * can never pass a cap together. The first transaction skips the rows another holds; the settlements
 * of those are decided in a second one that waits for them.
 * Idempotent: a settlement with a claim (a reversal with its claim_reversals row) is skipped.
 */
export interface AdjudicationOptions {
  /** Claims with a total at most this (no warnings, no line paid for a targeted group) are APPROVED; others wait in PENDING_REVIEW. */
  autoApproveMaxFen: number;
  actor?: Actor;
  /** The process's rule sets of this database (a worker keeps one); without it, each call reads them afresh. */
  ruleSets?: RuleSetCache;
}

export interface AdjudicationOutcome {
  settlementId: number;
  claimId: number;
  /** The new claim's status; for a reversal, the status of the claim it cancelled (CANCELLED). */
  status: ClaimStatus;
  reversal: boolean;
  /** Whose claim, under which unit's enrolment (status-change announcements). */
  memberId: number;
  unitId: number;
}

export const ADJUDICATION_ACTOR: Actor = { subject: 'adjudication', role: 'SERVICE' };

interface TotalsState extends PlanYearTotals {
  PROVINCIAL_SUBSIDY: number;
  claims: number;
}

const key = (memberId: number, planYear: number) => `${memberId}:${planYear}`;

export async function adjudicateSettlements(db: Db, ids: readonly number[], options: AdjudicationOptions): Promise<AdjudicationOutcome[]> {
  if (!ids.length) return [];
  const ruleSets = options.ruleSets ?? new RuleSetCache();
  await ruleSets.ensureShipped(db);
  // First the member-years no other batch holds; then, in a second transaction that waits for their
  // locks, the settlements of those another batch held. Two batches sharing one member no longer
  // wait for each other's whole transaction before deciding anything.
  await store.ensureTotalsOfSettlements(db, ids);
  const first = await inTransaction(db, (tx) => adjudicateInTransaction(tx, ids, options, ruleSets, 'skip held'));
  if (!first.deferred.length) return first.outcomes;
  const rest = await inTransaction(db, (tx) => adjudicateInTransaction(tx, first.deferred, options, ruleSets, 'wait'));
  return [...first.outcomes, ...rest.outcomes];
}

/**
 * One adjudication transaction. `skip held`: member-years another transaction holds are not waited
 * for; their settlements come back `deferred`. `wait`: every member-year is locked, waiting if need be.
 */
async function adjudicateInTransaction(
  tx: Tx, ids: readonly number[], options: AdjudicationOptions, ruleSetCache: RuleSetCache, held: 'skip held' | 'wait',
): Promise<{ outcomes: AdjudicationOutcome[]; deferred: number[] }> {
  const actor = options.actor ?? ADJUDICATION_ACTOR;
  const locked = held === 'wait' ? await store.lockTotalsOfSettlements(tx, ids) : await store.lockFreeTotalsOfSettlements(tx, ids);
  const totals = new Map(locked.map((r) => [key(r.memberId, r.planYear), { ...totalsOf(r), claims: r.claims } satisfies TotalsState]));
  // Decided only now, under the locks: a claim committed by the batch that held a member-year is seen.
  // A settlement matched since the locks were taken has none here either: deferred too (in the
  // second transaction, left to its own match step's job and the sweep).
  const unadjudicated = await store.pendingSettlements(tx, ids);
  const pending = unadjudicated.filter((s) => totals.has(key(s.memberId, s.planYear)));
  const deferred = unadjudicated.filter((s) => !totals.has(key(s.memberId, s.planYear))).map((s) => s.id);
  if (!pending.length) return { outcomes: [], deferred };

  const audits: AuditRow[] = [];
  const outcomes: AdjudicationOutcome[] = [];
  // Reversals first: the claims they cancel no longer count when the batch's settlements are decided
  // (a stay settled again, 冲正 then 重新结算, in one feed page is decided against the year without its
  // first settlement), and an original in this batch is cancelled before adjudication, never decided.
  const reversals = pending.filter((s) => s.kind === 'REVERSAL');
  for (const r of reversals) {
    const outcome = await reverseClaim(tx, r, totals);
    outcomes.push(outcome.outcome);
    audits.push({ actor, action: 'claim.reverse', targetType: 'Claim', targetId: String(outcome.outcome.claimId), details: outcome.details });
  }
  const reversed = new Set(reversals.map((r) => r.reversesId));
  const settlements = pending.filter((s) => s.kind === 'SETTLEMENT' && !reversed.has(s.id));
  const memberIds = [...new Set(settlements.map((s) => s.memberId))];
  const ruleSetOf = await governingRuleSets(tx, ruleSetCache, settlements.map(governingKeyOf));
  const covered = await enrolmentsCovered(tx, settlements.map((s) => ({ enrolmentId: s.enrolmentId, ruleSet: ruleSetOf(governingKeyOf(s)) })));
  const prior = await store.grantedDiseaseGroups(tx, memberIds);
  const sameStay = await sameStaysMayPay(tx, settlements.map((s) => s.id));

  // Decide each claim in settlement order (time, then id), carrying each member-year's running totals along.
  const decided: { s: PendingSettlementRow; ruleSet: RuleSet; result: BenefitResult; status: ClaimStatus; facts: EnrolmentFacts; before: PlanYearTotals }[] = [];
  for (const s of settlements) {
    const state = totals.get(key(s.memberId, s.planYear))!;
    const ruleSet = ruleSetOf(governingKeyOf(s));
    const facts = enrolmentFactsOf(s, covered.get(s.enrolmentId) ?? false);
    const before: PlanYearTotals = {
      INPATIENT: state.INPATIENT, CRITICAL: state.CRITICAL, MAJOR_DISEASE: state.MAJOR_DISEASE, PROVINCIAL_SUBSIDY: state.PROVINCIAL_SUBSIDY, outOfPocket: state.outOfPocket,
    };
    const groups = prior.get(s.memberId) ?? [];
    const result = withSameStayWarnings(evaluateBenefits(ruleSet, {
      settlement: settlementFacts(s), enrolment: facts, planYearTotals: before, priorDiseaseGroups: groups,
    }), sameStay.get(s.id));
    const status = claimStatusOf(result, options.autoApproveMaxFen);
    Object.assign(state, result.planYearTotalsAfter, { PROVINCIAL_SUBSIDY: paidSoFar(result.planYearTotalsAfter, 'PROVINCIAL_SUBSIDY') });
    state.claims += 1;
    if (result.diseaseGroupsGranted.length) prior.set(s.memberId, [...groups, ...result.diseaseGroupsGranted]);
    decided.push({ s, ruleSet, result, status, facts, before });
  }

  if (decided.length) {
    const claimIds = await store.insertClaims(tx, decided.map(({ s, ruleSet, result, status, facts, before }) => ({
      settlementId: s.id, memberId: s.memberId, unitId: s.unitId, enrolmentId: s.enrolmentId, planYear: s.planYear,
      setlTime: s.setlTime, ruleSetId: ruleSet.id, ruleSetVersion: ruleSet.version, status,
      eligible: result.eligible, psnPartAmt: s.amounts.psn_part_amt ?? 0, totalFen: result.totalFen,
      reasons: result.reasons.map((r) => bilingual(r.text)), reasonCodes: result.reasonCodes, warnings: result.warnings, facts, totalsBefore: before,
      outOfPocketFen: result.planYearTotalsAfter.outOfPocket - before.outOfPocket,
      decidedBy: status === 'APPROVED' ? actor.subject : null,
    })));
    // Under the member-year lock no other claim for these settlements can appear; if one did, roll back.
    if (claimIds.size !== decided.length) throw new Error('a claim for one of these settlements was stored concurrently; retrying the batch');
    const lines: store.NewBenefitLine[] = [];
    const decisions: [number, number, ClaimStatus, number, string, string[], number][] = [];
    const grants: { memberId: number; diseaseGroup: string; claimId: number }[] = [];
    const told: NewNotification[] = [];
    for (const { s, result, status, ruleSet } of decided) {
      const claimId = claimIds.get(s.id)!;
      lines.push(...benefitLinesOf(claimId, result, status));
      for (const group of result.diseaseGroupsGranted) grants.push({ memberId: s.memberId, diseaseGroup: group, claimId });
      outcomes.push({ settlementId: s.id, claimId, status, reversal: false, memberId: s.memberId, unitId: s.unitId });
      decisions.push([claimId, s.id, status, result.totalFen, `${ruleSet.id}@${ruleSet.version}`, result.reasonCodes, result.warnings.length]);
      // A claim waiting for review is not decided yet: the reviewer's decision tells the member.
      if (status !== 'PENDING_REVIEW') told.push(claimDecidedNotification(s.memberId, claimId, s.planYear, status, result.totalFen, result.reasonCodes));
    }
    await recordNotifications(tx, told);
    // One audit entry per batch names every claim decided with its facts (target_id lists the claim
    // ids): the audit chain takes one lock and one hash per transaction, not one per claim.
    audits.push({
      actor, action: 'claims.adjudicate', targetType: 'Claim', targetId: decisions.map((d) => d[0]).join(','),
      details: { fields: ['claimId', 'settlementId', 'status', 'totalFen', 'ruleSet', 'reasonCodes', 'warnings'], claims: decisions },
    });
    await store.insertBenefitLines(tx, lines);
    // Grants are per member across plan years; a claim of another year (another lock) took it first.
    // Not the caller's mistake: the job fails and is retried.
    if ((await store.grantDiseaseGroups(tx, grants)) !== grants.length) {
      throw new Error('a first-diagnosis grant was taken concurrently by another plan year; retrying the batch');
    }
  }

  await store.writeTotals(tx, [...totals].map(([k, t]): BenefitTotalsRow => {
    const [memberId, planYear] = k.split(':').map(Number) as [number, number];
    return {
      memberId, planYear, inpatientFen: t.INPATIENT, criticalFen: t.CRITICAL, majorDiseaseFen: t.MAJOR_DISEASE,
      provincialSubsidyFen: t.PROVINCIAL_SUBSIDY, outOfPocketFen: t.outOfPocket, claims: t.claims,
    };
  }));
  await recordAudits(tx, audits);
  return { outcomes, deferred };
}

/** A stored settlement as the rule engine reads it (its time as the platform writes it, China time). */
export function settlementFacts(s: Pick<PendingSettlementRow, 'id' | 'medType' | 'setlTime' | 'admittedOn' | 'diagnoses' | 'amounts'>): SettlementFacts {
  return {
    setlId: String(s.id), medType: s.medType, setlTime: formatChinaTime(s.setlTime), admittedOn: s.admittedOn, diagnoses: s.diagnoses, amountsFen: s.amounts,
  };
}

/** Claim statuses that may still pay (null: no claim yet); a refused or cancelled claim pays nothing. */
const MAY_PAY: readonly (string | null)[] = [null, 'PENDING_REVIEW', 'APPROVED'];

/**
 * By settlement id, the other settlements that may be the same stay with other figures, an accepted
 * application on one side (src/settlements/store/applications.ts says when), whose claim may still
 * pay. Paying both would pay one stay twice, so such a claim waits for a reviewer; one refused
 * (rejected as the duplicate, say) holds nothing back, and deciding it again looks again.
 */
export async function sameStaysMayPay(db: Queryable, settlementIds: readonly number[]): Promise<Map<number, OtherSettlementOfStay[]>> {
  const others = new Map<number, OtherSettlementOfStay[]>();
  for (const o of await otherSettlementsOfStays(db, settlementIds)) {
    if (MAY_PAY.includes(o.otherClaimStatus)) others.set(o.id, [...(others.get(o.id) ?? []), o]);
  }
  return others;
}

/** What a reviewer reads of another settlement that may be the claim's stay. */
export function sameStayWarning(o: OtherSettlementOfStay): string {
  return `settlement ${o.otherId} (${o.otherSetlId} from ${o.otherSource}, total ${cny(o.otherTotalFen)}, its claim ${o.otherClaimStatus ?? 'not decided yet'}) `
    + `may be the same stay (${o.otherHospitalCode === null
      ? `hospital ${o.hospitalCode}${o.hospitalUnnamed ? ', which one of the two does not name' : ''}`
      : `inpatient at ${o.hospitalCode} and at ${o.otherHospitalCode}, one person is in one hospital at a time`}, discharged ${o.dischargedOn}): one stay is paid once; `
    + 'approve this claim only if the two are different stays or the other\'s claim is refused';
}

/** Whether `others` hold back a claim of this result: it would pay something (a claim paying nothing waits for no one). */
export function heldBySameStay(result: BenefitResult, others: readonly OtherSettlementOfStay[] | undefined): others is readonly OtherSettlementOfStay[] {
  return !!others?.length && result.eligible && result.totalFen > 0;
}

/** The result with a warning for each of `others` when they hold it back. */
export function withSameStayWarnings(result: BenefitResult, others: readonly OtherSettlementOfStay[] | undefined): BenefitResult {
  return heldBySameStay(result, others) ? { ...result, warnings: [...result.warnings, ...others.map(sameStayWarning)] } : result;
}

/**
 * The status a decided claim takes: refused, waiting for a reviewer, or approved at once. `approve`:
 * a reviewer upheld it (an appeal). Every decision by the rules (adjudication, a re-decision) takes it here.
 */
export function claimStatusOf(result: BenefitResult, autoApproveMaxFen: number, approve = false): ClaimStatus {
  if (!result.eligible) return 'INELIGIBLE';
  if (approve) return 'APPROVED';
  // A line paid for the member's targeted groups waits whatever its amount: one person may have set
  // the groups, and the review refuses them its approval (review.ts reviewRefusal).
  return result.warnings.length || result.dependsOnGroups.length || result.totalFen > autoApproveMaxFen ? 'PENDING_REVIEW' : 'APPROVED';
}

/** The enrolment facts the rules read for a settlement; `covered`: the unit's contribution covers this enrolment. */
export function enrolmentFactsOf(s: PendingSettlementRow, covered: boolean): EnrolmentFacts {
  return {
    planYear: s.planYear, plan: s.plan, specialDisease: s.specialDisease, firstEnrolledOn: s.firstEnrolledOn, enrolledOn: s.enrolledOn,
    specialDiseaseAddedOn: s.specialDiseaseAddedOn, contributionPaid: covered, unitType: s.unitType, memberCategories: s.memberCategories,
  };
}

/** The member-year totals the rules read, from a stored row. */
export function totalsOf(r: BenefitTotalsRow): PlanYearTotals & { PROVINCIAL_SUBSIDY: number } {
  return {
    INPATIENT: r.inpatientFen, CRITICAL: r.criticalFen, MAJOR_DISEASE: r.majorDiseaseFen, PROVINCIAL_SUBSIDY: r.provincialSubsidyFen,
    outOfPocket: r.outOfPocketFen,
  };
}

/** What decides which rule set governs the settlement's claim: its unit's organisation, plan year and date. */
export function governingKeyOf(s: Pick<PendingSettlementRow, 'organisationId' | 'planYear' | 'setlTime'>) {
  return { organisationId: s.organisationId, planYear: s.planYear, on: settledOn(s.setlTime) };
}

/** The stored lines of a decided claim. */
export function benefitLinesOf(claimId: number, result: BenefitResult, status: ClaimStatus): store.NewBenefitLine[] {
  return result.lines.map((l) => ({
    claimId, programme: l.programme, funder: l.funder, basisFen: l.basisFen, ratioBp: l.ratioBp, fixedFen: l.fixedFen,
    beforeCapsFen: l.computedFen, capsHit: l.capsHit, amountFen: l.amountFen, diseaseGroups: l.diseaseGroups ?? [],
    explanation: bilingual(l.explanation), status: status === 'APPROVED' ? 'APPROVED' : 'PENDING',
  }));
}

/** What the member is told of a decided claim: figures and codes only. */
export function claimDecidedNotification(
  memberId: number, claimId: number, planYear: number, status: ClaimStatus, totalFen: number, reasonCodes: readonly string[], eventKey = '',
): NewNotification {
  return {
    memberId, kind: 'CLAIM_DECIDED', subjectType: 'Claim', subjectId: claimId, eventKey,
    // The message's convention (src/notifications/messages.ts): `status`, `amountFen`, `reasonCode`.
    facts: { status, amountFen: totalFen, planYear, reasonCodes: reasonCodes.join(','), reasonCode: reasonCodes[0] ?? null },
  };
}

/**
 * Whether the unit's contribution covers each enrolment (by enrolment id), under the coverage rule
 * of the rule set governing its claim (src/members/model.ts `contributionCovered`).
 */
export async function enrolmentsCovered(db: Queryable, enrolments: readonly { enrolmentId: number; ruleSet: RuleSet }[]): Promise<Map<number, boolean>> {
  const ruleSets = new Map(enrolments.map((e) => [e.enrolmentId, e.ruleSet]));
  const figures = await enrolmentCoverageFigures(db, [...ruleSets.keys()]);
  const covered = new Map<number, boolean>();
  for (const f of figures) {
    if (!f) continue;
    covered.set(f.enrolmentId, contributionCovered(ruleSets.get(f.enrolmentId)!.eligibility.coverage, f));
  }
  return covered;
}

/**
 * A reversal cancels the claim of the settlement it reverses: unpaid lines are CANCELLED, a line
 * already PAID becomes a recovery; the claim's amounts and out-of-pocket leave the member-year
 * totals and its first-diagnosis grants are released (the settlement is void). A settlement reversed
 * before it was adjudicated gets a CANCELLED claim without lines (its own job then finds it done).
 */
async function reverseClaim(tx: Tx, r: PendingSettlementRow, totals: Map<string, TotalsState>) {
  const claim = await store.lockClaimOfSettlement(tx, r.reversesId!);
  const base = { reversalSettlementId: r.id, reversedSettlementId: r.reversesId };
  let claimId: number;
  let outcome: ReversalOutcome;
  let cancelledFen = 0;
  let recoveryFen = 0;
  if (!claim) {
    claimId = await store.insertClaimCancelledBeforeAdjudication(tx, r);
    outcome = 'CANCELLED_BEFORE_ADJUDICATION';
  } else if (!canMove(CLAIM_TRANSITIONS, claim.status, 'CANCELLED')) {
    // Rejected or cancelled already: nothing of it counts any more.
    claimId = claim.id;
    outcome = 'ALREADY_CANCELLED';
  } else {
    claimId = claim.id;
    outcome = 'CANCELLED';
    const lines = await store.lockLinesOfClaim(tx, claim.id);
    const state = totals.get(key(claim.memberId, claim.planYear));
    if (!state) throw new Error(`member-year totals of claim ${claim.id} are not locked`);
    for (const line of lines) {
      state[line.programme] = Math.max(0, state[line.programme] - line.payable);
      if (line.status === 'PAID') recoveryFen += line.payable;
      else cancelledFen += line.payable;
    }
    state.outOfPocket = Math.max(0, state.outOfPocket - claim.outOfPocketFen);
    state.claims = Math.max(0, state.claims - 1);
    await store.insertRecoveriesOfPaidLines(tx, claim.id, claim.memberId, r.id);
    await store.cancelUnpaidLines(tx, claim.id);
    await store.releaseDiseaseGroupGrants(tx, claim.id);
    await store.cancelClaim(tx, claim.id, r.id);
  }
  await store.insertClaimReversal(tx, { reversalSettlementId: r.id, claimId, outcome, cancelledFen, recoveryFen });
  return {
    outcome: { settlementId: r.id, claimId, status: 'CANCELLED' as ClaimStatus, reversal: true, memberId: r.memberId, unitId: r.unitId },
    details: { ...base, outcome, cancelledFen, recoveryFen },
  };
}
