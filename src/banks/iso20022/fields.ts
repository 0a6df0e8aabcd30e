import { bankCodeProblem } from '../../kernel/identifiers.ts';
import { chinaToday, isIsoDate } from '../../kernel/time.ts';
import { Iso20022Error, isXmlChar, type Iso20022Problem } from './xml.ts';
import { fenToCny } from '../../kernel/money.ts';
import { hasControlCharacter } from '../../kernel/text.ts';

/**
 * Field checks for the writers: what the XSD checks (so the caller gets the input's field path
 * instead of an xmllint line number) and what it cannot (2-decimal amounts, reference characters,
 * the bank's byte limits on names). Each check returns the text to write and records a problem.
 * A name's check is also the members' (`nameProblem`): a name is refused when it is entered, not
 * when its payment is written.
 * The date checks are also the readers' (`dateProblem`, `dateTimeProblem`): every form the XSD
 * allows, written or read.
 */

/** How the receiving bank counts the bytes of a name: UTF-8, or GBK/GB18030 (2 bytes a CJK character). */
export type ByteCounting = 'utf8' | 'gbk';

export interface BankTextRules {
  counting: ByteCounting;
  maxNameBytes: number;
  maxRemittanceBytes: number;
}

export const DEFAULT_TEXT_RULES: BankTextRules = { counting: 'utf8', maxNameBytes: 140, maxRemittanceBytes: 140 };

const utf8 = new TextEncoder();

export function textBytes(text: string, counting: ByteCounting): number {
  if (counting === 'utf8') return utf8.encode(text).length;
  let bytes = 0;
  for (const char of text) {
    const codePoint = char.codePointAt(0)!;
    bytes += codePoint < 0x80 ? 1 : codePoint <= 0xffff ? 2 : 4;
  }
  return bytes;
}

// The SWIFT/EPC Latin set without the space, as Chinese banks' host-to-host channels accept in references.
const REFERENCE = /^[A-Za-z0-9/\-?:().,'+]+$/;
// xs:date and xs:dateTime as banks write them: an optional zone, fractions of a second, 24:00:00 (the day's end).
const DATE = /^(\d{4}-\d{2}-\d{2})(Z|[+-](?:0\d|1[0-4]):[0-5]\d)?$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?|24:00:00(?:\.0+)?)(Z|[+-](?:0\d|1[0-4]):[0-5]\d)?$/;

/** Why the bank's file cannot carry `value` as free text of at most `maxChars` characters (the XSD's MaxNNText), or null. */
function freeTextProblem(value: unknown, maxChars: number): string | null {
  if (typeof value !== 'string' || value.length === 0) return 'is required';
  // XML 1.0 forbids most C0 controls, and a line break (U+0085 and U+2028 too) in a name or remittance breaks banks' screens.
  if (hasControlCharacter(value)) return 'must not contain control characters or line breaks';
  const chars = [...value];
  // U+FFFE, U+FFFF, a lone surrogate: the writer would write them, and every XML reader refuses the whole file.
  const outside = chars.find((char) => !isXmlChar(char.codePointAt(0)!));
  if (outside !== undefined) return `must not contain U+${outside.codePointAt(0)!.toString(16).toUpperCase()}: XML 1.0 does not allow it`;
  if (value.trim() !== value) return 'must not start or end with spaces';
  if (chars.length > maxChars) return `is ${chars.length} characters, at most ${maxChars} allowed`;
  return null;
}

function bytesProblem(value: string, maxBytes: number, counting: ByteCounting): string | null {
  const bytes = textBytes(value, counting);
  return bytes > maxBytes ? `is ${bytes} bytes (${counting}), the bank accepts at most ${maxBytes}` : null;
}

/**
 * Why the bank's file cannot carry `value` as a name (Nm): the XSD's 140 characters of XML 1.0
 * text without control characters or line breaks, within the bank's byte limit; or null. The
 * writer's check of every name, and the one members' names pass when entered.
 */
export function nameProblem(value: string, rules: BankTextRules = DEFAULT_TEXT_RULES): string | null {
  return freeTextProblem(value, 140) ?? bytesProblem(value, rules.maxNameBytes, rules.counting);
}

/** ISODate (xs:date): a real calendar date `yyyy-MM-dd`, with an optional zone; why not, or null. */
export function dateProblem(value: unknown): string | null {
  const match = typeof value === 'string' ? DATE.exec(value) : null;
  return match && isIsoDate(match[1]!) ? null : 'must be a date yyyy-MM-dd';
}

/** ISODateTime (xs:dateTime): a real calendar date, a time and an optional zone; why not, or null. */
export function dateTimeProblem(value: unknown): string | null {
  const match = typeof value === 'string' ? DATE_TIME.exec(value) : null;
  return match && isIsoDate(match[1]!) ? null : 'must be a date and time like 2025-06-03T09:30:00+08:00';
}

