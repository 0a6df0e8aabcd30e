import { describe, expect, it } from 'vitest';
import { publishedRows, UNDER_MIN, WITHHELD } from '../../src/figures/disclosure.ts';
import type { FiguresRowResult, YearFigures } from '../../src/figures/model.ts';

/** The yearly report's small-cell rule on hand-made rows (N = 5 unless said). */

/** Each case its own person unless `f` says who had them. */
const figures = (f: Partial<YearFigures> = {}): YearFigures => {
  const counts = { claims: 0, payouts: 0, condolences: 0, ...f };
  return {
    units: 1, membersEnrolled: 100, contributionsOwedFen: 0, contributionsRaisedFen: 0, claimsApprovedFen: 0, paidFen: 0, condolencesApprovedFen: 0,
    claimants: counts.claims, payees: counts.payouts, condolenceRecipients: counts.condolences, ...counts,
  };
};

/** A row with its cases (each 1,000 yuan approved, paid) and last year's. */
function row(key: string, claims: number, f: Partial<YearFigures> = {}, previous: Partial<YearFigures> = { claims: 20, claimsApprovedFen: 2_000_000, payouts: 20, paidFen: 2_000_000 }): FiguresRowResult {
  const current = figures({ claims, claimsApprovedFen: claims * 100_000, payouts: claims, paidFen: claims * 100_000, ...f });
  return {
    key, label: key, ...current,
    enrolmentTarget: null, completionRate: null, unitsTarget: null, unitsCompletionRate: null, contributionsTargetFen: null, contributionsCompletionRate: null,
    previousYear: figures(previous),
    yearOnYear: { units: 0, membersEnrolled: 0, contributionsRaised: null, claims: 0.5, paid: 0.5 },
  };
}

/** The totals of `rows`, as the report reads them for the whole subtree. */
function totalOf(rows: FiguresRowResult[]): FiguresRowResult {
  const sum = (pick: (r: FiguresRowResult) => number | null) => rows.reduce((n, r) => n + (pick(r) ?? 0), 0);
  const add = (of: (r: FiguresRowResult) => YearFigures) => figures(Object.fromEntries(
    (['membersEnrolled', 'claims', 'claimsApprovedFen', 'payouts', 'paidFen', 'condolences', 'condolencesApprovedFen'] as const).map((k) => [k, sum((r) => of(r)[k])])));
  return { ...row('TOTAL', 0), ...add((r) => r), previousYear: add((r) => r.previousYear) };
}

const cases = (rows: ReturnType<typeof publishedRows>) => rows.map((r) => [r.claims, r.claimsApprovedFen, r.payouts, r.paidFen]);

