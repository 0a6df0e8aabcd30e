import { writeFileSync } from 'node:fs';
import path from 'node:path';
import readXlsxFile from 'read-excel-file/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportPdf, reportWorkbook, SHEETS } from '../../src/figures/report.ts';
import { figuresQuery, yearlyReport } from '../../src/figures/service.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { paidCounty } from '../figures/support.ts';
import { poppler, tempFile } from '../notices/support.ts';
import { sealOf, testPki } from '../seals/fixtures.ts';

/**
 * The published yearly report of a county whose model worker (劳动模范, named in public every year)
 * had a claim: neither the workbook nor the sealed PDF prints a breakdown cell of that one case,
 * nor leaves it as the total minus the other rows.
 */
let db: TestDatabase;
let work: ReturnType<typeof tempFile>;
let quanzhou: number;
const pki = testPki();

const BREAKDOWN_SHEETS = [SHEETS.organisation, SHEETS.programme, SHEETS.category, SHEETS.month];
const CASE_COLUMNS = ['核定人次', '核定金额（元）', '支付笔数', '支付金额（元）'];

beforeAll(async () => {
  db = await freshDatabase();
  work = tempFile('README', Buffer.from('figures under test'));
  const { rows: [qz] } = await db.pool.query(`INSERT INTO organisations (code, name, level, parent_id, created_by) VALUES ('QZ', '泉州市总工会', 'CITY', NULL, 't') RETURNING id`);
  quanzhou = Number(qz.id);
});
afterAll(async () => {
  work?.remove();
  await db?.drop();
});


/** The county's 2025 report as published: the workbook read back, and the sealed PDF's text line by line. */
async function published(organisationId: number) {
  const report = await yearlyReport(db.pool, UNSCOPED, await figuresQuery(db.pool, UNSCOPED, { organisationId, planYear: 2025 }), { holidays: [], minCell: 5 });
  const sheets = new Map((await readXlsxFile(await reportWorkbook(report))).map((s) => [s.sheet, s.data]));
  const file = path.join(work.dir, `report-${organisationId}.pdf`);
  writeFileSync(file, await reportPdf(report, sealOf(pki.seal), '泉州市总工会'));
  const text = poppler('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-']).output;
  return { report, sheets, lines: text.split('\n').map((l) => l.trim()) };
}

const cells = (row: Record<string, unknown>) => CASE_COLUMNS.map((c) => row[c]);

/** A sheet's breakdown rows (header and 合计 left out) as label → cells by header. */
function rowsOf(sheet: unknown[][]): Map<string, Record<string, unknown>> {
  const [header, ...rows] = sheet as string[][];
  return new Map(rows.filter((r) => r[0] !== '合计').map((r) => [String(r[0]), Object.fromEntries(header!.map((h, i) => [h, r[i]]))]));
}

/** No breakdown row of the workbook prints `yuan`. */
function expectInNoRow(sheets: Map<string, unknown[][]>, yuan: number): void {
  for (const name of BREAKDOWN_SHEETS) {
    for (const row of rowsOf(sheets.get(name)!).values()) expect(Object.values(row), name).not.toContain(yuan);
  }
}

/** Nor is `yuan` what a sheet's 合计 minus its printed rows leaves. */
function expectNoComplement(sheets: Map<string, unknown[][]>, yuan: number): void {
  for (const name of BREAKDOWN_SHEETS) {
    const [header, ...rows] = sheets.get(name)! as unknown[][];
    for (const column of ['核定金额（元）', '支付金额（元）'].map((c) => header!.indexOf(c))) {
      const total = rows.find((r) => r[0] === '合计')![column] as number;
      const printed = rows.filter((r) => r[0] !== '合计').reduce((sum: number, r) => sum + (typeof r[column] === 'number' ? r[column] : 0), 0);
      expect(Math.round((total - printed) * 100), `${name} ${header![column]}`).not.toBe(Math.round(yuan * 100));
    }
  }
}

const grouped = (yuan: number) => yuan.toLocaleString('en-US', { minimumFractionDigits: 2 });

