import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AmountError, fenToCny, fenToCnyGrouped, parseFen } from '../../src/kernel/money.ts';

describe('parseFen', () => {
  it('parses strings and numbers exactly', () => {
    expect(parseFen('243200.00', 'x')).toBe(24_320_000);
    expect(parseFen('0.1', 'x')).toBe(10);
    expect(parseFen(0.29, 'x')).toBe(29); // 0.29 * 100 is 28.999999999999996 as a float
    expect(parseFen(136700, 'x')).toBe(13_670_000);
    expect(parseFen(' 12.5 ', 'x')).toBe(1250);
  });
  it('refuses more than 2 decimals, negatives, garbage and missing values, naming the field', () => {
    expect(() => parseFen('1.005', 'medfee_sumamt')).toThrow('medfee_sumamt: has more than 2 decimals (1.005)');
    expect(() => parseFen('-1.00', 'psn_part_amt')).toThrow('psn_part_amt: must not be negative');
    expect(() => parseFen('12,00', 'hifp_pay')).toThrow(AmountError);
    expect(() => parseFen(undefined, 'acct_pay')).toThrow('acct_pay: is required');
    expect(() => parseFen(1e21, 'x')).toThrow(/out of range/);
  });
  it('round-trips through fenToCny for any amount', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 13 }), (fen) => parseFen(fenToCny(fen), 'x') === fen));
  });
  it('formats with grouping for people', () => {
    expect(fenToCnyGrouped(8_400_000)).toBe('84,000.00');
    expect(fenToCnyGrouped(5)).toBe('0.05');
    expect(fenToCny(-150)).toBe('-1.50');
  });
});

describe('negative zero', () => {
  // BUG 15 of the bad-input sweep (issue 8). src/kernel/money.ts parseFen: "-0" and "-0.00" passed where negatives
  // are not allowed (sign && fen !== 0) and came back as JavaScript negative zero (Object.is(-0, 0) is
  // false; toEqual(0) fails). Input: <Amt Ccy="CNY">-0</Amt> in a camt entry, a pain.002 OrgnlCtrlSum
  // "-0.00", a settlement amount "-0.00" (test/settlements/platformPayloads.test.ts). Now: zero is zero,
  // whatever its sign (the XSD's minInclusive 0 lets "-0" pass too); "-0.01" is still refused where
  // negatives are not allowed.
  it('never returns negative zero, and still refuses "-0.01" where negatives are not allowed', () => {
    for (const text of ['-0', '-0.00', '-0.0', -0]) {
      expect(Object.is(parseFen(text, 'x'), 0), String(text)).toBe(true);
      expect(Object.is(parseFen(text, 'x', { allowNegative: true }), 0), String(text)).toBe(true);
    }
    expect(() => parseFen('-0.01', 'x')).toThrow('x: must not be negative');
    expect(parseFen('-0.01', 'x', { allowNegative: true })).toBe(-1);
  });
});
