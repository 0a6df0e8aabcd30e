import { describe, expect, it } from 'vitest';
import { parseCamt053, parseCamt054 } from '../../../src/banks/iso20022/camt.ts';
import { parsePain002, writePain002 } from '../../../src/banks/iso20022/pain002.ts';
import { Iso20022Error, NAMESPACES, parseXml } from '../../../src/banks/iso20022/xml.ts';

/**
 * The camt.053, camt.054 and pain.002 readers refuse what the writers would never write — entities
 * named like Object.prototype members, dates that are not dates, a statement message without a
 * statement — naming the element. Bugs the bad-input sweep (issue 8) found and fixed; each comment
 * says the exact input, what happened before the fix and what happens now.
 */

describe('ISO 20022 readers', () => {
  const camt053 = (inner: string) => `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="${NAMESPACES.camt053}"><BkToCstmrStmt>
<GrpHdr><MsgId>M1</MsgId><CreDtTm>2025-06-05T01:00:00+08:00</CreDtTm></GrpHdr>
${inner}
</BkToCstmrStmt></Document>`;
  const stmt = (entry: { amount?: string; bookingDate?: string } = {}) => `<Stmt><Id>S1</Id><CreDtTm>2025-06-05T01:00:00+08:00</CreDtTm>
<Acct><Id><Othr><Id>1408010109024561234</Id></Othr></Id></Acct>
<Ntry><Amt Ccy="CNY">${entry.amount ?? '100.00'}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>${entry.bookingDate ?? '2025-06-04'}</Dt></BookgDt>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd></Ntry></Stmt>`;
  const camt054 = (xml: string) => xml.replaceAll(NAMESPACES.camt053, NAMESPACES.camt054).replaceAll('BkToCstmrStmt', 'BkToCstmrDbtCdtNtfctn').replaceAll('Stmt>', 'Ntfctn>');
  const pain002 = writePain002({
    msgId: 'R1', createdAt: '2025-06-05T01:00:00+08:00', originalMsgId: 'MAH-B-1', originalMsgNameId: 'pain.001.001.03', groupStatus: 'ACCP',
    paymentInfoStatuses: [{ originalPmtInfId: 'MAH-B-1-P1', transactions: [{ originalEndToEndId: 'E1', status: 'ACSC', acceptedAt: '2025-06-04T10:00:00+08:00' }] }],
  });
  const problemsOf = (parse: () => unknown) => {
    try {
      parse();
    } catch (error) {
      if (error instanceof Iso20022Error) return error.problems;
      throw error;
    }
    throw new Error('expected an Iso20022Error, the document was accepted');
  };

  // BUG 14. src/banks/iso20022/xml.ts parseXml decode: `ENTITIES[ref]` found Object.prototype members.
  // Input: a camt.053 / camt.054 / pain.002 with "&constructor;" (or "&toString;", "&__proto__;",
  // "&hasOwnProperty;") in a text node, e.g. <MsgId>&constructor;M1</MsgId>. Before the fix: accepted, MsgId
  // became "function Object() { [native code] }M1"; and an attribute named "toString" (any element) was
  // refused as "attribute toString is repeated" (`attr in {}`), one named "__proto__" silently dropped.
  // Now: Iso20022Error at Document: 'is not well-formed XML (line 3, column ...: "&constructor;" is not a
  // valid entity or character reference)' (entities are a Map); attributes are kept in a prototype-less
  // object, so "toString" and "__proto__" are attributes like any other, refused only when repeated.
  it('refuses &constructor; and other Object.prototype names as undeclared entities, and reads such attributes', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const reason = expect.stringMatching(new RegExp(`^is not well-formed XML \\(line 3, column \\d+: "&${name};" is not a valid entity or character reference\\)$`));
      const xml = camt053(stmt()).replace('<MsgId>M1', `<MsgId>&${name};M1`);
      expect(problemsOf(() => parseCamt053(xml))).toEqual([{ field: 'Document', reason }]);
      expect(problemsOf(() => parseCamt054(camt054(xml)))).toEqual([{ field: 'Document', reason }]);
      expect(problemsOf(() => parsePain002(pain002.replace('<MsgId>R1', `<MsgId>&${name};R1`)))).toEqual([
        { field: 'Document', reason: expect.stringMatching(`"&${name};" is not a valid entity or character reference\\)$`) },
      ]);
    }
    const root = parseXml('<a toString="1" __proto__="2" constructor="3"/>');
    expect(Object.entries(root.attributes!)).toEqual([['toString', '1'], ['__proto__', '2'], ['constructor', '3']]);
    expect(() => parseXml('<a toString="1" toString="2"/>')).toThrow('attribute toString is repeated');
    expect(parseCamt053(camt053(stmt()).replace('<Amt Ccy="CNY">', '<Amt toString="x" Ccy="CNY">')).statements[0]!.entries[0]!.amountFen).toBe(10_000);
  });

  // BUG 16. src/banks/iso20022/camt.ts, camtEntry.ts, pain002.ts: dates and date-times were read as any
  // text, while the writers refuse the same values. Inputs: <GrpHdr><CreDtTm>yesterday</CreDtTm>,
  // <BookgDt><Dt>2025-13-45</Dt></BookgDt>, <BookgDt><Dt>2025-02-29</Dt></BookgDt>, <BookgDt><DtTm>2025-06-04
  // </DtTm></BookgDt>, pain.002 <AccptncDtTm>soon</AccptncDtTm>. Before the fix: accepted as given ("yesterday"
  // became createdAt). Now: Iso20022Error naming the element, with the writers' reasons (fields.ts
  // dateProblem / dateTimeProblem: ISODate, ISODateTime, real calendar dates), e.g.
  // 'Document/BkToCstmrStmt/GrpHdr/CreDtTm: must be a date and time like 2025-06-03T09:30:00+08:00'.
  it('refuses dates that are not dates, naming the element', () => {
    const DATE = 'must be a date yyyy-MM-dd';
    const DATE_TIME = 'must be a date and time like 2025-06-03T09:30:00+08:00';
    expect(problemsOf(() => parseCamt053(camt053(stmt()).replace('<CreDtTm>2025-06-05T01:00:00+08:00</CreDtTm></GrpHdr>', '<CreDtTm>yesterday</CreDtTm></GrpHdr>'))))
      .toEqual([{ field: 'Document/BkToCstmrStmt/GrpHdr/CreDtTm', reason: DATE_TIME }]);
    for (const bookingDate of ['2025-13-45', '2025-02-29', '2025-6-4', '20250604']) {
      expect(problemsOf(() => parseCamt053(camt053(stmt({ bookingDate })))), bookingDate)
        .toEqual([{ field: 'Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/BookgDt/Dt', reason: DATE }]);
    }
    expect(problemsOf(() => parseCamt054(camt054(camt053(stmt()).replace('<BookgDt><Dt>2025-06-04</Dt>', '<BookgDt><DtTm>2025-06-04</DtTm>')))))
      .toEqual([{ field: 'Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/BookgDt/DtTm', reason: DATE_TIME }]);
    expect(problemsOf(() => parsePain002(pain002.replace('2025-06-04T10:00:00+08:00', 'soon'))))
      .toEqual([{ field: 'Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[1]/TxInfAndSts[1]/AccptncDtTm', reason: DATE_TIME }]);
    // What the writers accept is still read.
    expect(parseCamt053(camt053(stmt({ bookingDate: '2024-02-29' }))).statements[0]!.entries[0]!.bookingDate).toBe('2024-02-29');
    expect(parsePain002(pain002).transactions[0]!.acceptedAt).toBe('2025-06-04T10:00:00+08:00');
  });

  // BUG 17. src/banks/iso20022/camt.ts readCamt: a camt.053 without any <Stmt> (camt.054 without any
  // <Ntfctn>) parsed as a message with no reports, though the XSD requires at least one (minOccurs 1) and
  // writeCamt053 refuses to write one. Input: the document above with no Stmt. Before the fix:
  // { statements: [] }. Now: Iso20022Error 'Document/BkToCstmrStmt/Stmt: is required'.
  it('refuses a statement message without any statement', () => {
    expect(problemsOf(() => parseCamt053(camt053('')))).toEqual([{ field: 'Document/BkToCstmrStmt/Stmt', reason: 'is required' }]);
    expect(problemsOf(() => parseCamt054(camt054(camt053(''))))).toEqual([{ field: 'Document/BkToCstmrDbtCdtNtfctn/Ntfctn', reason: 'is required' }]);
    expect(parseCamt054(camt054(camt053(stmt()))).notifications).toHaveLength(1);
  });
});
