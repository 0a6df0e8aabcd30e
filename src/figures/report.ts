import fontkit from '@pdf-lib/fontkit';
import ExcelJS from 'exceljs';
import { PDFDocument, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import { fenToCnyGrouped } from '../kernel/money.ts';
import { noticeFonts } from '../notices/font.ts';
import { drawSeal, wrap } from '../notices/render.ts';
import { sealPdf } from '../notices/sign.ts';
import type { Seal } from '../seals/cms/seal.ts';
import { UNDER_MIN, WITHHELD, type PublishedRow, type Suppressed } from './disclosure.ts';
import type { YearlyReport } from './service.ts';

/**
 * The yearly report (年度数据公布) as files: a workbook (numbers as numbers, money in CNY with two
 * decimals, Chinese headers) and a PDF of the same figures sealed with the union's seal, as the
 * notices are. Pure apart from the libraries: the same report gives the same figures.
 */

export type ReportFormat = 'XLSX' | 'PDF';

export const reportTitle = (r: YearlyReport) => `${r.query.organisation?.name ?? '全部'}${r.query.planYear}年度职工医疗互助数据公布`;
export const reportFileName = (organisationCode: string | null, planYear: number, format: ReportFormat) =>
  `figures-${organisationCode ?? 'HUB'}-${planYear}.${format === 'XLSX' ? 'xlsx' : 'pdf'}`;

/** The sheets, in order: name, and the rows they list. */
export const SHEETS = {
  summary: '概览 Summary',
  organisation: '分组织 By organisation',
  programme: '分项目 By programme',
  category: '分人群 By category',
  month: '月度 By month',
} as const;

const MONEY = '#,##0.00';
const COUNT = '#,##0';
const PERCENT = '0.00%';

type Format = typeof MONEY | typeof COUNT | typeof PERCENT;
type Figure = number | null | Suppressed;
interface Column {
  header: string;
  format: Format;
  value: (r: PublishedRow) => Figure;
}

const yuan = (fen: Figure) => (typeof fen === 'number' ? fen / 100 : fen);

/** A figure as the workbook and the PDF print it: withheld ones (src/figures/disclosure.ts) as "<N" or a dash, others as `print` has them. */
const printed = <T>(v: Figure, minCell: number, print: (v: number | null) => T): T | string =>
  (v === UNDER_MIN ? `<${minCell}` : v === WITHHELD ? '—' : print(v));
/** The note under the figures saying why some are not shown. */
const withheldNote = (minCell: number) => `注：不足${minCell}人次（笔）的分项不予公布，记为“<${minCell}”；人次虽足但不足${minCell}人的分项，及可据以推算出其数值的分项，记为“—”。`;

/** The columns of every breakdown sheet (and of the summary's figures). */
export const COLUMNS: readonly Column[] = [
  { header: '参保单位数（家）', format: COUNT, value: (r) => r.units },
  { header: '上年参保单位数（家）', format: COUNT, value: (r) => r.previousYear.units },
  { header: '单位数同比', format: PERCENT, value: (r) => r.yearOnYear.units },
  { header: '参保人数（人）', format: COUNT, value: (r) => r.membersEnrolled },
  { header: '上年参保人数（人）', format: COUNT, value: (r) => r.previousYear.membersEnrolled },
  { header: '参保人数同比', format: PERCENT, value: (r) => r.yearOnYear.membersEnrolled },
  { header: '参保目标（人）', format: COUNT, value: (r) => r.enrolmentTarget },
  { header: '目标完成率', format: PERCENT, value: (r) => r.completionRate },
  { header: '应缴互助金（元）', format: MONEY, value: (r) => yuan(r.contributionsOwedFen) },
  { header: '已筹集互助金（元）', format: MONEY, value: (r) => yuan(r.contributionsRaisedFen) },
  { header: '上年筹集（元）', format: MONEY, value: (r) => yuan(r.previousYear.contributionsRaisedFen) },
  { header: '筹集同比', format: PERCENT, value: (r) => r.yearOnYear.contributionsRaised },
  { header: '筹资目标（元）', format: MONEY, value: (r) => yuan(r.contributionsTargetFen) },
  { header: '筹资完成率', format: PERCENT, value: (r) => r.contributionsCompletionRate },
  { header: '核定人次', format: COUNT, value: (r) => r.claims },
  { header: '上年核定人次', format: COUNT, value: (r) => r.previousYear.claims },
  { header: '人次同比', format: PERCENT, value: (r) => r.yearOnYear.claims },
  { header: '核定金额（元）', format: MONEY, value: (r) => yuan(r.claimsApprovedFen) },
  { header: '支付笔数', format: COUNT, value: (r) => r.payouts },
  { header: '支付金额（元）', format: MONEY, value: (r) => yuan(r.paidFen) },
  { header: '上年支付金额（元）', format: MONEY, value: (r) => yuan(r.previousYear.paidFen) },
  { header: '支付金额同比', format: PERCENT, value: (r) => r.yearOnYear.paid },
  { header: '慰问金笔数', format: COUNT, value: (r) => r.condolences },
  { header: '慰问金金额（元）', format: MONEY, value: (r) => yuan(r.condolencesApprovedFen) },
];

/** The workbook's bytes. */
export async function reportWorkbook(r: YearlyReport): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  book.creator = 'Mutual Aid Hub';
  // Fixed dates: the workbook's bytes depend on the figures and the day they were made.
  book.created = book.modified = new Date(`${r.madeOn}T00:00:00+08:00`);

  const summary = book.addWorksheet(SHEETS.summary);
  summary.columns = [{ width: 28 }, { width: 22 }];
  summary.addRow([reportTitle(r)]).font = { bold: true, size: 14 };
  summary.addRow(['组织 Organisation', r.query.organisation ? `${r.query.organisation.name}（${r.query.organisation.code}）` : '全部']);
  summary.addRow(['年度 Plan year', r.query.planYear]);
  for (const c of COLUMNS) {
    const cell = summary.addRow([c.header, c.value(r.totals)]).getCell(2);
    cell.numFmt = c.format;
  }
  for (const [label, value] of [
    ['受理至核定中位数（工作日）', r.turnaround.decisionMedianDays],
    ['受理至核定90分位（工作日）', r.turnaround.decisionP90Days],
    ['核定至支付中位数（工作日）', r.turnaround.paymentMedianDays],
    ['核定至支付90分位（工作日）', r.turnaround.paymentP90Days],
  ] as const) summary.addRow([label, value]);
  summary.addRow(['制表日期 Made on', r.madeOn]);
  summary.addRow([withheldNote(r.minCell)]);

  const sheet = (name: string, first: string, rows: readonly PublishedRow[]) => {
    const ws = book.addWorksheet(name);
    ws.columns = [{ width: 20 }, { width: 16 }, ...COLUMNS.map(() => ({ width: 16 }))];
    ws.addRow([first, '代码 Code', ...COLUMNS.map((c) => c.header)]).font = { bold: true };
    for (const row of rows) {
      const added = ws.addRow([row.label, row.key, ...COLUMNS.map((c) => printed(c.value(row), r.minCell, (v) => v))]);
      COLUMNS.forEach((c, i) => (added.getCell(i + 3).numFmt = c.format));
    }
    const total = ws.addRow(['合计', r.totals.key, ...COLUMNS.map((c) => c.value(r.totals))]);
    total.font = { bold: true };
    COLUMNS.forEach((c, i) => (total.getCell(i + 3).numFmt = c.format));
    ws.views = [{ state: 'frozen', xSplit: 1, ySplit: 1 }];
  };
  sheet(SHEETS.organisation, '组织 Organisation', r.byOrganisation);
  sheet(SHEETS.programme, '项目 Programme', r.byProgramme);
  sheet(SHEETS.category, '人群 Category', r.byCategory);
  sheet(SHEETS.month, '月份 Month', r.byMonth);
  return Buffer.from(await book.xlsx.writeBuffer());
}

