import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_OPERATIONS } from '../../src/gateway/dashboard.ts';
import { addDays, chinaToday } from '../../src/kernel/time.ts';
import { seedEnrolment, seedMember, seedSettlement, seedUnit } from '../benefits/seed.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * The staff dashboard as a person uses it: headless Chromium (as in browser.test.ts) opens
 * /dashboard with an ADMIN token over seeded organisations, and every chart draws what the API
 * answers for the same token; clicking an organisation's bar shows its children, the breadcrumb goes
 * back; the reconciliation calendar shows the open exceptions and the day not proven. Nothing is
 * loaded from outside. Screenshots: .data/artifacts/dashboard-{overview,drilldown,calendar}.png.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../.data/artifacts/', import.meta.url));
const YEAR = Number(chinaToday().slice(0, 4));

let db: TestDatabase;
let gw: TestGateway;
let browser: Browser;
let origin: string;

async function organisation(code: string, name: string, level: 'CITY' | 'COUNTY', parent: string | null): Promise<number> {
  const { rows: [row] } = await db.pool.query<{ id: number }>(
    `INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ($1, $2, $3, (SELECT id FROM organisations WHERE code = $4), 'test') RETURNING id`,
    [code, name, level, parent],
  );
  return row!.id;
}

/** A unit of `org` with `members` enrolled in `year`, and one approved claim per entry of `claims`. */
async function unitWith(org: number, members: number, year: number, claims: { month: number; programme: string; fen: number; paid: boolean }[]): Promise<void> {
  const unit = await seedUnit(db.pool, 'PRIVATE', org);
  const setups = [];
  for (let i = 0; i < members; i++) {
    const memberId = await seedMember(db.pool, unit.id);
    const enrolmentId = await seedEnrolment(db.pool, memberId, unit.id, { year, plan: 'PRIVATE' });
    // Every other member a courier or rider (新就业形态), every third a sanitation worker.
    const categories = [...(i % 2 === 0 ? ['NEW_EMPLOYMENT_FORM'] : []), ...(i % 3 === 0 ? ['SANITATION'] : [])];
    await db.pool.query(`UPDATE enrolments SET member_categories = $2 WHERE id = $1`, [enrolmentId, categories]);
    setups.push({ unitId: unit.id, creditCode: unit.creditCode, memberId, enrolmentId });
  }
  for (const [i, c] of claims.entries()) {
    const m = setups[i % setups.length]!;
    const decided = `${year}-${String(c.month).padStart(2, '0')}-15 10:00:00+08`;
    const settlementId = await seedSettlement(db.pool, m, { setlTime: `${year}-${String(c.month).padStart(2, '0')}-10 10:00:00` });
    await db.pool.query(`UPDATE settlements SET received_at = setl_time + interval '1 day' WHERE id = $1`, [settlementId]);
    const { rows: [claim] } = await db.pool.query<{ id: number }>(
      `INSERT INTO claims (settlement_id, member_id, unit_id, enrolment_id, plan_year, setl_time, status, eligible, psn_part_amt,
                           computed_total_fen, total_fen, decided_by, decided_at)
       SELECT s.id, s.member_id, s.unit_id, s.enrolment_id, $2, s.setl_time, 'APPROVED', true, s.psn_part_amt, $3, $3, 'reviewer', $4
         FROM settlements s WHERE s.id = $1 RETURNING id`,
      [settlementId, year, c.fen, decided],
    );
    await db.pool.query(
      `INSERT INTO benefit_lines (claim_id, programme, basis_fen, before_caps_fen, amount_fen, explanation, status, paid_at)
       VALUES ($1, $2, $3, $3, $3, 'test', $4, $5)`,
      [claim!.id, c.programme, c.fen, c.paid ? 'PAID' : 'APPROVED', c.paid ? decided : null],
    );
    if (c.paid) {
      await db.pool.query(
        `INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, paid_at) VALUES ($1, $2, $3, $4, 'PAID', $5)`,
        [claim!.id, m.memberId, m.unitId, c.fen, decided],
      );
    }
  }
}

