import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { XMLParser } from 'fast-xml-parser';
import { checkPain001, writePain001, type Pain001Batch, type Pain001Transaction } from '../../../src/banks/iso20022/pain001.ts';
import { textBytes } from '../../../src/banks/iso20022/fields.ts';
import { problemsOf } from './problems.ts';
import { expectSchemaValid, xmllint } from './xmllint.ts';

const UNION_BANK = '102397000015';

function transaction(n: number, overrides: Partial<Pain001Transaction> = {}): Pain001Transaction {
  return {
    endToEndId: `MAH-P-${String(n).padStart(9, '0')}-1`,
    instructionId: `MAH-I-${n}`,
    amountFen: 100_000 + n,
    creditor: { name: '张三', account: '6222021408001234567' },
    creditorAgent: '102397000023',
    remittanceInfo: `住院医疗互助金 结算号S20250520${n}`,
    ...overrides,
  };
}

function batch(transactions: Pain001Transaction[], overrides: Partial<Pain001Batch> = {}): Pain001Batch {
  return {
    msgId: 'MAH-20250603-0001',
    createdAt: '2025-06-03T09:30:00+08:00',
    initiatingParty: { name: '泉州市总工会', id: '81350500MA34567890' },
    paymentInfo: {
      pmtInfId: 'MAH-20250603-0001-P1',
      requestedExecutionDate: '2025-06-04',
      debtor: { name: '泉州市总工会', account: '1408010109024561234', agent: UNION_BANK },
      chargeBearer: 'SLEV',
      batchBooking: true,
    },
    transactions,
    ...overrides,
  };
}

