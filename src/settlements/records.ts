import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { csvFileProblem, repeatedColumns } from '../csv.ts';
import type { SettlementFields } from './validation.ts';
import { isObject, storableText } from '../kernel/text.ts';

/**
 * Records as sources deliver them, reduced to one flat form in the platform's field names:
 * a feed item `{infno, setlinfo, diseinfo}` (HTTP interface), a JSON line, or a CSV row.
 */
export interface SourceRecord {
  fields: SettlementFields;
  /** Where the record was, for people: "line 12", "item 3 of page 7". */
  position: string;
  /** Set when the record could not be read at all (a broken JSON line): kept as a rejection. */
  unreadable?: { text: string; reason: string };
}

export type FileFormat = 'jsonl' | 'csv';

/** `{infno, setlinfo: {...}, diseinfo: [{diag_code}]}` -> flat fields; a flat record passes through. */
export function flattenFeedItem(item: unknown): SettlementFields {
  if (!isObject(item)) return {};
  const { setlinfo, diseinfo, ...rest } = item;
  if (!isObject(setlinfo)) return item;
  const diagnoses = Array.isArray(diseinfo)
    ? diseinfo.map((d) => (isObject(d) ? d.diag_code : d))
    : setlinfo.diagnoses;
  return { ...setlinfo, ...rest, ...(diagnoses === undefined ? {} : { diagnoses }) };
}

/**
 * A parsed item (a feed's, a JSON line's) as a record: an object is flattened; anything else is kept
 * as it came (its JSON text) with the reason, not read as an empty record (which every such item
 * would share, one rejection standing for them all).
 */
export function itemRecord(item: unknown, position: string, text = JSON.stringify(item) ?? String(item)): SourceRecord {
  return isObject(item) ? { fields: flattenFeedItem(item), position } : { fields: {}, position, unreadable: { text, reason: 'is not a JSON object' } };
}

/** The format a file name announces, or null. */
export function formatOf(fileName: string): FileFormat | null {
  if (/\.(jsonl|ndjson|json)$/i.test(fileName)) return 'jsonl';
  if (/\.csv$/i.test(fileName)) return 'csv';
  return null;
}

/** A correction of one field of a rejected record; a null value removes the field. */
export interface FieldCorrection {
  name: string;
  value: string | null;
}

const FIELD_NAME = /^[a-z][a-z0-9_]{0,39}$/;

/** Why a correction cannot apply (a field name the platform could not have sent), or null. */
export function correctionProblem(c: FieldCorrection): string | null {
  return FIELD_NAME.test(c.name) ? null : 'must be a field name of the platform (lower case, e.g. psn_cash_pay)';
}

/** Corrections as a retry stored them (JSON, encrypted in settlement_rejections.corrections_enc), checked. */
export function readCorrections(json: string): FieldCorrection[] {
  const parsed: unknown = JSON.parse(json);
  const isCorrection = (c: unknown): c is FieldCorrection =>
    isObject(c) && typeof c.name === 'string' && (c.value === null || typeof c.value === 'string');
  if (!Array.isArray(parsed) || !parsed.every(isCorrection)) throw new TypeError('stored corrections are not a list of {name, value}');
  return parsed;
}

/** The record with the corrections applied, in order (a later one for the same field wins). */
export function applyCorrections(fields: SettlementFields, corrections: readonly FieldCorrection[]): SettlementFields {
  const corrected: SettlementFields = { ...fields };
  for (const { name, value } of corrections) {
    if (value === null) delete corrected[name];
    else corrected[name] = value;
  }
  return corrected;
}

/** The file cannot be read at all. Its message is stored as the run's failure: kept storable text. */
export class SettlementFileError extends Error {
  constructor(message: string) {
    super(storableText(message));
  }
}

/** Streams the records of a file; a line that is not a JSON object becomes an unreadable record. */
export async function* readSettlementFile(input: Readable, format: FileFormat): AsyncGenerator<SourceRecord> {
  if (format === 'jsonl') {
    let lineNumber = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNumber += 1;
      const text = lineNumber === 1 ? line.replace(/^\uFEFF/, '') : line;
      if (!text.trim()) continue;
      const position = `line ${lineNumber}`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        yield { fields: {}, position, unreadable: { text, reason: `is not valid JSON (${(error as Error).message})` } };
        continue;
      }
      yield itemRecord(parsed, position, text);
    }
    return;
  }
  const parser = input.pipe(parse({
    bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true,
    columns: (header: string[]) => {
      const names = header.map((h) => h.trim().toLowerCase());
      const repeated = repeatedColumns(names);
      if (repeated.length) throw new SettlementFileError(`header: ${repeated.map((c) => `column ${c} is repeated`).join('; ')}`);
      return names;
    },
  }));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      // Empty cells are absent values, as in the JSON forms.
      const fields = Object.fromEntries(Object.entries(record).filter(([, v]) => v !== ''));
      yield { fields, position: `line ${info.lines}` };
    }
  } catch (error) {
    const problem = csvFileProblem(error);
    throw problem === null ? error : new SettlementFileError(problem);
  }
}
