/**
 * ICD-10 codes as disease groups use them: a category (letter + 2 digits, `I34`) optionally followed
 * by a dot and a subdivision (`I34.0`, the national 医保版 `C34.900x001`). Upper-cased, dot removed,
 * codes compare as text, so a range `I34`–`I37` holds every code whose first 3 characters lie in it.
 */
const ICD10 = /^[A-Z]\d{2}(?:\.[0-9A-Z]+)?$/;

export function isIcd10Code(code: string): boolean {
  return ICD10.test(code.trim().toUpperCase());
}

/** `i34.0` -> `I340`. */
export function normaliseIcd10(code: string): string {
  return code.trim().toUpperCase().replace('.', '');
}

/** Whether `code` lies in `from`–`to` (inclusive), compared at the precision each end is written in. */
export function icd10InRange(code: string, range: { from: string; to: string }): boolean {
  const key = normaliseIcd10(code);
  const from = normaliseIcd10(range.from);
  const to = normaliseIcd10(range.to);
  return key.slice(0, from.length) >= from && key.slice(0, to.length) <= to;
}