describe('primary and secondary suppression, one breakdown at a time', () => {
  it('prints "<N" for a row of 1 to N − 1 cases and a dash for its amounts and growth; 0 stays 0', () => {
    const rows = [row('1', 3), row('2', 0), row('3', 6), row('4', 40), row('5', 2)];
    const published = publishedRows(rows, totalOf(rows), 'MONTH', 5);
    expect(cases(published)).toEqual([
      [UNDER_MIN, WITHHELD, UNDER_MIN, WITHHELD],
      [0, 0, 0, 0],
      [6, 600_000, 6, 600_000],
      [40, 4_000_000, 40, 4_000_000],
      [UNDER_MIN, WITHHELD, UNDER_MIN, WITHHELD],
    ]);
    expect(published[0]!.yearOnYear).toEqual({ units: 0, membersEnrolled: 0, contributionsRaised: null, claims: WITHHELD, paid: WITHHELD });
    expect(published[2]!.yearOnYear.claims).toBe(0.5);
  });

  it('withholds the next-smallest non-zero row as well when only one is withheld: the total minus the rest would give it', () => {
    const rows = [row('JJ', 40), row('LC', 0), row('XM', 7), row('-', 1), row('QZ', 9)];
    const published = publishedRows(rows, totalOf(rows), 'ORGANISATION', 5);
    expect(cases(published)).toEqual([
      [40, 4_000_000, 40, 4_000_000],
      [0, 0, 0, 0],
      [WITHHELD, WITHHELD, WITHHELD, WITHHELD],
      [UNDER_MIN, WITHHELD, UNDER_MIN, WITHHELD],
      [9, 900_000, 9, 900_000],
    ]);
  });

  it('withholds nothing when every row has no case or at least N', () => {
    const rows = [row('1', 5), row('2', 0), row('3', 12)];
    expect(publishedRows(rows, totalOf(rows), 'MONTH', 5)).toEqual(rows);
  });

  it('prints "<N" in every row, zeros included, when the whole subtree has fewer than N cases (its totals stay printed)', () => {
    const rows = [row('1', 0), row('5', 1), row('6', 0)];
    const totals = totalOf(rows);
    const published = publishedRows(rows, totals, 'MONTH', 5);
    expect(cases(published)).toEqual(rows.map(() => [UNDER_MIN, WITHHELD, UNDER_MIN, WITHHELD]));
    expect([totals.claims, totals.claimsApprovedFen]).toEqual([1, 100_000]);
  });

  it('counts with FIGURES_MIN_CELL: at N = 3 a row of 3 is printed, one of 2 is not', () => {
    const rows = [row('1', 3), row('2', 2), row('3', 2)];
    expect(cases(publishedRows(rows, totalOf(rows), 'MONTH', 3)).map((c) => c[0])).toEqual([3, UNDER_MIN, UNDER_MIN]);
  });

  it('takes each count on its own: payments made in a month without decisions, and last year\'s figures', () => {
    const rows = [
      row('5', 10, {}, { claims: 3, claimsApprovedFen: 300_000, payouts: 0, paidFen: 0 }),
      row('6', 0, { payouts: 1, paidFen: 740_736 }, { claims: 20, claimsApprovedFen: 2_000_000, payouts: 0, paidFen: 0 }),
      row('7', 8, {}, { claims: 4, claimsApprovedFen: 400_000, payouts: 0, paidFen: 0 }),
    ];
    const published = publishedRows(rows, totalOf(rows), 'MONTH', 5);
    // Payments: June's one is withheld, and July's eight with it (the smaller of the rest).
    expect(cases(published)).toEqual([[10, 1_000_000, 10, 1_000_000], [0, 0, UNDER_MIN, WITHHELD], [8, 800_000, WITHHELD, WITHHELD]]);
    expect(published.map((r) => [r.previousYear.claims, r.previousYear.claimsApprovedFen])).toEqual([[UNDER_MIN, WITHHELD], [20, 2_000_000], [UNDER_MIN, WITHHELD]]);
    expect(published.map((r) => [r.yearOnYear.claims, r.yearOnYear.paid])).toEqual([[WITHHELD, 0.5], [0.5, WITHHELD], [WITHHELD, WITHHELD]]);
  });

  it('withholds a row of N cases or more had by fewer than N people as a dash (six stays of one member), and the next-smallest with it', () => {
    const rows = [row('6', 6, { claimants: 1, payees: 1 }), row('7', 0), row('9', 6), row('10', 30)];
    const published = publishedRows(rows, totalOf(rows), 'MONTH', 5);
    expect(cases(published)).toEqual([
      [WITHHELD, WITHHELD, WITHHELD, WITHHELD],
      [0, 0, 0, 0],
      [WITHHELD, WITHHELD, WITHHELD, WITHHELD],
      [30, 3_000_000, 30, 3_000_000],
    ]);
    expect(published[0]!.yearOnYear).toMatchObject({ claims: WITHHELD, paid: WITHHELD });
  });

  it('withholds condolences by their own count', () => {
    const rows = [row('1', 10, { condolences: 1, condolencesApprovedFen: 200_000 }), row('2', 10, { condolences: 9, condolencesApprovedFen: 900_000 })];
    const published = publishedRows(rows, totalOf(rows), 'MONTH', 5);
    expect(published.map((r) => [r.claims, r.condolences, r.condolencesApprovedFen])).toEqual([[10, UNDER_MIN, WITHHELD], [10, WITHHELD, WITHHELD]]);
  });
});

