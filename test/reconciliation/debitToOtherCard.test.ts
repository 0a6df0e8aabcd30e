import { describe, expect, it } from 'vitest';
import type { CamtEntry, EntryDetails } from '../../src/banks/iso20022/camtEntry.ts';
import { bankCardHash, personalDataKeys } from '../../src/privacy/personalData.ts';
import { DEFAULT_MATCH_OPTIONS, matchEntries } from '../../src/reconciliation/matching/matcher.ts';
import type { EntryToMatch, ExpectedPayout, MatchBook } from '../../src/reconciliation/matching/types.ts';

/**
 * A debit carrying our payment's references (its EndToEndId, the bank's reference) and its amount,
 * but credited to another card than the attempt carries, the card FINANCE approved: a stranger was
 * paid, maybe not the member. Whichever reference finds the payout, the debit is an exception naming
 * the attempt (the payout counts as paid by the bank), never its settlement; a return (退票) from
 * another card is not the payment coming back. A statement naming no payee account changes nothing.
 */
const ACCOUNT = '1408010109024561234';
const MEMBER_CARD = '6222021408001230003';
const STRANGER_CARD = '6222021408009998885';

const payout: ExpectedPayout = {
  attemptId: 1, payoutId: 101, endToEndId: 'MAH-P101-A1-ABC', bankReference: 'SIMD1', amountFen: 120_000,
  creditorName: '会员一', creditorAccountMasked: '6222 **** **** 0003', creditorAccountHash: null, debtorAccount: ACCOUNT, batchMsgId: 'MAH-B-1', pmtInfId: 'MAH-B-1-1',
  status: 'PAID', expectedOn: '2025-06-04', executedOn: '2025-06-04', debitEntryId: null, returned: false,
};
const book: MatchBook = { payouts: [payout], refused: [], units: [], contributions: [], payers: [], recordedPayments: [] };

function booked(id: number, creditDebit: 'CRDT' | 'DBIT', details: Partial<EntryDetails>[], over: Partial<CamtEntry> = {}): EntryToMatch {
  return {
    id, account: ACCOUNT, bookingDate: '2025-06-04',
    entry: {
      amountFen: 120_000, creditDebit, status: 'BOOK', bookingDate: '2025-06-04', accountServicerRef: `REF${id}`,
      bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: creditDebit === 'DBIT' ? 'DMCT' : 'RRTN' } },
      details: details.map((d) => ({ remittanceInfo: [], ...d })), ...over,
    },
  };
}

const payee = (account?: string) => ({ creditor: { name: '会员一', ...(account === undefined ? {} : { account }) } });
const byEndToEndId = (id: number, account?: string) => booked(id, 'DBIT', [{ endToEndId: payout.endToEndId, ...payee(account) }]);
const byBankReference = (id: number, account?: string) => booked(id, 'DBIT', [payee(account)], { accountServicerRef: 'SIMD1' });
const aReturn = (id: number, account?: string) => booked(id, 'CRDT', [{ endToEndId: payout.endToEndId, ...payee(account), returnInfo: { reasonCode: 'AC04' } }]);

