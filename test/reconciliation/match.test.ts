import { describe, expect, it } from 'vitest';
import type { CamtEntry, EntryDetails } from '../../src/banks/iso20022/camtEntry.ts';
import { addBusinessDays } from '../../src/reconciliation/matching/calendar.ts';
import { amountRuleAmounts, contributionReferences, matchEntries } from '../../src/reconciliation/matching/matcher.ts';
import { dailyProof, missingDebits } from '../../src/reconciliation/matching/proof.ts';
import type { EntryToMatch, ExpectedPayout, MatchBook } from '../../src/reconciliation/matching/types.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';

const ACCOUNT = '1408010109024561234';
const UNIT_CODE = withCreditCodeCheck('91350500MA2YB1234');
const OTHER_CODE = withCreditCodeCheck('91350500MA2YB5678');

/** An attempt executed on the day its debit is expected unless `over` says otherwise. */
function payout(n: number, over: Partial<ExpectedPayout> = {}): ExpectedPayout {
  const expectedOn = over.expectedOn ?? '2025-06-04';
  return {
    attemptId: n, payoutId: 100 + n, endToEndId: `MAH-P-${n}-1`, bankReference: `SIMD${n}`, amountFen: 10_000 * n,
    creditorName: `会员${n}`, creditorAccountMasked: `6222 **** **** 000${n}`, creditorAccountHash: null, debtorAccount: ACCOUNT, batchMsgId: 'MAH-B-1', pmtInfId: 'MAH-B-1-P1', status: 'PAID',
    expectedOn, executedOn: expectedOn, debitEntryId: null, returned: false, ...over,
  };
}

let nextEntry = 0;
function entry(creditDebit: 'CRDT' | 'DBIT', amountFen: number, details: Partial<EntryDetails>[], over: Partial<CamtEntry> = {}, bookingDate = '2025-06-04'): EntryToMatch {
  nextEntry += 1;
  return {
    id: nextEntry, account: ACCOUNT, bookingDate,
    entry: {
      amountFen, creditDebit, status: 'BOOK', bookingDate, accountServicerRef: `REF${nextEntry}`,
      bankTransactionCode: { domain: { code: 'PMNT', family: creditDebit === 'DBIT' ? 'ICDT' : 'RCDT', subFamily: 'DMCT' } },
      details: details.map((d) => ({ remittanceInfo: [], ...d })),
      ...over,
    },
  };
}

const emptyBook: MatchBook = { payouts: [], refused: [], units: [], contributions: [], payers: [], recordedPayments: [] };
const book = (over: Partial<MatchBook>): MatchBook => ({ ...emptyBook, ...over });