describe('member categories: a category of fewer than N members names them', () => {
  it('withholds its member count, and its cases however many (six cases of one model worker are his)', () => {
    const rows = [row('MODEL_WORKER', 6, { membersEnrolled: 1 }), row('SANITATION', 30, { membersEnrolled: 80 }), row('HARDSHIP', 12, { membersEnrolled: 40 })];
    const published = publishedRows(rows, totalOf(rows), 'MEMBER_CATEGORY', 5);
    // Categories add up to the total when each member has one: the next-smallest goes with it.
    expect(published.map((r) => [r.membersEnrolled, r.yearOnYear.membersEnrolled])).toEqual([[UNDER_MIN, WITHHELD], [80, 0], [WITHHELD, WITHHELD]]);
    expect(cases(published)).toEqual([
      [WITHHELD, WITHHELD, WITHHELD, WITHHELD],
      [30, 3_000_000, 30, 3_000_000],
      [WITHHELD, WITHHELD, WITHHELD, WITHHELD],
    ]);
  });

  it('leaves a small member count of an organisation, a month or a unit type printed: enrolment is no one\'s health', () => {
    const rows = [row('JJ', 6, { membersEnrolled: 1 }), row('LC', 30, { membersEnrolled: 80 })];
    expect(publishedRows(rows, totalOf(rows), 'ORGANISATION', 5)).toEqual(rows);
  });
});

describe('a parent organisation read against its children\'s reports', () => {
  /** A child's breakdown as its own report prints it. */
  const child = (rows: FiguresRowResult[]) => ({ rows, published: publishedRows(rows, totalOf(rows), 'MONTH', 5) });
  /** The parent's rows: each month the sum of its children's. */
  const parentOf = (...children: FiguresRowResult[][]) => children[0]!.map((r, i) => row(r.key, children.reduce((n, c) => n + c[i]!.claims!, 0)));

  it('withholds the rows a child withholds while it has cases there; the others, and rows of no case, stay printed', () => {
    const jj = [row('5', 1), row('6', 6), row('7', 0), row('8', 9)];
    const lc = [row('5', 6), row('6', 6), row('7', 0), row('8', 7)];
    // JJ's own report: May "<5", June (the next-smallest) withheld with it.
    expect(cases(child(jj).published).map((c) => c[0])).toEqual([UNDER_MIN, WITHHELD, 0, 9]);
    const parent = parentOf(jj, lc);
    const published = publishedRows(parent, totalOf(parent), 'MONTH', 5, [child(jj), child(lc)]);
    expect(cases(published)).toEqual([
      [WITHHELD, WITHHELD, WITHHELD, WITHHELD],
      [WITHHELD, WITHHELD, WITHHELD, WITHHELD],
      [0, 0, 0, 0],
      [parent[3]!.claims, parent[3]!.claimsApprovedFen, parent[3]!.payouts, parent[3]!.paidFen],
    ]);
    // Without the children's reports the parent's May would be printed, less LC's May JJ's one case.
    expect(publishedRows(parent, totalOf(parent), 'MONTH', 5)[0]!.claims).toBe(parent[0]!.claims);
    expect(parent[0]!.claims! - lc[0]!.claims!).toBe(jj[0]!.claims);
  });

  it('takes from a child under N only the rows it has cases in (its zeros give nothing away), then withholds the next-smallest as for its own', () => {
    const xm = [row('5', 0), row('6', 2), row('7', 0)];
    const lc = [row('5', 6), row('6', 6), row('7', 20)];
    const parent = parentOf(xm, lc);
    // XM's June is withheld, May (the next-smallest of the parent's) with it; July, where XM has none, is printed.
    expect(cases(publishedRows(parent, totalOf(parent), 'MONTH', 5, [child(xm), child(lc)])).map((c) => c[0])).toEqual([WITHHELD, WITHHELD, parent[2]!.claims]);
  });
});
