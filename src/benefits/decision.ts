import type { Queryable } from '../kernel/transaction.ts';
import { enrolmentCoverageFigures } from '../members/store/coverage.ts';
import { contributionCovered } from '../members/model.ts';
import type { BenefitResult, EnrolmentFacts, PlanYearTotals, SettlementFacts } from './rules/engine.ts';
import type { RuleSet } from './rules/ruleSet.ts';
import { bilingual, cny } from './rules/explain.ts';
import { otherSettlementsOfStays, type OtherSettlementOfStay } from '../settlements/store/applications.ts';
import { settledOn } from './governing.ts';
import type { BenefitTotalsRow, ClaimStatus, PendingSettlementRow } from './model.ts';
import type * as store from './store.ts';
import { formatChinaTime } from '../kernel/time.ts';
import { conflict, type DomainError } from '../kernel/errors.ts';

/**
 * What every decision of a claim by the rules takes — adjudication (adjudicate.ts), a re-decision
 * and a waiting claim figured again (redecide.ts), a review (review.ts): the settlement and
 * enrolment facts the engine reads, the status a result takes, the lines it stores, and the other
 * settlements that may be the same stay.
 */

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

/**
 * Why `subject` may not approve a claim with these `bars` (four eyes), or null: `act` says what their
 * step would do ('also approve it', 'uphold its appeal, which approves it'), `others` who must instead.
 */
export function approvalBarRefusal(subject: string, bars: Partial<store.ApprovalBars>, act: string, others: string, field: string): DomainError | null {
  if (bars.categoriesSetBy?.includes(subject)) {
    // Who set the member's groups decided which programmes pay this claim, as an adjuster shapes its lines.
    return conflict(`${subject} set the targeted groups (memberCategories) of this claim's enrolment and cannot ${act}; ${others} must (four eyes)`, field);
  }
  if (bars.applicants?.includes(subject)) {
    // Their figures are the settlement it pays on (a member's subject is the person, whatever role they act in now).
    return conflict(`${subject} entered or submitted the application this claim was settled from and cannot ${act}; ${others} must (four eyes)`, field);
  }
  return null;
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
