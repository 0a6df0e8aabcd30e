import fontkit from '@pdf-lib/fontkit';
import { degrees, PDFDocument, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import { fenToCnyGrouped } from '../kernel/money.ts';
import { oneLine } from '../kernel/text.ts';
import type { NoticeFonts } from './font.ts';
import type { NoticeContent } from './model.ts';

/**
 * A notice's content laid out on an A4 page, in Chinese, with the union's round red seal drawn as
 * vector graphics. Pure apart from pdf-lib: the same content and fonts give the same page. The
 * document comes back unsaved, for the signature placeholder (sign.ts) to be added to it.
 */

const A4: [number, number] = [595.28, 841.89];
const MARGIN = 56;
const INK = rgb(0.1, 0.1, 0.1);
const GREY = rgb(0.45, 0.45, 0.45);
const SEAL_RED = rgb(0.84, 0.08, 0.1);

const yuan = (fen: number) => `${fenToCnyGrouped(fen)} 元`;

export async function renderNotice(content: NoticeContent, fonts: NoticeFonts): Promise<PDFDocument> {
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  // Subsets: only the glyphs a notice uses travel in it (a few kB, not the 10 MB typeface).
  const regular = await doc.embedFont(fonts.regular, { subset: true });
  const bold = await doc.embedFont(fonts.bold, { subset: true });
  doc.setTitle(`${content.title} ${content.number}`);
  doc.setAuthor(content.unionName);
  doc.setSubject(content.title);
  doc.setCreator('Mutual Aid Hub');
  doc.setProducer('Mutual Aid Hub');
  // Fixed dates: a notice's bytes depend on its content, not on the moment it is rendered.
  const issued = new Date(`${content.issuedOn}T00:00:00+08:00`);
  doc.setCreationDate(issued);
  doc.setModificationDate(issued);

  let page = doc.addPage(A4);
  const width = A4[0] - 2 * MARGIN;
  let y = A4[1] - MARGIN;
  // A long notice (many reasons) goes on over further pages, each with the notice's number.
  const room = (needed: number) => {
    if (y - needed >= MARGIN) return;
    page = doc.addPage(A4);
    y = A4[1] - MARGIN;
    page.drawText(`${content.title}（续）  ${content.number}`, { x: MARGIN, y: y - 9.5, size: 9.5, font: regular, color: GREY });
    y -= 24;
  };
  // pdf-lib starts a new line at each line break: text from a member or a bank never draws lines of its own.
  const text = (t: string, x: number, size = 10.5, font = regular, color = INK) => page.drawText(oneLine(t), { x, y, size, font, color });
  const line = (t: string, { size = 10.5, font = regular, indent = 0, gap = 6, color = INK } = {}) => {
    for (const part of wrap(t, font, size, width - indent)) {
      room(size + gap);
      y -= size + gap / 2;
      text(part, MARGIN + indent, size, font, color);
      y -= gap / 2;
    }
  };
  const rule = () => {
    y -= 6;
    page.drawLine({ start: { x: MARGIN, y }, end: { x: MARGIN + width, y }, thickness: 0.6, color: GREY });
    y -= 6;
  };
  const rows = (pairs: [string, string][]) => {
    for (const [label, value] of pairs) {
      wrap(value, regular, 10.5, width - 130).forEach((part, i) => {
        room(16);
        y -= 16;
        if (i === 0) text(label, MARGIN + 12, 10.5, regular, GREY);
        text(part, MARGIN + 130, 10.5);
      });
    }
    y -= 4;
  };

  // Title and number.
  y -= 22;
  page.drawText(content.title, { x: MARGIN + (width - bold.widthOfTextAtSize(content.title, 20)) / 2, y, size: 20, font: bold, color: INK });
  y -= 24;
  text(`通知书编号：${content.number}`, MARGIN, 9.5, regular, GREY);
  const issuedText = `签发日期：${content.issuedOn}`;
  text(issuedText, MARGIN + width - regular.widthOfTextAtSize(issuedText, 9.5), 9.5, regular, GREY);
  rule();

  line(`${content.member.name} 同志：`, { size: 12, font: bold, gap: 10 });
  rows([['姓名', content.member.name], ['公民身份号码', content.member.idNumberMasked], ['工作单位', content.member.unitName]]);

  const application = content.application;
  if (application) {
    line('您提交的职工医疗互助金申请，经本会审查，结果如下：', { gap: 8 });
    rows([
      ['就医医院', application.hospital],
      ['住院日期', `${application.from} 至 ${application.to}`],
      ['医疗费用总额', yuan(application.medicalTotalFen)],
      ['办理结果', application.status],
      ...(application.returnReason ? [['退回原因', application.returnReason] as [string, string]] : []),
      ...(application.returnNote ? [['说明', application.returnNote] as [string, string]] : []),
    ]);
  }
  const appeal = content.appeal;
  if (appeal) {
    line(`复核决定：${appeal.status}`, { size: 12, font: bold, gap: 10 });
    if (appeal.decisionReason) line(`复核意见：${appeal.decisionReason}`, { indent: 12 });
    y -= 6;
  }
  const claim = content.claim;
  if (claim) {
    line(`您于 ${claim.settledOn} 结算的医疗费用（核定编号 ${claim.reference}），经本会审核，核定如下：`, { gap: 8 });
    rows([
      ...(claim.stay ? [['就医医院', claim.stay.hospital], ['住院日期', `${claim.stay.from} 至 ${claim.stay.to}`]] as [string, string][] : []),
      ['医疗费用总额', yuan(claim.medicalTotalFen)],
      ['基本医保等基金支付', yuan(claim.fundPaidFen)],
      ['个人负担', yuan(claim.personalPartFen)],
      ['其中：全自费', yuan(claim.ownPayFen)],
      ['　　　超限价自费', yuan(claim.overLimitFen)],
    ]);
    line('互助金计算', { size: 12, font: bold, gap: 10 });
    // Decided again or reversed since: this decision's lines are not on record, the later ones are not this decision's.
    if (claim.changedTo) line(`本核定作出后已有变更（现核定结果：${claim.changedTo}），各项计算以变更后的核定为准。`, { indent: 12 });
    else if (!claim.lines.length) line('本次结算无可给付的互助项目。', { indent: 12 });
    claim.lines.forEach((l, i) => {
      // A claim not granted still shows what its lines calculated (what an appeal would look at), never as an amount granted.
      line(`${i + 1}. ${l.programme}：${claim.granted ? yuan(l.amountFen) : `计算金额 ${yuan(l.amountFen)}（未核定给付）`}`, { font: bold, indent: 12 });
      line(`计算：${l.calculation}`, { indent: 26, size: 9.5 });
      if (l.adjustment) line(`调整：${l.adjustment}`, { indent: 26, size: 9.5 });
    });
    line(`互助金合计：${yuan(claim.totalFen)}`, { size: 12, font: bold, gap: 12 });
    line(`核定结果：${claim.status}`, { font: bold });
    for (const reason of claim.reasons) line(`· ${reason}`, { indent: 12, size: 9.5 });
    if (claim.decisionReason) line(`审核意见：${claim.decisionReason}`, { indent: 12, size: 9.5 });
  }
  const payout = content.payout;
  if (payout) {
    y -= 6;
    line('支付情况', { size: 12, font: bold, gap: 10 });
    rows([
      ['支付金额', yuan(payout.amountFen)],
      ['收款银行卡', payout.cardMasked],
      ['支付状态', payout.outcome],
      [content.kind === 'PAYOUT_PAID' ? '支付日期' : '银行答复日期', payout.answeredOn],
      ...(payout.reason ? [['说明', payout.reason] as [string, string]] : []),
    ]);
  }
  if (content.facts.length) rows(content.facts);

  y -= 8;
  if (content.appealPeriodDays !== null) line(`如对核定结果有异议，可自核定之日起${content.appealPeriodDays}日内向${content.unionName}申请复核。`, { size: 9.5, color: GREY });
  line('本通知书加盖电子印章（PDF 数字签名），可用 PDF 阅读器或 pdfsig 验证其真实性与完整性；内容被改动后签名即失效。', { size: 9.5, color: GREY });

  // Signature block: the union's name and the date, the seal over them.
  // Room for the block and the seal below it (its radius under the name), else it goes on a page of its own.
  room(120);
  const blockY = Math.min(y - 80, 160);
  const name = content.unionName;
  const nameX = MARGIN + width - bold.widthOfTextAtSize(name, 12) - 10;
  page.drawText(name, { x: nameX, y: blockY, size: 12, font: bold, color: INK });
  page.drawText(content.issuedOn, { x: nameX, y: blockY - 20, size: 11, font: regular, color: INK });
  drawSeal(page, bold, nameX + bold.widthOfTextAtSize(name, 12) / 2, blockY - 4, 58, name);
  return doc;
}

/** The round seal: a red ring, a five-pointed star, the union's name along the upper arc, the seal's use below. */
export function drawSeal(page: PDFPage, font: PDFFont, cx: number, cy: number, radius: number, unionName: string): void {
  const opacity = 0.85;
  page.drawCircle({ x: cx, y: cy, size: radius, borderColor: SEAL_RED, borderWidth: 3.2, opacity: 0, borderOpacity: opacity });
  // The star in SVG coordinates (y down), drawn at the centre.
  const outer = radius * 0.3;
  const inner = outer * 0.382;
  const points = Array.from({ length: 10 }, (_, k) => {
    const r = k % 2 ? inner : outer;
    const a = (-90 + k * 36) * (Math.PI / 180);
    return `${(r * Math.cos(a)).toFixed(2)} ${(r * Math.sin(a)).toFixed(2)}`;
  });
  page.drawSvgPath(`M ${points.join(' L ')} Z`, { x: cx, y: cy, color: SEAL_RED, opacity, borderWidth: 0 });

  // The name clockwise along the top, each character upright towards the rim.
  const chars = [...unionName];
  const span = Math.min(220, chars.length * 30);
  // A long name gets smaller characters, so that they do not overlap along the arc.
  const size = Math.min(15, radius * 0.27, ((radius * 0.72 * span * Math.PI) / 180 / chars.length) * 0.9);
  const rho = radius - size * 0.95;
  chars.forEach((ch, i) => {
    const theta = (-span / 2 + (span * (i + 0.5)) / chars.length) * (Math.PI / 180);
    const w = font.widthOfTextAtSize(ch, size);
    // The character's centre on the arc; its origin (baseline, left) found by turning the offset from the centre.
    const centre = { x: cx + rho * Math.sin(theta), y: cy + rho * Math.cos(theta) };
    const [ox, oy] = [-w / 2, -size * 0.36];
    const phi = -theta;
    page.drawText(ch, {
      x: centre.x + ox * Math.cos(phi) - oy * Math.sin(phi),
      y: centre.y + ox * Math.sin(phi) + oy * Math.cos(phi),
      size, font, color: SEAL_RED, opacity, rotate: degrees((phi * 180) / Math.PI),
    });
  });
  const use = '医疗互助专用章';
  const useSize = radius * 0.16;
  page.drawText(use, { x: cx - font.widthOfTextAtSize(use, useSize) / 2, y: cy - radius * 0.55, size: useSize, font, color: SEAL_RED, opacity });
}

/** Breaks text into lines no wider than `maxWidth` (Chinese wraps between any two characters; a Latin word is kept whole when it fits). */
export function wrap(text: string, font: PDFFont, size: number, maxWidth: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const token of oneLine(text).match(/[A-Za-z0-9.,:%()\-+×−=/]+|\s+|./gu) ?? []) {
    const next = current + token;
    if (font.widthOfTextAtSize(next, size) > maxWidth) {
      if (current.trim()) lines.push(current.trimEnd());
      current = token.trimStart();
      // A token wider than a line on its own is cut by characters.
      for (let cut = fittingLength(current, font, size, maxWidth); cut < current.length; cut = fittingLength(current, font, size, maxWidth)) {
        lines.push(current.slice(0, cut));
        current = current.slice(cut);
      }
    } else {
      current = next;
    }
  }
  if (current.trim()) lines.push(current.trimEnd());
  return lines.length ? lines : [''];
}

/**
 * The length of the longest start of `text` no wider than `maxWidth`, at least one character (a
 * line takes one however narrow). Found by doubling a length that fits, then halving between it
 * and one that does not: O(log n) measurements of at most twice a line, however long the text (a
 * reason on a notice holds up to 2,000 characters; cutting it a character at a time was cubic).
 */
function fittingLength(text: string, font: PDFFont, size: number, maxWidth: number): number {
  const fits = (length: number) => font.widthOfTextAtSize(text.slice(0, length), size) <= maxWidth;
  let fitting = 1;
  let over = 2;
  while (over <= text.length && fits(over)) {
    fitting = over;
    over *= 2;
  }
  over = Math.min(over, text.length + 1);
  while (over - fitting > 1) {
    const middle = (fitting + over) >>> 1;
    if (fits(middle)) fitting = middle;
    else over = middle;
  }
  return fitting;
}
