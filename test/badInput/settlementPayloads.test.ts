import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { validateSettlement, type SettlementFields } from '../../src/settlements/validation.ts';
import { AMOUNT_FIELDS, TEXT_FIELDS } from '../../src/settlements/model.ts';
import { PlatformError, readFeedOutput, readFeedRequest, readResponse } from '../../src/settlements/envelope.ts';
import { readSettlementFile, SettlementFileError, type SourceRecord } from '../../src/settlements/records.ts';
import { cny, cnyShort, malformedAmount, residentId, residentIdWrongCheck } from './support.ts';
import { AmountError, parseFen } from '../../src/kernel/money.ts';

/**
 * Issue 8, settlement payloads (pure part): the validation of one record, the money parser behind
 * it, the platform envelope and the file reader. Every bad value is refused naming the platform
 * field and a reason; amounts are exact integers of fen, never floats; nothing here throws
 * anything but the module's documented errors.
 */

const CERTNO = '350521198503120019'; // a valid resident ID (check digit 9)
const REQUIRED_AMOUNTS = AMOUNT_FIELDS.filter((f) => f.required).map((f) => f.field);
const ALL_AMOUNTS = AMOUNT_FIELDS.map((f) => f.field);

/** The Jinjiang case of docs/design.md, as the platform writes it: consistent, valid. */
const jinjiang = (): SettlementFields => ({
  infno: '2304', setl_id: 'S1', mdtrt_id: 'M1', psn_no: 'P1', psn_name: '张伟', certno: CERTNO, insutype: '310',
  med_type: '21', setl_time: '2025-06-01 10:00:00', medfee_sumamt: '243200.00', fulamt_ownpay_amt: '52700.00',
  overlmt_selfpay: '0.00', fund_pay_sumamt: '106500.00', psn_part_amt: '136700.00', acct_pay: '700.00',
  psn_cash_pay: '136000.00', diagnoses: ['I34.0'],
});

/** A reversal (2305) of it: every amount negated. */
const jinjiangReversal = (): SettlementFields => ({
  ...jinjiang(), infno: '2305', setl_id: 'S1R', init_setl_id: 'S1', medfee_sumamt: '-243200.00', fulamt_ownpay_amt: '-52700.00',
  overlmt_selfpay: '0.00', fund_pay_sumamt: '-106500.00', psn_part_amt: '-136700.00', acct_pay: '-700.00', psn_cash_pay: '-136000.00',
});

describe('settlement validation refuses every malformed amount, naming the field', () => {
  it('any amount text that is not an exact CNY amount with at most 2 decimals', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL_AMOUNTS), malformedAmount, (field, amount) => {
        const { value, problems } = validateSettlement({ ...jinjiang(), [field]: amount });
        expect(value).toBeNull();
        // The refusal names this field only (the rest of the record is fine), with the reason.
        expect(problems).toEqual([{ field, reason: expect.stringMatching(/^(has more than 2 decimals \(.+\)|is not an amount in CNY \(".*"\)|is out of range|must not be negative)$/s) }]);
      }),
      { numRuns: 200 },
    );
  });

  it('more than 2 decimals is an error, never a rounding', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL_AMOUNTS), fc.stringMatching(/^\d{1,10}\.\d{3,6}$/), (field, amount) => {
        expect(validateSettlement({ ...jinjiang(), [field]: amount }).problems)
          .toContainEqual({ field, reason: `has more than 2 decimals (${amount})` });
        expect(() => parseFen(amount, field)).toThrow(new AmountError(field, `has more than 2 decimals (${amount})`));
      }),
      { numRuns: 100 },
    );
  });

  it('JSON numbers with more than 2 decimals or in exponent form are refused too', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL_AMOUNTS),
        fc.oneof(
          fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 1, max: 9 })).map(([i, d]) => Number(`${i}.00${d}`)),
          fc.double({ min: 1e21, max: 1e300, noNaN: true }),
          fc.double({ min: 1e-300, max: 1e-7, noNaN: true }),
        ),
        (field, amount) => {
          const { value, problems } = validateSettlement({ ...jinjiang(), [field]: amount });
          expect(value).toBeNull();
          expect(problems.find((p) => p.field === field)?.reason).toMatch(/more than 2 decimals|out of range/);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('wrong types (objects, lists, booleans) are refused naming the field', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL_AMOUNTS), fc.constantFrom<unknown>(true, false, [], ['1.00'], {}, { amount: '1.00' }), (field, amount) => {
        expect(validateSettlement({ ...jinjiang(), [field]: amount }).problems)
          .toContainEqual({ field, reason: 'must be an amount in CNY (string or number)' });
      }),
      { numRuns: 50 },
    );
  });

  it('a missing or blank required amount is "is required"', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REQUIRED_AMOUNTS), fc.constantFrom<unknown>(undefined, null, '', '   ', '\t'), (field, amount) => {
        const record = { ...jinjiang(), [field]: amount };
        if (amount === undefined) delete record[field];
        expect(validateSettlement(record).problems).toContainEqual({ field, reason: 'is required' });
      }),
      { numRuns: 60 },
    );
  });

  it('a reversal refuses positive amounts, naming each', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REQUIRED_AMOUNTS), fc.integer({ min: 1, max: 1e9 }), (field, fen) => {
        expect(validateSettlement({ ...jinjiangReversal(), [field]: cny(fen) }).problems)
          .toContainEqual({ field, reason: 'must be negative or zero in a reversal (2208/2305)' });
      }),
      { numRuns: 60 },
    );
  });
});

