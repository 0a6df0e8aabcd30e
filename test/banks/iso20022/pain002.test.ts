import { describe, expect, it } from 'vitest';
import { parsePain002, writePain002, type Pain002Report } from '../../../src/banks/iso20022/pain002.ts';
import { problemsOf } from './problems.ts';
import { expectSchemaValid } from './xmllint.ts';

const longInfo = `收款人账户状态异常，请核实收款人姓名与账号是否一致后重新发起。 Beneficiary account closed by the account holder on request; ${'请联系开户行 '.repeat(8)}结束`;

const report: Pain002Report = {
  msgId: 'ICBC-PSR-20250604-0001',
  createdAt: '2025-06-04T10:05:00+08:00',
  originalMsgId: 'MAH-20250603-0001',
  originalMsgNameId: 'pain.001.001.03',
  originalCreatedAt: '2025-06-03T09:30:00+08:00',
  originalNbOfTxs: 3,
  originalCtrlSumFen: 2_680_004,
  groupStatus: 'PART',
  groupReason: { additionalInfo: '部分成功' },
  paymentInfoStatuses: [{
    originalPmtInfId: 'MAH-20250603-0001-P1',
    status: 'PART',
    transactions: [
      { statusId: 'S1', originalInstructionId: 'MAH-I-1', originalEndToEndId: 'MAH-P-000000001-1', status: 'ACSC', acceptedAt: '2025-06-04T10:00:00+08:00', accountServicerRef: 'ICBC20250604A0000001' },
      { statusId: 'S2', originalEndToEndId: 'MAH-P-000000002-1', status: 'RJCT', reasonCode: 'AC04', additionalInfo: '账户已销户 & <已冻结>' },
      { originalEndToEndId: 'MAH-P-000000003-1', status: 'RJCT', reasonCode: 'AC01', additionalInfo: longInfo },
      { originalEndToEndId: 'MAH-P-000000004-1', status: 'PDNG', reasonCode: 'ICBC-RISK-0042' },
    ],
  }],
};

describe('pain.002.001.03', () => {
  it('round-trips the bank simulator report: writer -> xmllint -> parser', () => {
    const xml = writePain002(report);
    expectSchemaValid('pain.002.001.03', [xml]);
    // Long information goes in 105-character lines; a code longer than 4 characters is proprietary.
    expect(xml.match(/<AddtlInf>/g)!.length).toBeGreaterThan(3);
    expect(xml).toContain('<Prtry>ICBC-RISK-0042</Prtry>');
    expect(xml).toContain('<Cd>AC04</Cd>');

    const parsed = parsePain002(xml);
    expect(parsed).toEqual({ ...report, transactions: report.paymentInfoStatuses[0]!.transactions });
    expect(parsed.transactions[2]!.additionalInfo).toBe(longInfo);
  });

  it('reads a bank-written report: prefixed namespace, character references, several reasons, group rejection', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ns2:Document xmlns:ns2="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">
  <ns2:CstmrPmtStsRpt>
    <ns2:GrpHdr><ns2:MsgId>BOC20250604153000001</ns2:MsgId><ns2:CreDtTm>2025-06-04T15:30:00</ns2:CreDtTm></ns2:GrpHdr>
    <ns2:OrgnlGrpInfAndSts>
      <ns2:OrgnlMsgId>MAH-20250603-0002</ns2:OrgnlMsgId>
      <ns2:OrgnlMsgNmId>pain.001.001.03</ns2:OrgnlMsgNmId>
      <ns2:GrpSts>RJCT</ns2:GrpSts>
      <ns2:StsRsnInf><ns2:Rsn><ns2:Cd>DS0B</ns2:Cd></ns2:Rsn><ns2:AddtlInf>&#x7B7E;&#31456;验证失败</ns2:AddtlInf></ns2:StsRsnInf>
      <ns2:StsRsnInf><ns2:Rsn><ns2:Prtry>E1001</ns2:Prtry></ns2:Rsn><ns2:AddtlInf>证书已吊销</ns2:AddtlInf></ns2:StsRsnInf>
    </ns2:OrgnlGrpInfAndSts>
  </ns2:CstmrPmtStsRpt>
</ns2:Document>`;
    expectSchemaValid('pain.002.001.03', [xml]);
    expect(parsePain002(xml)).toEqual({
      msgId: 'BOC20250604153000001',
      createdAt: '2025-06-04T15:30:00',
      originalMsgId: 'MAH-20250603-0002',
      originalMsgNameId: 'pain.001.001.03',
      groupStatus: 'RJCT',
      groupReason: { reasonCode: 'DS0B', additionalInfo: '签章验证失败; 证书已吊销' },
      paymentInfoStatuses: [],
      transactions: [],
    });
  });

  it('names the element a report lacks or gets wrong', () => {
    const xml = writePain002(report);
    expect(() => parsePain002(xml.replace('<OrgnlEndToEndId>MAH-P-000000002-1</OrgnlEndToEndId>', '')))
      .toThrow('Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[1]/TxInfAndSts[2]/OrgnlEndToEndId: is required');
    expect(() => parsePain002(xml.replace('<TxSts>ACSC</TxSts>', '<TxSts>DONE</TxSts>')))
      .toThrow('Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[1]/TxInfAndSts[1]/TxSts: DONE is not one of ACTC, RJCT');
    expect(() => parsePain002(xml.replace('<OrgnlCtrlSum>26800.04</OrgnlCtrlSum>', '<OrgnlCtrlSum>26800.041</OrgnlCtrlSum>')))
      .toThrow('Document/CstmrPmtStsRpt/OrgnlGrpInfAndSts/OrgnlCtrlSum: has more than 2 decimals (26800.041)');
    expect(() => parsePain002(xml.replaceAll('pain.002.001.03', 'pain.002.001.10'))).toThrow(/Document: namespace is/);
    expect(() => parsePain002(xml.replace('<Document', '<!DOCTYPE Document [<!ENTITY a "a">]>\n<Document')))
      .toThrow('Document: must not declare a DOCTYPE');
    expect(parsePain002(`\uFEFF${xml}`).msgId).toBe(report.msgId);
  });

  it('refuses to write what the XSD would refuse, naming the field', () => {
    const bad = structuredClone(report);
    bad.msgId = 'X'.repeat(36);
    bad.paymentInfoStatuses[0]!.transactions[1]!.status = 'PART' as never;
    bad.paymentInfoStatuses[0]!.transactions[1]!.reasonCode = 'R'.repeat(36);
    expect(problemsOf(() => writePain002(bad))).toEqual([
      'msgId: is 36 characters, at most 35 allowed',
      'paymentInfoStatuses[0].transactions[1].status: must be one of ACTC, RJCT, PDNG, ACCP, ACSP, ACSC, ACWC',
      'paymentInfoStatuses[0].transactions[1].reasonCode: is 36 characters, at most 35 allowed',
    ]);
  });
});
