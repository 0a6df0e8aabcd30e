import { existsSync } from 'node:fs';
import { SignJWT } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_OPERATIONS } from '../../src/gateway/dashboard.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { seedEnrolment, seedMember, seedUnit } from '../benefits/seed.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * Attacks on the staff dashboard (/dashboard), through the page in headless Chromium: scripts that
 * are not the hub's own do not run (CSP), the page shows nothing without a valid token and keeps the
 * token in this tab only, an organisation's staff see only their subtree (the page holds no data:
 * the scoped API decides), roles without the figures see none, and names from the database cannot
 * become markup.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const YEAR = Number(chinaToday().slice(0, 4));
const EVIL_NAME = '<img src=x onerror="window.pwned=1">工会';

let db: TestDatabase;
let gw: TestGateway;
let browser: Browser;
let origin: string;
let someone: { creditCode: string; memberId: number };

async function organisation(code: string, name: string): Promise<number> {
  const { rows: [row] } = await db.pool.query<{ id: number }>(
    `INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ($1, $2, 'COUNTY', (SELECT id FROM organisations WHERE code = 'UNION'), 'test') RETURNING id`,
    [code, name],
  );
  return row!.id;
}

async function enrolledUnit(org: number, members: number): Promise<{ creditCode: string; memberId: number }> {
  const unit = await seedUnit(db.pool, 'PUBLIC', org);
  let memberId = 0;
  for (let i = 0; i < members; i++) await seedEnrolment(db.pool, (memberId = await seedMember(db.pool, unit.id)), unit.id, { year: YEAR });
  return { creditCode: unit.creditCode, memberId };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`);
  db = await freshDatabase();
  someone = await enrolledUnit(await organisation('JINJIANG', '晋江市总工会'), 4);
  await enrolledUnit(await organisation('SHISHI', '石狮市总工会'), 3);
  await enrolledUnit(await organisation('EVIL', EVIL_NAME), 1);
  gw = await startTestGateway(db);
  origin = new URL(gw.url).origin;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await db?.drop();
});

/** A fresh browser context (its own sessionStorage) whose page reaches only the gateway; requests and CSP violations are recorded. */
async function openPage(): Promise<{ page: Page; requests: string[]; violations: () => Promise<string[]> }> {
  const context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
  const page = await context.newPage();
  const requests: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    requests.push(url);
    return url.startsWith(origin) ? route.continue() : route.abort();
  });
  await page.addInitScript(() => {
    (window as unknown as { violations: string[] }).violations = [];
    document.addEventListener('securitypolicyviolation', (e) => (window as unknown as { violations: string[] }).violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, requests, violations: () => page.evaluate(() => (window as unknown as { violations: string[] }).violations) };
}

const state = (page: Page) => page.evaluate(() => document.body.dataset.state);
async function settled(page: Page): Promise<string> {
  await page.waitForFunction(() => ['ready', 'error', 'signed-out'].includes(document.body.dataset.state ?? ''), null, { timeout: 20_000 });
  return (await state(page))!;
}
const labelsOf = (page: Page) => page.evaluate(() => (window as any).echarts.getInstanceByDom(document.getElementById('chart-organisations')).getOption().xAxis[0].data as string[]); // eslint-disable-line @typescript-eslint/no-explicit-any

describe('the page\'s Content-Security-Policy', () => {
  it('allows only the hub\'s own scripts, styles and API, and no framing', async () => {
    const response = await fetch(`${origin}/dashboard`);
    expect(response.status).toBe(200);
    const csp = Object.fromEntries(response.headers.get('content-security-policy')!.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(csp['default-src']).toEqual(["'none'"]);
    expect(csp['script-src']).toEqual(["'self'"]);
    expect(csp['style-src']).toEqual(["'self'"]);
    expect(csp['connect-src']).toEqual(["'self'"]);
    expect(csp['frame-ancestors']).toEqual(["'none'"]);
    // Every script and style of the page is the hub's own, served with the same policy.
    const html = await response.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBe(4);
    for (const asset of assets) {
      expect(asset.startsWith('/dashboard/assets/'), asset).toBe(true);
      expect((await fetch(`${origin}${asset}`)).status, asset).toBe(200);
    }
    expect(html).not.toMatch(/<script>|\sstyle=|\son[a-z]+=/);
    for (const name of ['constructor', '__proto__', '..%2Fdashboard.ts', 'hasOwnProperty']) expect((await fetch(`${origin}/dashboard/assets/${name}`)).status, name).toBe(404);
  });

  it('blocks an injected inline script and a script from elsewhere in the browser', async () => {
    const { page, violations } = await openPage();
    await page.goto(`${origin}/dashboard`);
    await settled(page);
    await page.evaluate(() => {
      const inline = document.createElement('script');
      inline.textContent = 'window.inlineRan = true';
      document.body.append(inline);
      const remote = document.createElement('script');
      remote.src = 'https://cdn.example.com/evil.js';
      document.body.append(remote);
    });
    await expect.poll(violations).toHaveLength(2);
    expect(await page.evaluate(() => (window as unknown as { inlineRan?: boolean }).inlineRan)).toBeUndefined();
    expect((await violations()).join('\n')).toMatch(/script-src.*inline[\s\S]*script-src.*cdn\.example\.com|script-src.*cdn\.example\.com[\s\S]*script-src.*inline/);
    await page.context().close();
  });
});

describe('signing in', () => {
  it('without a token shows the sign-in prompt and asks the API for nothing', async () => {
    const { page, requests } = await openPage();
    await page.goto(`${origin}/dashboard`);
    expect(await settled(page)).toBe('signed-out');
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('#dashboard').isVisible()).toBe(false);
    expect(requests.filter((u) => u.includes('/graphql'))).toEqual([]);
    await page.context().close();
  });

  it('with a forged or expired token shows the prompt again, no figures, and forgets the token', async () => {
    const good = await gw.token({ role: 'ADMIN' });
    const [head, body] = good.split('.');
    const forged = `${head}.${body}.${'A'.repeat(43)}`;
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setSubject('test-admin')
      .setIssuedAt(now - 3600).setExpirationTime(now - 60).sign(new TextEncoder().encode(gw.config.JWT_SECRET));
    for (const token of [forged, expired, 'not-a-token']) {
      const { page } = await openPage();
      await page.goto(`${origin}/dashboard`);
      await settled(page);
      await page.locator('#token').fill(token);
      await page.locator('#sign-in-form button').click();
      await page.waitForFunction(() => document.body.dataset.state === 'signed-out' && !document.getElementById('message')!.hidden, null, { timeout: 20_000 });
      expect(await page.locator('#dashboard').isVisible()).toBe(false);
      expect(await page.locator('#kpis').innerText()).toBe('');
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
      await page.context().close();
    }
  });

  it('keeps the token in this tab only: not in localStorage, cookies or the address bar, gone in another tab', async () => {
    const { page } = await openPage();
    await page.goto(`${origin}/dashboard#token=${await gw.token({ role: 'ADMIN' })}`);
    expect(await settled(page)).toBe('ready');
    expect(page.url()).toBe(`${origin}/dashboard`);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await page.context().cookies()).toEqual([]);
    const other = await page.context().newPage();
    await other.goto(`${origin}/dashboard`);
    expect(await settled(other)).toBe('signed-out');
    // Signing out forgets it here too.
    await page.locator('#sign-out').click();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.locator('#dashboard').isVisible()).toBe(false);
    await page.context().close();
  });
});

