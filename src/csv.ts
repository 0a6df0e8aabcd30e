import { isAscii, isUtf8 } from 'node:buffer';
import { Readable, Transform } from 'node:stream';
import { text as streamText } from 'node:stream/consumers';
import { CsvError } from 'csv-parse';

/** What both CSV importers (rosters, settlement files) check of a file before its rows. */

/** The file error for an error csv-parse raised (every CsvError, whatever its code), or null for any other error. */
export function csvFileProblem(error: unknown): string | null {
  return error instanceof CsvError ? `CSV: ${error.message}` : null;
}

/**
 * Header columns given more than once (csv-parse would keep the last one silently), each named once.
 * Blank names are left to the caller: Excel writes trailing empty columns.
 */
export function repeatedColumns(header: readonly string[]): string[] {
  return [...new Set(header.filter((name, i) => name !== '' && header.indexOf(name) !== i))];
}

/** Encodings a CSV file may be in: UTF-8, or GB18030 (and its subset GBK) as Excel saves it on Chinese Windows. */
export const TEXT_ENCODINGS = ['utf-8', 'gb18030', 'gbk'] as const;
export type TextEncodingName = (typeof TEXT_ENCODINGS)[number];

export interface TextDecodingOptions {
  /** The encoding the user declared; detected when absent. */
  encoding?: TextEncodingName;
  /** How the user declares one, for the advice in errors: `--encoding gb18030`. */
  declare: (encoding: TextEncodingName) => string;
  onInvalid: (reason: string) => Error;
}

/** The decoding stream, and whether it guessed GB18030 (callers then suspect a header they do not know). */
export type TextDecoding = Transform & { readonly guessedGb18030: boolean; notText(what: string): string };

const UTF8_BOM = Buffer.of(0xef, 0xbb, 0xbf);
const GB18030_BOM = Buffer.of(0x84, 0x31, 0x95, 0x33);
const REPLACEMENT = '\uFFFD';
const REPLACEMENT_UTF8 = Buffer.from(REPLACEMENT);
// Bytes looked at, from the first non-ASCII one, before guessing: a few names, not one character
// (a single GBK character can happen to be valid UTF-8; a line of them practically never is).
const GUESS_BYTES = 4096;

// What a roster or settlement file holds besides ASCII: Chinese characters, Latin letters, CJK and
// general punctuation, full-width forms. Kana, Greek, Cyrillic, box drawing, CJK compatibility
// squares or private-use characters in a "GB18030" file are what Big5 or Latin-1 bytes decode to.
const UNEXPECTED = /[^\x00-\x7f\u00b7\u00c0-\u024f\u2010-\u206f\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uffef\u{20000}-\u{3ffff}]/u;
const PRIVATE_USE = /[\ue000-\uf8ff\u{f0000}-\u{10ffff}]/u;
const LATIN_LETTER = /^[A-Za-z]$/;
// A Chinese character (group 2), with an ASCII letter just before (group 1) or after (group 3) it.
const HAN = /([A-Za-z]?)([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{3ffff}])(?=([A-Za-z]?))/gu;

/**
 * Decodes a CSV file to UTF-8 bytes, streaming. A byte-order mark decides (UTF-8 EF BB BF,
 * GB18030 84 31 95 33); else the declared encoding; else the first few KiB after the first
 * non-ASCII byte: valid UTF-8 is UTF-8, anything else is taken for GB18030. What cannot be the
 * declared or guessed encoding fails the stream with `onInvalid(reason)`'s error, never passes on
 * as mojibake: bytes that are not UTF-8 (byte offset and line), U+FFFD or private-use characters,
 * and for a GB18030 guess also characters no roster holds, rare Chinese characters (outside
 * GB2312) glued to Latin letters or making up over a quarter of them: what Latin-1 and Big5
 * files read as. A declared GB18030 skips those guesses (a genuine file with unusual names).
 */
