import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCamt053, parseCamt054 } from '../../../src/banks/iso20022/camt.ts';
import { signedFen } from '../../../src/banks/iso20022/camtEntry.ts';
import { Iso20022Error } from '../../../src/banks/iso20022/xml.ts';
import { recordsOf } from '../../../src/reconciliation/documents.ts';
import { expectSchemaValid } from './xmllint.ts';

/**
 * Statements and notifications as other banks' software writes them (hand-written fixtures, each
 * valid against the XSD): what the standard allows is read, amounts to the exact fen, and each
 * booking gets the same key in every document that reports it, with or without the bank's
 * reference. What the hub cannot hold (another currency, a fraction of a fen) is refused by path.
 */

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const notificationXml = fixture('camt054-ccb-20250610-noref.xml');
const statementXml = fixture('camt053-ccb-20250610-noref.xml');
const DERIVED = /^NOREF 2025-06-10 (CRDT|DBIT) \d+ [0-9a-f]{24} #\d+$/;

function problems(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    if (error instanceof Iso20022Error) return error.problems.map((p) => `${p.field}: ${p.reason}`);
    throw error;
  }
  throw new Error('expected an Iso20022Error');
}

describe('documents written by other software', () => {
  it('are valid against the XSDs', () => {
    expectSchemaValid('camt.054.001.02', [notificationXml]);
    expectSchemaValid('camt.053.001.02', [statementXml]);
  });

  it('reads a notification with trailing and leading zeros, no AcctSvcrRef, local and zoned booking dates, a namespace prefix', () => {
    const message = parseCamt054(notificationXml);
    expect(message.createdAt).toBe('2025-06-10T09:16:02.417');
    const [credit, debit] = message.notifications[0]!.entries;
    expect(credit).toMatchObject({ amountFen: 480_000, creditDebit: 'CRDT', bookingDate: '2025-06-10T09:15:32', valueDate: '2025-06-10' });
    expect(credit!.accountServicerRef).toBeUndefined();
    expect(credit!.details[0]!.debtor).toEqual({ name: '泉州市C&D电子有限公司工会委员会', account: '35050164620700000456' });
    expect(debit).toMatchObject({ amountFen: 8_850, creditDebit: 'DBIT', bookingDate: '2025-06-10+08:00', bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'DMCT' } } });

    const { records, problems: refused } = recordsOf('camt.054', message);
    expect(refused).toEqual([]);
    expect(records.entries.map((e) => [e.bookingDate, e.creditDebit, e.amountFen])).toEqual([['2025-06-10', 'CRDT', 480_000], ['2025-06-10', 'DBIT', 8_850]]);
    for (const e of records.entries) expect(e.key).toMatch(DERIVED);
  });

  it('reads a statement with UTC booking times, a batch booking, identical fees, PDNG, INFO and 0.00 entries, to the fen', () => {
    const message = parseCamt053(statementXml);
    const statement = message.statements[0]!;
    expect(statement.electronicSeqNb).toBe(157);
    expect(statement.balances.map((b) => [b.type, signedFen(b)])).toEqual([['OPBD', 10_000_000], ['ITBD', 10_480_000], ['CLBD', 10_440_750]]);
    expect(statement.entries.map((e) => [e.status, signedFen(e)])).toEqual([
      ['BOOK', 480_000], ['BOOK', -8_850], ['BOOK', -30_000], ['BOOK', -200], ['BOOK', -200], ['BOOK', 0], ['PDNG', 50_000], ['INFO', -100_000],
    ]);
    const batch = statement.entries[2]!;
    expect(batch.batch).toEqual({ msgId: 'MAH-20250610-0001', pmtInfId: 'MAH-20250610-0001-P1', nbOfTxs: 3, totalFen: 30_000, creditDebit: 'DBIT' });
    expect(batch.details.map((d) => [d.endToEndId, d.amountFen])).toEqual([['MAH-P-000000301-1', 10_000], ['MAH-P-000000302-1', 12_050], ['MAH-P-000000303-1', 7_950]]);

    const { records, problems: refused } = recordsOf('camt.053', message);
    expect(refused).toEqual([]);
    // The day in China: FrDtTm 2025-06-09T16:00:00Z; made after the period's end 24:00 (+08:00): final.
    expect(records.statements).toEqual([{
      account: '1408010109024561234', date: '2025-06-10', ref: 'STMT 1408010109024561234 20250610', createdAt: '2025-06-10T17:30:00.000Z',
      final: true, openingFen: 10_000_000, closingFen: 10_440_750,
    }]);
    // PDNG, INFO and the 0.00 interest move nothing: five bookings.
    expect(records.notBooked).toBe(3);
    expect(records.entries.map((e) => [e.bookingDate, e.amountFen])).toEqual([['2025-06-10', 480_000], ['2025-06-10', 8_850], ['2025-06-10', 30_000], ['2025-06-10', 200], ['2025-06-10', 200]]);
    const keys = records.entries.map((e) => e.key);
    for (const key of keys) expect(key).toMatch(DERIVED);
    // The two identical fees: the same fingerprint, two occurrences.
    expect(keys[3]!.replace(/#1$/, '#2')).toBe(keys[4]);
    expect(new Set(keys).size).toBe(5);
  });

  it('gives a booking the same key in its notification and in the statement, however each writes it', () => {
    const notified = recordsOf('camt.054', parseCamt054(notificationXml)).records.entries.map((e) => e.key);
    const listed = recordsOf('camt.053', parseCamt053(statementXml)).records.entries.map((e) => e.key);
    expect(listed.slice(0, 2)).toEqual(notified);
  });

  it('refuses another currency and a fraction of a fen, naming the element', () => {
    const debit = '<n:Amt Ccy="CNY">\n          00088.5\n        </n:Amt>';
    expect(notificationXml).toContain(debit);
    const entry = 'Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[2]/Amt';
    expect(problems(() => parseCamt054(notificationXml.replace(debit, '<n:Amt Ccy="CNY">8.855</n:Amt>')))).toEqual([`${entry}: has more than 2 decimals (8.855)`]);
    expect(problems(() => parseCamt054(notificationXml.replace(debit, '<n:Amt Ccy="USD">88.50</n:Amt>')))).toEqual([`${entry}: currency is USD, expected CNY`]);
    expect(problems(() => parseCamt054(notificationXml.replace('<n:Ccy>CNY</n:Ccy>', '<n:Ccy>HKD</n:Ccy>'))))
      .toEqual(["Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Acct/Ccy: is HKD: the hub's accounts are kept in CNY, another currency cannot be reconciled"]);
    expect(problems(() => parseCamt053(statementXml.replace('<Amt Ccy="CNY">104407.500</Amt>', '<Amt Ccy="CNY">104407.5001</Amt>'))))
      .toEqual(['Document/BkToCstmrStmt/Stmt[1]/Bal[3]/Amt: has more than 2 decimals (104407.5001)']);
    // Trailing zeros after the fen are the same amount; the XSD's own limits are xmllint's to refuse.
    expect(parseCamt054(notificationXml.replace(debit, '<n:Amt Ccy="CNY">88.50000</n:Amt>')).notifications[0]!.entries[1]!.amountFen).toBe(8_850);
  });

  it('refuses, by path, a notified booking without AcctSvcrRef nor booking date: its day would be a guess', () => {
    const undated = notificationXml.replace('<n:BookgDt>\n          <n:Dt>2025-06-10+08:00</n:Dt>\n        </n:BookgDt>\n', '');
    expectSchemaValid('camt.054.001.02', [undated]);
    expect(recordsOf('camt.054', parseCamt054(undated)).problems).toEqual([{
      field: 'Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[2]/BookgDt',
      reason: 'is required for an entry without AcctSvcrRef: without either, the hub cannot tell which booking of which day it is',
    }]);
  });
});
