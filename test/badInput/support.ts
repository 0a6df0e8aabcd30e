import fc from 'fast-check';
import { withLuhnCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';

/**
 * What the bad-input sweep (issue 8) shares: generators of valid identifiers to corrupt and
 * arbitraries of malformed values (table fingerprints are in test/support/fingerprint.ts).
 * The oracles here are written from the formats (docs/design.md, README), not from the code under test.
 */

// ---------------------------------------------------------------- identifiers

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** A valid 18-character resident ID (GB 11643): a Fujian region code, a real birth date 1950-2004, a sequence. */
export const residentId: fc.Arbitrary<string> = fc
  .record({
    region: fc.constantFrom('350521', '350582', '350503', '350102', '110101'),
    // Of working age (default-2025's enrolment rules) in plan years 2021 to 2029: enrolments need it.
    birth: fc.date({ min: new Date('1975-01-01T00:00:00Z'), max: new Date('2004-12-31T00:00:00Z'), noInvalidDate: true }),
    seq: fc.integer({ min: 0, max: 999 }),
  })
  .map(({ region, birth, seq }) => withResidentIdCheck(`${region}${birth.toISOString().slice(0, 10).replaceAll('-', '')}${pad(seq, 3)}`));

/** The same ID with a different check character: always refused. */
export const residentIdWrongCheck: fc.Arbitrary<{ id: string; expected: string }> = fc
  .tuple(residentId, fc.constantFrom(...'0123456789X'))
  .filter(([id, c]) => id[17] !== c)
  .map(([id, c]) => ({ id: id.slice(0, 17) + c, expected: id[17]! }));

/** A 16-19 digit card number with a valid Luhn digit. */
export const luhnCard: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 15, max: 18 }), fc.stringMatching(/^[1-9]\d{17}$/))
  .map(([len, digits]) => withLuhnCheck(digits.slice(0, len)));

/** A 16-19 digit card number whose Luhn digit is wrong. */
export const luhnCardWrong: fc.Arbitrary<string> = fc
  .tuple(luhnCard, fc.integer({ min: 1, max: 9 }))
  .map(([card, delta]) => card.slice(0, -1) + String((Number(card.at(-1)) + delta) % 10));

// ---------------------------------------------------------------- amounts

/** The only amounts the formats allow: up to 15 digits of CNY and at most 2 decimals (no sign: the payload must not be negative). */
export const VALID_CNY = /^\d{1,15}(\.\d{1,2})?$/;
/** "-0", "-0.00": negative zero, read as 0 (test/kernel/money.test.ts). */
export const NEGATIVE_ZERO = /^-0+(\.0*)?$/;

/**
 * Strings that are not an exact CNY amount with at most 2 decimals. Negative zero is left out
 * (it is 0: test/kernel/money.test.ts) and so are blanks (a blank optional amount is "not sent", by design).
 */
export const malformedAmount: fc.Arbitrary<string> = fc
  .oneof(
    // more than 2 decimals
    fc.tuple(fc.stringMatching(/^\d{1,12}$/), fc.stringMatching(/^\d{3,6}$/)).map(([i, d]) => `${i}.${d}`),
    // exponents, hex, signs, separators, lone dots
    fc.tuple(fc.stringMatching(/^\d{1,4}$/), fc.integer({ min: -9, max: 9 })).map(([m, e]) => `${m}e${e}`),
    fc.stringMatching(/^\d{1,4}$/).map((m) => `${m}E3`),
    fc.stringMatching(/^[0-9a-f]{1,6}$/).map((h) => `0x${h}`),
    fc.stringMatching(/^\d{1,6}\.\d{2}$/).map((v) => `+${v}`),
    fc.tuple(fc.stringMatching(/^\d{1,3}$/), fc.stringMatching(/^\d{3}$/)).map(([a, b]) => `${a},${b}.00`),
    fc.tuple(fc.stringMatching(/^\d{1,3}$/), fc.stringMatching(/^\d{3}$/)).map(([a, b]) => `${a} ${b}.00`),
    fc.stringMatching(/^\d{1,6}$/).map((v) => `${v}.`),
    fc.stringMatching(/^\d{1,2}$/).map((v) => `.${v}`),
    fc.stringMatching(/^\d{1,6}$/).map((v) => `${v}_000`),
    // more digits than any amount can have
    fc.stringMatching(/^[1-9]\d{15,24}$/),
    // full-width and other non-ASCII digits
    fc.stringMatching(/^[０-９]{1,6}$/),
    fc.stringMatching(/^[٠-٩]{1,6}$/),
    fc.constantFrom('NaN', 'Infinity', '-Infinity', 'null', 'undefined', 'true', '¥100.00', '100.00元', '100.00 CNY', '1.0.0', '--1', '1-', '12.3.4'),
    // negatives (not allowed outside a reversal)
    fc.tuple(fc.stringMatching(/^[1-9]\d{0,8}$/), fc.stringMatching(/^\d{2}$/)).map(([i, d]) => `-${i}.${d}`),
    // anything else
    fc.string({ minLength: 1, maxLength: 20 }),
  )
  .filter((s) => s.trim() !== '' && !VALID_CNY.test(s.trim()) && !NEGATIVE_ZERO.test(s.trim()));

/** fen -> "1234.56", computed with BigInt (no float anywhere): the expected text of an amount. */
export function cny(fen: bigint | number): string {
  const f = BigInt(fen);
  const sign = f < 0n ? '-' : '';
  const abs = f < 0n ? -f : f;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** Shortest decimal forms of the same amount: "12.30" -> "12.3", "12.00" -> "12". */
export function cnyShort(fen: number): string {
  const text = cny(fen);
  return text.replace(/\.00$/, '').replace(/(\.\d)0$/, '$1');
}

/** Escapes text for an XML element. */
export const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
