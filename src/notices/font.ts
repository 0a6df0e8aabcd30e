import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inflateSync } from 'node:zlib';

/**
 * The notices' Chinese typeface: Noto Sans SC (SIL Open Font License), shipped as WOFF by the npm
 * package @openfonts/noto-sans-sc_all, so a notice never depends on the fonts of the machine.
 *
 * fontkit reads WOFF, but inflates a whole table on every glyph it looks up (seconds per line of
 * Chinese); unpacked once into a plain TrueType font here, a notice renders in milliseconds.
 */
const FONT_FILES = {
  regular: '@openfonts/noto-sans-sc_all/files/noto-sans-sc-all-400.woff',
  bold: '@openfonts/noto-sans-sc_all/files/noto-sans-sc-all-700.woff',
} as const;

export interface NoticeFonts {
  regular: Uint8Array;
  bold: Uint8Array;
}

let loaded: NoticeFonts | null = null;

/** The fonts, read and unpacked at first use and kept for the process. */
export function noticeFonts(): NoticeFonts {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    const read = (file: string) => woffToSfnt(readFileSync(require.resolve(file)));
    loaded = { regular: read(FONT_FILES.regular), bold: read(FONT_FILES.bold) };
  }
  return loaded;
}

/**
 * WOFF 1.0 (W3C) to the sfnt (TrueType) it wraps: each table inflated when its stored length is
 * below its original length, glyphs padded to even lengths, and written with an sfnt directory.
 */
export function woffToSfnt(woff: Buffer): Buffer {
  if (woff.readUInt32BE(0) !== 0x774f4646) throw new Error('not a WOFF font');
  const tables = new Map<string, Buffer>();
  for (let i = 0; i < woff.readUInt16BE(12); i += 1) {
    const at = 44 + i * 20;
    const [offset, compLength, origLength] = [woff.readUInt32BE(at + 4), woff.readUInt32BE(at + 8), woff.readUInt32BE(at + 12)];
    const stored = woff.subarray(offset, offset + compLength);
    const data = compLength < origLength ? inflateSync(stored) : stored;
    if (data.length !== origLength) throw new Error(`WOFF table ${woff.toString('latin1', at, at + 4)}: ${data.length} bytes, ${origLength} expected`);
    tables.set(woff.toString('latin1', at, at + 4), data);
  }
  evenGlyphs(tables);
  return sfnt(woff.readUInt32BE(4), tables);
}

/**
 * Pads every glyph to an even length (long `loca`). The font ships glyphs of odd length; fontkit's
 * subsetter copies them as they are and then writes a short `loca` (offsets halved), which loses
 * the odd offsets: the PDF's glyphs would come out blank or broken.
 */
function evenGlyphs(tables: Map<string, Buffer>): void {
  const head = Buffer.from(tables.get('head')!);
  const loca = tables.get('loca')!;
  const glyf = tables.get('glyf')!;
  const numGlyphs = tables.get('maxp')!.readUInt16BE(4);
  const long = head.readInt16BE(50) === 1;
  const offsetOf = (i: number) => (long ? loca.readUInt32BE(i * 4) : loca.readUInt16BE(i * 2) * 2);
  const glyphs: Buffer[] = [];
  const newLoca = Buffer.alloc((numGlyphs + 1) * 4);
  let offset = 0;
  for (let i = 0; i < numGlyphs; i += 1) {
    const data = glyf.subarray(offsetOf(i), offsetOf(i + 1));
    newLoca.writeUInt32BE(offset, i * 4);
    glyphs.push(data, Buffer.alloc(data.length % 2));
    offset += data.length + (data.length % 2);
  }
  newLoca.writeUInt32BE(offset, numGlyphs * 4);
  head.writeInt16BE(1, 50); // indexToLocFormat: long offsets
  tables.set('head', head);
  tables.set('loca', newLoca);
  tables.set('glyf', Buffer.concat(glyphs));
}

/** An sfnt file of the tables (sorted by tag, 4-byte aligned; checksums are not read by the PDF tools and are left 0). */
function sfnt(flavor: number, tables: Map<string, Buffer>): Buffer {
  const entries = [...tables].sort(([a], [b]) => (a < b ? -1 : 1));
  const pad4 = (n: number) => (n + 3) & ~3;
  const headerLength = 12 + entries.length * 16;
  const out = Buffer.alloc(headerLength + entries.reduce((sum, [, data]) => sum + pad4(data.length), 0));
  const entrySelector = Math.floor(Math.log2(entries.length));
  const searchRange = 2 ** entrySelector * 16;
  out.writeUInt32BE(flavor, 0);
  out.writeUInt16BE(entries.length, 4);
  out.writeUInt16BE(searchRange, 6);
  out.writeUInt16BE(entrySelector, 8);
  out.writeUInt16BE(entries.length * 16 - searchRange, 10);
  let offset = headerLength;
  entries.forEach(([tag, data], i) => {
    const at = 12 + i * 16;
    out.write(tag, at, 'latin1');
    out.writeUInt32BE(offset, at + 8);
    out.writeUInt32BE(data.length, at + 12);
    data.copy(out, offset);
    offset += pad4(data.length);
  });
  return out;
}
