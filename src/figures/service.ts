import type { Actor } from '../audit/audit.ts';
import { recordAudit } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { PROGRAMME_LABELS, PROGRAMMES } from '../benefits/rules/ruleSet.ts';
import { checkAll, invalid, notFound } from '../kernel/errors.ts';
import type { Scope } from '../kernel/scope.ts';
import { chinaToday, dayNumber, isIsoDate } from '../kernel/time.ts';
import type { Db, Queryable } from '../kernel/transaction.ts';
import { workingDaysBetween } from '../kernel/workingDays.ts';
import { MEMBER_CATEGORIES, UNIT_TYPES, type MemberCategory, type UnitType } from '../members/model.ts';
import { organisationsByIds } from '../organisations/store.ts';
import {
  DIRECT_UNITS, MAX_BREAKDOWN_ORGANISATIONS, MAX_CALENDAR_DAYS, MAX_TARGETS, TARGET_LIMITS,
  type Breakdown, type CalendarDay, type EnrolmentTargetRow, type ExceptionAge, type ExceptionAgeBuckets, type FiguresOrganisation,
  type FiguresQuery, type FiguresReportResult, type FiguresRowResult, type Grouping, type TargetFigures, type TurnaroundFigures, type YearFigures,
} from './model.ts';
import { publishedRows, type PublishedBreakdown, type PublishedRow } from './disclosure.ts';
import * as store from './store.ts';

/**
 * The figures as published: one organisation subtree, one plan year, against its targets and the
 * previous year. Reads only; setting a target is the one decision here (audited).
 */

/** Labels as the published figures print them. */
const MEMBER_CATEGORY_ZH: Record<MemberCategory, string> = {
  NEW_EMPLOYMENT_FORM: '新就业形态劳动者',
  SANITATION: '环卫工人',
  MIGRANT_WORKER: '农民工',
  HARDSHIP: '困难职工',
  MODEL_WORKER: '劳动模范',
};

const UNIT_TYPE_ZH: Record<UnitType, string> = {
  GOVERNMENT: '机关',
  PUBLIC_INSTITUTION: '事业单位',
  STATE_OWNED: '国有企业',
  NON_PUBLIC: '非公企业',
  SOCIAL_ORGANISATION: '社会组织',
};

/** What a caller asks for (ids already local). */
export interface FiguresRequest {
  organisationId: number | null;
  planYear: number;
  month?: number | null;
  programme?: string | null;
  memberCategory?: MemberCategory | null;
}

const planYearProblem = (year: number) => (Number.isInteger(year) && year >= 2000 && year <= 2100 ? null : 'must be a year from 2000 to 2100');

/**
 * The organisation counted: the one asked for when the caller may see it (otherwise NOT_FOUND, as
 * for one that does not exist), else the caller's own, else the whole hub (null).
 */
export async function figuresOrganisation(db: Queryable, scope: Scope, organisationId: number | null, field: string): Promise<FiguresOrganisation | null> {
  // A scope signed before organisations existed carries none: no organisation then.
  const id = organisationId ?? scope.organisationId ?? null;
  if (id === null) return null;
  const [found] = await organisationsByIds(db, [id], scope);
  if (!found) throw notFound('organisation', field);
  return { id: found.id, code: found.code, name: found.name };
}

/** Checks the request and resolves its organisation. */
export async function figuresQuery(db: Queryable, scope: Scope, r: FiguresRequest, prefix = 'filter'): Promise<FiguresQuery> {
  checkAll({
    [`${prefix}.planYear`]: planYearProblem(r.planYear),
    [`${prefix}.month`]: r.month == null || (Number.isInteger(r.month) && r.month >= 1 && r.month <= 12) ? null : 'must be a month from 1 to 12',
  });
  const organisation = await figuresOrganisation(db, scope, r.organisationId, `${prefix}.organisationId`);
  return { organisation, planYear: r.planYear, month: r.month ?? null, programme: r.programme ?? null, memberCategory: r.memberCategory ?? null };
}