describe('debits to payouts', () => {
  it('matches by EndToEndId, then bank reference, then amount + date window + payee name', () => {
    const byId = entry('DBIT', 10_000, [{ endToEndId: 'MAH-P-1-1' }]);
    const byRef = entry('DBIT', 20_000, [{}], { accountServicerRef: 'SIMD2' });
    const byName = entry('DBIT', 30_000, [{ creditor: { name: '会员 3' } }], {}, '2025-06-06');
    const outcome = matchEntries([byId, byRef, byName], book({ payouts: [payout(1), payout(2), payout(3, { bankReference: null })] }));
    expect(outcome.exceptions).toEqual([]);
    expect(outcome.matches.map((m) => [m.kind, m.rule, m.entryId, 'attemptId' in m && m.attemptId])).toEqual([
      ['PAYOUT', 'END_TO_END_ID', byId.id, 1], ['PAYOUT', 'BANK_REFERENCE', byRef.id, 2], ['PAYOUT', 'AMOUNT_DATE_NAME', byName.id, 3],
    ]);
    expect([...outcome.entryStates.values()]).toEqual(['MATCHED', 'MATCHED', 'MATCHED']);
  });

  it('matches one batch debit to every credited payment of its PmtInf when the sum agrees to the fen (one-to-many)', () => {
    const payouts = [payout(1), payout(2), payout(3, { status: 'REJECTED' })];
    const debit = entry('DBIT', 30_000, [], { batch: { msgId: 'MAH-B-1', pmtInfId: 'MAH-B-1-P1', nbOfTxs: 2 } });
    const outcome = matchEntries([debit], book({ payouts }));
    expect(outcome.matches.map((m) => [m.rule, m.amountFen])).toEqual([['BATCH', 10_000], ['BATCH', 20_000]]);

    const short = entry('DBIT', 29_999, [], { batch: { pmtInfId: 'MAH-B-1-P1' } });
    const mismatch = matchEntries([short], book({ payouts }));
    expect(mismatch.matches).toEqual([]);
    expect(mismatch.exceptions[0]).toMatchObject({ kind: 'AMOUNT_MISMATCH', amountFen: 29_999, evidence: { expectedFen: 30_000 } });
  });

  it('matches each transaction of a batch booking that lists them, and refuses one whose details do not add up', () => {
    const listed = entry('DBIT', 30_000, [{ endToEndId: 'MAH-P-1-1', amountFen: 10_000 }, { endToEndId: 'MAH-P-2-1', amountFen: 20_000 }]);
    const wrong = entry('DBIT', 30_001, [{ endToEndId: 'MAH-P-1-1', amountFen: 10_000 }, { endToEndId: 'MAH-P-2-1', amountFen: 20_000 }]);
    const ok = matchEntries([listed], book({ payouts: [payout(1), payout(2)] }));
    expect(ok.matches.map((m) => [m.txIndex, m.amountFen])).toEqual([[1, 10_000], [2, 20_000]]);
    const bad = matchEntries([wrong], book({ payouts: [payout(1), payout(2)] }));
    expect(bad.matches).toEqual([]);
    expect(bad.exceptions).toMatchObject([{ kind: 'AMOUNT_MISMATCH', txIndex: 0, evidence: { reason: 'its 2 transactions add up to 300.00, the entry is 300.01' } }]);
  });

  it('reports a second debit of one payout, a debit of another amount, a debit of no payout, and a tie it will not guess', () => {
    const first = entry('DBIT', 10_000, [{ endToEndId: 'MAH-P-1-1' }]);
    const second = entry('DBIT', 10_000, [{ endToEndId: 'MAH-P-1-1' }]);
    const wrongAmount = entry('DBIT', 20_001, [{ endToEndId: 'MAH-P-2-1' }]);
    const stranger = entry('DBIT', 77_700, [{ creditor: { name: '无名氏', account: '6222021408009998885' } }]);
    const tie = entry('DBIT', 50_000, [{ creditor: { name: '同名' } }]);
    const alreadyDebited = entry('DBIT', 40_000, [{ endToEndId: 'MAH-P-4-1' }]);
    const payouts = [payout(1), payout(2), payout(4, { debitEntryId: 999 }), payout(5, { creditorName: '同名' }), payout(6, { creditorName: '同名', amountFen: 50_000 })];
    const outcome = matchEntries([first, second, wrongAmount, stranger, tie, alreadyDebited], book({ payouts }));
    expect(outcome.matches.map((m) => m.entryId)).toEqual([first.id]);
    expect(outcome.exceptions.map((e) => [e.kind, e.entryId, e.attemptId])).toEqual([
      ['DUPLICATE_DEBIT', second.id, 1], ['AMOUNT_MISMATCH', wrongAmount.id, 2], ['UNMATCHED_DEBIT', stranger.id, null],
      ['UNMATCHED_DEBIT', tie.id, null], ['DUPLICATE_DEBIT', alreadyDebited.id, 4],
    ]);
    expect(outcome.exceptions[2]!.evidence).toMatchObject({ counterparty: { name: '无名氏', account: '6222 **** **** 8885' } });
    expect(outcome.exceptions[3]!.evidence).toMatchObject({ candidates: ['MAH-P-5-1', 'MAH-P-6-1'] });
    expect(outcome.exceptions[4]!.evidence).toMatchObject({ firstEntryId: 999 });
    expect(outcome.entryStates.get(second.id)).toBe('EXCEPTION');
  });

  it('takes the amount + name rule only for the payout\'s card where the bank reports the payee\'s account, not a namesake\'s', () => {
    const namesake = entry('DBIT', 30_000, [{ creditor: { name: '会员3', account: '6222021408009998885' } }]);
    const member = entry('DBIT', 30_000, [{ creditor: { name: '会员3', account: '6222021408001230003' } }]);
    const outcome = matchEntries([namesake, member], book({ payouts: [payout(3, { bankReference: null })] }));
    expect(outcome.matches.map((m) => [m.entryId, 'attemptId' in m && m.attemptId])).toEqual([[member.id, 3]]);
    expect(outcome.exceptions.map((e) => [e.kind, e.entryId, e.attemptId])).toEqual([['UNMATCHED_DEBIT', namesake.id, null]]);
    expect(outcome.exceptions[0]!.evidence.reason).toContain('to 会员3 (6222 **** **** 8885)');
  });

  it('keeps the amount + name rule inside its date window', () => {
    const late = entry('DBIT', 10_000, [{ creditor: { name: '会员1' } }], {}, '2025-06-09');
    expect(matchEntries([late], book({ payouts: [payout(1, { bankReference: null })] })).exceptions[0]!.kind).toBe('UNMATCHED_DEBIT');
  });

  it('asks the book for open payouts by amount only for the debits no reference names', () => {
    const named = [payout(1), payout(2), payout(3, { batchMsgId: 'MAH-B-3', pmtInfId: 'MAH-B-3-P1' })];
    const entries = [
      entry('DBIT', 10_000, [{ endToEndId: 'MAH-P-1-1' }]),
      entry('DBIT', 20_000, [{}], { accountServicerRef: 'SIMD2' }),
      entry('DBIT', 30_000, [], { batch: { pmtInfId: 'MAH-B-3-P1' } }),
      entry('DBIT', 40_000, [{ endToEndId: 'MAH-P-9-1', creditor: { name: '会员4' } }]),
      entry('DBIT', 50_000, [{ creditor: { name: '会员5' }, amountFen: 20_000 }, { endToEndId: 'MAH-P-1-1', amountFen: 10_000 }, { creditor: { name: '会员6' }, amountFen: 20_000 }]),
      entry('CRDT', 60_000, [{ endToEndId: 'MAH-P-7-1' }]),
    ];
    // A stranger's EndToEndId and a batch booking's unnamed transactions go to the amount rule; a credit never does.
    expect(amountRuleAmounts(entries, named)).toEqual([40_000, 20_000, 20_000]);
    // Given the open payouts of exactly those amounts, the matcher decides as it does with every payout of every debited amount.
    const open = [payout(4, { amountFen: 40_000, bankReference: null }), payout(5, { amountFen: 20_000, bankReference: null, creditorName: '会员5' }),
      payout(6, { amountFen: 20_000, bankReference: null, creditorName: '会员6' })];
    const unopened = [payout(8, { amountFen: 10_000, bankReference: null, creditorName: '会员1' })];
    const decided = (payouts: ExpectedPayout[]) => matchEntries(entries, book({ payouts }));
    expect(decided([...named, ...open])).toEqual(decided([...named, ...open, ...unopened]));
    expect(decided([...named, ...open]).matches.filter((m) => m.rule === 'AMOUNT_DATE_NAME').map((m) => 'attemptId' in m && m.attemptId)).toEqual([4, 5, 6]);
  });
});