describe('amounts never pass through a float', () => {
  /** A consistent settlement from integer fen: total = funds + person, person = account + cash. */
  const consistent = fc.record({
    funds: fc.integer({ min: 0, max: 4_000_000_000_000_000 }),
    account: fc.integer({ min: 0, max: 2_000_000_000_000_000 }),
    cash: fc.integer({ min: 0, max: 2_000_000_000_000_000 }),
    ownPay: fc.integer({ min: 0, max: 1_000_000_000 }),
    style: fc.constantFrom('fixed', 'short', 'number'),
  });

  it('every amount arrives as exactly the integer of fen the text says, as strings or as JSON numbers', () => {
    fc.assert(
      fc.property(consistent, ({ funds, account, cash, ownPay, style }) => {
        const person = account + cash;
        const total = funds + person;
        const write = (fen: number): string | number => {
          if (style === 'fixed') return cny(fen);
          if (style === 'short') return cnyShort(fen);
          // A JSON number only where its shortest form is the same decimal text (what a sender writes).
          const n = Number(cnyShort(fen));
          return String(n) === cnyShort(fen) ? n : cny(fen);
        };
        const record = {
          ...jinjiang(), medfee_sumamt: write(total), fund_pay_sumamt: write(funds), psn_part_amt: write(person),
          acct_pay: write(account), psn_cash_pay: write(cash), fulamt_ownpay_amt: write(ownPay), overlmt_selfpay: write(0),
        };
        const { value, problems } = validateSettlement(record);
        expect(problems).toEqual([]);
        const expected = { medfee_sumamt: total, fund_pay_sumamt: funds, psn_part_amt: person, acct_pay: account, psn_cash_pay: cash, fulamt_ownpay_amt: ownPay, overlmt_selfpay: 0 };
        for (const [field, fen] of Object.entries(expected)) {
          const got = value!.amounts[field as keyof typeof expected];
          expect(Number.isSafeInteger(got)).toBe(true);
          expect(got).toBe(fen);
          // And back to text through BigInt: the exact digits sent.
          expect(cny(BigInt(got!))).toBe(cny(fen));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('an amount one fen off the sums is refused naming the field and both sides', () => {
    fc.assert(
      fc.property(consistent, fc.constantFrom(-1, 1), ({ funds, account, cash }, delta) => {
        const person = account + cash;
        const total = funds + person;
        fc.pre(total + delta >= 0 && person + delta >= 0);
        const base = { ...jinjiang(), fund_pay_sumamt: cny(funds), acct_pay: cny(account), psn_cash_pay: cny(cash), fulamt_ownpay_amt: '0', overlmt_selfpay: '0' };
        expect(validateSettlement({ ...base, medfee_sumamt: cny(total + delta), psn_part_amt: cny(person) }).problems).toEqual([
          { field: 'medfee_sumamt', reason: `is ${cny(total + delta)}, but fund_pay_sumamt + psn_part_amt = ${cny(total)}` },
        ]);
        expect(validateSettlement({ ...base, medfee_sumamt: cny(total + delta), psn_part_amt: cny(person + delta) }).problems).toEqual([
          { field: 'psn_part_amt', reason: `is ${cny(person + delta)}, but acct_pay + psn_cash_pay = ${cny(person)}` },
        ]);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses amounts whose fen would not be a safe integer', () => {
    expect(() => parseFen('999999999999999.99', 'medfee_sumamt')).toThrow(new AmountError('medfee_sumamt', 'is out of range'));
    expect(() => parseFen('9999999999999999', 'medfee_sumamt')).toThrow(AmountError);
    expect(parseFen('90071992547409.91', 'x')).toBe(9_007_199_254_740_991);
    expect(() => parseFen('90071992547409.92', 'x')).toThrow(new AmountError('x', 'is out of range'));
  });
});

describe('settlement validation: identity, time and diagnoses', () => {
  it('names each identity field that is missing or too long', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TEXT_FIELDS), fc.boolean(), ({ field, maxLength }, missing) => {
        const record = { ...jinjiang(), [field]: missing ? '  ' : 'x'.repeat(maxLength + 1) };
        const { value, problems } = validateSettlement(record);
        expect(value).toBeNull();
        expect(problems).toContainEqual({ field, reason: missing ? 'is required' : `must be at most ${maxLength} characters` });
      }),
      { numRuns: 50 },
    );
  });

  it('refuses every setl_time that is not a real yyyy-MM-dd HH:mm:ss', () => {
    const impossible = fc
      .record({ y: fc.integer({ min: 1000, max: 9999 }), mo: fc.integer({ min: 0, max: 99 }), d: fc.integer({ min: 0, max: 99 }), h: fc.integer({ min: 0, max: 99 }), mi: fc.integer({ min: 0, max: 99 }), s: fc.integer({ min: 0, max: 99 }) })
      .filter(({ y, mo, d, h, mi, s }) => {
        const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
        return !(mo >= 1 && mo <= 12 && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && h < 24 && mi < 60 && s < 60);
      })
      .map(({ y, mo, d, h, mi, s }) => `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')} ${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}`);
    const wrongFormat = fc.oneof(
      fc.constantFrom('2025-06-01T10:00:00', '2025-06-01 10:00', '2025/06/01 10:00:00', '20250601100000', '2025-6-1 10:00:00', '2025-06-01 10:00:00Z', '2025-06-01 10:00:00.000', 'yesterday'),
      fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim() !== '' && !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s.trim())),
    );
    fc.assert(
      fc.property(fc.oneof(impossible, wrongFormat), (time) => {
        expect(validateSettlement({ ...jinjiang(), setl_time: time }).problems)
          .toEqual([{ field: 'setl_time', reason: 'must be a time yyyy-MM-dd HH:mm:ss (China time)' }]);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses an ID number with a wrong check digit, saying which one was expected', () => {
    fc.assert(
      fc.property(residentIdWrongCheck, ({ id, expected }) => {
        expect(validateSettlement({ ...jinjiang(), certno: id }).problems)
          .toEqual([{ field: 'certno', reason: `check digit is ${id[17]}, expected ${expected}` }]);
      }),
      { numRuns: 100 },
    );
  });

  it('accepts every valid ID number (the oracle of the generator above)', () => {
    fc.assert(fc.property(residentId, (id) => {
      expect(validateSettlement({ ...jinjiang(), certno: id }).problems).toEqual([]);
    }), { numRuns: 50 });
  });

  it('refuses diagnoses that are not ICD-10 codes, naming the first', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s.trim() !== '' && !/[;,|\s]/.test(s) && !/^[A-Z]\d{2}(\.[0-9A-Za-z]{1,8})?$/.test(s)), (code) => {
        expect(validateSettlement({ ...jinjiang(), diagnoses: ['C34.1', code] }).problems)
          .toEqual([{ field: 'diagnoses', reason: `${JSON.stringify(code)} is not an ICD-10 code` }]);
      }),
      { numRuns: 100 },
    );
    expect(validateSettlement({ ...jinjiang(), diagnoses: { C34: true } }).problems).toEqual([{ field: 'diagnoses', reason: 'must be a list of ICD-10 codes' }]);
    expect(validateSettlement({ ...jinjiang(), diagnoses: Array(21).fill('C34.1') }).problems).toEqual([{ field: 'diagnoses', reason: 'at most 20 codes' }]);
  });

  it('refuses an unknown transaction code', () => {
    fc.assert(
      fc.property(
        // Names of Object.prototype ("toString", "constructor") too (test/settlements/platformPayloads.test.ts).
        fc.oneof(fc.constantFrom('toString', 'constructor', '__proto__', 'valueOf'), fc.string({ minLength: 1, maxLength: 8 }))
          .filter((s) => s.trim() !== '' && !['2207', '2304', '2208', '2305'].includes(s.trim())),
        (infno) => {
          expect(validateSettlement({ ...jinjiang(), infno }).problems)
            .toContainEqual({ field: 'infno', reason: 'must be 2207 or 2304 (settlement), 2208 or 2305 (reversal)' });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('never throws on any record: it is valid, or refused with at least one field and reason', () => {
    const FIELDS = ['infno', 'init_setl_id', 'psn_cert_type', 'certno', 'setl_time', 'diagnoses', ...TEXT_FIELDS.map((f) => f.field), ...ALL_AMOUNTS];
    // JSON values only (what a file or the platform can send), Object.prototype names and objects
    // with an own "toString" included (test/settlements/platformPayloads.test.ts).
    const json = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('toString', 'constructor', [{ toString: 1 }]));
    const record = fc.tuple(
      fc.subarray(FIELDS),
      fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(json, malformedAmount, fc.constantFrom('2304', '2305', CERTNO, '2025-06-01 10:00:00', '1.00', '-1.00'))),
    ).map(([keep, noise]) => {
      const base = jinjiang();
      const out: SettlementFields = {};
      for (const f of keep) if (f in base) out[f] = base[f];
      return { ...out, ...noise };
    });
    fc.assert(
      fc.property(record, (fields) => {
        const { value, problems } = validateSettlement(fields);
        if (value === null) {
          expect(problems.length).toBeGreaterThan(0);
        } else {
          expect(problems).toEqual([]);
          expect(['2207', '2304', '2208', '2305']).toContain(value.infno);
          expect(['SETTLEMENT', 'REVERSAL']).toContain(value.kind);
          for (const f of ALL_AMOUNTS) expect(value.amounts[f] === null || Number.isSafeInteger(value.amounts[f])).toBe(true);
        }
        for (const p of problems) {
          expect(FIELDS).toContain(p.field);
          expect(typeof p.reason).toBe('string');
          expect(p.reason.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('the platform envelope', () => {
  it('refuses anything that is not an envelope, with a PlatformError', () => {
    fc.assert(
      fc.property(fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v) || !('infcode' in v)), (body) => {
        expect(() => readResponse(body)).toThrow(new PlatformError('the answer is not a platform envelope (no infcode)'));
      }),
      { numRuns: 100 },
    );
  });

  it('refuses an error answer (infcode -1 or anything but 0), quoting err_msg', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -100, max: 100 }).filter((n) => n !== 0), fc.constantFrom('-1', '1', 'error', 'NaN')),
        fc.string({ minLength: 1, maxLength: 40 }),
        (infcode, message) => {
          expect(() => readResponse({ infcode, err_msg: message, output: { data: [] } })).toThrow(PlatformError);
          expect(() => readResponse({ infcode, err_msg: message, output: null })).toThrow(`infcode ${String(infcode)}: ${message}`);
        },
      ),
      { numRuns: 100 },
    );
    expect(() => readResponse({ infcode: -1, err_msg: null })).toThrow('infcode -1: no err_msg given');
  });

  it('reads a feed request only with a page size 1-10000 and a string cursor, else says what is wrong', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (input) => {
        const result = readFeedRequest(input);
        if (typeof result === 'string') {
          expect(['input.data is required', 'input.data.cursor must be a string', 'input.data.page_size must be 1 to 10000']).toContain(result);
        } else {
          expect(Number.isInteger(result.page_size) && result.page_size >= 1 && result.page_size <= 10_000).toBe(true);
          expect(result.cursor === null || typeof result.cursor === 'string').toBe(true);
        }
      }),
      { numRuns: 200 },
    );
    for (const page_size of [0, -1, 10_001, 1.5, '10', null]) {
      expect(readFeedRequest({ data: { cursor: null, page_size } })).toBe('input.data.page_size must be 1 to 10000');
    }
    expect(readFeedRequest({ data: { cursor: 5, page_size: 10 } })).toBe('input.data.cursor must be a string');
  });

  it('reads feed output only with a data list, has_more and next_cursor; else a PlatformError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.record({ data: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 })), has_more: fc.jsonValue({ maxDepth: 0 }), next_cursor: fc.jsonValue({ maxDepth: 0 }) }, { requiredKeys: [] }),
        ),
        (output) => {
          let read;
          try {
            read = readFeedOutput(output);
          } catch (error) {
            expect(error).toBeInstanceOf(PlatformError);
            expect((error as Error).message).toMatch(/^the feed output has no (data list|has_more flag|next_cursor)$/);
            return;
          }
          expect(Array.isArray(read.data)).toBe(true);
          expect(typeof read.has_more).toBe('boolean');
          expect(read.next_cursor === null || typeof read.next_cursor === 'string').toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('settlement files (JSON lines, CSV)', () => {
  const read = async (content: string | Buffer, format: 'jsonl' | 'csv'): Promise<SourceRecord[]> => {
    const out: SourceRecord[] = [];
    for await (const r of readSettlementFile(Readable.from([content]), format)) out.push(r);
    return out;
  };

  it('a JSON line that is not a JSON object becomes an unreadable record with its line number and reason; nothing throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ maxLength: 30, unit: 'binary' }), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v))), { minLength: 1, maxLength: 8 }), async (lines) => {
        const cleaned = lines.map((l) => l.replace(/[\r\n\u2028\u2029\ud800-\udfff]/g, ' '));
        const records = await read(cleaned.join('\n') + '\n', 'jsonl');
        const expected = cleaned.map((l, i) => ({ l, line: i + 1 })).filter(({ l, line }) => (line === 1 ? l.replace(/^\uFEFF/, '') : l).trim() !== '');
        expect(records.map((r) => r.position)).toEqual(expected.map((e) => `line ${e.line}`));
        records.forEach((r, i) => {
          const text = expected[i]!.line === 1 ? expected[i]!.l.replace(/^\uFEFF/, '') : expected[i]!.l;
          let parsed: unknown;
          let ok = true;
          try {
            parsed = JSON.parse(text);
          } catch {
            ok = false;
          }
          if (ok && typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
            expect(r.unreadable).toBeUndefined();
          } else {
            expect(r.unreadable?.reason).toMatch(ok ? /^is not a JSON object$/ : /^is not valid JSON \(.+\)$/);
            expect(r.fields).toEqual({});
          }
        });
      }),
      { numRuns: 100 },
    );
  });

  it('a CSV file with an unclosed quote is refused as a whole with a SettlementFileError naming the line', async () => {
    for (const csv of ['setl_id,psn_name\n"S1,张伟\n', 'setl_id,psn_name\nS1,"张伟\nS2,李娜\n']) {
      await expect(read(csv, 'csv')).rejects.toThrow(SettlementFileError);
      await expect(read(csv, 'csv')).rejects.toThrow(/^CSV: Quote Not Closed: .* at line \d+$/);
    }
  });

  it('reads a CSV file with a byte-order mark and keeps empty cells out', async () => {
    const records = await read('\uFEFFsetl_id,medfee_sumamt,PSN_NAME\nS1,,张伟\n', 'csv');
    expect(records).toEqual([{ fields: { setl_id: 'S1', psn_name: '张伟' }, position: 'line 2' }]);
  });
});