describe('the yearly report of a county with one case, its model worker\'s', () => {
  it('prints the county\'s totals, but "<5" and dashes in every breakdown row: no row is the total', async () => {
    const jj = await paidCounty(db.pool, quanzhou, 'JJ', '晋江市总工会', [[0, '2025-05-21']]);
    const [modelWorkerFen] = jj.approvedFen;
    const { sheets, lines } = await published(jj.id);
    const yuan = modelWorkerFen! / 100;

    // The organisation's own figure stays published.
    const summary = sheets.get(SHEETS.summary)!;
    expect(summary.find((r) => r[0] === '核定人次')?.[1]).toBe(1);
    expect(summary.find((r) => r[0] === '核定金额（元）')?.[1]).toBe(yuan);

    const category = rowsOf(sheets.get(SHEETS.category)!);
    const months = rowsOf(sheets.get(SHEETS.month)!);
    expect([category.get('劳动模范')!['核定人次'], category.get('劳动模范')!['核定金额（元）']]).toEqual(['<5', '—']);
    expect([months.get('5月')!['核定人次'], months.get('5月')!['核定金额（元）'], months.get('5月')!['支付金额（元）']]).toEqual(['<5', '—', '—']);
    // Every month and category alike: which one held the case does not show.
    const programmes = rowsOf(sheets.get(SHEETS.programme)!);
    for (const row of [...months.values(), ...category.values(), ...programmes.values()]) expect(cells(row)).toEqual(['<5', '—', '<5', '—']);
    expectInNoRow(sheets, yuan);

    // The PDF: the totals lines and rows print the amount, no breakdown row does.
    const rowLines = lines.filter((l) => /^(\d{1,2}月|劳动模范|新就业形态劳动者|环卫工人|农民工|困难职工)\s/.test(l));
    expect(rowLines).toHaveLength(12 + 5);
    for (const l of rowLines) {
      expect(l).toContain('<5');
      expect(l).not.toContain(grouped(yuan));
    }
    expect(lines.find((l) => l.startsWith('合计'))).toContain(grouped(yuan));
    expect(lines.join('')).toContain('注：不足5人次');
    expect(summary.some((r) => String(r[0]).startsWith('注：不足5人次'))).toBe(true);
  });
});

describe('the yearly report of a county with seven cases, one of them its model worker\'s in May', () => {
  it('withholds May and, with it, June (the other month with cases), and the model workers\' row', async () => {
    const lc = await paidCounty(db.pool, quanzhou, 'LC', '鲤城区总工会', [[0, '2025-05-21'], ...[1, 2, 3, 4, 5, 6].map((m): [number, string] => [m, '2025-06-11'])]);
    const { sheets, lines } = await published(lc.id);
    const yuan = lc.approvedFen[0]! / 100;

    const months = rowsOf(sheets.get(SHEETS.month)!);
    expect(cells(months.get('5月')!)).toEqual(['<5', '—', '<5', '—']);
    expect(cells(months.get('6月')!)).toEqual(['—', '—', '—', '—']);
    expect(cells(months.get('7月')!)).toEqual([0, 0, 0, 0]);
    const modelWorkers = rowsOf(sheets.get(SHEETS.category)!).get('劳动模范')!;
    expect([modelWorkers['参保人数（人）'], ...cells(modelWorkers)]).toEqual(['<5', '<5', '—', '<5', '—']);
    expectInNoRow(sheets, yuan);
    expectNoComplement(sheets, yuan);

    const may = lines.find((l) => l.startsWith('5月'))!;
    const june = lines.find((l) => l.startsWith('6月'))!;
    // 人次, 支付笔数, 支付（元）, 同比: the PDF's last four columns.
    expect(may.split(/\s+/).slice(-4)).toEqual(['<5', '<5', '—', '—']);
    expect(june.split(/\s+/).slice(-4)).toEqual(['—', '—', '—', '—']);
    expect(lines.find((l) => l.startsWith('劳动模范'))).toContain('<5');
  });
});
