import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseCamt053, parseCamt054, writeCamt053, writeCamt054, type Camt053Message, type Camt054Message } from '../../src/banks/iso20022/camt.ts';
import type { CamtEntry } from '../../src/banks/iso20022/camtEntry.ts';
import { parsePain002, writePain002, TRANSACTION_STATUSES, type Pain002Report } from '../../src/banks/iso20022/pain002.ts';
import { decimalToFen, declarationProblem, Iso20022Error, NAMESPACES } from '../../src/banks/iso20022/xml.ts';
import { validateAgainstXsd, withoutDocumentText } from '../../src/reconciliation/xsd.ts';
import { malformedAmount, xmlText } from './support.ts';

// Amounts settlement files must refuse that ISO 20022's decimal type allows (`23.`, `+6920.30`,
// `96140972534.100`) are amounts in a bank document: only the rest is malformed there.
const malformedIsoAmount = malformedAmount.filter((a) => typeof decimalToFen(a.trim()) === 'string');
import { CountingText } from '../support/workCount.ts';

/**
 * Issue 8, bank files: camt.053 / camt.054 statements and pain.002 status reports as the bank
 * sends them, corrupted. Valid documents come from the writers; every corruption must end in an
 * `Iso20022Error` naming the element path (never a raw TypeError), reading each character a
 * bounded number of times (counted, not timed: `CountingText`), without resolving any entity.
 */

const NOT_WELL_FORMED = /^is not well-formed XML \(line \d+, column \d+: .+\)$/s;
const AMOUNT_REASON = /^(has more than 2 decimals \(.+\)|is not an amount in CNY \(".*"\)|is out of range|must not be negative|must contain text)$/s;

/** Calls `parse`; returns its Iso20022Error's problems (fails the test on success or on any other error). */
function refusal(parse: () => unknown): { problems: { field: string; reason: string }[] } {
  let error: unknown = null;
  try {
    parse();
  } catch (e) {
    error = e;
  }
  if (error === null) throw new Error('expected an Iso20022Error, but the document was accepted');
  if (!(error instanceof Iso20022Error)) throw new Error(`expected an Iso20022Error, got ${String(error)}`);
  expect(error.problems.length).toBeGreaterThan(0);
  for (const p of error.problems) {
    expect(p.field).toMatch(/^Document(\/|$)/);
    expect(p.reason).toMatch(/\S/);
  }
  return { problems: error.problems };
}

/** Characters a single-pass reader may touch per character of the document (2–2.5 measured): far below any quadratic reading. */
const STEPS_PER_CHAR = 6;
const linear = (xml: string) => STEPS_PER_CHAR * xml.length + 100;

// ---------------------------------------------------------------- valid documents

