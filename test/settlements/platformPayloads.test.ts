import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import { fingerprint } from '../support/fingerprint.ts';
import { validateSettlement } from '../../src/settlements/validation.ts';
import { PlatformError, readResponse } from '../../src/settlements/envelope.ts';
import { importFromSource } from '../../src/settlements/ingest.ts';
import { fileSource } from '../../src/settlements/sources/files.ts';
import { fileSourceNamed } from '../../src/settlements/store.ts';
import { withResidentIdCheck } from '../../src/kernel/identifiers.ts';

/**
 * Settlement records and answers as the platform sends them, with values crafted to break the
 * reader: each test is a bug the bad-input sweep (issue 8) found and fixed; its comment says the
 * exact input, what happened before the fix and what happens now. Only the tests that store
 * records start the database and gateway.
 */

const gateway = lazyTestGateway({ RATE_LIMIT_POINTS: '0' });

const CERTNO = withResidentIdCheck('35052119850312001');
const settlement = (extra: Record<string, unknown> = {}) => ({
  infno: '2304', setl_id: 'S1', mdtrt_id: 'M1', psn_no: 'P1', psn_name: '张伟', certno: CERTNO, insutype: '310',
  med_type: '21', setl_time: '2025-06-01 10:00:00', medfee_sumamt: '243200.00', fulamt_ownpay_amt: '52700.00',
  overlmt_selfpay: '0.00', fund_pay_sumamt: '106500.00', psn_part_amt: '136700.00', acct_pay: '700.00',
  psn_cash_pay: '136000.00', diagnoses: ['I34.0'], ...extra,
});

async function importLines(lines: string[], source = 'found-bugs') {
  const { db: database, gw: g } = await gateway();
  await fileSourceNamed(database.pool, source);
  return importFromSource(database.pool, g.keys, fileSource(Readable.from([lines.join('\n') + '\n']), 'jsonl'), { source, fileName: 'f.jsonl', startedBy: 'test', pageSize: 500 });
}

describe('settlement payloads', () => {
  // BUG 1. src/settlements/validation.ts: `infnoText in SETTLEMENT_INFNOS` also finds Object.prototype
  // members. Input: a record with "infno": "toString" (or "constructor", "__proto__", "hasOwnProperty",
  // "valueOf"). Before the fix: validateSettlement accepts it (value.infno = "toString", value.kind = a function);
  // storing it then fails the whole page with PostgreSQL 'null value in column "kind" of relation
  // "settlements" violates not-null constraint' (run FAILED, the other records of the page not stored;
  // uploadSettlements answers INTERNAL_SERVER_ERROR). Now: a problem
  // {field: 'infno', reason: 'must be 2207 or 2304 (settlement), 2208 or 2305 (reversal)'}, kept as a rejection.
  it('refuses Object.prototype names as infno, and stores the rest of the page', async () => {
    for (const infno of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect(validateSettlement(settlement({ infno })).problems)
        .toEqual([{ field: 'infno', reason: 'must be 2207 or 2304 (settlement), 2208 or 2305 (reversal)' }]);
    }
    const outcome = await importLines([JSON.stringify(settlement({ setl_id: 'B1-OK' })), JSON.stringify(settlement({ setl_id: 'B1-BAD', infno: 'toString' }))]);
    expect(outcome).toMatchObject({ received: 2, inserted: 1, rejected: 1 });
  });

  // BUG 2. src/settlements/validation.ts parseDiagnoses: `String(c)` throws on a JSON object whose own
  // "toString" is not a function. Input: a JSON line with "diagnoses": [{"toString": 1}]. Before the fix: TypeError
  // "Cannot convert object to primitive value" escapes validateSettlement; the file run FAILS with that
  // message and uploadSettlements answers INTERNAL_SERVER_ERROR. Now: a problem on field
  // "diagnoses" (e.g. 'must be a list of ICD-10 codes'), the record kept as a rejection.
  it('refuses a diagnoses list holding objects, without throwing', async () => {
    const { value, problems } = validateSettlement(settlement({ diagnoses: [{ toString: 1 }] }));
    expect(value).toBeNull();
    expect(problems.map((p) => p.field)).toEqual(['diagnoses']);
    const outcome = await importLines([JSON.stringify(settlement({ setl_id: 'B2-BAD', diagnoses: [{ toString: 1 }] }))]);
    expect(outcome).toMatchObject({ received: 1, inserted: 0, rejected: 1 });
  });

  // BUG 3. src/settlements/store.ts pageInsert: records travel to PostgreSQL as one jsonb document, and
  // jsonb refuses U+0000 ("unsupported Unicode escape sequence") and lone surrogates ("invalid input
  // syntax for type json"). Input: a JSON line with "\u0000" or "\ud800" in any field or key, valid or not,
  // e.g. {"setl_id":"B3","psn_no":"P\u0000", ...valid fields}. Before the fix: the whole page fails with that
  // PostgreSQL message, the run is FAILED, no record of the page is stored (good ones included), and
  // uploadSettlements answers INTERNAL_SERVER_ERROR. Now: that record rejected with a field and
  // reason (e.g. psn_no: 'must not contain control characters'), the others stored.
  it('keeps a record with U+0000 or a lone surrogate as a rejection, storing the rest of the page', async () => {
    const before = await fingerprint((await gateway()).db.pool, 'settlements');
    const lines = [
      JSON.stringify(settlement({ setl_id: 'B3-OK' })),
      JSON.stringify(settlement({ setl_id: 'B3-NUL', psn_no: 'P\u0000' })),
      JSON.stringify({ setl_id: 'B3-NUL-REJECTED', note: 'a\u0000' }),
      JSON.stringify(settlement({ setl_id: 'B3-SURROGATE', mdtrt_id: 'M\ud800' })),
    ];
    const outcome = await importLines(lines);
    expect(outcome).toMatchObject({ received: 4, inserted: 1, rejected: 3 });
    expect((await fingerprint((await gateway()).db.pool, 'settlements')).rows).toBe(before.rows + 1);
  });

  // BUG 5. src/settlements/envelope.ts readResponse: `Number(envelope.infcode) !== 0` takes infcode
  // null, "", " ", false and [] for 0 (success). Input: {"infcode": null, "err_msg": "系统繁忙", "output": {...}}.
  // Before the fix: read as a successful answer. Now: PlatformError (only 0 or "0" is success).
  it('takes only infcode 0 as success', () => {
    for (const infcode of [null, '', ' ', false, [], [0]]) {
      expect(() => readResponse({ infcode, err_msg: '系统繁忙', output: { data: [], has_more: false, next_cursor: null } })).toThrow(PlatformError);
    }
    expect(readResponse({ infcode: '0', err_msg: null, output: 1 })).toBe(1);
  });

  // BUG 15 (the settlement side; parseFen itself is in test/kernel/money.test.ts). Input: a settlement
  // amount "-0.00" where negatives are not allowed. Now: zero, whatever its sign; no problem.
  it('reads a negative-zero amount as zero', () => {
    expect(validateSettlement(settlement({ overlmt_selfpay: '-0.00' })).problems).toEqual([]);
  });
});
