import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseCamt053, parseCamt054, statementBalanceProblem, writeCamt053, writeCamt054,
  type AccountStatement, type Camt053Message, type Camt054Message,
} from '../../../src/banks/iso20022/camt.ts';
import { signedFen, type CamtEntry } from '../../../src/banks/iso20022/camtEntry.ts';
import { problemsOf } from './problems.ts';
import { expectSchemaValid } from './xmllint.ts';

const UNION_ACCOUNT = { id: '1408010109024561234', currency: 'CNY', name: '职工医疗互助资金专户', ownerName: '泉州市总工会', servicer: '102397000015' };

const payout: CamtEntry = {
  entryRef: '0001',
  amountFen: 1_680_000,
  creditDebit: 'DBIT',
  status: 'BOOK',
  bookingDate: '2025-06-04',
  valueDate: '2025-06-04',
  accountServicerRef: 'SIM20250604D0000001',
  bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'DMCT' } },
  details: [{
    msgId: 'MAH-20250603-0001',
    pmtInfId: 'MAH-20250603-0001-P1',
    instructionId: 'MAH-I-1',
    endToEndId: 'MAH-P-000000001-1',
    creditor: { name: '张三 & "李" <四>', account: '6222021408001234567', agent: '102397000023' },
    remittanceInfo: ['住院医疗互助金'],
  }],
};

/** One booking for a whole batch (BtchBookg true): the details carry each transfer's amount. */
const batchPayout: CamtEntry = {
  amountFen: 30_050,
  creditDebit: 'DBIT',
  status: 'BOOK',
  bookingDate: '2025-06-04T15:01:02+08:00',
  bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'DMCT' }, proprietary: { code: '批量代付', issuer: 'SIM' } },
  batch: { msgId: 'MAH-20250603-0002', pmtInfId: 'MAH-20250603-0002-P1', nbOfTxs: 2, totalFen: 30_050, creditDebit: 'DBIT' },
  details: [
    { endToEndId: 'MAH-P-000000002-1', amountFen: 10_000, creditor: { name: '王五', account: '6217001408009876543' }, remittanceInfo: [] },
    { endToEndId: 'MAH-P-000000003-1', amountFen: 20_050, creditor: { name: '赵六' }, remittanceInfo: [] },
  ],
};

const returned: CamtEntry = {
  amountFen: 300_000,
  creditDebit: 'CRDT',
  reversal: false,
  status: 'BOOK',
  bookingDate: '2025-06-04',
  accountServicerRef: 'SIM20250604R0000001',
  bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'RRTN' } },
  details: [{
    endToEndId: 'MAH-P-000000098-1',
    creditor: { name: '李四', account: '6217001408009876543' },
    remittanceInfo: ['大病补助'],
    returnInfo: { reasonCode: 'AC04', additionalInfo: '收款人账户已销户' },
  }],
  additionalInfo: '退票',
};

const contribution: CamtEntry = {
  amountFen: 480_000,
  creditDebit: 'CRDT',
  status: 'BOOK',
  bookingDate: '2025-06-04',
  bankTransactionCode: { domain: { code: 'PMNT', family: 'RCDT', subFamily: 'DMCT' } },
  details: [{
    txId: 'SIM-IN-77',
    debtor: { name: '泉州市A&B服装有限公司工会委员会', account: '35050164620700000123', agent: '105397000011' },
    remittanceInfo: ['2025年度职工医疗互助金 缴款编号MAH-C-2025-000123', '100人'],
  }],
};

const statement: Camt053Message = {
  msgId: 'SIM053-20250604-0001',
  createdAt: '2025-06-05T01:00:00+08:00',
  pagination: { page: 1, last: true },
  statements: [{
    id: '1408010109024561234-20250604',
    electronicSeqNb: 155,
    createdAt: '2025-06-05T01:00:00+08:00',
    fromToDate: { from: '2025-06-04T00:00:00+08:00', to: '2025-06-04T23:59:59+08:00' },
    account: UNION_ACCOUNT,
    balances: [
      { type: 'OPBD', amountFen: 124_099_800, creditDebit: 'CRDT', date: '2025-06-04' },
      { type: 'CLBD', amountFen: 124_099_800 - 1_680_000 - 30_050 + 300_000 + 480_000, creditDebit: 'CRDT', date: '2025-06-04' },
    ],
    entries: [payout, batchPayout, returned, contribution],
    additionalInfo: '模拟银行日终对账单',
  }],
};

