import { chinaToday } from './time.ts';

/**
 * Validation of the identifiers the programme depends on. Each check returns the reason a value
 * is wrong (for a field error) or null when it is valid.
 */

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** GB 11643 resident ID number: 18 characters, MOD 11-2 check character, a real birth date. */
export function residentIdProblem(value: string): string | null {
  if (!/^\d{17}[\dX]$/.test(value)) return 'must be 17 digits followed by a digit or X (18 characters)';
  if (!/^[1-9]/.test(value)) return 'must not start with 0 (administrative division code)';
  const birth = value.slice(6, 14);
  if (!isCalendarDate(birth)) return `birth date ${birth} is not a valid date`;
  if (birth < '19000101' || birth > todayCompact()) return `birth date ${birth} is out of range`;
  const expected = residentIdCheck(value.slice(0, 17));
  if (value[17] !== expected) return `check digit is ${value[17]}, expected ${expected}`;
  return null;
}

/** Birth date (yyyy-MM-dd) and gender (odd 17th digit = male) carried by a valid resident ID. */
export function residentIdFacts(value: string): { birthDate: string; gender: 'M' | 'F' } {
  return {
    birthDate: `${value.slice(6, 10)}-${value.slice(10, 12)}-${value.slice(12, 14)}`,
    gender: Number(value[16]) % 2 === 1 ? 'M' : 'F',
  };
}

// GB 32100-2015: 31 characters, no I O Z S V.
const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** GB 32100 Unified Social Credit Code: 18 characters with a MOD 31 check character. */
export function creditCodeProblem(value: string): string | null {
  if (value.length !== 18) return `must be 18 characters, got ${value.length}`;
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(value)) return 'may only contain digits and the letters A-Y without I, O, S, V, Z';
  const expected = creditCodeCheck(value.slice(0, 17));
  if (value[17] !== expected) return `check character is ${value[17]}, expected ${expected}`;
  return null;
}

/** A 12-digit CNAPS bank code (大额支付系统行号). */
export function bankCodeProblem(value: string): string | null {
  return /^\d{12}$/.test(value) ? null : 'must be the 12-digit CNAPS bank code';
}

/** `6222021234567890123` -> `6222 **** **** 0123`: bank and last four only, as on a receipt. */
export function maskBankCard(card: string): string {
  return `${card.slice(0, 4)} **** **** ${card.slice(-4)}`;
}

/** A bank card or account number: 12 to 30 digits, Luhn-checked when it looks like a card (16-19 digits). */
export function bankCardProblem(value: string): string | null {
  if (!/^\d{12,30}$/.test(value)) return 'must be 12 to 30 digits';
  if (value.length >= 16 && value.length <= 19 && !luhnValid(value)) return 'card number check digit (Luhn) is wrong';
  return null;
}

/**
 * A bank's reference as it is compared with one a clerk typed from the bank's advice: without
 * surrounding spaces or letter case (the stores compare `upper(reference)` with it).
 */
export function bankReferenceKey(reference: string): string {
  return reference.trim().toUpperCase();
}

/** Mainland mobile (1 + 10 digits) or a landline with area code. */
export function phoneProblem(value: string): string | null {
  return /^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$/.test(value) ? null : 'must be a mobile number (11 digits) or a landline with area code';
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function isCalendarDate(compact: string): boolean {
  const y = Number(compact.slice(0, 4));
  const m = Number(compact.slice(4, 6));
  const d = Number(compact.slice(6, 8));
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

// Cached per day: bulk imports check millions of birth dates against it.
let today = { at: 0, compact: '' };
function todayCompact(): string {
  const now = Date.now();
  // China's day, not UTC's: before 08:00 in China an ID born on China's today was refused.
  if (now - today.at > 60_000 || now < today.at) today = { at: now, compact: chinaToday(new Date(now)).replaceAll('-', '') };
  return today.compact;
}

function residentIdCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

function creditCodeCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_CHARS.indexOf(first17[i]!) * USCC_WEIGHTS[i]!;
  return USCC_CHARS[(31 - (sum % 31)) % 31]!;
}

/** Appends the check character to 17 characters: used by generators of sample data. */
export const withResidentIdCheck = (first17: string): string => first17 + residentIdCheck(first17);
export const withCreditCodeCheck = (first17: string): string => first17 + creditCodeCheck(first17);

export function withLuhnCheck(prefix: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(prefix + d)) return prefix + d;
  throw new Error('unreachable');
}
