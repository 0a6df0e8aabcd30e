import { canMove } from '../kernel/transitions.ts';
import { inTransaction } from '../db/pool.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { recordAudits, type Actor, type AuditRow } from '../audit/audit.ts';
import { recordNotifications } from '../notifications/store.ts';
import type { NewNotification } from '../notifications/model.ts';
import { evaluateBenefits, paidSoFar, type BenefitResult, type EnrolmentFacts, type PlanYearTotals } from './rules/engine.ts';
import type { RuleSet } from './rules/ruleSet.ts';
import { bilingual } from './rules/explain.ts';
import { RuleSetCache } from './catalogue.ts';
import { governingRuleSets } from './governing.ts';
import { CLAIM_TRANSITIONS, type BenefitTotalsRow, type ClaimStatus, type PendingSettlementRow, type ReversalOutcome } from './model.ts';
import * as store from './store.ts';
import {
  benefitLinesOf, claimStatusOf, enrolmentFactsOf, enrolmentsCovered, governingKeyOf, sameStaysMayPay, settlementFacts, totalsOf, withSameStayWarnings,
} from './decision.ts';
import { refigureWaitingAfter } from './redecide.ts';

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

/** A claim a reversal cancelled: what it held leaves its member-year. */
interface ReleasedClaim {
  id: number;
  memberId: number;
  planYear: number;
}

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
  const released: ReleasedClaim[] = [];
  for (const r of reversals) {
    const outcome = await reverseClaim(tx, r, totals);
    outcomes.push(outcome.outcome);
    audits.push({ actor, action: 'claim.reverse', targetType: 'Claim', targetId: String(outcome.outcome.claimId), details: outcome.details });
    if (outcome.released) released.push(outcome.released);
  }
  if (released.length) await refigureAfterReversals(tx, released, totals, actor);
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

  await store.writeTotals(tx, totalsRows(totals));
  await recordAudits(tx, audits);
  return { outcomes, deferred };
}

/** The batch's running member-year totals as rows to write. */
function totalsRows(totals: ReadonlyMap<string, TotalsState>): BenefitTotalsRow[] {
  return [...totals].map(([k, t]) => {
    const [memberId, planYear] = k.split(':').map(Number) as [number, number];
    return {
      memberId, planYear, inpatientFen: t.INPATIENT, criticalFen: t.CRITICAL, majorDiseaseFen: t.MAJOR_DISEASE,
      provincialSubsidyFen: t.PROVINCIAL_SUBSIDY, outOfPocketFen: t.outOfPocket, claims: t.claims,
    };
  });
}

/**
 * A claim a reversal cancelled no longer counts in its member-year, but the claims figured after it
 * that still wait for a reviewer were figured with it counted (a later stay over the
 * critical-illness threshold only with the void stay's out-of-pocket): each is figured again
 * without it, as after a reviewer's rejection (redecide.ts `refigureWaitingAfter`), before the
 * batch's settlements are decided. That works on the stored totals: the batch's are written
 * first, and read back after.
 */
async function refigureAfterReversals(tx: Tx, released: readonly ReleasedClaim[], totals: Map<string, TotalsState>, actor: Actor): Promise<void> {
  await store.writeTotals(tx, totalsRows(totals));
  for (const claim of released) await refigureWaitingAfter(tx, claim, actor);
  for (const row of await store.memberYearTotals(tx, released)) {
    totals.set(key(row.memberId, row.planYear), { ...totalsOf(row), claims: row.claims });
  }
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
 * A reversal cancels the claim of the settlement it reverses: unpaid lines are CANCELLED, a line
 * already PAID becomes a recovery; the claim's amounts and out-of-pocket leave the member-year
 * totals and its first-diagnosis grants are released (the settlement is void): `released`, for the
 * waiting claims figured after it. A settlement reversed
 * before it was adjudicated gets a CANCELLED claim without lines (its own job then finds it done).
 */
async function reverseClaim(tx: Tx, r: PendingSettlementRow, totals: Map<string, TotalsState>) {
  const claim = await store.lockClaimOfSettlement(tx, r.reversesId!);
  let released: ReleasedClaim | null = null;
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
    released = { id: claim.id, memberId: claim.memberId, planYear: claim.planYear };
  }
  await store.insertClaimReversal(tx, { reversalSettlementId: r.id, claimId, outcome, cancelledFen, recoveryFen });
  return {
    outcome: { settlementId: r.id, claimId, status: 'CANCELLED' as ClaimStatus, reversal: true, memberId: r.memberId, unitId: r.unitId },
    details: { ...base, outcome, cancelledFen, recoveryFen },
    released,
  };
}