describe('a debit of no reference that a payout the bank refused (RJCT) may be', () => {
  // The bank debited the payment and answered RJCT for it all the same; its statement shows the amount and the payee's name only.
  const refusedPayout = (n: number, over: Partial<ExpectedPayout> = {}) => payout(n, { status: 'REJECTED', bankReference: null, amountFen: 30_000, creditorName: '会员3', ...over });
  const debit = (bookingDate = '2025-06-05') => entry('DBIT', 30_000, [{ creditor: { name: '会员 3' } }], { accountServicerRef: 'BANK-NO-REF' }, bookingDate);

  it('is an exception naming the refused attempt, never a match: its payout counts as paid by the bank', () => {
    const d = debit();
    const outcome = matchEntries([d], book({ refused: [refusedPayout(3)] }));
    expect(outcome.matches).toEqual([]);
    expect(outcome.exceptions).toMatchObject([{ kind: 'UNMATCHED_DEBIT', entryId: d.id, attemptId: 3, amountFen: 30_000, evidence: { endToEndId: 'MAH-P-3-1', payoutId: 103, attemptStatus: 'REJECTED' } }]);
    expect(outcome.exceptions[0]!.evidence.reason).toContain('debited by amount and name (300.00 to 会员 3) after the bank refused it');
    expect(outcome.entryStates.get(d.id)).toBe('EXCEPTION');
  });

  it('goes to an expected payout of that amount and name first (a retry\'s own debit, or a namesake\'s): the refused one is named only when none is', () => {
    const d = debit();
    const retry = payout(4, { payoutId: 103, endToEndId: 'MAH-P-3-2', bankReference: null, amountFen: 30_000, creditorName: '会员3', status: 'PAID', expectedOn: '2025-06-05' });
    const namesake = payout(5, { payoutId: 105, bankReference: null, amountFen: 30_000, creditorName: '会员3', status: 'PAID', expectedOn: '2025-06-04' });
    for (const expected of [retry, namesake]) {
      const outcome = matchEntries([d], book({ payouts: [expected], refused: [refusedPayout(3)] }));
      expect(outcome.exceptions).toEqual([]);
      expect(outcome.matches).toMatchObject([{ kind: 'PAYOUT', entryId: d.id, rule: 'AMOUNT_DATE_NAME', attemptId: expected.attemptId }]);
    }
    // Two debits of that amount and name: the first settles the retry, the second names the refused attempt.
    const second = debit('2025-06-06');
    const both = matchEntries([d, second], book({ payouts: [retry], refused: [refusedPayout(3)] }));
    expect(both.matches).toMatchObject([{ entryId: d.id, attemptId: 4 }]);
    expect(both.exceptions).toMatchObject([{ kind: 'UNMATCHED_DEBIT', entryId: second.id, attemptId: 3 }]);
  });

  it('names none when refused payments of two payouts may be it; names the closest when they are attempts of one payout', () => {
    const two = matchEntries([debit()], book({ refused: [refusedPayout(3), refusedPayout(5, { payoutId: 105 })] }));
    expect(two.matches).toEqual([]);
    expect(two.exceptions).toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: null, evidence: { refused: ['MAH-P-5-1', 'MAH-P-3-1'] } }]);
    // Both refused attempts of payout 103 (the first, then its retry): whichever the bank paid, it paid that payout.
    const one = matchEntries([debit()], book({ refused: [refusedPayout(3, { expectedOn: '2025-06-02' }), refusedPayout(4, { payoutId: 103, endToEndId: 'MAH-P-3-2' })] }));
    expect(one.exceptions).toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: 4, evidence: { refused: ['MAH-P-3-2', 'MAH-P-3-1'] } }]);
  });

  it('names a refused attempt debited on its execution day however late the bank\'s RJCT came: any day from its execution to its refusal, and the window either side', () => {
    // Executed (and debited) on 2025-06-02; the bank's RJCT for it came on 2025-06-06, four days after: its expected day.
    const late = refusedPayout(3, { executedOn: '2025-06-02', expectedOn: '2025-06-06' });
    for (const day of ['2025-05-30', '2025-06-02', '2025-06-04', '2025-06-06', '2025-06-09']) {
      const d = debit(day);
      const outcome = matchEntries([d], book({ refused: [late] }));
      expect(outcome.matches).toEqual([]);
      expect(outcome.exceptions, day).toMatchObject([{ kind: 'UNMATCHED_DEBIT', entryId: d.id, attemptId: 3, evidence: { endToEndId: 'MAH-P-3-1', attemptStatus: 'REJECTED' } }]);
    }
    // Beyond the window of that span: not its debit.
    for (const day of ['2025-05-29', '2025-06-10']) {
      const [exception] = matchEntries([debit(day)], book({ refused: [late] })).exceptions;
      expect(exception, day).toMatchObject({ kind: 'UNMATCHED_DEBIT', attemptId: null });
      expect(exception!.evidence.refused, day).toBeUndefined();
    }
    // Two refused attempts of payout 103: the first executed on 2025-06-02 and refused on 2025-06-09, the booking within that
    // span; its retry executed and refused on 2025-06-07, two days off. The first is named, the retry listed after it.
    const first = refusedPayout(3, { executedOn: '2025-06-02', expectedOn: '2025-06-09' });
    const retry = refusedPayout(4, { payoutId: 103, endToEndId: 'MAH-P-3-2', executedOn: '2025-06-07', expectedOn: '2025-06-07' });
    expect(matchEntries([debit()], book({ refused: [retry, first] })).exceptions)
      .toMatchObject([{ kind: 'UNMATCHED_DEBIT', attemptId: 3, evidence: { refused: ['MAH-P-3-1', 'MAH-P-3-2'] } }]);
  });

  it('looks only at refused payouts that can be it: not outside the date window, of another account or card, with their debit matched', () => {
    const card = '6222 **** **** 0006';
    const open = payout(6, { bankReference: null, amountFen: 30_000, creditorName: '会员3', creditorAccountMasked: card, expectedOn: '2025-06-05' });
    const cannot = [
      refusedPayout(3, { creditorAccountMasked: card, expectedOn: '2025-06-01' }),
      refusedPayout(7, { payoutId: 107, creditorAccountMasked: card, debtorAccount: '1408010109029999999' }),
      refusedPayout(8, { payoutId: 108, creditorAccountMasked: '6222 **** **** 9999' }),
      refusedPayout(9, { payoutId: 109, creditorAccountMasked: card, debitEntryId: 77 }),
      refusedPayout(10, { payoutId: 110, creditorAccountMasked: card, status: 'PAID' }),
    ];
    // Another amount to that card, refused two days before: within the window, that one can.
    const can = refusedPayout(11, { payoutId: 111, amountFen: 31_000, creditorAccountMasked: card, expectedOn: '2025-06-03' });
    const toOpen = entry('DBIT', 30_000, [{ creditor: { name: '会员3', account: '6222021408001230006' } }], {}, '2025-06-05');
    const toRefused = entry('DBIT', 31_000, [{ creditor: { name: '会员3', account: '6222021408001230006' } }], {}, '2025-06-05');
    const outcome = matchEntries([toOpen, toRefused], book({ payouts: [open], refused: [...cannot, can] }));
    expect(outcome.matches).toMatchObject([{ kind: 'PAYOUT', entryId: toOpen.id, rule: 'AMOUNT_DATE_NAME', attemptId: 6 }]);
    expect(outcome.exceptions.map((e) => [e.kind, e.entryId, e.attemptId])).toEqual([['UNMATCHED_DEBIT', toRefused.id, 11]]);
  });
});