async function target(org: number, members: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO enrolment_targets (organisation_id, plan_year, members_target, units_target, contributions_target_fen, set_by) VALUES ($1, $2, $3, 2, 0, 'test')`,
    [org, YEAR, members],
  );
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`);
  db = await freshDatabase();
  gw = await startTestGateway(db);
  origin = new URL(gw.url).origin;
  const { rows: [root] } = await db.pool.query<{ id: number }>(`SELECT id FROM organisations WHERE code = 'UNION'`);
  const jinjiang = await organisation('JINJIANG', '晋江市总工会', 'COUNTY', 'UNION');
  const shishi = await organisation('SHISHI', '石狮市总工会', 'COUNTY', 'UNION');
  await target(root!.id, 20);
  await target(jinjiang, 8);
  await target(shishi, 6);
  await unitWith(jinjiang, 5, YEAR, [
    { month: 1, programme: 'INPATIENT', fen: 1_680_000, paid: true }, { month: 3, programme: 'CRITICAL', fen: 7_200_000, paid: true },
    { month: 3, programme: 'INPATIENT', fen: 250_000, paid: false },
  ]);
  await unitWith(jinjiang, 2, YEAR - 1, [{ month: 6, programme: 'INPATIENT', fen: 300_000, paid: true }]);
  await unitWith(shishi, 3, YEAR, [{ month: 2, programme: 'MAJOR_DISEASE', fen: 1_000_000, paid: true }]);
  await unitWith(root!.id, 2, YEAR, [{ month: 4, programme: 'INPATIENT', fen: 420_000, paid: false }]);
  // The calendar: the paying account's statement two days ago did not prove, with an exception still open.
  const account = gw.config.PAYOUT_ACCOUNT;
  const day = addDays(chinaToday(), -2);
  const { rows: [doc] } = await db.pool.query<{ id: number }>(
    `INSERT INTO bank_documents (kind, sha256, xml, source, received_by) VALUES ('camt.053', '\\x01', '<x/>', 'FILE', 'test') RETURNING id`,
  );
  const { rows: [statement] } = await db.pool.query<{ id: number }>(
    `INSERT INTO bank_statements (account, statement_date, statement_ref, document_id, bank_created_at, final) VALUES ($1, $2, 'S1', $3, now(), true) RETURNING id`,
    [account, day, doc!.id],
  );
  await db.pool.query(
    `INSERT INTO daily_proofs (account, statement_date, statement_id, credits_fen, debits_fen, entries, recognized_credits_fen, recognized_debits_fen,
                               unrecognized_entries, proven, problems) VALUES ($1, $2, $3, 0, 0, 0, 0, 0, 1, false, '[]')`,
    [account, day, statement!.id],
  );
  for (const key of ['cal-1', 'cal-2']) {
    await db.pool.query(
      `INSERT INTO reconciliation_exceptions (key, kind, account, amount_fen, occurred_on, evidence) VALUES ($1, 'MISSING_DEBIT', $2, 100, $3, '{}')`,
      [key, account, day],
    );
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await db?.drop();
});

/** A page that may reach only the gateway: anything else is recorded and aborted. */
async function openPage(): Promise<{ page: Page; elsewhere: string[]; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
  const elsewhere: string[] = [];
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin)) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  return { page, elsewhere, problems };
}

/** The options of the ECharts instance drawn in #chart-<id>. */
function optionOf(page: Page, id: string): Promise<{ xAxis: { data: string[] }[]; series: { type: string; data: unknown[] }[]; calendar: { range: string[] }[] }> {
  return page.evaluate((id) => (window as any).echarts.getInstanceByDom(document.getElementById(`chart-${id}`)).getOption(), id); // eslint-disable-line @typescript-eslint/no-explicit-any
}

const values = (data: unknown[]) => data.map((d) => (d !== null && typeof d === 'object' && 'value' in d ? (d as { value: unknown }).value : d));
const yuan = (fen: number | null) => (fen === null ? null : fen / 100);

