/**
 * Money is integer fen everywhere (docs/design.md). Amounts arrive as CNY decimal strings or JSON
 * numbers with at most 2 decimals; they are parsed exactly, digit by digit, never via a float.
 */
export class AmountError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}

const DECIMAL = /^(-?)(\d{1,15})(?:\.(\d{1,2}))?$/;

/** `"243200.00"`, `"0.5"`, `136700`, `136700.5` -> fen. More than 2 decimals is an error, not a rounding. */
export function parseFen(value: unknown, field: string, { allowNegative = false } = {}): number {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new AmountError(field, 'must be a finite amount');
    // A JSON number's shortest decimal form is exactly what the sender wrote (e.g. 0.1 -> "0.1").
    text = String(value);
    if (/e/i.test(text)) throw new AmountError(field, `amount ${text} is out of range`);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw new AmountError(field, value === undefined || value === null ? 'is required' : 'must be an amount in CNY (string or number)');
  }
  const match = DECIMAL.exec(text);
  if (!match) {
    const reason = /^-?\d+\.\d{3,}$/.test(text) ? `has more than 2 decimals (${text})` : `is not an amount in CNY (${JSON.stringify(text)})`;
    throw new AmountError(field, reason);
  }
  const [, sign, yuan, cents = ''] = match;
  const fen = Number(yuan) * 100 + Number(cents.padEnd(2, '0'));
  if (!Number.isSafeInteger(fen)) throw new AmountError(field, 'is out of range');
  if (sign && fen !== 0 && !allowNegative) throw new AmountError(field, 'must not be negative');
  // "-0" and "-0.00" are zero, not JavaScript's -0 (which Object.is and toEqual tell from 0).
  return sign && fen !== 0 ? -fen : fen;
}

/** 1680000 -> "16800.00" (CNY with 2 decimals, no grouping: for files and JSON). */
export function fenToCny(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** 1680000 -> "16,800.00" (for explanations people read). */
export function fenToCnyGrouped(fen: number): string {
  const [whole, cents] = fenToCny(fen).split('.');
  return `${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents}`;
}
