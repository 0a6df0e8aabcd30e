import type { Breakdown, FiguresRowResult, YearFigures } from './model.ts';

/**
 * Small-cell suppression of the published yearly report (小数抑制). A row of a few cases is a few
 * people's medical benefit, and a union publishes who some of its members are (its 劳动模范): the
 * report leaves the hub, so its breakdown rows print no cell that small, nor one worked out from
 * the rest. Pure: the rows as read in, the rows as published out. N is FIGURES_MIN_CELL.
 *
 * - primary: a row whose count is 1 to N − 1 prints "<N" for it and a dash for the amounts and
 *   the growth that come from it (0 prints as 0);
 * - few people: a row of N or more cases had by 1 to N − 1 people (six stays of one member) prints a
 *   dash for the count, amounts and growth: what they add up to is those people's benefit;
 * - secondary: a breakdown's rows add up to its printed total (member categories too, when each
 *   member has one), so when exactly one row is withheld the next-smallest non-zero row is withheld
 *   too (a dash: "<N" would not be true of it);
 * - a subtree of fewer than N cases still prints its totals (its own published figure), and then
 *   every row prints "<N", zeros included: with the zeros shown, the one row left is the total;
 * - a row a child organisation's own report withholds (any way, for a count it has cases of) is
 *   withheld in its parent's too: the parent's row minus the other children's printed rows would
 *   give it back (the secondary rule then applies to the parent's rows as to its own).
 * One breakdown, one year (the previous one is printed beside it) and one count at a time.
 */

/** A count of 1 to N − 1: printed "<N". */
export const UNDER_MIN = 'UNDER_MIN';
/** A figure that would give a withheld one away: printed as a dash. */
export const WITHHELD = 'WITHHELD';
export type Suppressed = typeof UNDER_MIN | typeof WITHHELD;

type Count = 'claims' | 'payouts' | 'condolences' | 'membersEnrolled';
type People = 'claimants' | 'payees' | 'condolenceRecipients';
type Amount = 'claimsApprovedFen' | 'paidFen' | 'condolencesApprovedFen';
type Growth = keyof FiguresRowResult['yearOnYear'];
type Withholding<T, K extends keyof T> = Omit<T, K> & { [P in K]: T[P] | Suppressed };

export type PublishedFigures = Withholding<YearFigures, Count | Amount>;
/** A breakdown row as the report prints it. */
export type PublishedRow = Withholding<Omit<FiguresRowResult, 'previousYear' | 'yearOnYear'>, Count | Amount> & {
  previousYear: PublishedFigures;
  yearOnYear: Withholding<FiguresRowResult['yearOnYear'], Growth>;
};

interface Measure {
  count: Count;
  /** What the count's cases add up to. */
  amounts: readonly Amount[];
  /** Its year-on-year change: with one year's count and the change, the other year's follows. */
  growth: Growth | null;
  /** The people whose cases the count counts. */
  people: People | null;
}

/** The benefits paid to people: cases decided, payments made, condolences approved, each on its own dates. */
const BENEFITS: readonly Measure[] = [
  { count: 'claims', amounts: ['claimsApprovedFen'], growth: 'claims', people: 'claimants' },
  { count: 'payouts', amounts: ['paidFen'], growth: 'paid', people: 'payees' },
  { count: 'condolences', amounts: ['condolencesApprovedFen'], growth: null, people: 'condolenceRecipients' },
];

/**
 * A member category is a list of people, some of them named in public: a category of fewer than N
 * members names them. Its member count is withheld, and its benefits however many the cases (six
 * cases of a county's one model worker are still his). Organisations, months and programmes count
 * members as the unit rolls do, which say nothing of anyone's health.
 */
const CATEGORY_MEMBERS: Measure = { count: 'membersEnrolled', amounts: [], growth: 'membersEnrolled', people: null };

/**
 * The rule on one count of a breakdown: per row, null (printed) or how it is withheld. `total` is
 * the whole subtree's; `withhold` marks rows withheld whatever their count (their people are fewer
 * than N, or a child's report withholds them), unless it is 0.
 */
function withheldCounts(counts: readonly (number | null)[], total: number | null, minCell: number, withhold: readonly boolean[]): (Suppressed | null)[] {
  const under = (n: number | null) => n !== null && n > 0 && n < minCell;
  if (under(total)) return counts.map(() => UNDER_MIN);
  const marks = counts.map((n, i): Suppressed | null => (under(n) ? UNDER_MIN : withhold[i] && n ? WITHHELD : null));
  if (marks.filter((m) => m !== null).length === 1) {
    let next: number | null = null;
    counts.forEach((n, i) => {
      if (marks[i] === null && n && (next === null || n < counts[next]!)) next = i;
    });
    if (next !== null) marks[next] = WITHHELD;
  }
  return marks;
}

/** One breakdown of a report as read (`rows`) and as printed (`published`, the same rows in the same order). */
export interface PublishedBreakdown {
  rows: FiguresRowResult[];
  published: PublishedRow[];
}

/**
 * A breakdown's rows as the report prints them (the totals, the whole subtree's, are printed as they
 * are). `children`: the same breakdown as each child organisation's own report prints it.
 */
export function publishedRows(
  rows: readonly FiguresRowResult[], totals: FiguresRowResult, by: Breakdown, minCell: number, children: readonly PublishedBreakdown[] = [],
): PublishedRow[] {
  const published: PublishedRow[] = rows.map((r) => ({ ...r, previousYear: { ...r.previousYear }, yearOnYear: { ...r.yearOnYear } }));
  for (const year of ['current', 'previous'] as const) {
    const read = (r: FiguresRowResult): YearFigures => (year === 'current' ? r : r.previousYear);
    const printed = (r: PublishedRow): PublishedFigures => (year === 'current' ? r : r.previousYear);
    // Rows a child withholds a count of while it has cases there (a child under N marks its zeros too, which give nothing away).
    const withheldBelow = (count: Count) => rows.map((r) => children.some((c) => {
      const i = c.rows.findIndex((cr) => cr.key === r.key);
      return i >= 0 && (read(c.rows[i]!)[count] ?? 0) > 0 && typeof printed(c.published[i]!)[count] === 'string';
    }));
    const withhold = (m: Measure, few: readonly boolean[] = []) => {
      const below = withheldBelow(m.count);
      const marks = withheldCounts(rows.map((r) => read(r)[m.count]), read(totals)[m.count], minCell, below.map((b, i) => b || (few[i] ?? false)));
      marks.forEach((mark, i) => {
        if (mark === null) return;
        const row = published[i]!;
        const figures: Record<Count | Amount, number | null | Suppressed> = year === 'current' ? row : row.previousYear;
        figures[m.count] = mark;
        for (const a of m.amounts) figures[a] = WITHHELD;
        if (m.growth) row.yearOnYear[m.growth] = WITHHELD;
      });
      return marks;
    };
    const fewMembers = by === 'MEMBER_CATEGORY' ? withhold(CATEGORY_MEMBERS).map((m) => m === UNDER_MIN) : [];
    // However many the cases, fewer than N people had them.
    const fewPeople = (m: Measure) => rows.map((r, i) => (fewMembers[i] ?? false) || (m.people !== null && read(r)[m.people] > 0 && read(r)[m.people] < minCell));
    for (const m of BENEFITS) withhold(m, fewPeople(m));
  }
  return published;
}
