import { isUtf8 } from 'node:buffer';
import { Transform } from 'node:stream';
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

/**
 * Passes the bytes on only if they are UTF-8. A file saved in another encoding (GBK from Excel on
 * Chinese Windows) would otherwise be read with U+FFFD in place of every character and imported as
 * such. Fails the stream with `onInvalid(reason)`'s error, naming the byte offset and line.
 */
export function utf8Only(onInvalid: (reason: string) => Error): Transform {
  let pending = Buffer.alloc(0); // an incomplete character at the end of the last chunk
  let offset = 0; // bytes passed on so far
  let lines = 1;
  const fail = (bytes: Buffer, at: number) => {
    const line = lines + newlines(bytes.subarray(0, at));
    return onInvalid(`byte ${offset + at} (line ${line}) is not UTF-8 text; save the file as CSV UTF-8`);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const bytes = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const end = completeLength(bytes);
      const whole = bytes.subarray(0, end);
      if (!isUtf8(whole)) return done(fail(whole, firstInvalid(whole)));
      pending = Buffer.from(bytes.subarray(end));
      offset += end;
      lines += newlines(whole);
      done(null, whole);
    },
    flush(done) {
      done(pending.length ? fail(pending, 0) : null);
    },
  });
}

function newlines(bytes: Buffer): number {
  let count = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) count += 1;
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
