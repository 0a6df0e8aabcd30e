import type { Queryable } from '../kernel/transaction.ts';
import { settlementFacts } from './adjudicate.ts';
import { evaluateBenefits, ZERO_TOTALS, type PlanYearTotals } from './rules/engine.ts';
import { PROGRAMMES, type Programme, type RuleSet } from './rules/ruleSet.ts';
import type { ClaimStatus } from './model.ts';
import * as store from './store.ts';

/**
 * What-if for a rule change: the decided claims of a plan year (INELIGIBLE, PENDING_REVIEW,
 * APPROVED — rejected and cancelled ones count for nothing) recomputed under another rule set, in
 * the order they were decided per member (claim id: the member-year lock serializes a member's
 * decisions; a settlement that arrives late is decided after later-dated ones, since paid
 * benefits are never re-decided), with the running totals recomputed from zero, against what is
 * stored now (computed amounts, or a reviewer's adjustment). Reads only; changes nothing.
 */
export type Figures = Record<Programme, number> & { total: number };

export interface ClaimDifference {
  claimId: number;
  settlementId: number;
  memberId: number;
  status: ClaimStatus;
  eligibleBefore: boolean;
  eligibleAfter: boolean;
  before: Figures;
  after: Figures;
  difference: Figures;
}

export interface ReplayReport {
  ruleSet: string;
  ruleSetVersion: number;
  planYear: number;
  claims: number;
  changed: number;
  totals: { before: Figures; after: Figures; difference: Figures };
  differences: ClaimDifference[];
}

const zero = (): Figures => ({ INPATIENT: 0, CRITICAL: 0, MAJOR_DISEASE: 0, total: 0 });
const minus = (a: Figures, b: Figures): Figures => ({
  INPATIENT: a.INPATIENT - b.INPATIENT, CRITICAL: a.CRITICAL - b.CRITICAL, MAJOR_DISEASE: a.MAJOR_DISEASE - b.MAJOR_DISEASE, total: a.total - b.total,
});
const add = (into: Figures, f: Figures) => {
  for (const k of [...PROGRAMMES, 'total'] as const) into[k] += f[k];
};

export async function replayYear(db: Queryable, ruleSet: RuleSet, planYear: number): Promise<ReplayReport> {
  const rows = await store.decidedClaimsOfYear(db, planYear);
  // First-diagnosis grants from other plan years stay granted; this year's are recomputed.
  const priorOf = await store.diseaseGroupsGrantedOutside(db, planYear);

  const report: ReplayReport = {
    ruleSet: ruleSet.id, ruleSetVersion: ruleSet.version, planYear, claims: rows.length, changed: 0,
    totals: { before: zero(), after: zero(), difference: zero() }, differences: [],
  };
  let member: number | null = null;
  let totals: PlanYearTotals = { ...ZERO_TOTALS };
  let prior: string[] = [];
  for (const row of rows) {
    if (row.memberId !== member) {
      member = row.memberId;
      totals = { ...ZERO_TOTALS };
      prior = [...(priorOf.get(row.memberId) ?? [])];
    }
    const result = evaluateBenefits(ruleSet, {
      settlement: settlementFacts({ id: row.settlementId, medType: row.medType, setlTime: row.setlTime, diagnoses: row.diagnoses, amounts: row.amounts }),
      enrolment: row.facts, planYearTotals: totals, priorDiseaseGroups: prior,
    });
    totals = result.planYearTotalsAfter;
    prior = [...prior, ...result.diseaseGroupsGranted];
    const before = zero();
    for (const l of row.lines) before[l.programme] += l.payable;
    before.total = before.INPATIENT + before.CRITICAL + before.MAJOR_DISEASE;
    const after = zero();
    for (const l of result.lines) after[l.programme] += l.amountFen;
    after.total = result.totalFen;
    add(report.totals.before, before);
    add(report.totals.after, after);
    const difference = minus(after, before);
    if (difference.INPATIENT || difference.CRITICAL || difference.MAJOR_DISEASE || result.eligible !== row.eligible) {
      report.changed += 1;
      report.differences.push({
        claimId: row.claimId, settlementId: row.settlementId, memberId: row.memberId, status: row.status,
        eligibleBefore: row.eligible, eligibleAfter: result.eligible, before, after, difference,
      });
    }
  }
  report.totals.difference = minus(report.totals.after, report.totals.before);
  return report;
}
