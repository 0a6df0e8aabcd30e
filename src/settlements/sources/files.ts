import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { formatOf, readSettlementFile, type FileFormat, type SourceRecord } from '../records.ts';
import type { SettlementPage, SettlementSource } from './source.ts';

/**
 * Files of settlements (JSON lines or CSV in the platform's field names) as sources: one file read
 * forward (CLI import, API upload), or a drop directory hospitals put files into.
 */

/** One file, read forward once; the cursor is the number of records already read. */
export function fileSource(input: Readable, format: FileFormat): SettlementSource {
  const records = readSettlementFile(input, format);
  let consumed = 0;
  let lookahead: IteratorResult<SourceRecord> | null = null;
  const next = async () => {
    const result = lookahead ?? (await records.next());
    lookahead = null;
    return result;
  };
  return {
    async fetchPage(cursor, limit): Promise<SettlementPage> {
      if ((cursor ?? '0') !== String(consumed)) throw new Error(`a file is read forward only (at ${consumed}, asked for ${cursor})`);
      const page: SourceRecord[] = [];
      while (page.length < limit) {
        const result = await next();
        if (result.done) break;
        page.push(result.value);
      }
      consumed += page.length;
      lookahead = await records.next();
      return { records: page, nextCursor: String(consumed), hasMore: !lookahead.done, remaining: null };
    },
  };
}

interface DropCursor {
  file: string;
  /** Records of `file` already taken; -1 when the file is finished. */
  offset: number;
}

/** The cursor this source stored (as JSON) after its last page, checked. */
function readDropCursor(text: string): DropCursor {
  const parsed: unknown = JSON.parse(text);
  const { file, offset } = typeof parsed === 'object' && parsed !== null ? (parsed as Partial<Record<keyof DropCursor, unknown>>) : {};
  if (typeof file !== 'string' || typeof offset !== 'number' || !Number.isInteger(offset)) throw new TypeError(`${text} is not a drop directory's cursor`);
  return { file, offset };
}

/**
 * A drop directory: files are taken in name order, so name them to sort in arrival order
 * (e.g. `20250601-103000-hospital.jsonl`) and write them under a temporary name (`.part`, or a
 * leading dot) renamed when complete. A file is read once; the cursor names the file and offset.
 */
export function dropDirectorySource(dir: string): SettlementSource {
  let cached: { file: string; mtimeMs: number; records: SourceRecord[] } | null = null;
  const recordsOf = async (file: string): Promise<SourceRecord[]> => {
    const path = join(dir, file);
    const { mtimeMs } = await stat(path);
    if (cached?.file !== file || cached.mtimeMs !== mtimeMs) {
      const records: SourceRecord[] = [];
      for await (const r of readSettlementFile(createReadStream(path), formatOf(file)!)) records.push({ ...r, position: `${file} ${r.position}` });
      cached = { file, mtimeMs, records };
    }
    return cached.records;
  };
  return {
    async fetchPage(cursorText, limit): Promise<SettlementPage> {
      const cursor = cursorText ? readDropCursor(cursorText) : null;
      const files = (await readdir(dir)).filter((f) => !f.startsWith('.') && formatOf(f) !== null).sort();
      const file = cursor && cursor.offset >= 0 ? cursor.file : files.find((f) => !cursor || f > cursor.file);
      if (file === undefined) return { records: [], nextCursor: cursorText, hasMore: false, remaining: 0 };
      const all = await recordsOf(file);
      const offset = cursor?.file === file ? cursor.offset : 0;
      const records = all.slice(offset, offset + limit);
      const finished = offset + records.length >= all.length;
      const next: DropCursor = { file, offset: finished ? -1 : offset + records.length };
      const later = files.filter((f) => f > file);
      return {
        records,
        nextCursor: JSON.stringify(next),
        hasMore: !finished || later.length > 0,
        remaining: finished && later.length > 0 ? null : all.length - offset - records.length,
      };
    },
  };
}