describe('credits: returns and contributions', () => {
  const returnCode = { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'RRTN' } };

  it('matches a return (退票) of a credited payout, and refuses one of a stranger or of another amount', () => {
    const back = entry('CRDT', 10_000, [{ endToEndId: 'MAH-P-1-1', returnInfo: { reasonCode: 'AC04', additionalInfo: '已销户' } }], { bankTransactionCode: returnCode });
    const stranger = entry('CRDT', 10_000, [{ endToEndId: 'XYZ' }], { bankTransactionCode: returnCode });
    const wrong = entry('CRDT', 1, [{ endToEndId: 'MAH-P-2-1', returnInfo: { reasonCode: 'AC01' } }]);
    const outcome = matchEntries([back, stranger, wrong], book({ payouts: [payout(1), payout(2)] }));
    expect(outcome.matches).toEqual([{
      kind: 'RETURN', entryId: back.id, txIndex: 0, rule: 'END_TO_END_ID', amountFen: 10_000, attemptId: 1, endToEndId: 'MAH-P-1-1', reasonCode: 'AC04', reason: '已销户',
    }]);
    expect(outcome.exceptions.map((e) => e.kind)).toEqual(['UNKNOWN_CREDIT', 'AMOUNT_MISMATCH']);
  });

  it('matches no reversal (冲正) by itself: each is an exception naming the payout its references point to', () => {
    // A reversal carrying a return's code, one of a debit, one of a return, one of a contribution (its MAH reference).
    const ofReturn = entry('CRDT', 10_000, [{ endToEndId: 'MAH-P-1-1', returnInfo: { reasonCode: 'AC04' } }], { bankTransactionCode: returnCode, reversal: true });
    const ofDebit = entry('CRDT', 20_000, [{ endToEndId: 'MAH-P-2-1' }], { reversal: true });
    const ofCredit = entry('DBIT', 30_000, [{ endToEndId: 'MAH-P-3-1', creditor: { name: '会员3' } }], { reversal: true });
    const ofContribution = entry('DBIT', 96_00, [{ remittanceInfo: [`MAH2025${OTHER_CODE}`] }], { reversal: true });
    const payouts = [payout(1), payout(2), payout(3, { status: 'RETURNED', returned: true })];
    const outcome = matchEntries([ofReturn, ofDebit, ofCredit, ofContribution], book({ payouts, units: [{ unitId: 8, creditCode: OTHER_CODE }] }));
    expect(outcome.matches).toEqual([]);
    expect(outcome.exceptions.map((e) => [e.kind, e.entryId, e.attemptId, e.evidence.reversal, e.evidence.endToEndId ?? null])).toEqual([
      ['UNKNOWN_CREDIT', ofReturn.id, 1, true, 'MAH-P-1-1'],
      ['UNKNOWN_CREDIT', ofDebit.id, 2, true, 'MAH-P-2-1'],
      ['UNMATCHED_DEBIT', ofCredit.id, 3, true, 'MAH-P-3-1'],
      ['UNMATCHED_DEBIT', ofContribution.id, null, true, null],
    ]);
    expect(outcome.exceptions[2]!.evidence.reason).toMatch(/must not be paid again/);
    // Nor does the amount + name rule ask the book for a reversal's amount.
    expect(amountRuleAmounts([ofCredit, ofContribution], [])).toEqual([]);
  });

  const units = [{ unitId: 7, creditCode: UNIT_CODE }, { unitId: 8, creditCode: OTHER_CODE }];
  const contributions = [
    { unitId: 7, planYear: 2024, owedFen: 480_000, paidFen: 0 },
    { unitId: 7, planYear: 2025, owedFen: 500_000, paidFen: 100_000 },
    { unitId: 8, planYear: 2025, owedFen: 96_00, paidFen: 0 },
  ];

  it('matches a contribution by its reference, in part or in full, and several years in one transfer (one-to-many)', () => {
    const part = entry('CRDT', 150_000, [{ remittanceInfo: [`2025年度互助金 MAH2025${UNIT_CODE}`], debtor: { name: '某公司工会', account: '35050164620700000123' } }]);
    const rest = entry('CRDT', 250_000, [{ remittanceInfo: [`mah2025${UNIT_CODE.toLowerCase()}`] }]);
    const both = entry('CRDT', 480_000 + 9_600, [{ remittanceInfo: [`MAH2024${UNIT_CODE}`, `MAH2025${OTHER_CODE}`] }]);
    const outcome = matchEntries([part, rest, both], book({ units, contributions }));
    expect(outcome.exceptions).toEqual([]);
    expect(outcome.matches.map((m) => m.kind === 'CONTRIBUTION' && [m.entryId, m.unitId, m.planYear, m.amountFen])).toEqual([
      [part.id, 7, 2025, 150_000], [rest.id, 7, 2025, 250_000], [both.id, 7, 2024, 480_000], [both.id, 8, 2025, 9_600],
    ]);
    expect(outcome.learnedPayers).toEqual([{ account: '35050164620700000123', unitId: 7 }]);
  });

  it('refuses what would overpay a year, several years not paid exactly, and references of no unit', () => {
    const over = entry('CRDT', 400_001, [{ remittanceInfo: [`MAH2025${UNIT_CODE}`] }]);
    const years = entry('CRDT', 480_000, [{ remittanceInfo: [`MAH2024${UNIT_CODE} MAH2025${UNIT_CODE}`] }]);
    const nobody = entry('CRDT', 100, [{ remittanceInfo: [`MAH2025${withCreditCodeCheck('91350500MA2YB9999')}`] }]);
    const outcome = matchEntries([over, years, nobody], book({ units, contributions }));
    expect(outcome.matches).toEqual([]);
    expect(outcome.exceptions.map((e) => [e.kind, e.evidence.expectedFen ?? null])).toEqual([['AMOUNT_MISMATCH', 400_000], ['AMOUNT_MISMATCH', 880_000], ['UNKNOWN_CREDIT', null]]);
  });

  it('matches a transfer without reference by a payer account the unit used before, only for an amount still owed', () => {
    const payers = [{ account: '35050164620700000123', unitId: 7 }];
    const oneYear = entry('CRDT', 400_000, [{ debtor: { account: '35050164620700000123' } }]);
    const allYears = entry('CRDT', 880_000, [{ debtor: { account: '35050164620700000123' } }]);
    const odd = entry('CRDT', 123, [{ debtor: { account: '35050164620700000123' } }]);
    const unknown = entry('CRDT', 400_000, [{ debtor: { account: '999' } }]);
    const one = matchEntries([oneYear, odd, unknown], book({ units, contributions, payers }));
    expect(one.matches.map((m) => m.kind === 'CONTRIBUTION' && [m.rule, m.planYear, m.amountFen])).toEqual([['PAYER_ACCOUNT', 2025, 400_000]]);
    expect(one.exceptions.map((e) => e.kind)).toEqual(['UNKNOWN_CREDIT', 'UNKNOWN_CREDIT']);
    const all = matchEntries([allYears], book({ units, contributions, payers }));
    expect(all.matches.map((m) => m.kind === 'CONTRIBUTION' && [m.planYear, m.amountFen])).toEqual([[2024, 480_000], [2025, 400_000]]);
  });

  it('takes a payment a clerk already recorded under the bank reference as that payment, counted once', () => {
    const credit = entry('CRDT', 480_000, [{ remittanceInfo: [`MAH2024${UNIT_CODE}`] }], { accountServicerRef: 'SIMC1' });
    const recordedPayments = [{ id: 55, reference: 'SIMC1', unitId: 7, planYear: 2024, amountFen: 480_000 }];
    const outcome = matchEntries([credit], book({ units, contributions: [{ unitId: 7, planYear: 2024, owedFen: 480_000, paidFen: 480_000 }], recordedPayments }));
    expect(outcome.matches).toEqual([{ kind: 'CONTRIBUTION', entryId: credit.id, txIndex: 0, rule: 'RECORDED_PAYMENT', amountFen: 480_000, unitId: 7, planYear: 2024, recordedPaymentId: 55 }]);
  });

  it('credits nothing under a recorded payment\'s bank reference (in any letter case) that does not fit it: another amount, a batch booking\'s transactions', () => {
    const recordedPayments = [
      { id: 56, reference: 'simc2', unitId: 7, planYear: 2024, amountFen: 100_000 },
      { id: 57, reference: 'SIMC3', unitId: 7, planYear: 2024, amountFen: 100_000 },
      { id: 58, reference: 'simc4', unitId: 7, planYear: 2024, amountFen: 100_000 },
    ];
    const quoted = { remittanceInfo: [`MAH2024${UNIT_CODE}`] };
    const other = entry('CRDT', 200_000, [quoted], { accountServicerRef: 'SIMC2' });
    const batch = entry('CRDT', 200_000, [{ ...quoted, amountFen: 100_000 }, { ...quoted, amountFen: 100_000 }], { accountServicerRef: 'simc3' });
    const fits = entry('CRDT', 100_000, [quoted], { accountServicerRef: 'SIMC4' });
    const outcome = matchEntries([other, batch, fits], book({ units, contributions, recordedPayments }));
    expect(outcome.matches).toEqual([{ kind: 'CONTRIBUTION', entryId: fits.id, txIndex: 0, rule: 'RECORDED_PAYMENT', amountFen: 100_000, unitId: 7, planYear: 2024, recordedPaymentId: 58 }]);
    expect(outcome.exceptions.map((e) => [e.kind, e.entryId, e.txIndex, e.evidence.expectedFen, (e.evidence.recordedPayments as { id: number }[]).map((p) => p.id)])).toEqual([
      ['AMOUNT_MISMATCH', other.id, 0, 100_000, [56]], ['AMOUNT_MISMATCH', batch.id, 1, 100_000, [57]], ['AMOUNT_MISMATCH', batch.id, 2, 100_000, [57]],
    ]);
    expect(outcome.exceptions[1]!.evidence.reason).toMatch(/SIMC3 \(payment 57, plan year 2024, 1000\.00\).* in transaction 1 of a batch booking/);
  });

  it('reads references written with full-width characters and finds each once', () => {
    expect(contributionReferences([`ＭＡＨ2025${UNIT_CODE} 再付 MAH2025${UNIT_CODE}`])).toEqual([{ planYear: 2025, creditCode: UNIT_CODE }]);
  });
});

