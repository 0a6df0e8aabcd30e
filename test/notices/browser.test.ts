import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDevCertificates } from '../../certs/devCa.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { issueNotice } from '../../src/notices/issue.ts';
import { noticeSettings } from '../../src/notices/settings.ts';
import { DEV_SEAL_P12_PASSPHRASE } from '../../src/seals/settings.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { decidedClaim, MEMBER_NAME, namedMember, paidPayout, paymentNotification, poppler } from './support.ts';

/**
 * The notice as its member gets it: the member asks the API for its notices, downloads the PDF
 * through the signed URL, and looks at it. Poppler renders the page (pdftoppm), headless Chromium
 * (as in test/gateway/browser.test.ts) shows it; the screenshot is kept as .data/artifacts/notice.png
 * and the PDF as .data/artifacts/notice.pdf.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../.data/artifacts/', import.meta.url));

let db: TestDatabase;
let gw: TestGateway;
let browser: Browser;
let work: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`);
  work = mkdtempSync(path.join(tmpdir(), 'hub-notice-browser-'));
  writeDevCertificates(path.join(work, 'certs'), { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
  process.env.CERTS_DIR = path.join(work, 'certs');
  db = await freshDatabase();
  gw = await startTestGateway(db);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
});

describe('a sealed notice on screen', () => {
  it('is downloaded by its member, verifies, and shows the Chinese notice with the seal', async () => {
    const m = await namedMember(db.pool);
    const claimId = await decidedClaim(db.pool, m);
    const payoutId = await paidPayout(db.pool, m, claimId, 1_680_000);
    const notificationId = await paymentNotification(db.pool, 'PAYOUT_PAID', payoutId);
    await issueNotice(db.pool, noticeSettings(gw.config, gw.keys), notificationId);

    const member = { role: 'MEMBER' as const, sub: 'member-wang', member: toGlobalId('Member', m.memberId) };
    const { data } = await gw.query(member, `{ viewer { member { notices { number title downloadUrl { url } } } } }`);
    const [notice] = data.viewer.member.notices;
    const response = await fetch(new URL(gw.url).origin + notice.downloadUrl.url);
    expect(response.status).toBe(200);
    const pdf = Buffer.from(await response.arrayBuffer());
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(`${ARTIFACTS}notice.pdf`, pdf);
    expect(poppler('pdfsig', ['-no-ocsp', `${ARTIFACTS}notice.pdf`]).output).toContain('Signature is Valid.');

    const pngBase = path.join(work, 'page');
    expect(poppler('pdftoppm', ['-r', '110', '-png', '-singlefile', `${ARTIFACTS}notice.pdf`, pngBase]).status).toBe(0);
    const png = readFileSync(`${pngBase}.png`).toString('base64');
    const page = await browser.newPage({ viewport: { width: 980, height: 1340 } });
    await page.setContent(`<!doctype html><meta charset="utf-8"><title>${notice.number}</title>
      <body style="margin:0;background:#e8e8e8;display:flex;justify-content:center">
      <img id="notice" alt="${notice.title}" style="margin:24px;box-shadow:0 2px 12px #0004;width:910px" src="data:image/png;base64,${png}"></body>`);
    const image = page.locator('#notice');
    await image.waitFor();
    // The picture was decoded and laid out at its size, not a broken-image box.
    expect(await image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 800)).toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}notice.png`, fullPage: true });
    expect(notice.title).toBe('职工医疗互助金支付通知书');
    // The page in the picture is the whole notice: member, calculation and the seal all on page 1.
    const firstPage = poppler('pdftotext', ['-f', '1', '-l', '1', '-enc', 'UTF-8', `${ARTIFACTS}notice.pdf`, '-']).output;
    expect(firstPage).toContain(MEMBER_NAME);
    expect(firstPage).toContain('互助金计算');
    expect(firstPage).toContain('医疗互助专用章');
  });
});
