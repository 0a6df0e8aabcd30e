import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readXlsxFile from 'read-excel-file/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDevCertificates } from '../../certs/devCa.ts';
import { signFileToken } from '../../src/gateway/files.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { DEV_SEAL_P12_PASSPHRASE } from '../../src/seals/settings.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { poppler } from '../notices/support.ts';
import { seedFigures, YEAR, type Tree } from '../figures/support.ts';

/**
 * Who may read the figures, set targets and download the yearly report: staff bound to 晋江 (JJ,
 * under 泉州 QZ) never see 泉州's or 厦门's figures or report; unit operators and members are refused;
 * only an ADMIN sets targets, never its own organisation's; a report URL is good once, for the
 * scope it was issued to, and cannot be edited.
 */
let db: TestDatabase;
let gw: TestGateway;
let tree: Tree;
let origin: string;
let certsDir: string;
let unitCreditCode: string;

const FIGURES = `query($filter: FiguresFilter!) { figures(filter: $filter) { organisationCode totals { membersEnrolled paidFen } breakdown(by: ORGANISATION) { key } } }`;
const SET_TARGET = `mutation($input: SetEnrolmentTargetInput!) { setEnrolmentTarget(input: $input) { target { organisationId membersTarget } userErrors { field code } } }`;
const REQUEST = `mutation($input: RequestYearlyReportInput!) { requestYearlyReport(input: $input) { url fileName userErrors { field code } } }`;
const CALENDAR = `query($filter: ReconciliationCalendarFilter!) { reconciliationCalendar(filter: $filter) { accounts days { date } } }`;

const org = (id: number) => toGlobalId('Organisation', id);
const jj = (role: string, sub = `jj-${role.toLowerCase()}`) => ({ role, org: 'JJ', sub }) as never;

