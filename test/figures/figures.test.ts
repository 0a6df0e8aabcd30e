import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTRIBUTION_FEN, MEMBER_CATEGORIES } from '../../src/members/model.ts';
import { UNSCOPED, type Scope } from '../../src/kernel/scope.ts';
import { breakdown, figures, figuresQuery, growth, openExceptions, percentile, reconciliationCalendar, setEnrolmentTarget, turnaround, enrolmentTargets } from '../../src/figures/service.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { chinaYear, rawRows, seedFigures, YEAR, type Tree } from './support.ts';

/** The figures of the demo's sample data against a count by hand of the raw rows. */
let db: TestDatabase;
let tree: Tree;
let raw: Awaited<ReturnType<typeof rawRows>>;
const ADMIN = { subject: 'admin-a', role: 'ADMIN' };

beforeAll(async () => {
  db = await freshDatabase();
  tree = await seedFigures(db.pool);
  raw = await rawRows(db.pool);
}, 120_000);
afterAll(async () => {
  await db?.drop();
});

/** The units below (or at) an organisation, from the organisations' paths. */
function unitsUnder(organisationId: number): Set<string> {
  const inside = new Set(raw.organisations.filter((o) => o.path.map(Number).includes(organisationId)).map((o) => o.id));
  return new Set(raw.units.filter((u) => inside.has(u.organisation_id)).map((u) => u.id));
}

function handCount(units: Set<string>, year: number) {
  const enrolments = raw.enrolments.filter((e) => units.has(e.unit_id) && e.plan_year === year);
  const decided = raw.claims.filter((c) => units.has(c.unit_id) && c.decided_at && chinaYear(c.decided_at) === year
    && !['CANCELLED', 'PENDING_REVIEW'].includes(c.status) && raw.lines.some((l) => l.claim_id === c.id));
  const approvedFen = decided.filter((c) => c.status === 'APPROVED')
    .flatMap((c) => raw.lines.filter((l) => l.claim_id === c.id && ['APPROVED', 'PAID'].includes(l.status)))
    .reduce((n, l) => n + Number(l.adjusted_fen ?? l.amount_fen), 0);
  const paid = raw.payouts.filter((p) => units.has(p.unit_id) && p.claim_id !== null && ['PAID', 'SETTLED'].includes(p.status) && chinaYear(p.paid_at!) === year);
  return {
    units: new Set(enrolments.map((e) => e.unit_id)).size,
    membersEnrolled: enrolments.length,
    contributionsOwedFen: enrolments.reduce((n, e) => n + (e.plan === 'PUBLIC' ? CONTRIBUTION_FEN.PUBLIC : CONTRIBUTION_FEN.PRIVATE) + (e.special_disease ? CONTRIBUTION_FEN.SPECIAL_DISEASE : 0), 0),
    contributionsRaisedFen: raw.payments.filter((p) => units.has(p.unit_id) && p.plan_year === year).reduce((n, p) => n + Number(p.amount_fen), 0),
    claims: decided.length,
    claimsApprovedFen: approvedFen,
    payouts: paid.length,
    paidFen: paid.reduce((n, p) => n + Number(p.amount_fen), 0),
    condolences: 0,
    condolencesApprovedFen: 0,
    claimants: new Set(decided.map((c) => c.member_id)).size,
    payees: new Set(paid.map((p) => p.member_id)).size,
    condolenceRecipients: 0,
  };
}

const qzScope: Scope = { ...UNSCOPED, organisationId: 0 };