export function decodeText(options: TextDecodingOptions): TextDecoding {
  let mode: 'start' | 'ascii' | 'utf-8' | 'gb18030' = 'start';
  let guessed = false;
  let held: Buffer = Buffer.alloc(0); // bytes not yet passed on (a BOM's start, a guess's window, an incomplete character)
  let offset = 0; // file offset of `held`
  let lines = 1; // line of `held`
  let previous = ''; // the last character passed on, for a Chinese character right after it
  const gb18030 = new TextDecoder('gb18030'); // the WHATWG gbk decoder is this one too
  const han = { all: 0, rare: 0, firstRareLine: 0 };

  const notText = (what: string) => {
    if (mode === 'gb18030' && guessed) {
      return `the file is not UTF-8 or GB18030 text: ${what}; save it as CSV UTF-8 (or use ${options.declare('gb18030')} if it is GB18030)`;
    }
    if (mode === 'gb18030') return `the file is not GB18030 text: ${what}; save it as CSV UTF-8`;
    return `the file is not UTF-8 text: ${what}; save it as CSV UTF-8 (or use ${options.declare('gb18030')} for GBK from Excel)`;
  };
  const fail = (what: string) => options.onInvalid(notText(what));

  const passOn = (stream: Transform, bytes: Buffer) => {
    offset += bytes.length;
    lines += newlines(bytes);
    if (bytes.length) stream.push(bytes);
  };

  const utf8 = (stream: Transform, bytes: Buffer, final: boolean): Error | null => {
    const end = final ? bytes.length : completeLength(bytes);
    const whole = bytes.subarray(0, end);
    if (!isUtf8(whole)) {
      const at = firstInvalid(whole);
      return fail(`byte ${offset + at} (line ${lines + newlines(whole.subarray(0, at))}) is not UTF-8`);
    }
    const replaced = whole.indexOf(REPLACEMENT_UTF8);
    if (replaced !== -1) {
      return fail(`line ${lines + newlines(whole.subarray(0, replaced))} has U+FFFD, the mark of text once read in the wrong encoding`);
    }
    held = Buffer.from(bytes.subarray(end));
    passOn(stream, whole);
    return null;
  };

  const gb = (stream: Transform, bytes: Buffer, final: boolean): Error | null => {
    const text = gb18030.decode(bytes, { stream: !final });
    const lineAt = (index: number) => lines + newlines(text.slice(0, index));
    const bad = text.search(guessed ? UNEXPECTED : PRIVATE_USE);
    const undecodable = text.indexOf(REPLACEMENT);
    if (undecodable !== -1 && (bad === -1 || undecodable <= bad)) return fail(`line ${lineAt(undecodable)} has bytes that are not GB18030`);
    if (bad !== -1) {
      const c = String.fromCodePoint(text.codePointAt(bad)!);
      const what = PRIVATE_USE.test(c) ? 'a private-use character' : `'${c}', not expected in a roster`;
      return fail(`line ${lineAt(bad)} has U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} (${what})`);
    }
    if (guessed) {
      for (const m of text.matchAll(HAN)) {
        han.all += 1;
        if (gb2312().has(m[2]!)) continue;
        if (m[1] || m[3] || (m.index === 0 && LATIN_LETTER.test(previous))) return fail(`line ${lineAt(m.index)} has '${m[2]}' next to a Latin letter`);
        han.rare += 1;
        han.firstRareLine ||= lineAt(m.index);
      }
    }
    offset += bytes.length;
    lines += newlines(text);
    previous = text.slice(-1) || previous;
    if (text) stream.push(Buffer.from(text));
    return null;
  };

  const decode = (stream: Transform, chunk: Buffer, final: boolean): Error | null => {
    let bytes = held.length ? Buffer.concat([held, chunk]) : chunk;
    held = Buffer.alloc(0);
    if (mode === 'start') {
      if (bytes.length < GB18030_BOM.length && !final) {
        held = bytes;
        return null;
      }
      const bom = startsWith(bytes, UTF8_BOM) ? 'utf-8' : startsWith(bytes, GB18030_BOM) ? 'gb18030' : null;
      const declared = options.encoding === 'gbk' ? 'gb18030' : options.encoding;
      if (bom && declared && bom !== declared) {
        return options.onInvalid(`the file starts with the ${bom === 'utf-8' ? 'UTF-8' : 'GB18030'} byte-order mark, yet ${options.declare(options.encoding!)} was given`);
      }
      const bomLength = bom === 'utf-8' ? UTF8_BOM.length : bom ? GB18030_BOM.length : 0;
      offset = bomLength;
      bytes = bytes.subarray(bomLength);
      mode = bom ?? declared ?? 'ascii';
    }
    if (mode === 'ascii') {
      const first = isAscii(bytes) ? -1 : bytes.findIndex((b) => b >= 0x80);
      const ascii = first === -1 ? bytes : bytes.subarray(0, first);
      passOn(stream, ascii);
      previous = ascii.length ? String.fromCharCode(ascii[ascii.length - 1]!) : previous;
      if (first === -1) return null;
      bytes = bytes.subarray(first);
      if (bytes.length < GUESS_BYTES && !final) {
        held = bytes;
        return null;
      }
      mode = isUtf8(bytes.subarray(0, completeLength(bytes))) ? 'utf-8' : 'gb18030';
      guessed = true;
    }
    return mode === 'utf-8' ? utf8(stream, bytes, final) : gb(stream, bytes, final);
  };

  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(decode(this, chunk, false));
    },
    flush(done) {
      const error = decode(this, Buffer.alloc(0), true);
      if (error) return done(error);
      // Genuine rosters have the odd rare character in a name; Big5 read as GB18030 has them everywhere.
      if (mode === 'gb18030' && guessed && han.rare >= 2 && han.rare * 4 > han.all) {
        return done(fail(`${han.rare} of its ${han.all} Chinese characters are rare ones (outside GB2312), the first on line ${han.firstRareLine}`));
      }
      done();
    },
  });
  return Object.defineProperties(stream, {
    guessedGb18030: { get: () => mode === 'gb18030' && guessed },
    notText: { value: notText },
  }) as TextDecoding;
}