describe('scope', () => {
  it('an organisation\'s staff see their subtree only, as the API answers it, and cannot reach a sibling', async () => {
    const { page } = await openPage();
    const token = await gw.token({ role: 'FINANCE', org: 'JINJIANG' });
    await page.goto(`${origin}/dashboard#token=${token}`);
    expect(await settled(page)).toBe('ready');
    expect(await page.evaluate(() => document.body.dataset.organisation)).toBe('JINJIANG');
    expect(await page.locator('#breadcrumb button').allInnerTexts()).toEqual(['晋江市总工会']);

    const { data: { organisation: jinjiang } } = await gw.query({ role: 'ADMIN' }, `{ organisation(code: "JINJIANG") { id } }`);
    const { data: { organisation: shishi } } = await gw.query({ role: 'ADMIN' }, `{ organisation(code: "SHISHI") { id } }`);
    const asAdmin = await gw.query({ role: 'ADMIN' }, DASHBOARD_OPERATIONS.figures, { filter: { planYear: YEAR, organisationId: jinjiang.id }, parentId: jinjiang.id });
    expect(await labelsOf(page)).toEqual(asAdmin.data.figures.byOrganisation.map((r: { label: string }) => r.label));
    expect(await page.locator('#kpis').innerText()).toContain(`参保人数 Members\n${asAdmin.data.figures.totals.membersEnrolled}`);
    expect(await page.locator('body').innerText()).not.toContain('石狮');

    // The page's own token, used from the page for a sibling's figures: the API refuses it.
    const forged = await page.evaluate(async ({ query, id, year }) => {
      const token = sessionStorage.getItem('hub-dashboard-token');
      const response = await fetch('/graphql', {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables: { filter: { planYear: year, organisationId: id }, parentId: id } }),
      });
      return response.json();
    }, { query: DASHBOARD_OPERATIONS.figures, id: shishi.id, year: YEAR });
    expect(forged.data?.figures ?? null).toBeNull();
    expect(forged.errors[0].extensions.code).toMatch(/NOT_FOUND|FORBIDDEN/);
    await page.context().close();
  });

  it('roles without the figures see none; a reviewer sees the figures but not the reconciliation calendar', async () => {
    const outsiders = [
      { role: 'UNIT_OPERATOR', unit: someone.creditCode }, { role: 'MEMBER', member: toGlobalId('Member', someone.memberId) },
    ] as const;
    for (const claims of outsiders) {
      const role = claims.role;
      const { page } = await openPage();
      await page.goto(`${origin}/dashboard#token=${await gw.token(claims)}`);
      expect(await settled(page), role).toBe('error');
      expect(await page.locator('#dashboard').isVisible()).toBe(false);
      expect(await page.locator('#message').innerText()).toContain('Your role may not read the figures');
      await page.context().close();
    }
    const { page } = await openPage();
    await page.goto(`${origin}/dashboard#token=${await gw.token({ role: 'REVIEWER' })}`);
    expect(await settled(page)).toBe('ready');
    const calendar = await page.evaluate(() => (window as any).echarts.getInstanceByDom(document.getElementById('chart-calendar')).getOption()); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(calendar.series ?? []).toEqual([]);
    expect(calendar.title[0].text).toContain('FINANCE');
    await page.context().close();
  });
});

describe('names from the database', () => {
  it('are shown as text, never run as markup', async () => {
    const { page, violations } = await openPage();
    await page.goto(`${origin}/dashboard#token=${await gw.token({ role: 'ADMIN', org: 'EVIL' })}`);
    expect(await settled(page)).toBe('ready');
    expect(await page.locator('#breadcrumb button').allInnerTexts()).toEqual([EVIL_NAME]);
    // Hover the bars so their tooltips render the name too.
    const box = (await page.locator('#chart-organisations').boundingBox())!;
    for (let x = box.x + 40; x < box.x + box.width; x += 60) await page.mouse.move(x, box.y + box.height / 2);
    expect(await page.evaluate(() => document.querySelectorAll('img').length)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await violations()).toEqual([]);
    await page.context().close();
  });
});
