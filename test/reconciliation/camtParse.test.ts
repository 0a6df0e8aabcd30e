import { describe, expect, it } from 'vitest';
import { parseCamt053, writeCamt053 } from '../../src/banks/iso20022/camt.ts';
import { parseXml } from '../../src/banks/iso20022/xml.ts';
import { bookedEntry, handStatement } from './support.ts';

/**
 * The single-pass XML reader behind the camt parsers (src/banks/iso20022/xml.ts): strict
 * well-formedness with line and column, entities, namespaces, and errors of streamed entries that
 * still name the entry's full path. Speed is measured by bench/reconciliation.ts.
 */

const wellFormedness = (xml: string) => {
  try {
    parseCamt053(xml);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
};

describe('reading XML', () => {
  it('refuses what is not well-formed, saying where', () => {
    const cases: [string, RegExp][] = [
      ['<Document><A></B></Document>', /\(line 1, column 14: closing tag <\/B> does not match <A>\)/],
      ['<Document>\n  <A>', /\(line 2, column 6: element <A> is not closed\)/],
      ['<Document a=1/>', /the value of attribute a must be quoted/],
      ['<Document a="1" a="2"/>', /attribute a is repeated/],
      ['<Document>&nbsp;</Document>', /"&nbsp;" is not a valid entity/],
      ['<Document>&#0;</Document>', /"&#0;" is not a valid entity/],
      ['<Document/><Document/>', /more than one root element/],
      ['hello<Document/>', /text outside the root element/],
      ['<Document><!-- open </Document>', /comment is not closed/],
    ];
    for (const [xml, message] of cases) {
      expect(wellFormedness(xml), xml).toMatch(/^ISO 20022 message: Document: is not well-formed XML \(line \d+, column \d+: /);
      expect(wellFormedness(xml), xml).toMatch(message);
    }
    expect(wellFormedness('<!DOCTYPE x [<!ENTITY a "b">]><Document/>')).toBe('ISO 20022 message: Document: must not declare a DOCTYPE or an ENTITY (line 1): ISO 20022 messages have no DTD');
  });

  it('decodes entities, character references and CDATA, trims text, and drops namespace prefixes', () => {
    const root = parseXml(`\ufeff<?xml version="1.0"?><!-- c --><p:Doc xmlns:p="urn:x" at="&lt;&#x5F20;&quot;">
      <p:Nm>  &#x5F20;三 &amp; <![CDATA[<李>]]> </p:Nm><p:Empty/></p:Doc>`);
    expect(root).toMatchObject({ name: 'Doc', prefix: 'p', attributes: { 'xmlns:p': 'urn:x', at: '<张"' } });
    expect(root.children.map((c) => [c.name, c.text])).toEqual([['Nm', '张三 & <李>'], ['Empty', '']]);
  });

  it('names a bad entry by its full path, though entries are read as the document streams by', () => {
    const date = '2025-06-04';
    const good = bookedEntry('CRDT', 100, date);
    const xml = handStatement(date, 1_000, [good, bookedEntry('CRDT', 250, date)]).replace('<Amt Ccy="CNY">2.50</Amt>', '<Amt Ccy="CNY">2.505</Amt>');
    expect(() => parseCamt053(xml)).toThrow('Document/BkToCstmrStmt/Stmt[1]/Ntry[2]/Amt: has more than 2 decimals (2.505)');
    const usd = handStatement(date, 1_000, [good]).replace('<Amt Ccy="CNY">1.00</Amt>', '<Amt Ccy="USD">1.00</Amt>');
    expect(() => parseCamt053(usd)).toThrow('Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt: currency is USD, expected CNY');
  });

  it('reads amounts exactly to the fen, however large', () => {
    const date = '2025-06-04';
    const amounts = [1, 10, 99, 100_000_000_001, 9_007_199_254_740_99];
    const xml = writeCamt053({
      msgId: 'M1', createdAt: `${date}T23:59:59+08:00`,
      statements: [{ id: 'S1', createdAt: `${date}T23:59:59+08:00`, account: { id: '1' }, balances: [], entries: amounts.map((a) => bookedEntry('CRDT', a, date)) }],
    });
    expect(parseCamt053(xml).statements[0]!.entries.map((e) => e.amountFen)).toEqual(amounts);
  });
});