/** A whole file's bytes as text (decodeText), for a file that arrives in memory. */
export async function decodedText(bytes: Buffer, options: TextDecodingOptions): Promise<string> {
  const chunks = function* () {
    for (let i = 0; i < bytes.length; i += 1 << 16) yield bytes.subarray(i, i + (1 << 16));
  };
  return streamText(Readable.from(chunks(), { objectMode: false }).pipe(decodeText(options)));
}

let gb2312Han: Set<string> | null = null;
/** The 6,763 Chinese characters of GB2312 (rows B0–F7): the ones everyday Chinese text is written in. */
function gb2312(): Set<string> {
  if (gb2312Han) return gb2312Han;
  const codes: number[] = [];
  for (let lead = 0xb0; lead <= 0xf7; lead++) for (let trail = 0xa1; trail <= 0xfe; trail++) codes.push(lead, trail);
  gb2312Han = new Set(new TextDecoder('gb18030').decode(Uint8Array.from(codes)));
  return gb2312Han;
}

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length >= prefix.length && bytes.subarray(0, prefix.length).equals(prefix);
}

function newlines(text: Buffer | string): number {
  const next = (from: number) => (typeof text === 'string' ? text.indexOf('\n', from) : text.indexOf(0x0a, from));
  let count = 0;
  for (let i = next(0); i !== -1; i = next(i + 1)) count += 1;
  return count;
}

/** Length of `bytes` without an incomplete multi-byte character at its end. */
function completeLength(bytes: Buffer): number {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 3); i--) {
    const b = bytes[i]!;
    if (b < 0x80) return bytes.length;
    if (b >= 0xc0) return i + sequenceLength(b) > bytes.length ? i : bytes.length; // a lead byte
  }
  return bytes.length;
}

function sequenceLength(lead: number): number {
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
}

/** Offset of the first byte that does not start a valid UTF-8 character (bytes known not to be UTF-8). */
function firstInvalid(bytes: Buffer): number {
  for (let i = 0; i < bytes.length;) {
    const n = bytes[i]! < 0x80 ? 1 : sequenceLength(bytes[i]!);
    if (n > 1 && !isUtf8(bytes.subarray(i, i + n))) return i;
    i += n;
  }
  return bytes.length;
}