const EMPTY: YearFigures = {
  units: 0, membersEnrolled: 0, contributionsOwedFen: 0, contributionsRaisedFen: 0,
  claims: 0, claimsApprovedFen: 0, payouts: 0, paidFen: 0, condolences: 0, condolencesApprovedFen: 0,
  claimants: 0, payees: 0, condolenceRecipients: 0,
};

/** Year-on-year change; null when the previous figure is 0 or not counted. */
export function growth(current: number | null, previous: number | null): number | null {
  return current === null || previous === null || previous === 0 ? null : (current - previous) / previous;
}

const rate = (value: number | null, target: number | null) => (value === null || target === null || target === 0 ? null : value / target);

/** What a grouping does not count is null in its rows (enrolment figures by programme, contributions by member). */
function counted(g: Grouping, q: FiguresQuery, f: Partial<YearFigures> | undefined): YearFigures {
  const figures = { ...EMPTY, ...f };
  const byMember = g === 'MEMBER_CATEGORY' || q.memberCategory !== null;
  return {
    ...figures,
    membersEnrolled: g === 'PROGRAMME' ? null : figures.membersEnrolled,
    contributionsOwedFen: g === 'PROGRAMME' || byMember ? null : figures.contributionsOwedFen,
    contributionsRaisedFen: g === 'PROGRAMME' || byMember ? null : figures.contributionsRaisedFen,
  };
}

function row(g: Grouping, q: FiguresQuery, key: string, label: string, grouped: store.GroupedFigures, target: TargetFigures | null): FiguresRowResult {
  const current = counted(g, q, grouped.get(q.planYear)?.get(key));
  const previous = counted(g, q, grouped.get(q.planYear - 1)?.get(key));
  return {
    key, label, ...current,
    enrolmentTarget: target?.membersTarget ?? null,
    completionRate: rate(current.membersEnrolled, target?.membersTarget ?? null),
    unitsTarget: target?.unitsTarget ?? null,
    unitsCompletionRate: rate(current.units, target?.unitsTarget ?? null),
    contributionsTargetFen: target?.contributionsTargetFen ?? null,
    contributionsCompletionRate: rate(current.contributionsRaisedFen, target?.contributionsTargetFen ?? null),
    previousYear: previous,
    yearOnYear: {
      units: growth(current.units, previous.units),
      membersEnrolled: growth(current.membersEnrolled, previous.membersEnrolled),
      contributionsRaised: growth(current.contributionsRaisedFen, previous.contributionsRaisedFen),
      claims: growth(current.claims, previous.claims),
      paid: growth(current.paidFen, previous.paidFen),
    },
  };
}

const selection = (q: FiguresQuery, grouping: Grouping): store.FiguresSelection => ({
  organisationId: q.organisation?.id ?? null, planYear: q.planYear, month: q.month, programme: q.programme, memberCategory: q.memberCategory, grouping,
});

/** The figures of the whole subtree (the report's totals). */
export async function figures(db: Queryable, scope: Scope, q: FiguresQuery): Promise<FiguresReportResult> {
  const [grouped, targets] = await Promise.all([
    store.groupedFigures(db, selection(q, 'TOTAL'), scope),
    q.organisation ? store.targetsOf(db, [q.organisation.id], q.planYear) : Promise.resolve([]),
  ]);
  return { query: q, scope, totals: row('TOTAL', q, 'TOTAL', q.organisation?.name ?? '全部', grouped, targets[0] ?? null) };
}

