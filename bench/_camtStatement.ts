import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeCamt053 } from '../src/banks/iso20022/camt.ts';
import type { CamtEntry } from '../src/banks/iso20022/camtEntry.ts';
import { maskBankCard } from '../src/kernel/identifiers.ts';
import { bankCardHash, personalDataKeys } from '../src/privacy/personalData.ts';
import type { ExpectedPayout } from '../src/reconciliation/matching/types.ts';

/**
 * The bench statement: a camt.053 of `count` debit entries as the bank simulator writes them
 * (pretty-printed, ~1.5 KB an entry), with the payouts it pays; 90% carry their EndToEndId, 5% only
 * the bank's reference, 5% only amount and payee name. Kept in .data/bench/ once written.
 */

export const ACCOUNT = '1408010109024561234';
export const DATE = '2025-06-04';
const OPENING_FEN = 900_000_000_000;

const endToEndId = (i: number) => `MAH-P-${String(i).padStart(9, '0')}-1`;
const bankReference = (i: number) => `SIMD20250604${String(i).padStart(8, '0')}`;
// Distinct amounts per payee, so the amount + name rule has one candidate.
const amountOf = (i: number) => 10_000 + ((i * 7_919) % 5_000_000);
const nameOf = (i: number) => `会员${i}`;
// Each payee's own card (every rule compares it with the attempt's, through its keyed hash, where the bank reports it).
const cardOf = (i: number) => `62220214${String(i).padStart(11, '0')}`;
/** The members' lookup key the bench's attempts were hashed with. */
export const KEYS = personalDataKeys(Buffer.alloc(32, 5).toString('base64'));

export function expectedPayouts(count: number): ExpectedPayout[] {
  return Array.from({ length: count }, (_, i) => ({
    attemptId: i + 1, payoutId: i + 1, endToEndId: endToEndId(i), bankReference: bankReference(i), amountFen: amountOf(i),
    creditorName: nameOf(i), creditorAccountMasked: maskBankCard(cardOf(i)), creditorAccountHash: bankCardHash(KEYS, cardOf(i)).toString('hex'), debtorAccount: ACCOUNT, batchMsgId: `MAH-B-${Math.floor(i / 5_000)}`, pmtInfId: `MAH-B-${Math.floor(i / 5_000)}-P1`,
    status: 'PAID', expectedOn: DATE, executedOn: DATE, debitEntryId: null, returned: false,
  }));
}

function entryOf(i: number): CamtEntry {
  const rule = i % 20;
  const creditor = { name: nameOf(i), account: cardOf(i), agent: '102397000023' };
  return {
    amountFen: amountOf(i), creditDebit: 'DBIT', status: 'BOOK', bookingDate: DATE, valueDate: DATE,
    // 1 in 20 by bank reference only (the AcctSvcrRef of the pain.002), 1 in 20 by amount and name only.
    accountServicerRef: rule === 19 ? `SIMX${String(i).padStart(12, '0')}` : bankReference(i),
    bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'DMCT' } },
    details: [rule >= 18
      ? { creditor, remittanceInfo: ['住院医疗互助金'] }
      : { msgId: `MAH-B-${Math.floor(i / 5_000)}`, endToEndId: endToEndId(i), accountServicerRef: bankReference(i), creditor, remittanceInfo: ['住院医疗互助金'] }],
  };
}

/** The statement's file, written on first use. */
export function statementFile(count: number): string {
  const dir = path.resolve('.data/bench');
  const file = path.join(dir, `camt053-${count}-cards.xml`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const entries = Array.from({ length: count }, (_, i) => entryOf(i));
  const closing = OPENING_FEN - entries.reduce((sum, e) => sum + e.amountFen, 0);
  const balance = (type: string, fen: number) => ({ type, amountFen: fen, creditDebit: 'CRDT' as const, date: DATE });
  writeFileSync(file, writeCamt053({
    msgId: `BENCH053${count}`, createdAt: '2025-06-05T01:00:00+08:00', pagination: { page: 1, last: true },
    statements: [{
      id: `${ACCOUNT}-20250604`, createdAt: '2025-06-05T01:00:00+08:00', fromToDate: { from: `${DATE}T00:00:00+08:00`, to: `${DATE}T23:59:59+08:00` },
      account: { id: ACCOUNT, currency: 'CNY' }, balances: [balance('OPBD', OPENING_FEN), balance('CLBD', closing)], entries,
    }],
  }));
  return file;
}