const day = fc.date({ min: new Date('2024-01-01T00:00:00Z'), max: new Date('2026-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[1-9]\\d{${min - 1},${max - 1}}$`));
const ref = fc.stringMatching(/^[A-Z0-9-]{1,35}$/);

const entry: fc.Arbitrary<CamtEntry> = fc.record({
  entryRef: ref,
  amountFen: fc.integer({ min: 1, max: 1_000_000_000_000 }),
  creditDebit: fc.constantFrom('CRDT', 'DBIT'),
  status: fc.constantFrom('BOOK', 'PDNG', 'INFO'),
  bookingDate: day,
  valueDate: day,
  accountServicerRef: ref,
  bankTransactionCode: fc.constant({ domain: { code: 'PMNT', family: 'ICDT', subFamily: 'DMCT' } }),
  details: fc.array(fc.record({
    endToEndId: ref,
    creditor: fc.record({ name: fc.constantFrom('张三', '李四 & 王五', '<赵六>'), account: digits(12, 19), agent: digits(12, 12) }),
    remittanceInfo: fc.array(fc.constantFrom('住院医疗互助金', '大病补助 "C34"'), { maxLength: 2 }),
  }), { maxLength: 2 }),
}) as fc.Arbitrary<CamtEntry>;

const account = fc.record({ id: digits(12, 19), currency: fc.constant('CNY'), name: fc.constant('职工医疗互助资金专户'), servicer: digits(12, 12) });

const camt053: fc.Arbitrary<Camt053Message> = fc.record({
  msgId: ref,
  createdAt: fc.constant('2025-06-05T01:00:00+08:00'),
  statements: fc.tuple(account, fc.array(entry, { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 1e12 })).map(([acct, entries, opening]) => [{
    id: 'STMT-1', electronicSeqNb: 1, createdAt: '2025-06-05T01:00:00+08:00', account: acct,
    balances: [
      { type: 'OPBD', amountFen: opening, creditDebit: 'CRDT' as const, date: '2025-06-04' },
      { type: 'CLBD', amountFen: opening, creditDebit: 'CRDT' as const, date: '2025-06-04' },
    ],
    entries,
  }]),
});

const camt054: fc.Arbitrary<Camt054Message> = fc.record({
  msgId: ref,
  createdAt: fc.constant('2025-06-04T11:02:00+08:00'),
  notifications: fc.tuple(account, fc.array(entry, { minLength: 1, maxLength: 4 })).map(([acct, entries]) => [{ id: 'N-1', createdAt: '2025-06-04T11:02:00+08:00', account: acct, entries }]),
});

const pain002: fc.Arbitrary<Pain002Report> = fc.record({
  msgId: ref,
  createdAt: fc.constant('2025-06-04T10:05:00+08:00'),
  originalMsgId: ref,
  originalMsgNameId: fc.constant('pain.001.001.03'),
  originalNbOfTxs: fc.integer({ min: 1, max: 10_000 }),
  originalCtrlSumFen: fc.integer({ min: 1, max: 1e12 }),
  groupStatus: fc.constantFrom('PART', 'ACCP', 'RJCT'),
  paymentInfoStatuses: fc.array(fc.record({
    originalPmtInfId: ref,
    transactions: fc.array(fc.record({ originalEndToEndId: ref, status: fc.constantFrom(...TRANSACTION_STATUSES) }), { minLength: 1, maxLength: 4 }),
  }), { minLength: 1, maxLength: 2 }),
}) as fc.Arbitrary<Pain002Report>;

// ---------------------------------------------------------------- corruption helpers

/** Index just after the n-th (1-based) opening `<tag>` of the document. */
function after(xml: string, tag: string, n: number): number {
  let at = -1;
  for (let i = 0; i < n; i++) {
    at = xml.indexOf(`<${tag}>`, at + 1);
    if (at === -1) throw new Error(`no ${n}th <${tag}>`);
  }
  return at + tag.length + 2;
}

/** Replaces the first `<tag ...>...</tag>` found at or after `from` by `replacement(attributes, text)`. */
function replaceElement(xml: string, from: number, tag: string, replacement: (attrs: string, text: string) => string): string {
  const re = new RegExp(`<${tag}(\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g');
  re.lastIndex = from;
  const m = re.exec(xml);
  if (!m) throw new Error(`no <${tag}> after ${from}`);
  return xml.slice(0, m.index) + replacement(m[1] ?? '', m[2]!) + xml.slice(m.index + m[0].length);
}

// ---------------------------------------------------------------- camt.053

describe('camt.053 statements, corrupted', () => {
  it('the writers give documents the parser reads back (the starting point of every corruption)', () => {
    fc.assert(fc.property(camt053, (message) => {
      expect(parseCamt053(writeCamt053(message))).toEqual(message);
    }), { numRuns: 50 });
  });

  it('a malformed entry amount is refused naming Stmt[1]/Ntry[k]/Amt', () => {
    fc.assert(fc.property(camt053, fc.nat(), malformedIsoAmount, (message, pick, bad) => {
      const xml = writeCamt053(message);
      const k = (pick % message.statements[0]!.entries.length) + 1;
      const corrupted = replaceElement(xml, after(xml, 'Ntry', k), 'Amt', (attrs) => `<Amt${attrs}>${xmlText(bad)}</Amt>`);
      const { problems } = refusal(() => parseCamt053(corrupted));
      expect(problems).toEqual([{ field: `Document/BkToCstmrStmt/Stmt[1]/Ntry[${k}]/Amt`, reason: expect.stringMatching(AMOUNT_REASON) }]);
    }), { numRuns: 150 });
  });

  it('the classic bad amounts, each with its reason', () => {
    const xml = writeCamt053(fc.sample(camt053, { numRuns: 1, seed: 7 })[0]!);
    const at = (text: string) => replaceElement(xml, after(xml, 'Ntry', 1), 'Amt', (attrs) => `<Amt${attrs}>${text}</Amt>`);
    const field = 'Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt';
    expect(refusal(() => parseCamt053(at('1.005'))).problems).toEqual([{ field, reason: 'has more than 2 decimals (1.005)' }]);
    expect(refusal(() => parseCamt053(at('1e3'))).problems).toEqual([{ field, reason: 'is not an amount in CNY ("1e3")' }]);
    expect(refusal(() => parseCamt053(at('-1.00'))).problems).toEqual([{ field, reason: 'must not be negative' }]);
    expect(refusal(() => parseCamt053(at('1,000.00'))).problems).toEqual([{ field, reason: 'is not an amount in CNY ("1,000.00")' }]);
    expect(refusal(() => parseCamt053(at(''))).problems).toEqual([{ field, reason: 'must contain text' }]);
    expect(refusal(() => parseCamt053(at('<Sub>1.00</Sub>'))).problems).toEqual([{ field, reason: 'must contain text' }]);
    expect(refusal(() => parseCamt053(at('99999999999999999999.99'))).problems[0]!.field).toBe(field);
  });

  it('a balance amount or another currency is refused naming its element', () => {
    fc.assert(fc.property(camt053, fc.constantFrom(1, 2), fc.stringMatching(/^[A-Z]{3}$/).filter((c) => c !== 'CNY'), malformedIsoAmount, (message, b, currency, bad) => {
      const xml = writeCamt053(message);
      const balance = replaceElement(xml, after(xml, 'Bal', b), 'Amt', (attrs) => `<Amt${attrs}>${xmlText(bad)}</Amt>`);
      expect(refusal(() => parseCamt053(balance)).problems).toEqual([{ field: `Document/BkToCstmrStmt/Stmt[1]/Bal[${b}]/Amt`, reason: expect.stringMatching(AMOUNT_REASON) }]);
      const foreign = replaceElement(xml, after(xml, 'Ntry', 1), 'Amt', (_attrs, text) => `<Amt Ccy="${currency}">${text}</Amt>`);
      expect(refusal(() => parseCamt053(foreign)).problems).toEqual([{ field: 'Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt', reason: `currency is ${currency}, expected CNY` }]);
      const none = replaceElement(xml, after(xml, 'Ntry', 1), 'Amt', (_attrs, text) => `<Amt>${text}</Amt>`);
      expect(refusal(() => parseCamt053(none)).problems).toEqual([{ field: 'Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt', reason: 'currency is missing, expected CNY' }]);
    }), { numRuns: 60 });
  });

  it('a missing required element is named by its path', () => {
    const required: { tag: string; anchor: (xml: string, k: number) => number; path: (k: number) => string }[] = [
      { tag: 'GrpHdr', anchor: () => 0, path: () => 'Document/BkToCstmrStmt/GrpHdr' },
      { tag: 'MsgId', anchor: (xml) => after(xml, 'GrpHdr', 1), path: () => 'Document/BkToCstmrStmt/GrpHdr/MsgId' },
      { tag: 'CreDtTm', anchor: (xml) => after(xml, 'GrpHdr', 1), path: () => 'Document/BkToCstmrStmt/GrpHdr/CreDtTm' },
      { tag: 'Id', anchor: (xml) => after(xml, 'Stmt', 1), path: () => 'Document/BkToCstmrStmt/Stmt[1]/Id' },
      { tag: 'Acct', anchor: (xml) => after(xml, 'Stmt', 1), path: () => 'Document/BkToCstmrStmt/Stmt[1]/Acct' },
      { tag: 'Amt', anchor: (xml, k) => after(xml, 'Ntry', k), path: (k) => `Document/BkToCstmrStmt/Stmt[1]/Ntry[${k}]/Amt` },
      { tag: 'CdtDbtInd', anchor: (xml, k) => after(xml, 'Ntry', k), path: (k) => `Document/BkToCstmrStmt/Stmt[1]/Ntry[${k}]/CdtDbtInd` },
      { tag: 'Sts', anchor: (xml, k) => after(xml, 'Ntry', k), path: (k) => `Document/BkToCstmrStmt/Stmt[1]/Ntry[${k}]/Sts` },
      { tag: 'BkTxCd', anchor: (xml, k) => after(xml, 'Ntry', k), path: (k) => `Document/BkToCstmrStmt/Stmt[1]/Ntry[${k}]/BkTxCd` },
      { tag: 'CdtDbtInd', anchor: (xml) => after(xml, 'Bal', 2), path: () => 'Document/BkToCstmrStmt/Stmt[1]/Bal[2]/CdtDbtInd' },
    ];
    fc.assert(fc.property(camt053, fc.constantFrom(...required), fc.nat(), (message, { tag, anchor, path }, pick) => {
      const xml = writeCamt053(message);
      const k = (pick % message.statements[0]!.entries.length) + 1;
      const corrupted = replaceElement(xml, anchor(xml, k), tag, () => '');
      expect(refusal(() => parseCamt053(corrupted)).problems).toEqual([{ field: path(k), reason: 'is required' }]);
    }), { numRuns: 100 });
  });

  it('a wrong code or a repeated element is named by its path', () => {
    fc.assert(fc.property(camt053, fc.nat(), fc.stringMatching(/^[A-Z]{2,6}$/).filter((c) => !['CRDT', 'DBIT', 'BOOK', 'PDNG', 'INFO'].includes(c)), (message, pick, code) => {
      const xml = writeCamt053(message);
      const k = (pick % message.statements[0]!.entries.length) + 1;
      const sts = replaceElement(xml, after(xml, 'Ntry', k), 'Sts', () => `<Sts>${code}</Sts>`);
      expect(refusal(() => parseCamt053(sts)).problems).toEqual([{ field: `Document/BkToCstmrStmt/Stmt[1]/Ntry[${k}]/Sts`, reason: `${code} is not one of BOOK, PDNG, INFO` }]);
      const direction = replaceElement(xml, after(xml, 'Ntry', k), 'CdtDbtInd', () => `<CdtDbtInd>${code}</CdtDbtInd>`);
      expect(refusal(() => parseCamt053(direction)).problems).toEqual([{ field: `Document/BkToCstmrStmt/Stmt[1]/Ntry[${k}]/CdtDbtInd`, reason: `${code} is not one of CRDT, DBIT` }]);
      const twice = replaceElement(xml, after(xml, 'Ntry', k), 'Amt', (attrs, text) => `<Amt${attrs}>${text}</Amt><Amt${attrs}>${text}</Amt>`);
      expect(refusal(() => parseCamt053(twice)).problems).toEqual([{ field: `Document/BkToCstmrStmt/Stmt[1]/Ntry[${k}]/Amt`, reason: 'occurs 2 times, expected once' }]);
      const seq = replaceElement(xml, after(xml, 'Stmt', 1), 'ElctrncSeqNb', () => `<ElctrncSeqNb>${code}</ElctrncSeqNb>`);
      expect(refusal(() => parseCamt053(seq)).problems).toEqual([{ field: 'Document/BkToCstmrStmt/Stmt[1]/ElctrncSeqNb', reason: `${code} is not a count` }]);
    }), { numRuns: 60 });
  });

  it('a wrong or missing namespace, or another message, is refused at Document', () => {
    fc.assert(fc.property(camt053, fc.oneof(fc.constantFrom(NAMESPACES.camt054, NAMESPACES.pain002, 'urn:iso:std:iso:20022:tech:xsd:camt.053.001.08', ''), fc.webUrl()), (message, namespace) => {
      const xml = writeCamt053(message);
      // A function, not a string: `$$` or `$&` in a generated URL are replacement patterns otherwise.
      const wrong = xml.replace(`xmlns="${NAMESPACES.camt053}"`, () => `xmlns="${xmlText(namespace).replaceAll('"', '&quot;')}"`);
      expect(refusal(() => parseCamt053(wrong)).problems).toEqual([{ field: 'Document', reason: `namespace is ${JSON.stringify(namespace)}, expected ${NAMESPACES.camt053}` }]);
    }), { numRuns: 50 });
    const xml = writeCamt053(fc.sample(camt053, { numRuns: 1, seed: 2 })[0]!);
    expect(refusal(() => parseCamt053(xml.replace(` xmlns="${NAMESPACES.camt053}"`, ''))).problems).toEqual([{ field: 'Document', reason: `namespace is null, expected ${NAMESPACES.camt053}` }]);
    expect(refusal(() => parseCamt053(xml.replaceAll('Document', 'Doc'))).problems).toEqual([{ field: 'Document', reason: 'the root element must be a single Document' }]);
    expect(refusal(() => parseCamt053(xml.replaceAll('BkToCstmrStmt', 'BkToCstmrDbtCdtNtfctn'))).problems).toEqual([{ field: 'Document/BkToCstmrStmt', reason: 'is required' }]);
    expect(refusal(() => parseCamt054(xml)).problems[0]!.reason).toMatch(/^namespace is "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02", expected .*camt.054.001.02$/);
  });

  it('any truncation is "not well-formed", at Document', () => {
    fc.assert(fc.property(camt053, fc.double({ min: 0, max: 1, noNaN: true }), (message, fraction) => {
      const xml = writeCamt053(message);
      const cut = Math.floor(fraction * xml.lastIndexOf('</Document>'));
      const text = new CountingText(xml.slice(0, cut));
      const { problems } = refusal(() => parseCamt053(text as unknown as string));
      expect(problems).toEqual([{ field: 'Document', reason: expect.stringMatching(NOT_WELL_FORMED) }]);
      expect(text.steps).toBeLessThanOrEqual(linear(text.valueOf()));
    }), { numRuns: 150 });
  });

  it('random edits never give anything but an Iso20022Error (or a valid parse), in linear work', () => {
    const piece = fc.constantFrom('<', '>', '/', '&', ';', '"', "'", '=', ' ', '!', '-', '?', '[', ']', '#', 'x', '0', '.', 'Amt', 'Ntry', 'Stmt', ':', '&#0;', '&#x110000;', '&amp;', '<!--', '-->', '<![CDATA[', ']]>', '\u0000', '\uFEFF', '\uD800');
    fc.assert(fc.property(camt053, fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat({ max: 30 }), fc.array(piece, { maxLength: 4 })), { minLength: 1, maxLength: 4 }), (message, edits) => {
      let xml = writeCamt053(message);
      for (const [where, remove, insert] of edits) {
        const at = Math.floor(where * xml.length);
        xml = xml.slice(0, at) + insert.join('') + xml.slice(at + remove);
      }
      const text = new CountingText(xml);
      try {
        parseCamt053(text as unknown as string);
      } catch (error) {
        if (!(error instanceof Iso20022Error)) throw new Error(`not an Iso20022Error: ${String(error)}`);
        for (const p of error.problems) expect(p.field).toMatch(/^Document(\/|$)/);
      }
      expect(text.steps).toBeLessThanOrEqual(linear(xml));
    }), { numRuns: 300 });
  });
});