describe('figures of an organisation subtree', () => {
  it('the data has what the figures are about: both years, claims decided and paid in each', () => {
    const units = unitsUnder(tree.QZ);
    for (const year of [YEAR - 1, YEAR]) {
      const c = handCount(units, year);
      expect(c.membersEnrolled).toBeGreaterThan(100);
      expect(c.claims).toBeGreaterThan(2);
      expect(c.payouts).toBeGreaterThan(1);
    }
  });

  it('totals equal the hand count for 泉州 (itself, 晋江 and 鲤城) and the year before, with year-on-year change', async () => {
    const q = await figuresQuery(db.pool, UNSCOPED, { organisationId: tree.QZ, planYear: YEAR });
    const { totals } = await figures(db.pool, UNSCOPED, q);
    const now = handCount(unitsUnder(tree.QZ), YEAR);
    const before = handCount(unitsUnder(tree.QZ), YEAR - 1);
    expect(totals).toMatchObject(now);
    expect(totals.previousYear).toEqual(before);
    expect(totals.yearOnYear.membersEnrolled).toBeCloseTo((now.membersEnrolled - before.membersEnrolled) / before.membersEnrolled, 10);
    expect(totals.yearOnYear.paid).toBeCloseTo((now.paidFen - before.paidFen) / before.paidFen, 10);
    expect(totals.completionRate).toBeNull();
  });

  it('the whole hub is the province here (every unit is below 福建)', async () => {
    const q = await figuresQuery(db.pool, UNSCOPED, { organisationId: null, planYear: YEAR });
    const { totals } = await figures(db.pool, UNSCOPED, q);
    expect(totals).toMatchObject(handCount(new Set(raw.units.map((u) => u.id)), YEAR));
  });

  it('breaks down by child organisation, with units directly under 泉州 in a row of their own, summing to the totals', async () => {
    const q = await figuresQuery(db.pool, UNSCOPED, { organisationId: tree.QZ, planYear: YEAR });
    const report = await figures(db.pool, UNSCOPED, q);
    const rows = await breakdown(db.pool, report, 'ORGANISATION');
    expect(rows.map((r) => r.key)).toEqual(['JJ', 'LC', '-']);
    expect(rows[0]).toMatchObject(handCount(unitsUnder(tree.JJ), YEAR));
    expect(rows[1]).toMatchObject(handCount(unitsUnder(tree.LC), YEAR));
    const direct = new Set(raw.units.filter((u) => Number(u.organisation_id) === tree.QZ).map((u) => u.id));
    expect(rows[2]).toMatchObject(handCount(direct, YEAR));
    expect(rows.reduce((n, r) => n + r.membersEnrolled!, 0)).toBe(report.totals.membersEnrolled);
    expect(rows.reduce((n, r) => n + r.paidFen, 0)).toBe(report.totals.paidFen);
  });

  it('breaks down by member category (a member in each of its categories) and by programme (lines of the programme)', async () => {
    const q = await figuresQuery(db.pool, UNSCOPED, { organisationId: tree.FJ, planYear: YEAR });
    const report = await figures(db.pool, UNSCOPED, q);
    const byCategory = await breakdown(db.pool, report, 'MEMBER_CATEGORY');
    expect(byCategory.map((r) => r.key)).toEqual([...MEMBER_CATEGORIES]);
    for (const row of byCategory) {
      expect(row.membersEnrolled).toBe(raw.enrolments.filter((e) => e.plan_year === YEAR && e.member_categories.includes(row.key)).length);
      expect(row.contributionsRaisedFen).toBeNull();
    }
    const byProgramme = await breakdown(db.pool, report, 'PROGRAMME');
    const decided = new Set(raw.claims.filter((c) => c.decided_at && chinaYear(c.decided_at) === YEAR && !['CANCELLED', 'PENDING_REVIEW'].includes(c.status)).map((c) => c.id));
    for (const row of byProgramme) {
      expect(row.claims).toBe(new Set(raw.lines.filter((l) => l.programme === row.key && decided.has(l.claim_id)).map((l) => l.claim_id)).size);
      expect(row.membersEnrolled).toBeNull();
    }
    expect(byProgramme.reduce((n, r) => n + r.claimsApprovedFen, 0)).toBe(report.totals.claimsApprovedFen);
  });

  it('by month: enrolments of the month; early enrolments of the year only in the totals', async () => {
    const q = await figuresQuery(db.pool, UNSCOPED, { organisationId: tree.FJ, planYear: YEAR });
    const report = await figures(db.pool, UNSCOPED, q);
    const byMonth = await breakdown(db.pool, report, 'MONTH');
    expect(byMonth).toHaveLength(12);
    for (const row of byMonth) {
      expect(row.membersEnrolled).toBe(raw.enrolments.filter((e) => e.plan_year === YEAR && e.enrolled_on.startsWith(`${YEAR}-${row.key.padStart(2, '0')}`)).length);
    }
    const early = raw.enrolments.filter((e) => e.plan_year === YEAR && !e.enrolled_on.startsWith(String(YEAR))).length;
    expect(early).toBeGreaterThan(0);
    expect(byMonth.reduce((n, r) => n + r.membersEnrolled!, 0)).toBe(report.totals.membersEnrolled! - early);
    const march = await figures(db.pool, UNSCOPED, await figuresQuery(db.pool, UNSCOPED, { organisationId: tree.FJ, planYear: YEAR, month: 3 }));
    expect(march.totals.membersEnrolled).toBe(byMonth[2]!.membersEnrolled);
    expect(march.totals.contributionsRaisedFen).toBe(byMonth[2]!.contributionsRaisedFen);
  });

  it('a member-category filter counts only those members, and no contributions', async () => {
    const q = await figuresQuery(db.pool, UNSCOPED, { organisationId: tree.FJ, planYear: YEAR, memberCategory: 'SANITATION' });
    const { totals } = await figures(db.pool, UNSCOPED, q);
    expect(totals.membersEnrolled).toBe(raw.enrolments.filter((e) => e.plan_year === YEAR && e.member_categories.includes('SANITATION')).length);
    expect(totals.contributionsRaisedFen).toBeNull();
  });

  it('turnaround: nearest-rank median and 90th percentile of working days', async () => {
    expect(percentile([{ value: 1, count: 1 }, { value: 5, count: 1 }, { value: 3, count: 1 }], 0.5)).toBe(3);
    expect(percentile([{ value: 2, count: 9 }, { value: 10, count: 1 }], 0.9)).toBe(2);
    expect(percentile([{ value: 2, count: 9 }, { value: 10, count: 2 }], 0.9)).toBe(10);
    expect(percentile([], 0.5)).toBeNull();
    const q = await figuresQuery(db.pool, UNSCOPED, { organisationId: tree.FJ, planYear: YEAR - 1 });
    const report = await figures(db.pool, UNSCOPED, q);
    const t = await turnaround(db.pool, report, []);
    // In 2025 every claim decided was back-dated to 2025-05-28; payment 14 days (10 working days) later.
    expect(t.decided).toBe(report.totals.claims);
    expect(t.paid).toBe(report.totals.payouts);
    expect(t.paymentMedianDays).toBe(10);
    expect(t.paymentP90Days).toBe(10);
  });

  it('growth is null when the previous figure is 0 or not counted', () => {
    expect(growth(5, 0)).toBeNull();
    expect(growth(null, 3)).toBeNull();
    expect(growth(6, 4)).toBe(0.5);
  });

  it('rejects a bad year or month, naming the field', async () => {
    await expect(figuresQuery(db.pool, UNSCOPED, { organisationId: null, planYear: 1999, month: 13 })).rejects.toMatchObject({
      problems: [{ field: 'filter.planYear' }, { field: 'filter.month' }],
    });
  });
});

