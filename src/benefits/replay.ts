import type { Queryable } from '../kernel/transaction.ts';
import { settlementFacts } from './decision.ts';
import { evaluateBenefits, ZERO_TOTALS, type PlanYearTotals } from './rules/engine.ts';
import { PROGRAMMES, type Programme, type RuleSet } from './rules/ruleSet.ts';
import type { ClaimStatus } from './model.ts';
import * as store from './store.ts';

/**
 * What-if for a rule change: the decided claims of a plan year (INELIGIBLE, PENDING_REVIEW,
 * APPROVED — rejected and cancelled ones count for nothing) recomputed under another rule set, in
 * the order they were figured per member (claims.figured_seq: the member-year lock serializes a
 * member's decisions; a settlement that arrives late is decided after later-dated ones, since paid
 * benefits are never re-decided; a claim decided again comes after the claims it was decided again
 * after, not at its id), with the running totals recomputed from zero, against what is
 * stored now (computed amounts, or a reviewer's adjustment). Reads only; changes nothing.
 */
export type Figures = Record<Exclude<Programme, 'PROVINCIAL_SUBSIDY'>, number> & { PROVINCIAL_SUBSIDY?: number; total: number };

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

/** What one funder's lines paid before and would pay after. */
export interface FunderFigures {
  funder: string;
  before: number;
  after: number;
}

export interface ReplayReport {
  ruleSet: string;
  ruleSetVersion: number;
  planYear: number;
  claims: number;
  changed: number;
  totals: { before: Figures; after: Figures; difference: Figures };
  /** Per funder code, by code. */
  funders: FunderFigures[];
  /** The changed claims, the first `maxDifferences` of them (all when no bound is given). */
  differences: ClaimDifference[];
}

export interface ReplayOptions {
  /** Only claims of members of units in this organisation's subtree. */
  organisationId?: number | null;
  /** Refuse (ReplayTooLarge) a replay of more decided claims than this. */
  maxClaims?: number;
  /** Keep at most this many changed claims in `differences` (the counts cover all). */
  maxDifferences?: number;
}

/** The plan year has more decided claims than a replay may read at once. */
export class ReplayTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} decided claims`);
  }
}

// A programme added later (PROVINCIAL_SUBSIDY) appears in figures only where it pays, so reports
// of rule sets without it read as before.
const zero = (): Figures => ({ INPATIENT: 0, CRITICAL: 0, MAJOR_DISEASE: 0, total: 0 });
const addTo = (into: Figures, programme: Programme, fen: number) => {
  into[programme] = (into[programme] ?? 0) + fen;
  into.total += fen;
};
const minus = (a: Figures, b: Figures): Figures => {
  const d = zero();
  for (const p of PROGRAMMES) if (a[p] !== undefined || b[p] !== undefined) d[p] = (a[p] ?? 0) - (b[p] ?? 0);
  d.total = a.total - b.total;
  return d;
};
const add = (into: Figures, f: Figures) => {
  for (const p of PROGRAMMES) if (f[p] !== undefined) into[p] = (into[p] ?? 0) + f[p];
  into.total += f.total;
};

export async function replayYear(db: Queryable, ruleSet: RuleSet, planYear: number, options: ReplayOptions = {}): Promise<ReplayReport> {
  const rows = await store.decidedClaimsOfYear(db, planYear, options.organisationId ?? null, options.maxClaims);
  if (options.maxClaims !== undefined && rows.length > options.maxClaims) throw new ReplayTooLarge(options.maxClaims);
  // First-diagnosis grants from other plan years stay granted; this year's are recomputed.
  const priorOf = await store.diseaseGroupsGrantedOutside(db, planYear);

  const report: ReplayReport = {
    ruleSet: ruleSet.id, ruleSetVersion: ruleSet.version, planYear, claims: rows.length, changed: 0,
    totals: { before: zero(), after: zero(), difference: zero() }, funders: [], differences: [],
  };
  const funders = new Map<string, FunderFigures>();
  const funder = (code: string) => {
    let f = funders.get(code);
    if (!f) funders.set(code, (f = { funder: code, before: 0, after: 0 }));
    return f;
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
      settlement: settlementFacts({ id: row.settlementId, medType: row.medType, setlTime: row.setlTime, admittedOn: row.admittedOn, diagnoses: row.diagnoses, amounts: row.amounts }),
      // Facts stored before programme conditions existed lack the unit's type and categories: today's stand in.
      enrolment: { ...row.current, ...row.facts }, planYearTotals: totals, priorDiseaseGroups: prior,
    });
    totals = result.planYearTotalsAfter;
    prior = [...prior, ...result.diseaseGroupsGranted];
    const before = zero();
    for (const l of row.lines) {
      addTo(before, l.programme, l.payable);
      funder(l.funder).before += l.payable;
    }
    const after = zero();
    for (const l of result.lines) {
      addTo(after, l.programme, l.amountFen);
      funder(l.funder).after += l.amountFen;
    }
    add(report.totals.before, before);
    add(report.totals.after, after);
    const difference = minus(after, before);
    if (PROGRAMMES.some((p) => difference[p]) || result.eligible !== row.eligible) {
      report.changed += 1;
      if (options.maxDifferences === undefined || report.differences.length < options.maxDifferences) {
        report.differences.push({
          claimId: row.claimId, settlementId: row.settlementId, memberId: row.memberId, status: row.status,
          eligibleBefore: row.eligible, eligibleAfter: result.eligible, before, after, difference,
        });
      }
    }
  }
  report.totals.difference = minus(report.totals.after, report.totals.before);
  report.funders = [...funders.values()].sort((a, b) => a.funder.localeCompare(b.funder));
  return report;
}