describe('writePain001', () => {
  it('writes an XSD-valid batch with Chinese names, escaping &, < and quotes', () => {
    const xml = writePain001(batch([
      transaction(1, { creditor: { name: '欧阳·娜娜', account: '6217001408009876543' } }),
      transaction(2, { creditor: { name: '李四 & "王五" <代领>', account: '6222021408001234567' }, remittanceInfo: "大病补助 'R1' & <备注>" }),
      transaction(3, { instructionId: undefined, remittanceInfo: undefined }),
    ], { initiatingParty: { name: '泉州市总工会 "职工互助" <专户> & 结算' } }));

    expectSchemaValid('pain.001.001.03', [xml]);
    expect(xml).toContain('<Nm>李四 &amp; &quot;王五&quot; &lt;代领&gt;</Nm>');
    expect(xml).toContain('<Ustrd>大病补助 &apos;R1&apos; &amp; &lt;备注&gt;</Ustrd>');
    // Any XML reader gets the names back exactly.
    const parsed = new XMLParser({ parseTagValue: false }).parse(xml);
    const root = parsed.Document.CstmrCdtTrfInitn;
    expect(root.GrpHdr.InitgPty.Nm).toBe('泉州市总工会 "职工互助" <专户> & 结算');
    expect(root.PmtInf.CdtTrfTxInf.map((tx: { Cdtr: { Nm: string } }) => tx.Cdtr.Nm)).toEqual(['欧阳·娜娜', '李四 & "王五" <代领>', '张三']);
    // Agents by CNAPS, in the XSD's order.
    expect(xml).toMatch(/<DbtrAgt>\s*<FinInstnId>\s*<ClrSysMmbId>\s*<ClrSysId>\s*<Cd>CNAPS<\/Cd>\s*<\/ClrSysId>\s*<MmbId>102397000015<\/MmbId>/);
  });

  it('computes NbOfTxs and CtrlSum in the group header and the payment information', () => {
    const xml = writePain001(batch([
      transaction(1, { amountFen: 1_680_000 }),
      transaction(2, { amountFen: 5 }),
      transaction(3, { amountFen: 999_999 }),
    ]));
    expect(xml.match(/<NbOfTxs>3<\/NbOfTxs>/g)).toHaveLength(2);
    expect(xml.match(/<CtrlSum>26800\.04<\/CtrlSum>/g)).toHaveLength(2);
    expect(xml).toContain('<InstdAmt Ccy="CNY">0.05</InstdAmt>');
    const check = checkPain001(xml);
    expect(check.problems).toEqual([]);
    expect(check).toMatchObject({ msgId: 'MAH-20250603-0001', nbOfTxs: 3, ctrlSumFen: 2_680_004 });
    expect(check.paymentInfos[0]!.transactions.map((tx) => tx.amountFen)).toEqual([1_680_000, 5, 999_999]);
  });

  it('refuses an amount with more than 2 decimals, zero and negative amounts', () => {
    expect(problemsOf(() => writePain001(batch([transaction(1), transaction(2, { amountFen: 1234.5 })])))).toEqual([
      'transactions[1].amountFen: 1234.5 fen is not a whole number of fen (more than 2 decimals in CNY)',
    ]);
    expect(problemsOf(() => writePain001(batch([transaction(1, { amountFen: 0 }), transaction(2, { amountFen: -100 })])))).toEqual([
      'transactions[0].amountFen: must be more than 0',
      'transactions[1].amountFen: must be more than 0',
    ]);
  });

  it('refuses a 36-character EndToEndId and references with characters banks refuse', () => {
    const id36 = 'MAH-P-000000001-1-ABCDEFGHIJKLMNOPQR';
    expect(id36).toHaveLength(36);
    expect(problemsOf(() => writePain001(batch([transaction(1, { endToEndId: id36 })])))).toEqual([
      'transactions[0].endToEndId: is 36 characters, at most 35 allowed',
    ]);
    expect(writePain001(batch([transaction(1, { endToEndId: id36.slice(0, 35) })]))).toContain(`<EndToEndId>${id36.slice(0, 35)}</EndToEndId>`);
    expect(problemsOf(() => writePain001(batch([transaction(1, { endToEndId: 'MAH P 1', instructionId: '支付1' })], { msgId: 'MAH_20250603' })))).toEqual([
      "msgId: may only contain letters, digits and / - ? : ( ) . , ' +",
      "transactions[0].instructionId: may only contain letters, digits and / - ? : ( ) . , ' +",
      "transactions[0].endToEndId: may only contain letters, digits and / - ? : ( ) . , ' +",
    ]);
  });

  it('refuses a Chinese name over the bank byte limit, naming the transaction and field, never truncating', () => {
    const name46 = '泉'.repeat(46); // 138 bytes in UTF-8
    const name47 = '泉'.repeat(47); // 141 bytes
    expect(problemsOf(() => writePain001(batch([transaction(1), transaction(2), transaction(3, { creditor: { name: name47, account: '6222021408001234567' } })])))).toEqual([
      'transactions[2].creditor.name: is 141 bytes (utf8), the bank accepts at most 140',
    ]);
    const xml = writePain001(batch([transaction(1, { creditor: { name: name46, account: '6222021408001234567' } })]));
    expect(xml).toContain(`<Nm>${name46}</Nm>`);
    expectSchemaValid('pain.001.001.03', [xml]);
  });

  it('refuses a name with a character XML 1.0 does not allow or a control character, naming the field: every XML reader would refuse the file', () => {
    const named = (name: string, n = 1) => transaction(n, { creditor: { name, account: '6222021408001234567' } });
    expect(problemsOf(() => writePain001(batch([transaction(0), named('张三\uFFFF', 1), named('\uFFFE李四', 2), named('王\uD800五', 3)])))).toEqual([
      'transactions[1].creditor.name: must not contain U+FFFF: XML 1.0 does not allow it',
      'transactions[2].creditor.name: must not contain U+FFFE: XML 1.0 does not allow it',
      'transactions[3].creditor.name: must not contain U+D800: XML 1.0 does not allow it',
    ]);
    expect(problemsOf(() => writePain001(batch([named('张\t三', 0), named('张\u0085三', 1), transaction(2, { remittanceInfo: '附言\uFFFF' })])))).toEqual([
      'transactions[0].creditor.name: must not contain control characters or line breaks',
      'transactions[1].creditor.name: must not contain control characters or line breaks',
      'transactions[2].remittanceInfo: must not contain U+FFFF: XML 1.0 does not allow it',
    ]);
    // What the writer would have written: xmllint refuses the whole file for one name.
    const written = writePain001(batch([transaction(0), named('张三')])).replace('<Nm>张三</Nm>', '<Nm>张三\uFFFF</Nm>');
    expect(xmllint('pain.001.001.03', [written]).output).toMatch(/Char 0xFFFF out of allowed range/);
    // Astral characters (a rare surname, 𠮷) are XML characters.
    expect(writePain001(batch([named('𠮷野家')]))).toContain('<Nm>𠮷野家</Nm>');
  });

  it('counts bytes the way the bank is configured to: GBK counts 2 bytes a CJK character', () => {
    expect(textBytes('张三 Li', 'utf8')).toBe(9);
    expect(textBytes('张三 Li', 'gbk')).toBe(7);
    const gbk60 = { textRules: { counting: 'gbk' as const, maxNameBytes: 60 } };
    expect(() => writePain001(batch([transaction(1, { creditor: { name: '泉'.repeat(30), account: '6222021408001234567' } })]), gbk60)).not.toThrow();
    expect(problemsOf(() => writePain001(batch([transaction(1, { creditor: { name: '泉'.repeat(31), account: '6222021408001234567' } })]), gbk60))).toEqual([
      'transactions[0].creditor.name: is 62 bytes (gbk), the bank accepts at most 60',
    ]);
    // 47 CJK characters fit 140 bytes in GBK, not in UTF-8.
    expect(() => writePain001(batch([transaction(1, { creditor: { name: '泉'.repeat(47), account: '6222021408001234567' } })]), { textRules: { counting: 'gbk' } })).not.toThrow();
  });

  it('reports every wrong field at once: CNAPS codes, accounts, dates, duplicates, empty batches', () => {
    expect(problemsOf(() => writePain001(batch([
      transaction(1, { creditorAgent: '10239700002' }),
      transaction(1, { creditor: { name: ' 张三', account: '6222-0214' } }),
    ], { createdAt: '2025-06-03 09:30:00', paymentInfo: { ...batch([]).paymentInfo, requestedExecutionDate: '2025-02-30' } })))).toEqual([
      'createdAt: must be a date and time like 2025-06-03T09:30:00+08:00',
      'paymentInfo.requestedExecutionDate: must be a date yyyy-MM-dd',
      'transactions[0].creditorAgent: must be the 12-digit CNAPS bank code',
      'transactions[1].endToEndId: MAH-P-000000001-1 is used by an earlier transaction',
      'transactions[1].creditor.name: must not start or end with spaces',
      'transactions[1].creditor.account: must be an account number of 1 to 34 digits',
    ]);
    expect(problemsOf(() => writePain001(batch([])))).toEqual(['transactions: must list at least one transaction']);
  });
});

