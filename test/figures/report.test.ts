import { writeFileSync } from 'node:fs';
import path from 'node:path';
import readXlsxFile from 'read-excel-file/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { COLUMNS, reportPdf, reportWorkbook, SHEETS } from '../../src/figures/report.ts';
import { figuresQuery, yearlyReport, type YearlyReport } from '../../src/figures/service.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { poppler, squeezed, tempFile } from '../notices/support.ts';
import { sealOf, testPki } from '../seals/fixtures.ts';
import { rawRows, seedFigures, YEAR } from './support.ts';

/** The yearly report as a workbook read back by another library, and as a sealed PDF checked by poppler. */
let db: TestDatabase;
let report: YearlyReport;
let work: ReturnType<typeof tempFile>;

beforeAll(async () => {
  db = await freshDatabase();
  const tree = await seedFigures(db.pool);
  report = await yearlyReport(db.pool, UNSCOPED, await figuresQuery(db.pool, UNSCOPED, { organisationId: tree.QZ, planYear: YEAR }), { holidays: [], minCell: 5 });
  work = tempFile('README', Buffer.from('figures under test'));
}, 120_000);
afterAll(async () => {
  work?.remove();
  await db?.drop();
});

describe('the workbook', () => {
  it('has the five sheets, Chinese headers, and cells equal to the figures (money in CNY from fen, rates as fractions)', async () => {
    const sheets = await readXlsxFile(await reportWorkbook(report));
    expect(sheets.map((s) => s.sheet)).toEqual(Object.values(SHEETS));
    const byName = new Map(sheets.map((s) => [s.sheet, s.data]));

    const summary = byName.get(SHEETS.summary)!;
    const value = (header: string) => summary.find((r) => r[0] === header)?.[1];
    expect(value('参保人数（人）')).toBe(report.totals.membersEnrolled);
    expect(value('已筹集互助金（元）')).toBe(report.totals.contributionsRaisedFen! / 100);
    expect(value('支付金额（元）')).toBe(report.totals.paidFen / 100);
    expect(value('核定人次')).toBe(report.totals.claims);
    expect(value('参保人数同比')).toBeCloseTo(report.totals.yearOnYear.membersEnrolled!, 12);

    const organisations = byName.get(SHEETS.organisation)!;
    expect(organisations[0]).toEqual(['组织 Organisation', '代码 Code', ...COLUMNS.map((c) => c.header)]);
    expect(organisations.slice(1).map((r) => r[1])).toEqual([...report.byOrganisation.map((r) => r.key), 'TOTAL']);
    const column = (header: string) => organisations[0]!.indexOf(header);
    report.byOrganisation.forEach((row, i) => {
      const cells = organisations[i + 1]!;
      expect(cells[0]).toBe(row.label);
      expect(cells[column('参保人数（人）')]).toBe(row.membersEnrolled);
      expect(cells[column('支付金额（元）')]).toBe((row.paidFen as number) / 100);
      expect(cells[column('应缴互助金（元）')]).toBe(row.contributionsOwedFen! / 100);
    });
    const months = byName.get(SHEETS.month)!;
    expect(months.slice(1, 13).map((r) => r[0])).toEqual(Array.from({ length: 12 }, (_, i) => `${i + 1}月`));
    const members = months[0]!.indexOf('参保人数（人）');
    expect(members).toBeGreaterThan(1);
    expect(months.slice(1, 13).map((r) => r[members])).toEqual(report.byMonth.map((r) => r.membersEnrolled));
  });

  it('its totals agree with the raw rows: every 2026 enrolment below 泉州', async () => {
    const raw = await rawRows(db.pool);
    const qz = raw.organisations.find((o) => o.code === 'QZ')!.id;
    const inside = new Set(raw.organisations.filter((o) => o.path.map(String).includes(String(qz))).map((o) => String(o.id)));
    const units = new Set(raw.units.filter((u) => inside.has(String(u.organisation_id))).map((u) => String(u.id)));
    const sheets = await readXlsxFile(await reportWorkbook(report));
    const summary = sheets[0]!.data;
    expect(summary.find((r) => r[0] === '参保人数（人）')?.[1]).toBe(raw.enrolments.filter((e) => e.plan_year === YEAR && units.has(String(e.unit_id))).length);
  });
});

describe('the sealed PDF', () => {
  const pki = testPki();
  let pdf: Buffer;
  let file: string;

  beforeAll(async () => {
    pdf = await reportPdf(report, sealOf(pki.seal), '泉州市总工会');
    file = path.join(work.dir, 'report.pdf');
    writeFileSync(file, pdf);
  });

  it('verifies with pdfsig over the whole document, signed with the union seal', () => {
    const { output } = poppler('pdfsig', ['-no-ocsp', file]);
    expect(output).toContain('Signature Validation: Signature is Valid.');
    expect(output).toContain('Total document signed');
    expect(output).toContain('Signature Type: adbe.pkcs7.detached');
  });

  it('fails pdfsig after one changed byte', () => {
    const at = pdf.indexOf('/Producer <FEFF004D0075');
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(pdf);
    tampered[at + '/Producer <FEFF004'.length] = 'E'.charCodeAt(0);
    const copy = path.join(work.dir, 'tampered.pdf');
    writeFileSync(copy, tampered);
    const { output } = poppler('pdfsig', ['-no-ocsp', copy]);
    expect(output).not.toContain('Signature is Valid');
  });

  it('says the figures in Chinese', () => {
    const text = squeezed(poppler('pdftotext', ['-enc', 'UTF-8', file, '-']).output);
    expect(text).toContain('泉州市总工会2026年度职工医疗互助数据公布');
    expect(text).toContain(`参保职工${report.totals.membersEnrolled!.toLocaleString('en-US')}人`);
    expect(text).toContain('晋江市总工会');
  });
});