async function figuresAnswer(organisationId: string | null) {
  const token = await gw.token({ role: 'ADMIN' });
  const answer = await gw.query(token, DASHBOARD_OPERATIONS.figures, { filter: { planYear: YEAR, organisationId }, parentId: organisationId });
  expect(answer.errors).toBeUndefined();
  return answer.data;
}

/** Clicks the middle of the bar ECharts drew for the `index`-th organisation (members enrolled), as a person would. */
async function clickBar(page: Page, index: number): Promise<void> {
  const point = await page.evaluate((index) => {
    const element = document.getElementById('chart-organisations')!;
    const chart = (window as any).echarts.getInstanceByDom(element); // eslint-disable-line @typescript-eslint/no-explicit-any
    const bar = chart.getModel().getSeriesByIndex(0).getData().getItemLayout(index) as { x: number; y: number; width: number; height: number };
    const box = element.getBoundingClientRect();
    return { x: box.left + bar.x + bar.width / 2, y: box.top + bar.y + bar.height / 2 };
  }, index);
  await page.mouse.click(point.x, point.y);
}

async function waitReady(page: Page, organisation: string): Promise<void> {
  await page.waitForFunction((code) => document.body.dataset.state === 'ready' && document.body.dataset.organisation === code, organisation, { timeout: 20_000 });
}

