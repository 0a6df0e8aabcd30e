import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { seedEnrolledMember, seedEnrolment, seedMember } from '../benefits/seed.ts';

/**
 * The explorer as a person uses it: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) opens /graphiql with a token in the URL fragment, runs a query and finds the
 * answer on screen, with every request the page makes going to the gateway itself (no CDN). The
 * screenshot is kept in .data/artifacts/graphiql.png.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../.data/artifacts/', import.meta.url));

let db: TestDatabase;
let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`);
  db = await freshDatabase();
  const m = await seedEnrolledMember(db.pool);
  await seedEnrolment(db.pool, await seedMember(db.pool, m.unitId), m.unitId);
  gw = await startTestGateway(db);
  // Chromium's sandbox needs user namespaces, which a root CI container does not give it.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await db?.drop();
});

describe('GraphiQL in a browser', () => {
  it('runs a query typed into the explorer and shows the answer, loading nothing from outside', async () => {
    const origin = new URL(gw.url).origin;
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const elsewhere: string[] = [];
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin)) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });

    await page.goto(`${origin}/graphiql#token=${await gw.token({ role: 'ADMIN' })}`);
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
    // The token left the address bar as soon as the page read it.
    expect(page.url()).toBe(`${origin}/graphiql`);
    await page.locator('.graphiql-query-editor .CodeMirror').click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.insertText('query Roster {\n  members(first: 10) {\n    totalCount\n    edges { node { name unit { creditCode } } }\n  }\n}\n');
    // GraphiQL reads the operation name a moment after an edit; the tab shows it once it has.
    await page.locator('.graphiql-tab', { hasText: 'Roster' }).waitFor();
    await page.locator('.graphiql-execute-button').click();
    const response = page.locator('.graphiql-response');
    await expect.poll(() => response.innerText(), { timeout: 15_000 }).toMatch(/"totalCount": 2/);
    expect(await response.innerText()).toContain('"name": "测试"');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}graphiql.png` });
    expect(elsewhere).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