const A4_LANDSCAPE: [number, number] = [841.89, 595.28];
const MARGIN = 40;
const INK = rgb(0.1, 0.1, 0.1);
const GREY = rgb(0.45, 0.45, 0.45);

const number = (v: number | null) => (v === null ? '—' : v.toLocaleString('en-US'));
const money = (fen: number | null) => (fen === null ? '—' : fenToCnyGrouped(fen));
const percent = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(2)}%`);

/** The columns the PDF's tables print (a page's width holds these). */
const PDF_COLUMNS: readonly { header: string; value: (r: PublishedRow) => Figure; print: (v: number | null) => string }[] = [
  { header: '单位数', value: (r) => r.units, print: number },
  { header: '参保人数', value: (r) => r.membersEnrolled, print: number },
  { header: '同比', value: (r) => r.yearOnYear.membersEnrolled, print: percent },
  { header: '完成率', value: (r) => r.completionRate, print: percent },
  { header: '筹集（元）', value: (r) => r.contributionsRaisedFen, print: money },
  { header: '同比', value: (r) => r.yearOnYear.contributionsRaised, print: percent },
  { header: '人次', value: (r) => r.claims, print: number },
  { header: '支付笔数', value: (r) => r.payouts, print: number },
  { header: '支付（元）', value: (r) => r.paidFen, print: money },
  { header: '同比', value: (r) => r.yearOnYear.paid, print: percent },
];

/** The report laid out on landscape A4 pages, unsaved (for the signature), closed by `unionName` and its round seal. */
export async function renderReport(r: YearlyReport, unionName: string): Promise<PDFDocument> {
  const fonts = noticeFonts();
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const regular = await doc.embedFont(fonts.regular, { subset: true });
  const bold = await doc.embedFont(fonts.bold, { subset: true });
  const title = reportTitle(r);
  doc.setTitle(title);
  doc.setAuthor(unionName);
  doc.setCreator('Mutual Aid Hub');
  doc.setProducer('Mutual Aid Hub');
  const made = new Date(`${r.madeOn}T00:00:00+08:00`);
  doc.setCreationDate(made);
  doc.setModificationDate(made);

  const [pageWidth, pageHeight] = A4_LANDSCAPE;
  const width = pageWidth - 2 * MARGIN;
  let page: PDFPage = doc.addPage(A4_LANDSCAPE);
  let y = pageHeight - MARGIN;
  const room = (needed: number) => {
    if (y - needed >= MARGIN) return;
    page = doc.addPage(A4_LANDSCAPE);
    y = pageHeight - MARGIN;
    page.drawText(`${title}（续）`, { x: MARGIN, y: y - 9, size: 9, font: regular, color: GREY });
    y -= 22;
  };
  const line = (t: string, size = 10.5, font: PDFFont = regular) => {
    for (const part of wrap(t, font, size, width)) {
      room(size + 6);
      y -= size + 3;
      page.drawText(part, { x: MARGIN, y, size, font, color: INK });
      y -= 3;
    }
  };

  line(title, 16, bold);
  y -= 6;
  const t = r.totals;
  line(`参保单位 ${number(t.units)} 家，参保职工 ${number(t.membersEnrolled)} 人（同比 ${percent(t.yearOnYear.membersEnrolled)}，目标完成率 ${percent(t.completionRate)}）；`);
  line(`筹集互助金 ${money(t.contributionsRaisedFen)} 元（应缴 ${money(t.contributionsOwedFen)} 元，同比 ${percent(t.yearOnYear.contributionsRaised)}）；`);
  line(`核定互助 ${number(t.claims)} 人次，核定金额 ${money(t.claimsApprovedFen)} 元；支付 ${number(t.payouts)} 笔，金额 ${money(t.paidFen)} 元（同比 ${percent(t.yearOnYear.paid)}）；`);
  line(`慰问金 ${number(t.condolences)} 笔，金额 ${money(t.condolencesApprovedFen)} 元。`);
  const d = r.turnaround;
  line(`办理时限：受理至核定中位数 ${number(d.decisionMedianDays)} 个工作日（90分位 ${number(d.decisionP90Days)}），核定至支付中位数 ${number(d.paymentMedianDays)} 个工作日（90分位 ${number(d.paymentP90Days)}）。`);

  const firstWidth = 130;
  const cellWidth = (width - firstWidth) / PDF_COLUMNS.length;
  const tableRow = (cells: string[], font: PDFFont, size = 8.5) => {
    room(size + 8);
    y -= size + 4;
    const first = wrap(cells[0]!, font, size, firstWidth - 4)[0]!;
    page.drawText(first, { x: MARGIN, y, size, font, color: INK });
    cells.slice(1).forEach((c, i) => {
      const right = MARGIN + firstWidth + (i + 1) * cellWidth - 4;
      page.drawText(c, { x: right - font.widthOfTextAtSize(c, size), y, size, font, color: INK });
    });
    y -= 4;
  };
  const table = (heading: string, rows: readonly PublishedRow[]) => {
    y -= 8;
    line(heading, 12, bold);
    tableRow(['', ...PDF_COLUMNS.map((c) => c.header)], bold);
    const text = (row: PublishedRow) => PDF_COLUMNS.map((c) => printed(c.value(row), r.minCell, c.print));
    for (const row of rows) tableRow([row.label, ...text(row)], regular);
    tableRow(['合计', ...text(r.totals)], bold);
  };
  table('分组织 By organisation', r.byOrganisation);
  table('分项目 By programme', r.byProgramme);
  table('分人群 By category', r.byCategory);
  table('月度 By month', r.byMonth);
  y -= 6;
  line(withheldNote(r.minCell), 9);

  // Signature block as on the notices: the union's name and the date, the seal over them.
  room(130);
  const blockY = Math.min(y - 80, 140);
  const nameX = MARGIN + width - bold.widthOfTextAtSize(unionName, 12) - 10;
  page.drawText(unionName, { x: nameX, y: blockY, size: 12, font: bold, color: INK });
  page.drawText(r.madeOn, { x: nameX, y: blockY - 20, size: 11, font: regular, color: INK });
  drawSeal(page, bold, nameX + bold.widthOfTextAtSize(unionName, 12) / 2, blockY - 4, 58, unionName);
  return doc;
}

/** The sealed PDF's bytes: rendered, then signed with the union's seal (adbe.pkcs7.detached). */
export async function reportPdf(r: YearlyReport, seal: Seal, unionName: string, now = new Date()): Promise<Buffer> {
  return sealPdf(await renderReport(r, unionName), seal, now, { name: unionName, reason: reportTitle(r), location: unionName });
}

/** The report in the asked format, with its file name and content type. */
export async function reportFile(r: YearlyReport, format: ReportFormat, sealed: { seal: () => Seal; unionName: string }): Promise<{ fileName: string; contentType: string; bytes: Buffer }> {
  const fileName = reportFileName(r.query.organisation?.code ?? null, r.query.planYear, format);
  return format === 'XLSX'
    ? { fileName, contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', bytes: await reportWorkbook(r) }
    : { fileName, contentType: 'application/pdf', bytes: await reportPdf(r, sealed.seal(), sealed.unionName) };
}