describe('the dashboard in a browser', () => {
  it('draws what the API answers for the caller, loading nothing from outside', async () => {
    const { page, elsewhere, problems } = await openPage();
    await page.goto(`${origin}/dashboard#token=${await gw.token({ role: 'ADMIN' })}`);
    const { figures } = await figuresAnswer(null);
    await waitReady(page, figures.organisationCode);
    // The token left the address bar as soon as the page read it.
    expect(page.url()).toBe(`${origin}/dashboard`);

    const organisations = await optionOf(page, 'organisations');
    expect(organisations.xAxis[0]!.data).toEqual(figures.byOrganisation.map((r: { label: string }) => r.label));
    expect(values(organisations.series[0]!.data)).toEqual(figures.byOrganisation.map((r: { membersEnrolled: number | null }) => r.membersEnrolled ?? 0));
    expect(values(organisations.series[1]!.data)).toEqual(figures.byOrganisation.map((r: { enrolmentTarget: number | null }) => r.enrolmentTarget));
    expect(values(organisations.series[2]!.data)).toEqual(figures.byOrganisation.map((r: { completionRate: number | null }) => r.completionRate));
    const months = await optionOf(page, 'months');
    expect(values(months.series[0]!.data)).toEqual(figures.byMonth.map((r: { claims: number }) => r.claims));
    expect(values(months.series[1]!.data)).toEqual(figures.byMonth.map((r: { claimsApprovedFen: number }) => yuan(r.claimsApprovedFen)));
    expect(values(months.series[2]!.data)).toEqual(figures.byMonth.map((r: { paidFen: number }) => yuan(r.paidFen)));
    const programmes = await optionOf(page, 'programmes');
    expect(values(programmes.series[0]!.data)).toEqual(figures.byProgramme.map((r: { claimsApprovedFen: number }) => yuan(r.claimsApprovedFen)));
    const categories = await optionOf(page, 'categories');
    expect(values(categories.series[1]!.data)).toEqual(figures.byCategory.map((r: { claims: number }) => r.claims));
    const yearOnYear = await optionOf(page, 'year-on-year');
    const yoy = figures.totals.yearOnYear;
    expect(values(yearOnYear.series[0]!.data)).toEqual([yoy.units, yoy.membersEnrolled, yoy.claims, yoy.paid]);
    const turnaround = await optionOf(page, 'turnaround');
    expect(values(turnaround.series[0]!.data)).toEqual([figures.turnaround.decisionMedianDays, figures.turnaround.paymentMedianDays]);
    // The seeded year has claims in it: the charts are not drawn over nothing.
    expect(figures.totals.claims).toBeGreaterThan(0);
    expect(await page.locator('#kpis').innerText()).toContain(figures.totals.membersEnrolled.toLocaleString('zh-CN'));

    // Every chart painted its canvas (not a blank one).
    for (const id of ['organisations', 'year-on-year', 'months', 'programmes', 'categories', 'turnaround', 'calendar']) {
      const painted = await page.evaluate((id) => {
        const canvas = document.querySelector(`#chart-${id} canvas`) as HTMLCanvasElement | null;
        if (!canvas) return 0;
        const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let inked = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) inked += 1;
        return inked;
      }, id);
      expect(painted, id).toBeGreaterThan(500);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-overview.png`, fullPage: true });
    expect(elsewhere).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('drills down: a click on an organisation\'s bar shows its children, the breadcrumb goes back up', async () => {
    const { page, elsewhere, problems } = await openPage();
    await page.goto(`${origin}/dashboard#token=${await gw.token({ role: 'ADMIN' })}`);
    const top = (await figuresAnswer(null)).figures;
    await waitReady(page, top.organisationCode);
    const union = top.byOrganisation.findIndex((r: { key: string }) => r.key === 'UNION');
    expect(union).toBeGreaterThanOrEqual(0);

    await clickBar(page, union);
    await waitReady(page, 'UNION');

    const { data: { organisation } } = await gw.query({ role: 'ADMIN' }, `{ organisation(code: "UNION") { id children { code name } } }`);
    const below = (await figuresAnswer(organisation.id)).figures;
    const shown = (await optionOf(page, 'organisations')).xAxis[0]!.data;
    expect(shown).toEqual(below.byOrganisation.map((r: { label: string }) => r.label));
    for (const child of organisation.children) expect(shown).toContain(child.name);
    expect(values((await optionOf(page, 'months')).series[0]!.data)).toEqual(below.byMonth.map((r: { claims: number }) => r.claims));
    const crumbs = page.locator('#breadcrumb button');
    expect(await crumbs.allInnerTexts()).toEqual([top.organisationName, below.organisationName]);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-drilldown.png`, fullPage: true });

    // One level further, then back to the top through the breadcrumb.
    const jinjiang = below.byOrganisation.findIndex((r: { key: string }) => r.key === 'JINJIANG');
    await clickBar(page, jinjiang);
    await waitReady(page, 'JINJIANG');
    expect(await crumbs.count()).toBe(3);
    await crumbs.first().click();
    await waitReady(page, top.organisationCode);
    expect(await crumbs.count()).toBe(1);
    expect((await optionOf(page, 'organisations')).xAxis[0]!.data).toEqual(top.byOrganisation.map((r: { label: string }) => r.label));
    expect(elsewhere).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows the reconciliation calendar: open exceptions per day and the day not proven', async () => {
    const { page, problems } = await openPage();
    await page.goto(`${origin}/dashboard#token=${await gw.token({ role: 'FINANCE' })}`);
    const { figures } = await figuresAnswer(null);
    await waitReady(page, figures.organisationCode);
    const to = chinaToday();
    const from = addDays(to, -181);
    const answer = await gw.query({ role: 'FINANCE' }, DASHBOARD_OPERATIONS.calendar, { filter: { from, to } });
    expect(answer.errors).toBeUndefined();
    const calendar = answer.data.reconciliationCalendar;
    const perDay = new Map<string, number>();
    for (const d of calendar.days) perDay.set(d.date, (perDay.get(d.date) ?? 0) + d.openExceptions);
    const option = await optionOf(page, 'calendar');
    expect(option.calendar[0]!.range).toEqual([from, to]);
    expect(option.series[0]!.data).toEqual([...perDay.entries()].sort(([a], [b]) => a.localeCompare(b)));
    const unproven = [...new Set(calendar.days.filter((d: { proven: boolean | null }) => d.proven === false).map((d: { date: string }) => d.date))];
    expect(unproven.length).toBeGreaterThan(0);
    expect((option.series[1]!.data as [string, number][]).map(([date]) => date)).toEqual(unproven);
    expect(calendar.openExceptions.total).toBeGreaterThan(0);
    await page.locator('#chart-calendar').screenshot({ path: `${ARTIFACTS}dashboard-calendar.png` });
    expect(problems).toEqual([]);
    await page.close();
  });
});