describe('XML entity attacks', () => {
  const doc = (inner: string) => `<Document xmlns="${NAMESPACES.camt053}"><BkToCstmrStmt>${inner}</BkToCstmrStmt></Document>`;
  const attacks: Record<string, string> = {
    'billion laughs': `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 ${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('\n ')}
]>
${doc('<GrpHdr><MsgId>&lol9;</MsgId></GrpHdr>')}`,
    'quadratic blowup': `<!DOCTYPE d [<!ENTITY a "${'a'.repeat(50_000)}">]>${doc(`<GrpHdr><MsgId>${'&a;'.repeat(10_000)}</MsgId></GrpHdr>`)}`,
    'external entity (file)': `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${doc('<GrpHdr><MsgId>&xxe;</MsgId></GrpHdr>')}`,
    'external entity (http)': `<!DOCTYPE d [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/secret">]>${doc('<GrpHdr><MsgId>&xxe;</MsgId></GrpHdr>')}`,
    'parameter entity': `<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>${doc('')}`,
    'external DTD': `<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/camt.dtd">${doc('')}`,
    'DOCTYPE after a comment': `<!-- x --><!DOCTYPE Document [<!ENTITY a "b">]>${doc('')}`,
  };
  for (const [name, xml] of Object.entries(attacks)) {
    it(`${name}: refused as "must not declare a DOCTYPE or an ENTITY", nothing resolved`, () => {
      for (const parse of [parseCamt053, parseCamt054, parsePain002]) {
        const text = new CountingText(xml);
        const { problems } = refusal(() => parse(text as unknown as string));
        expect(problems).toEqual([{ field: 'Document', reason: expect.stringMatching(/^must not declare a DOCTYPE or an ENTITY \(line \d+\): ISO 20022 messages have no DTD$/) }]);
        // Refused by the declaration check before any reader: the document is read at most once, nothing expanded.
        expect(problems).toEqual([declarationProblem(xml)]);
        expect(text.steps).toBeLessThanOrEqual(xml.length);
      }
    });
  }

  // Names of Object.prototype ("&constructor;") included: they once resolved to functions (test/banks/iso20022/readers.test.ts).
  it('an entity used without a declaration is not well-formed, naming the reference', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,10}$/).filter((n) => !['lt', 'gt', 'amp', 'quot', 'apos'].includes(n)), (name) => {
      const { problems } = refusal(() => parseCamt053(doc(`<GrpHdr><MsgId>x&${name};y</MsgId></GrpHdr>`)));
      expect(problems).toEqual([{ field: 'Document', reason: expect.stringMatching(new RegExp(`^is not well-formed XML \\(line 1, column \\d+: "&${name};?" is not a valid entity or character reference\\)$`)) }]);
    }), { numRuns: 50 });
    for (const ref of ['&#0;', '&#x0;', '&#xD800;', '&#x110000;', '&#99999999;', '&#xZZ;', '&#;', '&;', '& ;']) {
      expect(refusal(() => parseCamt053(doc(`<GrpHdr><MsgId>${ref}</MsgId></GrpHdr>`))).problems[0]!.reason).toMatch(/is not a valid entity or character reference\)$/);
    }
  });

  it('deep nesting and millions of references are refused or read in linear work', () => {
    const deep = doc(`${'<a>'.repeat(200_000)}${'</a>'.repeat(200_000)}`);
    const deepText = new CountingText(deep);
    const { problems } = refusal(() => parseCamt053(deepText as unknown as string));
    expect(problems).toEqual([{ field: 'Document/BkToCstmrStmt/GrpHdr', reason: 'is required' }]);
    expect(deepText.steps).toBeLessThanOrEqual(linear(deep));
    const many = doc(`<GrpHdr><MsgId>${'&amp;'.repeat(1_000_000)}</MsgId></GrpHdr>`);
    const manyText = new CountingText(many);
    const second = refusal(() => parseCamt053(manyText as unknown as string));
    expect(second.problems).toEqual([{ field: 'Document/BkToCstmrStmt/GrpHdr/CreDtTm', reason: 'is required' }]);
    expect(manyText.steps).toBeLessThanOrEqual(linear(many));
  });

  it('what is not XML at all is refused at Document', () => {
    for (const text of ['', ' ', 'hello', '{"Document":{}}', '\u0000', '<', '<Document', '<?xml version="1.0"?>', `<Document xmlns="${NAMESPACES.camt053}">`]) {
      expect(refusal(() => parseCamt053(text)).problems).toEqual([{ field: 'Document', reason: expect.stringMatching(NOT_WELL_FORMED) }]);
    }
  });
});