/** The rows of one breakdown, in a fixed order; every group appears (zeros included), direct units only when they have figures. */
export async function breakdown(db: Queryable, report: Pick<FiguresReportResult, 'query' | 'scope'>, by: Breakdown): Promise<FiguresRowResult[]> {
  const q = report.query;
  if (by === 'ORGANISATION') {
    const children = await store.childOrganisations(db, q.organisation?.id ?? null, report.scope, MAX_BREAKDOWN_ORGANISATIONS);
    const [grouped, targets] = await Promise.all([
      store.groupedFigures(db, selection(q, by), report.scope),
      store.targetsOf(db, children.map((c) => c.id), q.planYear),
    ]);
    const targetOf = new Map(targets.map((t) => [t.organisationId, t]));
    const rows = children.map((c) => ({ ...row(by, q, String(c.id), c.name, grouped, targetOf.get(c.id) ?? null), key: c.code }));
    const direct = row(by, q, DIRECT_UNITS.key, DIRECT_UNITS.label, grouped, null);
    const hasFigures = [q.planYear, q.planYear - 1].some((y) => grouped.get(y)?.has(DIRECT_UNITS.key));
    return hasFigures ? [...rows, direct] : rows;
  }
  const grouped = await store.groupedFigures(db, selection(q, by), report.scope);
  const groups: [string, string][] = by === 'MONTH'
    ? (q.month === null ? Array.from({ length: 12 }, (_, i) => i + 1) : [q.month]).map((m) => [String(m), `${m}月`])
    : by === 'PROGRAMME' ? PROGRAMMES.filter((p) => q.programme === null || p === q.programme).map((p) => [p, PROGRAMME_LABELS[p].zh])
    : by === 'MEMBER_CATEGORY' ? MEMBER_CATEGORIES.filter((c) => q.memberCategory === null || c === q.memberCategory).map((c) => [c, MEMBER_CATEGORY_ZH[c]])
    : UNIT_TYPES.map((t) => [t, UNIT_TYPE_ZH[t]]);
  return groups.map(([key, label]) => row(by, q, key, label, grouped, null));
}

/** Nearest-rank percentile (0 < p ≤ 1) of values given with their counts; null without values. */
export function percentile(values: readonly { value: number; count: number }[], p: number): number | null {
  const sorted = [...values].sort((a, b) => a.value - b.value);
  const total = sorted.reduce((n, v) => n + v.count, 0);
  if (total === 0) return null;
  const rank = Math.ceil(p * total);
  let seen = 0;
  for (const v of sorted) {
    seen += v.count;
    if (seen >= rank) return v.value;
  }
  return sorted[sorted.length - 1]!.value;
}

/** Working days receipt → decision and decision → payment of the claims the report counts. */
export async function turnaround(db: Queryable, report: Pick<FiguresReportResult, 'query' | 'scope'>, holidays: readonly string[]): Promise<TurnaroundFigures> {
  const { grouping: _unused, ...s } = selection(report.query, 'TOTAL');
  const dates = await store.turnaroundDates(db, s, report.scope);
  const off = new Set(holidays);
  const decision = dates.map((d) => ({ value: workingDaysBetween(d.received, d.decided, off), count: d.count }));
  const payment = dates.filter((d) => d.paid !== null).map((d) => ({ value: workingDaysBetween(d.decided, d.paid!, off), count: d.count }));
  const count = (v: typeof decision) => v.reduce((n, x) => n + x.count, 0);
  return {
    decided: count(decision), decisionMedianDays: percentile(decision, 0.5), decisionP90Days: percentile(decision, 0.9),
    paid: count(payment), paymentMedianDays: percentile(payment, 0.5), paymentP90Days: percentile(payment, 0.9),
  };
}

/** An open exception's age class by its age in days. */
export function ageOf(days: number): ExceptionAge {
  return days <= 2 ? 'DAYS_0_TO_2' : days <= 7 ? 'DAYS_3_TO_7' : days <= 30 ? 'DAYS_8_TO_30' : 'OVER_30_DAYS';
}

