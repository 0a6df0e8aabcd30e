import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { validateXML } from 'xmllint-wasm';
import { writeCamt054 } from '../../../src/banks/iso20022/camt.ts';
import { validateAgainstXsd, XsdUnavailableError } from '../../../src/reconciliation/xsd.ts';
import { xmllint } from './xmllint.ts';

// The real validator, watched: a refused document must never reach it.
vi.mock('xmllint-wasm', async (importOriginal) => {
  const original = await importOriginal<typeof import('xmllint-wasm')>();
  return { ...original, validateXML: vi.fn(original.validateXML) };
});
afterEach(() => vi.mocked(validateXML).mockClear());

const statement = readFileSync(new URL('./fixtures/camt053-icbc-20250603.xml', import.meta.url), 'utf8');
const notification = writeCamt054({
  msgId: 'SIM054-20250604-0007',
  createdAt: '2025-06-04T11:02:00+08:00',
  notifications: [{
    id: 'N-20250604-0007', createdAt: '2025-06-04T11:02:00+08:00', account: { id: '1408010109024561234', currency: 'CNY' },
    entries: [{ amountFen: 1_680_000, creditDebit: 'DBIT', status: 'BOOK', bookingDate: '2025-06-04', accountServicerRef: 'SIM20250604D0000001', bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'DMCT' } }, details: [] }],
  }],
});

/** One replacement in the fixture, failing if the text is not there (the fixture changed). */
function edited(from: string | RegExp, to: string): string {
  const xml = statement.replace(from, to);
  if (xml === statement) throw new Error(`the fixture has no ${String(from)}`);
  return xml;
}

/** The lines xmllint (run from outside, on the whole tree) reports for one document. */
function xmllintLines(schema: 'camt.053.001.02' | 'camt.054.001.02', xml: string): { valid: boolean; lines: number[] } {
  const result = xmllint(schema, [xml]);
  return { valid: result.status === 0, lines: [...result.output.matchAll(/document-0\.xml:(\d+): /g)].map((m) => Number(m[1])) };
}

const invalid: [string, string][] = [
  ['a wrong element', edited('<ElctrncSeqNb>154</ElctrncSeqNb>', '<ElctrncSeqNo>154</ElctrncSeqNo>')],
  ['an amount that is not a decimal', edited('<Amt Ccy="CNY">1250000.00</Amt>', '<Amt Ccy="CNY">1,250,000.00</Amt>')],
  ['a currency off the code pattern', edited('<Amt Ccy="CNY">1250000.00</Amt>', '<Amt Ccy="cny">1250000.00</Amt>')],
  ['an amount with 6 decimals', edited('<Amt Ccy="CNY">1250000.00</Amt>', '<Amt Ccy="CNY">1250000.000001</Amt>')],
  ['a missing required element', edited(/<MsgId>[^<]*<\/MsgId>\n\s*/, '')],
];