describe('camt.054 notifications, corrupted', () => {
  it('a malformed entry amount is named Ntfctn[1]/Ntry[k]/Amt; a truncation is not well-formed', () => {
    fc.assert(fc.property(camt054, fc.nat(), malformedIsoAmount, fc.double({ min: 0, max: 1, noNaN: true }), (message, pick, bad, fraction) => {
      const xml = writeCamt054(message);
      expect(parseCamt054(xml)).toEqual(message);
      const k = (pick % message.notifications[0]!.entries.length) + 1;
      const corrupted = replaceElement(xml, after(xml, 'Ntry', k), 'Amt', (attrs) => `<Amt${attrs}>${xmlText(bad)}</Amt>`);
      expect(refusal(() => parseCamt054(corrupted)).problems).toEqual([{ field: `Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[${k}]/Amt`, reason: expect.stringMatching(AMOUNT_REASON) }]);
      const truncated = xml.slice(0, Math.floor(fraction * xml.lastIndexOf('</Document>')));
      expect(refusal(() => parseCamt054(truncated)).problems).toEqual([{ field: 'Document', reason: expect.stringMatching(NOT_WELL_FORMED) }]);
      expect(refusal(() => parseCamt053(xml)).problems[0]!.field).toBe('Document');
    }), { numRuns: 80 });
  });
});