function buckets(ages: readonly { age: number; count: number }[]): ExceptionAgeBuckets {
  const b: ExceptionAgeBuckets = { days0To2: 0, days3To7: 0, days8To30: 0, over30Days: 0, total: 0 };
  const field: Record<ExceptionAge, keyof ExceptionAgeBuckets> = { DAYS_0_TO_2: 'days0To2', DAYS_3_TO_7: 'days3To7', DAYS_8_TO_30: 'days8To30', OVER_30_DAYS: 'over30Days' };
  for (const { age, count } of ages) {
    b[field[ageOf(age)]] += count;
    b.total += count;
  }
  return b;
}

/** Open reconciliation exceptions now on the accounts of the subtree's funders. */
export async function openExceptions(db: Queryable, report: Pick<FiguresReportResult, 'query' | 'scope'>, unionAccount: string, now = new Date()): Promise<ExceptionAgeBuckets> {
  const accounts = await store.funderAccounts(db, report.query.organisation?.id ?? null, report.scope, unionAccount);
  return buckets(await store.openExceptionAges(db, accounts, chinaToday(now)));
}

/** The reconciliation calendar of the caller's accounts (or the one asked for, when it is one of them). */
export async function reconciliationCalendar(
  db: Queryable, scope: Scope, filter: { account?: string | null; from: string; to: string }, unionAccount: string, now = new Date(),
): Promise<{ accounts: string[]; days: CalendarDay[]; openExceptions: ExceptionAgeBuckets }> {
  const datesOk = isIsoDate(filter.from) && isIsoDate(filter.to);
  checkAll({
    'filter.from': isIsoDate(filter.from) ? null : 'must be a date yyyy-MM-dd',
    'filter.to': !isIsoDate(filter.to) ? 'must be a date yyyy-MM-dd'
      : datesOk && filter.to < filter.from ? 'must not be before filter.from'
      : datesOk && dayNumber(filter.to) - dayNumber(filter.from) >= MAX_CALENDAR_DAYS ? `must be at most ${MAX_CALENDAR_DAYS - 1} days after filter.from` : null,
  });
  const visible = await store.funderAccounts(db, scope.organisationId ?? null, scope, unionAccount);
  const accounts = filter.account == null ? visible : visible.filter((a) => a === filter.account);
  // Another organisation's account answers as one that does not exist.
  if (filter.account != null && !accounts.length) throw notFound('account', 'filter.account');
  const today = chinaToday(now);
  const days = (await store.calendarDays(db, accounts, filter.from, filter.to)).map((d) => ({
    ...d, age: d.openExceptions > 0 ? ageOf(dayNumber(today) - dayNumber(d.date)) : null,
  }));
  const ages = days.filter((d) => d.openExceptions > 0).map((d) => ({ age: dayNumber(today) - dayNumber(d.date), count: d.openExceptions }));
  return { accounts, days, openExceptions: buckets(ages) };
}

/** The targets of a year the caller may see. */
export function enrolmentTargets(db: Queryable, scope: Scope, planYear: number): Promise<EnrolmentTargetRow[]> {
  checkAll({ planYear: planYearProblem(planYear) });
  return store.targetsOfYear(db, planYear, scope, MAX_TARGETS);
}

export interface TargetInput extends TargetFigures {
  organisationId: number;
  planYear: number;
}

/**
 * Sets an organisation's targets for a year (last wins), audited with the values replaced. An
 * ADMIN bound to an organisation sets them only for organisations strictly below its own: targets
 * are given from above, never set by the organisation measured against them.
 */