describe('checkPain001', () => {
  const xml = writePain001(batch([transaction(1, { amountFen: 10_000 }), transaction(2, { amountFen: 25_050 })]));

  it('finds a tampered control sum, count or amount', () => {
    const tamperedSum = xml.replace('<CtrlSum>350.50</CtrlSum>', '<CtrlSum>305.50</CtrlSum>');
    expect(checkPain001(tamperedSum).problems).toEqual([
      { field: 'Document/CstmrCdtTrfInitn/GrpHdr/CtrlSum', reason: 'is 305.50 but the transactions sum to 350.50' },
    ]);

    const tamperedAmount = xml.replace('<InstdAmt Ccy="CNY">250.50</InstdAmt>', '<InstdAmt Ccy="CNY">520.50</InstdAmt>');
    expect(checkPain001(tamperedAmount).problems).toEqual([
      { field: 'Document/CstmrCdtTrfInitn/PmtInf[1]/CtrlSum', reason: 'is 350.50 but the transactions sum to 620.50' },
      { field: 'Document/CstmrCdtTrfInitn/GrpHdr/CtrlSum', reason: 'is 350.50 but the transactions sum to 620.50' },
    ]);

    const dropped = xml.replace(/<CdtTrfTxInf>(?:(?!<\/CdtTrfTxInf>)[\s\S])*<\/CdtTrfTxInf>\s*/, '');
    expect(checkPain001(dropped).problems.map((p) => p.field)).toEqual([
      'Document/CstmrCdtTrfInitn/PmtInf[1]/NbOfTxs', 'Document/CstmrCdtTrfInitn/PmtInf[1]/CtrlSum', 'Document/CstmrCdtTrfInitn/GrpHdr/NbOfTxs', 'Document/CstmrCdtTrfInitn/GrpHdr/CtrlSum',
    ]);
    expect(checkPain001(dropped).problems[0]!.reason).toBe('is 2 but there are 1 transactions');
    // The XSD itself is content with all three files: only the check catches them.
    expect(xmllint('pain.001.001.03', [tamperedSum, tamperedAmount, dropped]).valid).toBe(3);
  });

  it('finds 3 decimals, zero amounts and foreign currency the XSD allows', () => {
    const threeDecimals = xml.replace('<InstdAmt Ccy="CNY">100.00</InstdAmt>', '<InstdAmt Ccy="CNY">100.005</InstdAmt>');
    expect(xmllint('pain.001.001.03', [threeDecimals]).status).toBe(0);
    const check = checkPain001(threeDecimals);
    expect(check.problems).toEqual([
      { field: 'Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[1]/Amt/InstdAmt', reason: 'has more than 2 decimals (100.005)' },
    ]);
    expect(check.ctrlSumFen).toBeNull();
    expect(check.paymentInfos[0]!.transactions[0]!.amountFen).toBeNull();

    const zero = xml.replace('<InstdAmt Ccy="CNY">100.00</InstdAmt>', '<InstdAmt Ccy="USD">0.00</InstdAmt>');
    expect(checkPain001(zero).problems).toContainEqual({ field: 'Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[1]/Amt/InstdAmt', reason: 'currency is USD, expected CNY' });
  });

  it('finds over-long or repeated references', () => {
    const long = xml.replace('<EndToEndId>MAH-P-000000002-1</EndToEndId>', `<EndToEndId>${'X'.repeat(36)}</EndToEndId>`);
    expect(checkPain001(long).problems).toEqual([
      { field: 'Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[2]/PmtId/EndToEndId', reason: 'is 36 characters, at most 35 allowed' },
    ]);
    const repeated = xml.replace('<EndToEndId>MAH-P-000000002-1</EndToEndId>', '<EndToEndId>MAH-P-000000001-1</EndToEndId>');
    expect(checkPain001(repeated).problems).toEqual([
      { field: 'Document/CstmrCdtTrfInitn/PmtInf[1]/CdtTrfTxInf[2]/PmtId/EndToEndId', reason: 'MAH-P-000000001-1 occurs more than once' },
    ]);
  });

  it('refuses what is not a pain.001.001.03 at all', () => {
    expect(() => checkPain001(xml.replace('pain.001.001.03', 'pain.001.001.09'))).toThrow(/Document: namespace is "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/);
    expect(() => checkPain001(xml.replace('</GrpHdr>', ''))).toThrow(/not well-formed XML/);
    expect(() => checkPain001(xml.replace(/<MsgId>.*<\/MsgId>/, ''))).toThrow('Document/CstmrCdtTrfInitn/GrpHdr/MsgId: is required');
  });

  it('is the XSD check that catches element order, not checkPain001 (xmllint is really validating)', () => {
    const swapped = xml.replace(/(<NbOfTxs>2<\/NbOfTxs>)(\s*)(<CtrlSum>350.50<\/CtrlSum>)/, '$3$2$1');
    expect(xmllint('pain.001.001.03', [swapped]).status).toBe(3);
  });
});

describe('pain.001 properties', () => {
  const nameChars = ['张', '三', '欧', '阳', '娜', '·', '𠮷', '&', '<', '>', '"', "'", 'A', 'z', ' ', '0'];
  const name = fc.array(fc.constantFrom(...nameChars), { minLength: 1, maxLength: 30 }).map((chars) => chars.join('')).filter((n) => n.trim() === n);
  const reference = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9\-?:().,'+]{0,33}[A-Za-z0-9]$/);
  const tx = fc.record({
    endToEndId: reference,
    amountFen: fc.integer({ min: 1, max: 10 ** 11 }),
    creditor: fc.record({ name, account: fc.stringMatching(/^\d{12,30}$/) }),
    creditorAgent: fc.stringMatching(/^\d{12}$/),
    remittanceInfo: fc.option(name, { nil: undefined }),
  });
  const batches = fc.uniqueArray(tx, { minLength: 1, maxLength: 12, selector: (t) => t.endToEndId }).map((transactions) => batch(transactions));

  it('checkPain001 reads back the count, the control sum and every amount of any written batch', () => {
    fc.assert(fc.property(batches, (b) => {
      const check = checkPain001(writePain001(b));
      const sum = b.transactions.reduce((s, t) => s + t.amountFen, 0);
      expect(check.problems).toEqual([]);
      expect(check.nbOfTxs).toBe(b.transactions.length);
      expect(check.ctrlSumFen).toBe(sum);
      expect(check.paymentInfos[0]!.transactions).toEqual(b.transactions.map((t) => ({ endToEndId: t.endToEndId, amountFen: t.amountFen })));
    }), { numRuns: 100 });
  });

  it('writes XSD-valid files (20 random batches, one xmllint run)', () => {
    const samples = fc.sample(batches, { numRuns: 20, seed: 20250603 }).map((b) => writePain001(b));
    expectSchemaValid('pain.001.001.03', samples);
  });
});