describe('pain.002 status reports, corrupted', () => {
  it('the writer gives reports the parser reads back', () => {
    fc.assert(fc.property(pain002, (report) => {
      expect(parsePain002(writePain002(report))).toMatchObject(report);
    }), { numRuns: 30 });
  });

  it('a missing OrgnlEndToEndId, a wrong status code, a bad control sum or count is named by its path', () => {
    fc.assert(fc.property(pain002, fc.nat(), malformedIsoAmount, fc.stringMatching(/^[A-Z]{4}$/).filter((c) => !(TRANSACTION_STATUSES as readonly string[]).includes(c)), (report, pick, bad, code) => {
      const xml = writePain002(report);
      const info = report.paymentInfoStatuses[0]!;
      const j = (pick % info.transactions.length) + 1;
      const base = 'Document/CstmrPmtStsRpt';
      const missing = replaceElement(xml, after(xml, 'TxInfAndSts', j), 'OrgnlEndToEndId', () => '');
      expect(refusal(() => parsePain002(missing)).problems).toEqual([{ field: `${base}/OrgnlPmtInfAndSts[1]/TxInfAndSts[${j}]/OrgnlEndToEndId`, reason: 'is required' }]);
      const status = replaceElement(xml, after(xml, 'TxInfAndSts', j), 'TxSts', () => `<TxSts>${code}</TxSts>`);
      expect(refusal(() => parsePain002(status)).problems).toEqual([{ field: `${base}/OrgnlPmtInfAndSts[1]/TxInfAndSts[${j}]/TxSts`, reason: `${code} is not one of ${TRANSACTION_STATUSES.join(', ')}` }]);
      const sum = replaceElement(xml, 0, 'OrgnlCtrlSum', () => `<OrgnlCtrlSum>${xmlText(bad)}</OrgnlCtrlSum>`);
      expect(refusal(() => parsePain002(sum)).problems).toEqual([{ field: `${base}/OrgnlGrpInfAndSts/OrgnlCtrlSum`, reason: expect.stringMatching(AMOUNT_REASON) }]);
      const nb = replaceElement(xml, 0, 'OrgnlNbOfTxs', () => `<OrgnlNbOfTxs>${code}</OrgnlNbOfTxs>`);
      expect(refusal(() => parsePain002(nb)).problems).toEqual([{ field: `${base}/OrgnlGrpInfAndSts/OrgnlNbOfTxs`, reason: `${code} is not a count` }]);
      const group = replaceElement(xml, 0, 'OrgnlGrpInfAndSts', () => '');
      expect(refusal(() => parsePain002(group)).problems).toEqual([{ field: `${base}/OrgnlGrpInfAndSts`, reason: 'is required' }]);
    }), { numRuns: 80 });
  });

  it('truncations and random edits give only Iso20022Errors', () => {
    const piece = fc.constantFrom('<', '>', '/', '&', ';', '"', '=', ' ', '!', '?', 'TxSts', 'x', '&#0;', '<!--', '<![CDATA[', '\u0000');
    fc.assert(fc.property(pain002, fc.double({ min: 0, max: 1, noNaN: true }), fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat({ max: 20 }), fc.array(piece, { maxLength: 3 })), { minLength: 1, maxLength: 3 }), (report, fraction, edits) => {
      const xml = writePain002(report);
      expect(refusal(() => parsePain002(xml.slice(0, Math.floor(fraction * xml.lastIndexOf('</Document>'))))).problems)
        .toEqual([{ field: 'Document', reason: expect.stringMatching(NOT_WELL_FORMED) }]);
      let edited = xml;
      for (const [where, remove, insert] of edits) {
        const at = Math.floor(where * edited.length);
        edited = edited.slice(0, at) + insert.join('') + edited.slice(at + remove);
      }
      try {
        parsePain002(edited);
      } catch (error) {
        if (!(error instanceof Iso20022Error)) throw new Error(`not an Iso20022Error: ${String(error)}`);
      }
    }), { numRuns: 200 });
  });

  it('is refused when it is another message', () => {
    const xml = writePain002(fc.sample(pain002, { numRuns: 1, seed: 3 })[0]!);
    expect(refusal(() => parsePain002(xml.replaceAll('pain.002.001.03', 'pain.002.001.10'))).problems).toEqual([
      { field: 'Document', reason: `namespace is "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10", expected ${NAMESPACES.pain002}` },
    ]);
    expect(refusal(() => parseCamt053(xml)).problems[0]!.field).toBe('Document');
  });
});