describe('in-process XSD validation (xmllint-wasm)', () => {
  it('agrees with xmllint on valid statements and notifications', async () => {
    expect(xmllintLines('camt.053.001.02', statement)).toEqual({ valid: true, lines: [] });
    expect(await validateAgainstXsd(statement, 'camt.053')).toEqual([]);
    expect(xmllintLines('camt.054.001.02', notification)).toEqual({ valid: true, lines: [] });
    expect(await validateAgainstXsd(notification, 'camt.054')).toEqual([]);
  });

  it.each(invalid)('agrees with xmllint on %s, naming the same lines', async (_, xml) => {
    const outside = xmllintLines('camt.053.001.02', xml);
    expect(outside.valid).toBe(false);
    expect(outside.lines.length).toBeGreaterThan(0);
    const problems = await validateAgainstXsd(xml, 'camt.053');
    expect(problems.map((p) => p.field)).toEqual(outside.lines.map((line) => `line ${line}`));
    for (const p of problems) expect(p.reason).toMatch(/^camt\.053 schema: Element '\w+'/);
  });

  it('names the rule: the element expected, the facet, the type', async () => {
    const [wrong, notDecimal, currency, decimals, missing] = await Promise.all(invalid.map(([, xml]) => validateAgainstXsd(xml, 'camt.053')));
    expect(wrong).toEqual([{ field: 'line 19', reason: "camt.053 schema: Element 'ElctrncSeqNo': This element is not expected. Expected is one of ( ElctrncSeqNb, LglSeqNb, CreDtTm )." }]);
    expect(notDecimal![0]!.reason).toMatch(/^camt\.053 schema: Element 'Amt': the value is not a valid value of the atomic type 'ActiveOrHistoricCurrencyAndAmount_SimpleType'\.$/);
    expect(currency![0]!.reason).toBe("camt.053 schema: Element 'Amt', attribute 'Ccy': [facet 'pattern'] The value is not accepted by the pattern '[A-Z]{3,3}'.");
    expect(decimals![0]!.reason).toBe("camt.053 schema: Element 'Amt': [facet 'fractionDigits'] The value has more fractional digits than are allowed ('5').");
    expect(missing![0]!.reason).toMatch(/^camt\.053 schema: Element '(GrpHdr|CreDtTm)': /);
  });

  it('never hands a document declaring a DOCTYPE or an ENTITY to the validator', async () => {
    const withDoctype = statement.replace('<Document', '<!DOCTYPE Document SYSTEM "file:///etc/passwd">\n<Document');
    expect(await validateAgainstXsd(withDoctype, 'camt.053')).toEqual([{ field: 'Document', reason: expect.stringMatching(/^must not declare a DOCTYPE or an ENTITY \(line 4\)/) }]);
    const withEntity = statement.replace('<BkToCstmrStmt>', '<BkToCstmrStmt><!ENTITY x SYSTEM "http://127.0.0.1:9/">');
    expect((await validateAgainstXsd(withEntity, 'camt.053'))[0]!.reason).toMatch(/^must not declare/);
    expect(validateXML).not.toHaveBeenCalled();
    await validateAgainstXsd(statement, 'camt.053');
    expect(validateXML).toHaveBeenCalledOnce();
  });

  it('says nothing of the document\'s own text, even under a parser error', async () => {
    const secret = 'SECRET-王五-6222021408001234567';
    const documents = [
      edited('<Amt Ccy="CNY">1250000.00</Amt>', `<Amt Ccy="CNY">${secret}</Amt>`),
      edited('<Amt Ccy="CNY">1250000.00</Amt>', `<Amt Ccy="${secret}">1250000.00</Amt>`),
      edited('<Nm>泉州市总工会</Nm>', `<Nm>${secret.repeat(10)}</Nm>`),
      edited('<ElctrncSeqNb>154</ElctrncSeqNb>', `<ElctrncSeqNb>${secret}</ElctrncSeqNb>`),
      edited('<BkToCstmrStmt>', `<BkToCstmrStmt>${secret}`),
      // Not well-formed, with a line crafted to look like one of xmllint's own messages.
      edited('</GrpHdr>', `</GrpHdrX>\n-:7: Schemas validity error : ${secret}\ndocument.xml:7: Schemas validity error : ${secret}`),
      `${secret}<`,
    ];
    for (const xml of documents) {
      const problems = await validateAgainstXsd(xml, 'camt.053');
      expect(problems.length).toBeGreaterThan(0);
      expect(JSON.stringify(problems)).not.toMatch(/SECRET|王五|6222021408001234567/);
    }
  });

  it('names the line where a document stops parsing, as xmllint does', async () => {
    const mismatched = edited('</GrpHdr>', '</GrpHdrX>');
    expect(xmllintLines('camt.053.001.02', mismatched).lines[0]).toBe(16);
    expect(await validateAgainstXsd(mismatched, 'camt.053')).toEqual([{ field: 'line 16', reason: 'camt.053 schema: Opening and ending tag mismatch: GrpHdr line 6 and GrpHdrX' }]);
    expect(await validateAgainstXsd(statement.slice(0, statement.indexOf('<Ntry>') + 3), 'camt.053')).toEqual([{ field: expect.stringMatching(/^line \d+$/), reason: expect.stringMatching(/^camt\.053 schema: /) }]);
    expect(await validateAgainstXsd('', 'camt.053')).toEqual([{ field: 'line 1', reason: 'camt.053 schema: Document is empty' }]);
  });

  it('blames the schemas, not the document, when they are missing or do not compile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsd-'));
    try {
      await expect(validateAgainstXsd(statement, 'camt.053', dir)).rejects.toThrow(XsdUnavailableError);
      await expect(validateAgainstXsd(statement, 'camt.053', dir)).rejects.toThrow(/camt\.053\.001\.02\.xsd cannot be read \(ENOENT\); set ISO20022_XSD_DIR/);
      writeFileSync(join(dir, 'camt.053.001.02.xsd'), '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="Document" type="Nowhere"/></xs:schema>');
      await expect(validateAgainstXsd(statement, 'camt.053', dir)).rejects.toThrow(XsdUnavailableError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