describe('camt.053.001.02', () => {
  it('writes an XSD-valid statement that parses back to the same values', () => {
    const xml = writeCamt053(statement);
    expectSchemaValid('camt.053.001.02', [xml]);
    expect(xml).toMatch(/<TtlNtries>\s*<NbOfNtries>4<\/NbOfNtries>\s*<Sum>24900.50<\/Sum>\s*<TtlNetNtryAmt>9300.50<\/TtlNetNtryAmt>\s*<CdtDbtInd>DBIT/);
    expect(parseCamt053(xml)).toEqual(statement);
    expect(statementBalanceProblem(statement.statements[0]!)).toBeNull();
  });

  it('parses a Chinese bank statement: balances, a unit credit with its reference, a payout, a return (AC04), a fee', () => {
    const xml = readFileSync(new URL('./fixtures/camt053-icbc-20250603.xml', import.meta.url), 'utf8');
    expectSchemaValid('camt.053.001.02', [xml]);
    const parsed = parseCamt053(xml);

    expect(parsed.msgId).toBe('ICBC0539702025060300017');
    expect(parsed.createdAt).toBe('2025-06-04T02:15:08+08:00');
    expect(parsed.pagination).toEqual({ page: 1, last: true });
    expect(parsed.statements).toHaveLength(1);
    const stmt = parsed.statements[0]!;
    expect(stmt.id).toBe('1408010109024561234-20250603');
    expect(stmt.electronicSeqNb).toBe(154);
    expect(stmt.fromToDate).toEqual({ from: '2025-06-03T00:00:00+08:00', to: '2025-06-03T23:59:59+08:00' });
    expect(stmt.account).toEqual({ id: '1408010109024561234', currency: 'CNY', name: '职工医疗互助资金专户', ownerName: '泉州市总工会', servicer: '102397000015' });
    expect(stmt.balances).toEqual([
      { type: 'OPBD', amountFen: 125_000_000, creditDebit: 'CRDT', date: '2025-06-03' },
      { type: 'CLBD', amountFen: 124_099_800, creditDebit: 'CRDT', date: '2025-06-03' },
      { type: 'CLAV', amountFen: 124_099_800, creditDebit: 'CRDT', date: '2025-06-03' },
    ]);
    expect(statementBalanceProblem(stmt)).toBeNull();
    expect(stmt.entries.map(signedFen)).toEqual([480_000, -1_680_000, 300_000, -200]);

    const [unitCredit, memberPayout, memberReturn, fee] = stmt.entries;
    expect(unitCredit).toEqual({
      entryRef: '0001',
      amountFen: 480_000,
      creditDebit: 'CRDT',
      status: 'BOOK',
      bookingDate: '2025-06-03',
      valueDate: '2025-06-03',
      accountServicerRef: 'ICBC20250603C0012345',
      bankTransactionCode: { domain: { code: 'PMNT', family: 'RCDT', subFamily: 'DMCT' }, proprietary: { code: '来账', issuer: 'ICBC' } },
      details: [{
        accountServicerRef: 'ICBC20250603C0012345',
        endToEndId: 'NOTPROVIDED',
        debtor: { name: '泉州市A&B服装有限公司工会委员会', account: '35050164620700000123', agent: '105397000011' },
        remittanceInfo: ['2025年度职工医疗互助金 缴款编号MAH-C-2025-000123 100人'],
      }],
    });
    expect(memberPayout).toMatchObject({ amountFen: 1_680_000, creditDebit: 'DBIT', accountServicerRef: 'ICBC20250603D0004567' });
    expect(memberPayout!.details).toEqual([{
      msgId: 'MAH-20250602-0001',
      pmtInfId: 'MAH-20250602-0001-P1',
      instructionId: 'MAH-I-123',
      endToEndId: 'MAH-P-000000123-1',
      creditor: { name: '张三', account: '6222021408001234567', agent: '102397000023' },
      remittanceInfo: ['住院医疗互助金', '结算号S2025052012345'],
    }]);
    expect(memberReturn).toEqual({
      entryRef: '0003',
      amountFen: 300_000,
      creditDebit: 'CRDT',
      status: 'BOOK',
      bookingDate: '2025-06-03',
      valueDate: '2025-06-03',
      accountServicerRef: 'ICBC20250603R0000089',
      bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'RRTN' }, proprietary: { code: '退票', issuer: 'ICBC' } },
      details: [{
        msgId: 'MAH-20250530-0004',
        instructionId: 'MAH-I-98',
        endToEndId: 'MAH-P-000000098-1',
        amountFen: 300_000,
        creditor: { name: '李四', account: '6217001408009876543' },
        remittanceInfo: ['大病补助'],
        returnInfo: { reasonCode: 'AC04', additionalInfo: '收款人账户已销户' },
      }],
      additionalInfo: '退票 原交易日期20250530',
    });
    expect(fee).toEqual({
      entryRef: '0004',
      amountFen: 200,
      creditDebit: 'DBIT',
      status: 'BOOK',
      bookingDate: '2025-06-03T16:20:11+08:00',
      accountServicerRef: 'ICBC20250603F0000321',
      bankTransactionCode: { domain: { code: 'ACMT', family: 'MDOP', subFamily: 'CHRG' }, proprietary: { code: '手续费' } },
      details: [],
      additionalInfo: '跨行汇款手续费',
    });
  });

  it('says when a statement does not add up', () => {
    const wrong: AccountStatement = { ...statement.statements[0]!, entries: [payout] };
    expect(statementBalanceProblem(wrong)).toBe('closing balance 1231697.50 is not opening 1240998.00 plus booked entries -16800.00');
  });

  it('names the wrong field rather than writing an invalid statement', () => {
    const bad = structuredClone(statement);
    const stmt = bad.statements[0]!;
    stmt.balances[0]!.amountFen = 10.5;
    stmt.entries[0]!.details[0]!.creditor!.agent = '1023970000';
    stmt.entries[2]!.details[0]!.endToEndId = 'E'.repeat(36);
    stmt.entries[3]!.bookingDate = '2025-06-31';
    expect(problemsOf(() => writeCamt053(bad))).toEqual([
      'statements[0].balances[0].amountFen: 10.5 fen is not a whole number of fen (more than 2 decimals in CNY)',
      'statements[0].entries[0].details[0].creditor.agent: must be the 12-digit CNAPS bank code',
      'statements[0].entries[2].details[0].endToEndId: is 36 characters, at most 35 allowed',
      'statements[0].entries[3].bookingDate: must be a date yyyy-MM-dd',
    ]);
  });

  it('refuses amounts in another currency or with 3 decimals when reading', () => {
    const xml = writeCamt053(statement);
    expect(() => parseCamt053(xml.replace('<Amt Ccy="CNY">16800.00</Amt>', '<Amt Ccy="USD">16800.00</Amt>')))
      .toThrow('Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt: currency is USD, expected CNY');
    expect(() => parseCamt053(xml.replace('<Amt Ccy="CNY">16800.00</Amt>', '<Amt Ccy="CNY">16800.001</Amt>')))
      .toThrow('Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt: has more than 2 decimals (16800.001)');
    expect(() => parseCamt054(xml)).toThrow(/namespace is "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02", expected .*camt.054.001.02/);
  });
});

describe('camt.054.001.02', () => {
  const notification: Camt054Message = {
    msgId: 'SIM054-20250604-0007',
    createdAt: '2025-06-04T11:02:00+08:00',
    notifications: [
      { id: 'N-20250604-0007', createdAt: '2025-06-04T11:02:00+08:00', account: UNION_ACCOUNT, entries: [contribution] },
      { id: 'N-20250604-0008', legalSeqNb: 8, createdAt: '2025-06-04T11:02:00+08:00', account: { id: '1408010109024561234' }, entries: [returned, { ...payout, status: 'PDNG' }] },
    ],
  };

  it('writes XSD-valid notifications (the entry code camt.053 uses) that parse back to the same values', () => {
    const xml = writeCamt054(notification);
    expectSchemaValid('camt.054.001.02', [xml]);
    expect(xml).not.toContain('<Bal>');
    expect(parseCamt054(xml)).toEqual(notification);
  });

  it('refuses an empty message', () => {
    expect(() => writeCamt054({ ...notification, notifications: [] })).toThrow('camt.054 SIM054-20250604-0007: notifications: must list at least one account report');
  });
});