describe('a debit naming our payment but crediting another card', () => {
  it('is an exception naming the attempt, never its settlement, whichever reference names it', () => {
    for (const debit of [byEndToEndId(1, STRANGER_CARD), byBankReference(2, STRANGER_CARD)]) {
      const outcome = matchEntries([debit], book);
      expect(outcome.matches).toEqual([]);
      expect(outcome.exceptions).toMatchObject([{ kind: 'UNMATCHED_DEBIT', entryId: debit.id, attemptId: payout.attemptId, amountFen: 120_000 }]);
      expect(outcome.exceptions[0]!.evidence).toMatchObject({
        endToEndId: payout.endToEndId, creditorAccountMasked: '6222 **** **** 0003', counterparty: { name: '会员一', account: '6222 **** **** 8885' },
        reason: expect.stringContaining('the bank paid card 6222 **** **** 8885, the payment is to 6222 **** **** 0003'),
      });
      expect(outcome.entryStates.get(debit.id)).toBe('EXCEPTION');
    }
  });

  it('leaves the payout open for its own debit, which then settles it', () => {
    const outcome = matchEntries([byEndToEndId(1, STRANGER_CARD), byEndToEndId(2, MEMBER_CARD)], book);
    expect(outcome.matches.map((m) => [m.entryId, m.rule, 'attemptId' in m && m.attemptId])).toEqual([[2, 'END_TO_END_ID', 1]]);
    expect(outcome.exceptions.map((x) => [x.kind, x.entryId])).toEqual([['UNMATCHED_DEBIT', 1]]);
  });

  it('singles out the transaction of a batch booking that credits another card', () => {
    const other: ExpectedPayout = { ...payout, attemptId: 2, payoutId: 102, endToEndId: 'MAH-P102-A1-DEF', bankReference: null, creditorName: '会员二', creditorAccountMasked: '6222 **** **** 0004' };
    const batch = booked(1, 'DBIT', [
      { endToEndId: payout.endToEndId, amountFen: 120_000, ...payee(STRANGER_CARD) },
      { endToEndId: other.endToEndId, amountFen: 120_000, creditor: { name: '会员二', account: '6222021408001230004' } },
    ], { amountFen: 240_000 });
    const outcome = matchEntries([batch], { ...book, payouts: [payout, other] });
    expect(outcome.matches.map((m) => [m.txIndex, 'attemptId' in m && m.attemptId])).toEqual([[2, 2]]);
    expect(outcome.exceptions.map((x) => [x.kind, x.txIndex, x.attemptId])).toEqual([['UNMATCHED_DEBIT', 1, 1]]);
  });

  it('control: the attempt\'s own card, or no payee account on the statement, settles as before', () => {
    for (const debit of [byEndToEndId(1, MEMBER_CARD), byBankReference(2, MEMBER_CARD), byEndToEndId(3), byBankReference(4)]) {
      const outcome = matchEntries([debit], book);
      expect(outcome.exceptions).toEqual([]);
      expect(outcome.matches).toMatchObject([{ kind: 'PAYOUT', entryId: debit.id, attemptId: payout.attemptId }]);
    }
  });
});

describe('a return (退票) of our payment from another card', () => {
  it('is not the payment coming back: an exception naming the attempt, the payout not made retryable', () => {
    const outcome = matchEntries([aReturn(1, STRANGER_CARD)], book);
    expect(outcome.matches).toEqual([]);
    expect(outcome.exceptions).toMatchObject([{
      kind: 'UNKNOWN_CREDIT', entryId: 1, attemptId: payout.attemptId,
      evidence: { reason: expect.stringContaining('a return (退票) from card 6222 **** **** 8885, the payment was to 6222 **** **** 0003') },
    }]);
  });

  it('control: from the attempt\'s own card, or naming no account, it is matched as before', () => {
    for (const credit of [aReturn(1, MEMBER_CARD), aReturn(2)]) {
      const outcome = matchEntries([credit], book);
      expect(outcome.exceptions).toEqual([]);
      expect(outcome.matches).toMatchObject([{ kind: 'RETURN', entryId: credit.id, attemptId: payout.attemptId, reasonCode: 'AC04' }]);
    }
  });
});

describe('a card with the same first and last four digits', () => {
  const keys = personalDataKeys(Buffer.alloc(32, 3).toString('base64'));
  const keyed = { ...DEFAULT_MATCH_OPTIONS, cardHash: (card: string) => bankCardHash(keys, card).toString('hex') };
  const TWIN_CARD = '6222999999999990003';
  const hashed: MatchBook = { ...book, payouts: [{ ...payout, creditorAccountHash: bankCardHash(keys, MEMBER_CARD).toString('hex') }] };

  it('is told apart through the attempt\'s keyed hash, whichever reference names the payment', () => {
    for (const entry of [byEndToEndId(1, TWIN_CARD), byBankReference(2, TWIN_CARD), aReturn(3, TWIN_CARD)]) {
      const outcome = matchEntries([entry], hashed, keyed);
      expect(outcome.matches).toEqual([]);
      expect(outcome.exceptions).toMatchObject([{
        attemptId: payout.attemptId, evidence: { reason: expect.stringContaining('6222 **** **** 0003 (another card with the same first and last four digits)') },
      }]);
    }
  });

  it('control: the member\'s own card matches through the hash; an attempt keeping no hash is compared masked, as before', () => {
    expect(matchEntries([byEndToEndId(1, MEMBER_CARD)], hashed, keyed).matches).toMatchObject([{ kind: 'PAYOUT', attemptId: payout.attemptId }]);
    expect(matchEntries([byEndToEndId(1, TWIN_CARD)], book, keyed).matches).toMatchObject([{ kind: 'PAYOUT', attemptId: payout.attemptId }]);
  });
});