describe('scale', () => {
  it('matches 50,000 entries against 50,000 payouts in linear work', async () => {
    const { countingReads } = await import('../support/workCount.ts');
    const payouts = countingReads(Array.from({ length: 50_000 }, (_, i) => payout(i + 1, { amountFen: 1_000 + i })));
    const entries = countingReads(payouts.items.map((p) => entry('DBIT', p.amountFen, [{ endToEndId: p.endToEndId }])));
    const before = payouts.reads() + entries.reads();
    const outcome = matchEntries(entries.items, book({ payouts: payouts.items }));
    expect(outcome.matches).toHaveLength(50_000);
    // Counted, not timed: quadratic matching reads a payout's fields once per entry (billions of
    // reads here); linear matching about ten per payout and per entry, measured (bench/reconciliation.ts times it).
    expect(payouts.reads() + entries.reads() - before).toBeLessThanOrEqual(100 * 100_000);
  });
});

describe('missing debits (T+2 business days) and the daily proof', () => {
  const holidays = new Set(['2025-10-01', '2025-10-02', '2025-10-03']);
  const undebited = { attemptId: 1, payoutId: 2, endToEndId: 'MAH-P-1-1', amountFen: 100, debtorAccount: ACCOUNT };

  it('counts business days, skipping weekends and bank holidays', () => {
    expect(addBusinessDays('2025-06-05', 2, holidays)).toBe('2025-06-09'); // Thursday -> Monday
    expect(addBusinessDays('2025-09-30', 2, holidays)).toBe('2025-10-07'); // over 国庆
  });

  it('raises a missing debit only after T+2', () => {
    const p = { ...undebited, expectedOn: '2025-06-05' };
    expect(missingDebits([p], '2025-06-09', 2, holidays)).toEqual([]);
    expect(missingDebits([p], '2025-06-10', 2, holidays)).toMatchObject([{ key: 'MISSING_DEBIT:1', kind: 'MISSING_DEBIT', attemptId: 1, evidence: { debitDueBy: '2025-06-09' } }]);
  });

  const figures = {
    account: ACCOUNT, date: '2025-06-04', openingFen: 1_000_000, closingFen: 900_000, creditsFen: 50_000, debitsFen: 150_000, entries: 3,
    recognizedCreditsFen: 50_000, recognizedDebitsFen: 150_000, unrecognizedEntries: 0, previousClosingFen: 1_000_000, previousDate: '2025-06-03',
  };

  it('proves a day whose arithmetic, continuity and expectation hold', () => {
    expect(dailyProof(figures)).toMatchObject({ balanced: true, continuous: true, expectedClosingFen: 900_000, differenceFen: 0, proven: true, problems: [] });
  });

  it('names what fails: the bank\'s arithmetic, a gap, entries the hub does not recognize', () => {
    const proof = dailyProof({ ...figures, closingFen: 899_999, previousClosingFen: 999_999, recognizedDebitsFen: 100_000, unrecognizedEntries: 1 });
    expect(proof).toMatchObject({ balanced: false, continuous: false, expectedClosingFen: 950_000, differenceFen: -50_001, proven: false });
    expect(proof.problems).toHaveLength(3);
  });
});