/** The instant of a checked ISODateTime; one without a zone is the bank's local time, China Standard Time. */
export function bankInstant(dateTime: string): Date {
  const zoned = DATE_TIME.exec(dateTime)![2] !== undefined;
  return new Date(Date.parse(zoned ? dateTime : `${dateTime}+08:00`));
}

/**
 * The bank's day (China) of a checked ISODate or ISODateTime: a date is that day whatever its zone;
 * a date and time in another zone (`2025-06-02T17:30:00Z`) is converted (2025-06-03).
 */
export function bankDay(dateOrDateTime: string): string {
  if (!dateOrDateTime.includes('T')) return dateOrDateTime.slice(0, 10);
  return chinaToday(bankInstant(dateOrDateTime));
}

export class FieldChecks {
  readonly problems: Iso20022Problem[] = [];

  constructor(readonly rules: BankTextRules = DEFAULT_TEXT_RULES) {}

  add(field: string, reason: string): void {
    this.problems.push({ field, reason });
  }

  /** Throws every problem found so far, naming `what` was being written. */
  throwIfAny(what: string): void {
    if (this.problems.length > 0) throw new Iso20022Error(this.problems, what);
  }

  /** Free text of at most `maxChars` characters (the XSD's MaxNNText). */
  text(field: string, value: string, maxChars: number): string {
    const problem = freeTextProblem(value, maxChars);
    if (problem !== null) this.add(field, problem);
    return value;
  }

  optionalText(field: string, value: string | undefined, maxChars: number): string | undefined {
    return value === undefined ? undefined : this.text(field, value, maxChars);
  }

  /** A name as the bank stores it (`nameProblem`). */
  name(field: string, value: string): string {
    const problem = nameProblem(value, this.rules);
    if (problem !== null) this.add(field, problem);
    return value;
  }

  remittance(field: string, value: string): string {
    const problem = freeTextProblem(value, 140) ?? bytesProblem(value, this.rules.maxRemittanceBytes, this.rules.counting);
    if (problem !== null) this.add(field, problem);
    return value;
  }

  /** Our own references (MsgId, PmtInfId, EndToEndId, InstrId): at most 35 characters of the SWIFT set. */
  reference(field: string, value: string): string {
    if (typeof value !== 'string' || value.length === 0) this.add(field, 'is required');
    else if (value.length > 35) this.add(field, `is ${value.length} characters, at most 35 allowed`);
    else if (!REFERENCE.test(value)) this.add(field, "may only contain letters, digits and / - ? : ( ) . , ' +");
    else if (value.startsWith('/') || value.endsWith('/') || value.includes('//')) this.add(field, 'must not start or end with / nor contain //');
    return value;
  }

  optionalReference(field: string, value: string | undefined): string | undefined {
    return value === undefined ? undefined : this.reference(field, value);
  }

  /** An amount in whole fen, written as CNY with 2 decimals. */
  fen(field: string, fen: number, { positive = true } = {}): string {
    if (!Number.isSafeInteger(fen)) {
      this.add(field, Number.isFinite(fen) ? `${fen} fen is not a whole number of fen (more than 2 decimals in CNY)` : 'must be an amount in fen');
      return '0.00';
    }
    if (positive ? fen <= 0 : fen < 0) this.add(field, positive ? 'must be more than 0' : 'must not be negative');
    return fenToCny(fen);
  }

  count(field: string, value: number): string {
    if (!Number.isSafeInteger(value) || value < 0) this.add(field, 'must be a whole number, 0 or more');
    return String(value);
  }

  cnaps(field: string, value: string): string {
    const problem = typeof value === 'string' ? bankCodeProblem(value) : 'is required';
    if (problem) this.add(field, problem);
    return value;
  }

  /** A Chinese account or card number (no IBAN in China): digits, at most 34 (Max34Text). */
  account(field: string, value: string): string {
    if (typeof value !== 'string' || !/^\d{1,34}$/.test(value)) this.add(field, 'must be an account number of 1 to 34 digits');
    return value;
  }

  date(field: string, value: string): string {
    const problem = dateProblem(value);
    if (problem !== null) this.add(field, problem);
    return value;
  }

  dateTime(field: string, value: string): string {
    const problem = dateTimeProblem(value);
    if (problem !== null) this.add(field, problem);
    return value;
  }

  /** A date (`yyyy-MM-dd`) or a date and time, as the choice `Dt`/`DtTm` allows. */
  dateOrDateTime(field: string, value: string): string {
    return typeof value === 'string' && !value.includes('T') ? this.date(field, value) : this.dateTime(field, value);
  }

  oneOf<C extends string>(field: string, value: C, allowed: readonly C[]): C {
    if (!allowed.includes(value)) this.add(field, `must be one of ${allowed.join(', ')}`);
    return value;
  }
}
