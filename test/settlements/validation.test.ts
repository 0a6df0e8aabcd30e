import { describe, expect, it } from 'vitest';
import { decrypt } from '../../src/privacy/personalData.ts';
import { validateSettlement } from '../../src/settlements/validation.ts';
import { decideMatch } from '../../src/settlements/matching.ts';
import type { MatchFacts } from '../../src/settlements/model.ts';
import { maskName, protectRejection, protectSettlement } from '../../src/settlements/protect.ts';
import { applyCorrections, flattenFeedItem, itemRecord } from '../../src/settlements/records.ts';
import { preparePage } from '../../src/settlements/ingest.ts';
import { keys } from './support.ts';
import { withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { parseChinaTime, planYearOf } from '../../src/kernel/time.ts';

const CERTNO = withResidentIdCheck('35052119850312001');

// The Jinjiang case of docs/design.md: 243,200 = 106,500 + 136,700; the patient's 136,700 = 700 + 136,000.
const jinjiang = () => ({
  infno: '2304', setl_id: 'S1', mdtrt_id: 'M1', psn_no: 'P1', psn_name: '张伟', certno: CERTNO, insutype: '310',
  med_type: '21', setl_time: '2025-06-01 10:00:00', medfee_sumamt: '243200.00', fulamt_ownpay_amt: '52700.00',
  overlmt_selfpay: '0.00', fund_pay_sumamt: '106500.00', psn_part_amt: '136700.00', acct_pay: '700.00',
  psn_cash_pay: '136000.00', diagnoses: ['I34.0'] as unknown,
});

describe('settlement validation', () => {
  it('parses a settlement: amounts to exact fen, China time to an instant, optional amounts absent as null', () => {
    const { value, problems } = validateSettlement(jinjiang());
    expect(problems).toEqual([]);
    expect(value).toMatchObject({ infno: '2304', kind: 'SETTLEMENT', setlId: 'S1', reversesSetlId: null, certno: CERTNO, diagnoses: ['I34.0'] });
    expect(value!.setlTime.toISOString()).toBe('2025-06-01T02:00:00.000Z');
    expect(value!.amounts).toMatchObject({
      medfee_sumamt: 24_320_000, fund_pay_sumamt: 10_650_000, psn_part_amt: 13_670_000, fulamt_ownpay_amt: 5_270_000,
      overlmt_selfpay: 0, acct_pay: 70_000, psn_cash_pay: 13_600_000, hosp_part_amt: null, hifp_pay: null,
    });
  });

  it('takes amounts as JSON numbers too, without float error', () => {
    // 0.29 * 100 is 28.999999999999996 as a float.
    const { value } = validateSettlement({ ...jinjiang(), medfee_sumamt: 243200.29, psn_part_amt: 136700.29, psn_cash_pay: 136000.29 });
    expect(value!.amounts).toMatchObject({ medfee_sumamt: 24_320_029, psn_part_amt: 13_670_029, psn_cash_pay: 13_600_029 });
  });

  it('rejects medfee_sumamt ≠ fund_pay_sumamt + psn_part_amt, naming the field and both sides', () => {
    expect(validateSettlement({ ...jinjiang(), medfee_sumamt: '243200.01' }).problems).toEqual([
      { field: 'medfee_sumamt', reason: 'is 243200.01, but fund_pay_sumamt + psn_part_amt = 243200.00' },
    ]);
  });

  it('counts hosp_part_amt into the total when given', () => {
    // 106,500 + 136,700 + 100 = 243,300.
    expect(validateSettlement({ ...jinjiang(), medfee_sumamt: '243300.00', hosp_part_amt: '100.00' }).problems).toEqual([]);
    expect(validateSettlement({ ...jinjiang(), hosp_part_amt: '100.00' }).problems).toEqual([
      { field: 'medfee_sumamt', reason: 'is 243200.00, but fund_pay_sumamt + psn_part_amt + hosp_part_amt = 243300.00' },
    ]);
  });

  it('rejects psn_part_amt ≠ acct_pay + psn_cash_pay', () => {
    // 700.00 + 135,999.50 = 136,699.50.
    expect(validateSettlement({ ...jinjiang(), psn_cash_pay: '135999.50' }).problems).toEqual([
      { field: 'psn_part_amt', reason: 'is 136700.00, but acct_pay + psn_cash_pay = 136699.50' },
    ]);
  });

  it('checks the ID number check digit (other document types have none)', () => {
    const wrong = CERTNO.slice(0, 17) + (CERTNO.endsWith('0') ? '1' : '0');
    expect(validateSettlement({ ...jinjiang(), certno: wrong }).problems).toEqual([
      { field: 'certno', reason: `check digit is ${wrong[17]}, expected ${CERTNO[17]}` },
    ]);
    expect(validateSettlement({ ...jinjiang(), certno: 'E12345678', psn_cert_type: '08' }).problems).toEqual([]);
  });

  it('names every missing required field and every malformed amount', () => {
    const record: Record<string, unknown> = { ...jinjiang(), hifp_pay: '1.005', setl_time: '2025/06/01 10:00' };
    delete record.setl_id;
    delete record.psn_name;
    delete record.fund_pay_sumamt;
    expect(validateSettlement(record).problems).toEqual([
      { field: 'setl_id', reason: 'is required' },
      { field: 'psn_name', reason: 'is required' },
      { field: 'setl_time', reason: 'must be a time yyyy-MM-dd HH:mm:ss (China time)' },
      { field: 'hifp_pay', reason: 'has more than 2 decimals (1.005)' },
      { field: 'fund_pay_sumamt', reason: 'is required' },
    ]);
    expect(validateSettlement({ ...jinjiang(), medfee_sumamt: '-5.00' }).problems).toEqual([{ field: 'medfee_sumamt', reason: 'must not be negative' }]);
    expect(validateSettlement({ ...jinjiang(), infno: '2201' }).problems[0]!.field).toBe('infno');
    expect(validateSettlement({ ...jinjiang(), setl_time: '2025-02-30 10:00:00' }).problems[0]!.field).toBe('setl_time');
  });

  it('reads a reversal: negated amounts, pointing at the setl_id it cancels', () => {
    const reversal = {
      ...jinjiang(), infno: '2305', setl_id: 'S1R', init_setl_id: 'S1', medfee_sumamt: '-243200.00', fulamt_ownpay_amt: '-52700.00',
      fund_pay_sumamt: '-106500.00', psn_part_amt: '-136700.00', acct_pay: '-700.00', psn_cash_pay: '-136000.00',
    };
    const { value, problems } = validateSettlement(reversal);
    expect(problems).toEqual([]);
    expect(value).toMatchObject({ kind: 'REVERSAL', infno: '2305', reversesSetlId: 'S1' });
    expect(value!.amounts.psn_part_amt).toBe(-13_670_000);
    expect(validateSettlement({ ...reversal, acct_pay: '700.00', psn_cash_pay: '-137400.00' }).problems).toEqual([
      { field: 'acct_pay', reason: 'must be negative or zero in a reversal (2208/2305)' },
    ]);
    expect(validateSettlement({ ...reversal, init_setl_id: undefined }).problems).toEqual([
      { field: 'init_setl_id', reason: 'is required for a reversal (2208/2305): the setl_id it cancels' },
    ]);
    expect(validateSettlement({ ...jinjiang(), init_setl_id: 'S0' }).problems[0]!.field).toBe('init_setl_id');
  });

  it('refuses a setl_id starting with APP- (an application\'s settlement\'s), naming setl_id; a reversal too', () => {
    const reserved = [{ field: 'setl_id', reason: 'must not start with APP-: it is reserved for the settlements of members\' applications' }];
    expect(validateSettlement({ ...jinjiang(), setl_id: 'APP-17' }).problems).toEqual(reserved);
    expect(validateSettlement({ ...jinjiang(), setl_id: ' APP-17' }).problems).toEqual(reserved);
    expect(validateSettlement({ ...jinjiang(), infno: '2305', setl_id: 'APP-18', init_setl_id: 'S1', medfee_sumamt: '-243200.00', fulamt_ownpay_amt: '-52700.00',
      fund_pay_sumamt: '-106500.00', psn_part_amt: '-136700.00', acct_pay: '-700.00', psn_cash_pay: '-136000.00' }).problems).toEqual(reserved);
    expect(validateSettlement({ ...jinjiang(), setl_id: 'S-APP-17' }).problems).toEqual([]);
  });

  it('derives the transaction from med_type and init_setl_id when a file leaves infno out', () => {
    const { infno: _, ...flat } = jinjiang();
    expect(validateSettlement(flat).value!.infno).toBe('2304');
    expect(validateSettlement({ ...flat, med_type: '11' }).value!.infno).toBe('2207');
  });

  it('reads ICD-10 diagnoses from a list or one cell, and refuses what is not a code', () => {
    expect(validateSettlement({ ...jinjiang(), diagnoses: 'C34.1;I10.x00' }).value!.diagnoses).toEqual(['C34.1', 'I10.x00']);
    expect(validateSettlement({ ...jinjiang(), diagnoses: ['lung cancer'] }).problems).toEqual([
      { field: 'diagnoses', reason: '"lung cancer" is not an ICD-10 code' },
    ]);
  });

  it('applies corrections in order; null removes a field', () => {
    expect(applyCorrections({ a: '1', b: '2' }, [{ name: 'a', value: '3' }, { name: 'b', value: null }, { name: 'a', value: '4' }])).toEqual({ a: '4' });
  });
});

describe('time and plan year (China Standard Time)', () => {
  it('puts a settlement just after midnight on 1 January in the new plan year', () => {
    expect(planYearOf(parseChinaTime('2025-01-01 00:30:00')!)).toBe(2025); // 2024-12-31 16:30 UTC
    expect(planYearOf(parseChinaTime('2024-12-31 23:59:59')!)).toBe(2024);
  });
});

describe('platform items', () => {
  it('flattens {infno, setlinfo, diseinfo} into the flat record of a file', () => {
    expect(flattenFeedItem({ infno: '2304', setlinfo: { setl_id: 'S1' }, diseinfo: [{ diag_code: 'C34.1', maindiag_flag: '1' }] }))
      .toEqual({ infno: '2304', setl_id: 'S1', diagnoses: ['C34.1'] });
    expect(flattenFeedItem({ setl_id: 'S2' })).toEqual({ setl_id: 'S2' });
  });

  it('keeps an item that is not an object as it came, with the reason: each its own rejection, none lost as another\'s duplicate', () => {
    const records = ['x', ['y'], null, 7].map((item, i) => itemRecord(item, `item ${i + 1}`));
    const page = preparePage(keys, records);
    expect(page.settlements).toEqual([]);
    expect(page.rejections.map((r) => [decrypt(keys, r.rawEnc), r.problems])).toEqual([
      ['"x"', [{ field: 'record', reason: 'item 1 is not a JSON object' }]],
      ['["y"]', [{ field: 'record', reason: 'item 2 is not a JSON object' }]],
      ['null', [{ field: 'record', reason: 'item 3 is not a JSON object' }]],
      ['7', [{ field: 'record', reason: 'item 4 is not a JSON object' }]],
    ]);
    expect(new Set(page.rejections.map((r) => r.recordKey)).size).toBe(4);
  });
});

describe('personal data of settlements', () => {
  it('keeps the ID number and name only encrypted, hashed and masked, the raw payload encrypted', () => {
    const record = jinjiang();
    const write = protectSettlement(keys, validateSettlement(record).value!, record);
    expect(write.certnoMasked).toBe(`${CERTNO.slice(0, 4)}**********${CERTNO.slice(-4)}`);
    expect(write.psnNameMasked).toBe('张*');
    expect(decrypt(keys, write.certnoEnc)).toBe(CERTNO);
    expect(JSON.parse(decrypt(keys, write.rawEnc))).toEqual(record);
    expect(maskName('欧阳娜娜')).toBe('欧**娜');
  });

  it('keys a rejection without setl_id by a keyed hash that reveals nothing, and masks what it shows', () => {
    const { setl_id: _, ...noId } = { ...jinjiang(), medfee_sumamt: '1.00' };
    const rejection = protectRejection(keys, { fields: noId, position: 'line 3' }, [{ field: 'setl_id', reason: 'is required' }]);
    expect(rejection.recordKey).toMatch(/^hmac:[0-9a-f]{40}$/);
    expect(rejection.setlId).toBeNull();
    expect(JSON.stringify(rejection.rawMasked)).not.toContain(CERTNO);
    expect(rejection.rawMasked).toMatchObject({ psn_name: '张*', medfee_sumamt: '1.00' });
    const unreadable = protectRejection(keys, { fields: {}, position: 'line 4', unreadable: { text: `{"certno":"${CERTNO}"`, reason: 'is not valid JSON' } }, []);
    expect(JSON.stringify(unreadable.rawMasked)).not.toContain(CERTNO);
  });
});

describe('matching decision', () => {
  const facts = (f: Partial<MatchFacts>): MatchFacts => ({
    id: 1, kind: 'SETTLEMENT', duplicateOfId: null, memberId: 7, enrolmentId: 70, enrolmentUnitId: 3, reversesId: null, ...f,
  });
  it('matches a member with an enrolment for the plan year', () => {
    expect(decideMatch(facts({}))).toMatchObject({ status: 'MATCHED', unmatchedReason: null, memberId: 7, enrolmentId: 70, unitId: 3 });
  });
  it('keeps the unmatched with their reason', () => {
    expect(decideMatch(facts({ memberId: null, enrolmentId: null }))).toMatchObject({ status: 'UNMATCHED', unmatchedReason: 'NO_MEMBER', memberId: null });
    expect(decideMatch(facts({ enrolmentId: null }))).toMatchObject({ status: 'UNMATCHED', unmatchedReason: 'NO_ENROLMENT', memberId: 7 });
    expect(decideMatch(facts({ kind: 'REVERSAL' }))).toMatchObject({ status: 'UNMATCHED', unmatchedReason: 'ORIGINAL_NOT_FOUND' });
    expect(decideMatch(facts({ kind: 'REVERSAL', reversesId: 5 }))).toMatchObject({ status: 'MATCHED', reversesId: 5 });
  });
  it('marks a later copy of the same setl_id from another source as DUPLICATE', () => {
    expect(decideMatch(facts({ duplicateOfId: 4 }))).toMatchObject({ status: 'DUPLICATE', duplicateOfId: 4, memberId: null });
  });
});
