import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AmountError, fenToCny, fenToCnyGrouped, parseFen } from '../src/kernel/money.ts';

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