export async function setEnrolmentTarget(db: Db, actor: Actor, scope: Scope, input: TargetInput): Promise<EnrolmentTargetRow> {
  const whole = (v: number, max: number) => (Number.isSafeInteger(v) && v >= 0 && v <= max ? null : `must be a whole number from 0 to ${max}`);
  checkAll({
    'input.planYear': planYearProblem(input.planYear),
    'input.membersTarget': whole(input.membersTarget, TARGET_LIMITS.members),
    'input.unitsTarget': whole(input.unitsTarget, TARGET_LIMITS.units),
    'input.contributionsTargetFen': whole(input.contributionsTargetFen, TARGET_LIMITS.contributionsFen),
  });
  const [organisation] = await organisationsByIds(db, [input.organisationId], scope);
  if (!organisation) throw notFound('organisation', 'input.organisationId');
  if (organisation.id === scope.organisationId) throw invalid('input.organisationId', 'is your own organisation: its targets are set by the organisation above it');
  return inTransaction(db, async (tx) => {
    const { row: saved, previous } = await store.upsertTarget(tx, organisation.id, input.planYear, input, actor.subject);
    await recordAudit(tx, actor, {
      action: 'figures.target.set', targetType: 'Organisation', targetId: organisation.code,
      details: {
        organisationId: organisation.id, planYear: input.planYear, previous,
        target: { membersTarget: input.membersTarget, unitsTarget: input.unitsTarget, contributionsTargetFen: input.contributionsTargetFen },
      },
    });
    return saved;
  });
}

/** Every figure of the yearly report (年度数据公布): totals, turnaround and each breakdown, its small cells withheld. */
export interface YearlyReport {
  query: FiguresQuery;
  totals: FiguresRowResult;
  turnaround: TurnaroundFigures;
  byOrganisation: PublishedRow[];
  byProgramme: PublishedRow[];
  byCategory: PublishedRow[];
  byMonth: PublishedRow[];
  byUnitType: PublishedRow[];
  /** FIGURES_MIN_CELL: fewer cases than this a breakdown row does not show (src/figures/disclosure.ts). */
  minCell: number;
  /** China date the report was made. */
  madeOn: string;
}

/** The breakdowns whose rows are the same groups in every organisation's report. */
const SHARED_BREAKDOWNS = ['PROGRAMME', 'MEMBER_CATEGORY', 'MONTH', 'UNIT_TYPE'] as const;
type SharedBreakdown = typeof SHARED_BREAKDOWNS[number];

/**
 * The shared breakdowns of `report` as its own yearly report prints them: what each child
 * organisation's report withholds first (its children's before it, down the subtree), since a parent's
 * row minus the children's printed rows is the child's withheld one.
 */
async function sharedBreakdowns(db: Queryable, report: FiguresReportResult, minCell: number): Promise<Record<SharedBreakdown, PublishedBreakdown>> {
  const q = report.query;
  const children: Record<SharedBreakdown, PublishedBreakdown>[] = [];
  // One child at a time: a deep subtree does not take the pool's every connection.
  for (const child of await store.childOrganisations(db, q.organisation?.id ?? null, report.scope, MAX_BREAKDOWN_ORGANISATIONS)) {
    children.push(await sharedBreakdowns(db, await figures(db, report.scope, { ...q, organisation: child }), minCell));
  }
  const read = await Promise.all(SHARED_BREAKDOWNS.map(async (by): Promise<[SharedBreakdown, PublishedBreakdown]> => {
    const rows = await breakdown(db, report, by);
    return [by, { rows, published: publishedRows(rows, report.totals, by, minCell, children.map((c) => c[by])) }];
  }));
  return Object.fromEntries(read) as Record<SharedBreakdown, PublishedBreakdown>;
}

export async function yearlyReport(
  db: Queryable, scope: Scope, q: FiguresQuery, { holidays, minCell }: { holidays: readonly string[]; minCell: number }, now = new Date(),
): Promise<YearlyReport> {
  const report = await figures(db, scope, q);
  const [t, byOrganisation, shared] = await Promise.all([
    turnaround(db, report, holidays),
    breakdown(db, report, 'ORGANISATION').then((rows) => publishedRows(rows, report.totals, 'ORGANISATION', minCell)),
    sharedBreakdowns(db, report, minCell),
  ]);
  return {
    query: q, totals: report.totals, turnaround: t, byOrganisation, byProgramme: shared.PROGRAMME.published, byCategory: shared.MEMBER_CATEGORY.published,
    byMonth: shared.MONTH.published, byUnitType: shared.UNIT_TYPE.published, minCell, madeOn: chinaToday(now),
  };
}
