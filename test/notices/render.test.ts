import fontkit from '@pdf-lib/fontkit';
import { PDFDocument, type PDFFont } from 'pdf-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { noticeFonts } from '../../src/notices/font.ts';
import type { NoticeContent } from '../../src/notices/model.ts';
import { renderNotice, wrap } from '../../src/notices/render.ts';
import { poppler, squeezed, tempFile } from './support.ts';

/** The renderer and its typeface without a database: what any content comes out as. */
const files: { remove(): void }[] = [];
afterAll(() => files.forEach((f) => f.remove()));

const content = (reasons: string[]): NoticeContent => ({
  number: 'HZ2025-00000007', kind: 'CLAIM_DECIDED', title: '职工医疗互助金核定通知书', unionName: '某市总工会', appealPeriodDays: 60, issuedOn: '2025-06-05',
  member: { name: '陈静', idNumberMasked: '3505**********0021', unitName: '某市第一医院' },
  claim: {
    reference: 'C7', settledOn: '2025-06-01', stay: { hospital: '某市第一医院', from: '2025-05-20', to: '2025-06-01' }, medicalTotalFen: 100_000_00, fundPaidFen: 60_000_00, personalPartFen: 40_000_00, ownPayFen: 0, overLimitFen: 0,
    status: '不予给付', granted: false, lines: [], totalFen: 0, reasons, decisionReason: '材料不全', changedTo: null,
  },
  application: null,
  appeal: null,
  payout: null,
  facts: [],
});

async function text(pdf: Uint8Array): Promise<string> {
  const file = tempFile('notice.pdf', Buffer.from(pdf));
  files.push(file);
  return poppler('pdftotext', ['-enc', 'UTF-8', file.file, '-']).output;
}

describe('renderNotice', () => {
  it('goes on over further pages when the content is long, every line kept', async () => {
    const reasons = Array.from({ length: 70 }, (_, i) => `第${i + 1}条：参保缴费未满一年，按互助章程第${i + 1}条不予给付`);
    const doc = await renderNotice(content(reasons), noticeFonts());
    expect(doc.getPageCount()).toBeGreaterThan(1);
    const all = squeezed(await text(await doc.save()));
    for (const reason of reasons) expect(all).toContain(squeezed(reason));
    expect(all).toContain('职工医疗互助金核定通知书（续）');
    expect(all).toContain('审核意见：材料不全');
  });

  it('prints text from a member or a bank on its own line: a line break in it starts no line of the writer\'s', async () => {
    const forged = '互助金合计：50,000.00 元';
    const c = content(['第1条：材料不全']);
    // Short enough to fit the row as one line once its breaks are spaces.
    c.claim!.stay!.hospital = `某市第一医院\n${forged}\r\n核定给付`;
    const lines = (await text(await (await renderNotice(c, noticeFonts())).save())).split('\n').map((l) => l.trim());
    expect(lines.filter((l) => l.startsWith(forged) || l.startsWith('核定给付'))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/^某市第一医院\s+互助金合计：50,000\.00 元\s+核定给付$/));
  });

  it('embeds only the glyphs it uses, with every glyph of the typeface at an even offset (the subsetter halves them)', async () => {
    const pdf = await (await renderNotice(content(['参保缴费未满一年']), noticeFonts())).save();
    // Two subset fonts of a few thousand glyphs' worth at most, not the 10 MB typeface.
    expect(pdf.length).toBeLessThan(200_000);
    const loaded = await PDFDocument.load(pdf);
    expect(loaded.getPageCount()).toBe(1);
    const font = fontkit.create(Buffer.from(noticeFonts().regular));
    const offsets: number[] = (font as unknown as { loca: { offsets: number[] } }).loca.offsets;
    expect(offsets.length).toBe(font.numGlyphs + 1);
    expect(offsets.filter((o) => o % 2 !== 0)).toEqual([]);
    // Through fontkit's subsetter (what pdf-lib embeds) every glyph keeps its outline.
    const glyphs = font.layout('职工医疗互助金核定通知书 2026').glyphs;
    const subset = font.createSubset();
    const ids = glyphs.map((glyph) => subset.includeGlyph(glyph) as unknown as number);
    const parts: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      (subset as unknown as NodeJS.ReadableStream & { encodeStream(): NodeJS.ReadableStream }).encodeStream()
        .on('data', (chunk: Uint8Array) => parts.push(Buffer.from(chunk))).on('end', resolve).on('error', reject);
    });
    const embedded = fontkit.create(Buffer.concat(parts));
    glyphs.forEach((glyph, i) => {
      expect(embedded.getGlyph(ids[i]!).path.toSVG()).toBe(glyph.path.toSVG());
    });
  });
});

describe('wrap', () => {
  it('cuts a 20,000-character token with no spaces into lines within the width, in O(log n) measurements a line', async () => {
    const doc = await PDFDocument.create();
    doc.registerFontkit(fontkit);
    const font = await doc.embedFont(noticeFonts().regular, { subset: true });
    // A reason pasted from somewhere: one "word" as the wrapper's pattern reads it, no space to break at.
    const text = `复核意见：${Array.from({ length: 20_000 }, (_, i) => 'AbC0.x-9/W'[i % 10]).join('')}`;
    const width = 483;
    let measurements = 0;
    let measured = 0;
    const counted = {
      widthOfTextAtSize: (t: string, size: number) => {
        measurements += 1;
        measured += t.length;
        // Measuring costs with the length measured: a character-at-a-time cut re-measures the rest of the token each time.
        if (measured > 30 * text.length) throw new Error(`${measured} characters measured in ${measurements} measurements for ${text.length}`);
        return font.widthOfTextAtSize(t, size);
      },
    } as unknown as PDFFont;
    const lines = wrap(text, counted, 10.5, width);
    expect(lines.join('')).toBe(text);
    expect(lines.length).toBeGreaterThan(200);
    for (const line of lines) expect(font.widthOfTextAtSize(line, 10.5)).toBeLessThanOrEqual(width);
    expect(measurements).toBeLessThan(50 * lines.length * Math.log2(text.length));
  });
});