describe('what a validator may see and say', () => {
  it('refuses declarations anywhere and any encoding but UTF-8, naming the line, before xmllint runs', async () => {
    const doc = `<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="${NAMESPACES.camt053}"><BkToCstmrStmt/></Document>`;
    expect(declarationProblem(doc)).toBeNull();
    expect(declarationProblem(doc.replace('<Document', '<!-- x -->\n<!doctype Document>\n<Document'))).toEqual({ field: 'Document', reason: 'must not declare a DOCTYPE or an ENTITY (line 3): ISO 20022 messages have no DTD' });
    expect(declarationProblem(doc.replace('</Document>', '<![CDATA[<!ENTITY x "y">]]></Document>'))?.reason).toMatch(/^must not declare a DOCTYPE or an ENTITY/);
    for (const encoding of ['UTF-7', 'UTF-16', 'ISO-8859-1', 'EBCDIC-CP-US']) {
      expect(declarationProblem(doc.replace(/^<\?xml[^>]*\?>/, `<?xml version="1.0" encoding="${encoding}"?>`))?.reason, encoding).toBe('must be UTF-8: the XML declaration names another encoding (line 1)');
    }
    expect(declarationProblem(doc.replace(/^<\?xml[^>]*\?>/, `<?xml version='1.0' encoding='utf8'?>`))).toBeNull();
    // Not even the schema's location is looked up: the problem comes back without xmllint.
    expect(await validateAgainstXsd(`<!DOCTYPE d SYSTEM "http://127.0.0.1:9/x.dtd">${doc}`, 'camt.053', '/nonexistent')).toEqual([{ field: 'Document', reason: expect.stringMatching(/^must not declare/) }]);
  });

  it('keeps the rule of an xmllint message and leaves out the value it quotes', () => {
    const cases: [string, string][] = [
      ["Element '{urn:x}CreDtTm': 'SECRET it's is not a valid value' is not a valid value of the atomic type '{urn:x}ISODateTime'.", "Element 'CreDtTm': the value is not a valid value of the atomic type 'ISODateTime'."],
      ["Element 'Amt', attribute 'Ccy': 'SECRET' is not a valid value of the atomic type 'ActiveOrHistoricCurrencyCode'.", "Element 'Amt', attribute 'Ccy': the value is not a valid value of the atomic type 'ActiveOrHistoricCurrencyCode'."],
      ["Element 'Nm': [facet 'maxLength'] The value 'SECRET' has a length of '80'; this exceeds the allowed maximum length of '70'.", "Element 'Nm': [facet 'maxLength'] The value has a length of '80'; this exceeds the allowed maximum length of '70'."],
      ["Element 'Cd': [facet 'enumeration'] The value 'SECRET' is not an element of the set {'BOOK', 'PDNG'}.", "Element 'Cd': [facet 'enumeration'] The value is not an element of the set {'BOOK', 'PDNG'}."],
      ["Element 'Ccy': [facet 'pattern'] The value 'SECRET' is not accepted by the pattern '[A-Z]{3,3}'.", "Element 'Ccy': [facet 'pattern'] The value is not accepted by the pattern '[A-Z]{3,3}'."],
      ["Element 'Stmt': Missing child element(s). Expected is ( ElctrncSeqNb ).", "Element 'Stmt': Missing child element(s). Expected is ( ElctrncSeqNb )."],
    ];
    for (const [message, expected] of cases) expect(withoutDocumentText(message)).toBe(expected);
  });
});
