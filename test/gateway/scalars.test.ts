import { parseValue } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DateTimeScalar } from '../../src/gateway/scalars.ts';

/** DateTime inputs (payment policies' validity, filters) are instants: the offset says which. */
describe('DateTime', () => {
  it('takes an instant with its offset, Z or ±hh:mm, as a variable and in the document alike', () => {
    for (const [written, instant] of [
      ['2026-01-01T00:00:00+08:00', '2025-12-31T16:00:00.000Z'],
      ['2025-12-31T16:00:00Z', '2025-12-31T16:00:00.000Z'],
      ['2026-01-01T00:00+08:00', '2025-12-31T16:00:00.000Z'],
      ['2026-01-01T08:00:00.123456-00:00', '2026-01-01T08:00:00.123Z'],
    ] as const) {
      expect(DateTimeScalar.parseValue(written).toISOString(), written).toBe(instant);
      expect(DateTimeScalar.parseLiteral(parseValue(JSON.stringify(written))).toISOString(), written).toBe(instant);
    }
  });

  it('refuses a date-time without its offset, which would be read as UTC (08:00 in China for a policy meant from midnight), a bare date, and a day or hour that does not exist (JavaScript rolls them over)', () => {
    for (const written of ['2026-01-01T00:00:00', '2026-01-01', '2026-01-01 00:00:00+08:00', '20260101T000000Z', 'yesterday', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00+08:00', '2026-01-01T24:00:00+08:00', '2026-01-01T10:60:00Z', '2026-01-01T00:00:00+25:00']) {
      expect(() => DateTimeScalar.parseValue(written), written).toThrow('DateTime must be ISO 8601 with its offset, e.g. 2026-01-01T00:00:00+08:00 or 2025-12-31T16:00:00Z');
      expect(() => DateTimeScalar.parseLiteral(parseValue(JSON.stringify(written))), written).toThrow(/with its offset/);
    }
    expect(() => DateTimeScalar.parseValue(1_767_225_600_000)).toThrow(/with its offset/);
  });
});