beforeAll(async () => {
  certsDir = mkdtempSync(path.join(tmpdir(), 'hub-figures-certs-'));
  writeDevCertificates(certsDir, { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
  process.env.CERTS_DIR = certsDir;
  db = await freshDatabase();
  tree = await seedFigures(db.pool);
  unitCreditCode = (await db.pool.query(`SELECT credit_code FROM units ORDER BY id LIMIT 1`)).rows[0].credit_code;
  gw = await startTestGateway(db);
  origin = new URL(gw.url).origin;
}, 120_000);
afterAll(async () => {
  await gw?.close();
  await db?.drop();
  rmSync(certsDir, { recursive: true, force: true });
});

async function download(url: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const response = await fetch(origin + url);
  return { status: response.status, type: response.headers.get('content-type'), bytes: Buffer.from(await response.arrayBuffer()) };
}

/** The URL with the token's claims changed and its signature kept. */
function edited(url: string, change: Record<string, unknown>): string {
  const [prefix, token] = [url.slice(0, url.indexOf('=') + 1), url.slice(url.indexOf('=') + 1)];
  const [body, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8'));
  return `${prefix}${Buffer.from(JSON.stringify({ ...claims, ...change })).toString('base64url')}.${signature}`;
}

describe('figures', () => {
  it('staff bound to 晋江 read 晋江 by default, and never 泉州 above it nor 厦门 beside it (as not found)', async () => {
    const own = await gw.query(jj('AUDITOR'), FIGURES, { filter: { planYear: YEAR } });
    expect(own.errors).toBeUndefined();
    expect(own.data.figures.organisationCode).toBe('JJ');
    expect(own.data.figures.totals.membersEnrolled).toBeGreaterThan(0);
    for (const id of [tree.QZ, tree.XM, tree.FJ]) {
      const other = await gw.query(jj('REVIEWER'), FIGURES, { filter: { planYear: YEAR, organisationId: org(id) } });
      expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(other.data).toBeNull();
    }
    // 泉州's staff see 晋江 as one of their rows, and 晋江 itself.
    const qz = await gw.query({ role: 'FINANCE', org: 'QZ' } as never, FIGURES, { filter: { planYear: YEAR, organisationId: org(tree.JJ) } });
    expect(qz.data.figures.organisationCode).toBe('JJ');
    const qzOwn = await gw.query({ role: 'FINANCE', org: 'QZ' } as never, FIGURES, { filter: { planYear: YEAR } });
    expect(qzOwn.data.figures.breakdown.map((r: { key: string }) => r.key)).toEqual(['JJ', 'LC', '-']);
  });

  it('refuses unit operators and members, and a forged organisation id (another type\'s id)', async () => {
    const operator = await gw.query({ role: 'UNIT_OPERATOR', unit: unitCreditCode } as never, FIGURES, { filter: { planYear: YEAR } });
    expect(operator.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const memberId = (await db.pool.query(`SELECT id FROM members ORDER BY id LIMIT 1`)).rows[0].id;
    const member = await gw.query({ role: 'MEMBER', member: toGlobalId('Member', memberId) } as never, FIGURES, { filter: { planYear: YEAR } });
    expect(member.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const forged = await gw.query({ role: 'ADMIN' }, FIGURES, { filter: { planYear: YEAR, organisationId: toGlobalId('Unit', tree.QZ) } });
    expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('the reconciliation calendar is refused to reviewers; 晋江 staff see no account of the hub\'s own union', async () => {
    const filter = { from: `${YEAR}-01-01`, to: `${YEAR}-01-07` };
    expect((await gw.query({ role: 'REVIEWER' }, CALENDAR, { filter })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gw.query(jj('FINANCE'), CALENDAR, { filter })).data.reconciliationCalendar.accounts).toEqual([]);
    expect((await gw.query({ role: 'FINANCE' }, CALENDAR, { filter })).data.reconciliationCalendar.days).toHaveLength(7);
    const other = await gw.query(jj('FINANCE'), CALENDAR, { filter: { ...filter, account: gw.config.PAYOUT_ACCOUNT } });
    expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('targets', () => {
  const input = (organisationId: number) => ({ organisationId: org(organisationId), planYear: YEAR, membersTarget: 500, unitsTarget: 3, contributionsTargetFen: 2_000_000 });

  it('only an ADMIN sets them; 晋江\'s ADMIN neither its own nor 泉州\'s; 泉州\'s ADMIN sets 晋江\'s', async () => {
    expect((await gw.query({ role: 'REVIEWER' }, SET_TARGET, { input: input(tree.JJ) })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gw.query({ role: 'AUDITOR', org: 'QZ' } as never, SET_TARGET, { input: input(tree.JJ) })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const own = await gw.query(jj('ADMIN'), SET_TARGET, { input: input(tree.JJ) });
    expect(own.data.setEnrolmentTarget).toEqual({ target: null, userErrors: [{ field: 'input.organisationId', code: 'INVALID' }] });
    const above = await gw.query(jj('ADMIN'), SET_TARGET, { input: input(tree.QZ) });
    expect(above.data.setEnrolmentTarget.userErrors).toEqual([{ field: 'input.organisationId', code: 'NOT_FOUND' }]);
    expect((await db.pool.query(`SELECT 1 FROM enrolment_targets`)).rowCount).toBe(0);
    const done = await gw.query({ role: 'ADMIN', org: 'QZ' } as never, SET_TARGET, { input: input(tree.JJ) });
    expect(done.data.setEnrolmentTarget).toEqual({ target: { organisationId: org(tree.JJ), membersTarget: 500 }, userErrors: [] });
  });
});

describe('the yearly report download', () => {
  it('晋江 staff cannot ask for 泉州\'s report', async () => {
    const refused = await gw.query(jj('AUDITOR'), REQUEST, { input: { organisationId: org(tree.QZ), planYear: YEAR, format: 'XLSX' } });
    expect(refused.data.requestYearlyReport).toEqual({ url: null, fileName: null, userErrors: [{ field: 'input.organisationId', code: 'NOT_FOUND' }] });
    expect((await gw.query({ role: 'UNIT_OPERATOR', unit: unitCreditCode } as never, REQUEST, { input: { planYear: YEAR, format: 'XLSX' } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('downloads its own workbook once; the URL cannot be widened to another organisation; both audited', async () => {
    const asked = await gw.query(jj('AUDITOR'), REQUEST, { input: { planYear: YEAR, format: 'XLSX' } });
    const { url, fileName } = asked.data.requestYearlyReport;
    expect(fileName).toBe(`figures-JJ-${YEAR}.xlsx`);
    // The same token with 泉州's id or without the organisation scope: the signature no longer holds.
    const token = JSON.parse(Buffer.from(url.slice(url.indexOf('=') + 1).split('.')[0], 'base64url').toString('utf8'));
    expect((await download(edited(url, { objectId: `${tree.QZ}:${YEAR}:XLSX` }))).status).toBe(403);
    expect((await download(edited(url, { scope: { ...token.scope, organisationId: null } }))).status).toBe(403);
    const first = await download(url);
    expect(first.status).toBe(200);
    const sheets = await readXlsxFile(first.bytes);
    const members = sheets[0]!.data.find((r) => r[0] === '参保人数（人）')?.[1];
    const figures = await gw.query(jj('AUDITOR'), FIGURES, { filter: { planYear: YEAR } });
    expect(members).toBe(figures.data.figures.totals.membersEnrolled);
    expect((await download(url)).status).toBe(410);
    const audit = await db.pool.query(`SELECT action FROM audit_log WHERE actor = 'jj-auditor' AND target_type = 'YearlyReport' ORDER BY seq`);
    expect(audit.rows.map((r) => r.action)).toEqual(['figures.report.request', 'figures.report.download']);
  });

  it('the figures are read in the scope signed into the URL: one naming 泉州 for a 晋江 scope answers not found', async () => {
    // Only a holder of FILE_URL_KEY could sign such a token; the fetch refuses it all the same.
    const { token } = signFileToken(gw.config, {
      purpose: 'YEARLY_REPORT', subject: 'jj-auditor', role: 'AUDITOR', objectId: `${tree.QZ}:${YEAR}:XLSX`,
      scope: { unitId: null, memberId: null, organisationId: tree.JJ },
    });
    expect((await download(`/files/downloads?token=${token}`)).status).toBe(404);
    // A token whose role may not read figures is refused before anything is read.
    const { token: operator } = signFileToken(gw.config, {
      purpose: 'YEARLY_REPORT', subject: 'op', role: 'UNIT_OPERATOR', objectId: `${tree.JJ}:${YEAR}:XLSX`,
      scope: { unitId: 1, memberId: null, organisationId: null },
    });
    expect((await download(`/files/downloads?token=${operator}`)).status).toBe(403);
  });

  it('the PDF is sealed: pdfsig finds the signature valid', async () => {
    const asked = await gw.query({ role: 'ADMIN', org: 'QZ' } as never, REQUEST, { input: { organisationId: org(tree.LC), planYear: YEAR, format: 'PDF' } });
    const got = await download(asked.data.requestYearlyReport.url);
    expect(got.status).toBe(200);
    expect(got.type).toContain('application/pdf');
    const file = path.join(certsDir, 'report.pdf');
    writeFileSync(file, got.bytes);
    expect(poppler('pdfsig', ['-no-ocsp', file]).output).toContain('Signature Validation: Signature is Valid.');
  });
});