describe('targets', () => {
  it('set by an ADMIN above, last wins, audited with what it replaced; completion rates follow', async () => {
    const scope = { ...qzScope, organisationId: tree.QZ };
    await setEnrolmentTarget(db.pool, ADMIN, scope, { organisationId: tree.JJ, planYear: YEAR, membersTarget: 10, unitsTarget: 1, contributionsTargetFen: 1 });
    const saved = await setEnrolmentTarget(db.pool, ADMIN, scope, { organisationId: tree.JJ, planYear: YEAR, membersTarget: 400, unitsTarget: 4, contributionsTargetFen: 1_000_000 });
    expect(saved).toMatchObject({ organisationId: tree.JJ, membersTarget: 400, setBy: 'admin-a' });
    const { rows } = await db.pool.query(`SELECT details FROM audit_log WHERE action = 'figures.target.set' ORDER BY seq`);
    expect(rows).toHaveLength(2);
    expect(rows[1].details.previous).toEqual({ membersTarget: 10, unitsTarget: 1, contributionsTargetFen: 1 });
    const report = await figures(db.pool, scope, await figuresQuery(db.pool, scope, { organisationId: null, planYear: YEAR }));
    const [jj] = await breakdown(db.pool, report, 'ORGANISATION');
    expect(jj!.enrolmentTarget).toBe(400);
    expect(jj!.completionRate).toBeCloseTo(jj!.membersEnrolled! / 400, 12);
    expect(jj!.contributionsCompletionRate).toBeCloseTo(jj!.contributionsRaisedFen! / 1_000_000, 12);
    expect((await enrolmentTargets(db.pool, scope, YEAR)).map((t) => t.organisationCode)).toEqual(['JJ']);
  });

  it('refuses an organisation-bound ADMIN its own organisation, one outside its subtree, and bad numbers; nothing written', async () => {
    const jjAdmin = { ...qzScope, organisationId: tree.JJ };
    const before = (await db.pool.query(`SELECT count(*)::int AS n FROM enrolment_targets`)).rows[0].n;
    await expect(setEnrolmentTarget(db.pool, ADMIN, jjAdmin, { organisationId: tree.JJ, planYear: YEAR, membersTarget: 1, unitsTarget: 1, contributionsTargetFen: 1 }))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.organisationId' });
    await expect(setEnrolmentTarget(db.pool, ADMIN, jjAdmin, { organisationId: tree.XM, planYear: YEAR, membersTarget: 1, unitsTarget: 1, contributionsTargetFen: 1 }))
      .rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(setEnrolmentTarget(db.pool, ADMIN, UNSCOPED, { organisationId: tree.XM, planYear: YEAR, membersTarget: -1, unitsTarget: 1.5, contributionsTargetFen: 1 }))
      .rejects.toMatchObject({ problems: [{ field: 'input.membersTarget' }, { field: 'input.unitsTarget' }] });
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM enrolment_targets`)).rows[0].n).toBe(before);
  });
});

describe('reconciliation figures', () => {
  it('open exceptions by age, on the subtree funders\' accounts only; the calendar per day', async () => {
    const account = '1408010109024561234';
    const today = new Date();
    const day = (ago: number) => new Date(today.getTime() + 8 * 3_600_000 - ago * 86_400_000).toISOString().slice(0, 10);
    let n = 0;
    for (const ago of [0, 1, 5, 20, 40, 40]) {
      await db.pool.query(
        `INSERT INTO reconciliation_exceptions (key, kind, account, amount_fen, occurred_on, evidence) VALUES ($1, 'MISSING_DEBIT', $2, 100, $3, '{}')`,
        [`fig-${(n += 1)}`, account, day(ago)]);
    }
    // The hub's own union pays from the configured account: its funder sits at UNION, outside 福建.
    const hub = await figures(db.pool, UNSCOPED, await figuresQuery(db.pool, UNSCOPED, { organisationId: null, planYear: YEAR }));
    expect(await openExceptions(db.pool, hub, account)).toEqual({ days0To2: 2, days3To7: 1, days8To30: 1, over30Days: 2, total: 6 });
    const fj = await figures(db.pool, UNSCOPED, await figuresQuery(db.pool, UNSCOPED, { organisationId: tree.FJ, planYear: YEAR }));
    expect((await openExceptions(db.pool, fj, account)).total).toBe(0);

    const calendar = await reconciliationCalendar(db.pool, UNSCOPED, { from: day(6), to: day(0) }, account);
    expect(calendar.accounts).toEqual([account]);
    expect(calendar.days).toHaveLength(7);
    expect(calendar.days.find((d) => d.date === day(5))).toMatchObject({ openExceptions: 1, age: 'DAYS_3_TO_7', statementPresent: false, proven: null });
    expect(calendar.openExceptions.total).toBe(3);
    await expect(reconciliationCalendar(db.pool, { ...qzScope, organisationId: tree.QZ }, { account, from: day(6), to: day(0) }, account))
      .rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(reconciliationCalendar(db.pool, UNSCOPED, { from: '2025-01-01', to: '2026-12-31' }, account)).rejects.toMatchObject({ field: 'filter.to' });
  });
});
