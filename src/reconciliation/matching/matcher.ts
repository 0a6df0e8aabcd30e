import {
  DEBITABLE, exceptionKey,
  type BankEntry, type EntryState, type EntryToMatch, type EntryTransaction, type ExceptionFinding, type ExceptionKind, type ExpectedPayout,
  type MatchBook, type MatchDecision, type MatchOutcome, type MatchRule, type RecordedPayment,
} from './types.ts';
import { bankReferenceKey, maskBankCard } from '../../kernel/identifiers.ts';
import { fenToCny } from '../../kernel/money.ts';
import { dayNumber } from '../../kernel/time.ts';

/**
 * Matching (pure): booked statement entries against what the hub meant to move. Every lookup is a
 * hash lookup, so matching is linear in entries plus expected items (100,000 against 100,000 in
 * well under a second), and amounts must agree to the fen: there is no tolerance.
 *
 * Debits pay payouts: by EndToEndId, then the bank's reference (AcctSvcrRef from its pain.002),
 * then a batch booking (one debit for a whole PmtInf), then amount + date window + payee name
 * (never a payout the bank refused: a debit only such a payout may be is an exception naming it).
 * Whichever rule finds the payout, a debit or return the bank reports for another card than the
 * attempt's is an exception naming it, never the member's payment.
 * Credits are returns (退票) of payouts, by EndToEndId, or units' contributions: by a recorded
 * payment's bank reference (a credit under one that does not fit it is a person's call, never a
 * second payment), then by the reference the unit was told to quote (`MAH<year><credit code>`,
 * several years in one transfer allowed), then amount + an account the unit paid from before.
 * What does not match is an exception with the evidence a person needs.
 */

export interface MatchOptions {
  /** Calendar days between a payout's expected date and its debit for the amount + name rule. */
  dateWindowDays: number;
  /**
   * The keyed hash (hex) of a payee account as members' cards are hashed: a reported account is
   * compared with the attempt's whole card through it; without it (or for an attempt keeping no
   * hash) only masked, bank prefix and last four.
   */
  cardHash?: (account: string) => string;
}

export const DEFAULT_MATCH_OPTIONS: MatchOptions = { dateWindowDays: 3 };

const DEBITABLE_STATUSES = new Set<string>(DEBITABLE);
/** The reference a unit quotes (src/members/model.ts `contributionReference`): MAH + plan year + 18-character credit code. */
const CONTRIBUTION_REFERENCE = /MAH(\d{4})([0-9A-HJ-NPQRTUWXY]{18})/gi;

/** One transaction of an entry: the whole entry (index 0) or, in a batch booking, its n-th TxDtls. */
interface Transaction {
  entry: EntryToMatch;
  index: number;
  amountFen: number;
  details: EntryTransaction | undefined;
}

type Result = { matches: MatchDecision[] } | { exception: Omit<ExceptionFinding, 'key' | 'entryId' | 'txIndex'> };

export function matchEntries(entries: readonly EntryToMatch[], book: MatchBook, options: MatchOptions = DEFAULT_MATCH_OPTIONS): MatchOutcome {
  return new Matcher(book, options).run(entries);
}

/**
 * The amounts of the debits (reversals aside) no payout of `referenced` names (by EndToEndId, the bank's reference or
 * its batch): those the amount + name rule decides, so the open payouts of these amounts are all a
 * book needs besides `referenced`. Payouts found by amount never change which debits a reference
 * names: a payout with a debit's EndToEndId, reference or batch is among `referenced` already.
 */
export function amountRuleAmounts(entries: readonly EntryToMatch[], referenced: readonly ExpectedPayout[]): number[] {
  const references = new PayoutReferences(referenced);
  const ignored: ExceptionFinding[] = [];
  return entries.filter((e) => e.entry.creditDebit === 'DBIT' && e.entry.reversal !== true)
    .flatMap((entry) => transactionsOf(entry, ignored))
    .filter((tx) => references.namedBy(tx) === undefined)
    .map((tx) => tx.amountFen);
}

/** Payouts by what a transaction may name them with: EndToEndId, the bank's reference, their batch. */
class PayoutReferences {
  readonly byEndToEndId = new Map<string, ExpectedPayout>();
  private readonly byBankReference = new Map<string, ExpectedPayout>();
  private readonly byBatch = new Map<string, ExpectedPayout[]>();

  constructor(payouts: readonly ExpectedPayout[]) {
    for (const payout of payouts) {
      this.byEndToEndId.set(payout.endToEndId, payout);
      if (payout.bankReference) this.byBankReference.set(payout.bankReference, payout);
      for (const key of [`M:${payout.batchMsgId}`, `P:${payout.pmtInfId}`]) push(this.byBatch, key, payout);
    }
  }

  /** What a debit names: the payout of its EndToEndId, else of the bank's reference, else its batch's payouts; none leaves it to the amount + name rule. */
  namedBy(tx: Transaction): { rule: 'END_TO_END_ID' | 'BANK_REFERENCE'; payout: ExpectedPayout } | { rule: 'BATCH'; payouts: ExpectedPayout[] } | undefined {
    const { details, entry } = tx;
    const byEndToEndId = details?.endToEndId === undefined ? undefined : this.byEndToEndId.get(details.endToEndId);
    if (byEndToEndId) return { rule: 'END_TO_END_ID', payout: byEndToEndId };
    const references = [details?.accountServicerRef, tx.index === 0 ? entry.entry.accountServicerRef : undefined];
    for (const reference of references) {
      const payout = reference === undefined ? undefined : this.byBankReference.get(reference);
      if (payout) return { rule: 'BANK_REFERENCE', payout };
    }
    if (tx.index === 0 && details?.endToEndId === undefined) {
      const batch = entry.entry.batch;
      const keys = [batch?.pmtInfId && `P:${batch.pmtInfId}`, details?.pmtInfId && `P:${details.pmtInfId}`, batch?.msgId && `M:${batch.msgId}`, details?.msgId && `M:${details.msgId}`];
      for (const key of keys) {
        const payouts = key ? this.byBatch.get(key) : undefined;
        if (payouts) return { rule: 'BATCH', payouts };
      }
    }
    return undefined;
  }
}

/**
 * The entry as one transaction, or a batch booking's transactions, each with its own amount. A
 * batch whose amounts do not add up to the entry is an exception of its own (and none of its
 * transactions is matched: the bank's detail cannot be trusted).
 */
function transactionsOf(entry: EntryToMatch, exceptions: ExceptionFinding[]): Transaction[] {
  const { details, amountFen } = entry.entry;
  if (details.length <= 1) return [{ entry, index: 0, amountFen, details: details[0] }];
  const amounts = details.map((d) => d.amountFen);
  const sum = amounts.reduce<number>((total, a) => total + (a ?? 0), 0);
  if (amounts.some((a) => a === undefined) || sum !== amountFen) {
    exceptions.push({
      key: exceptionKey('AMOUNT_MISMATCH', entry.id, 0), kind: 'AMOUNT_MISMATCH', entryId: entry.id, txIndex: 0, attemptId: null, amountFen,
      evidence: {
        ...entryEvidence(entry),
        reason: amounts.some((a) => a === undefined)
          ? `a batch booking of ${details.length} transactions, not all with their amount (AmtDtls/TxAmt)`
          : `its ${details.length} transactions add up to ${fenToCny(sum)}, the entry is ${fenToCny(amountFen)}`,
      },
    });
    return [];
  }
  return details.map((d, i) => ({ entry, index: i + 1, amountFen: d.amountFen!, details: d }));
}

/** Names as banks print them vary in width and spacing (全角/半角): compare them normalized. */
export function normalizeName(name: string): string {
  return name.normalize('NFKC').replace(/\s+/g, '').toUpperCase();
}

/** The `MAH<year><credit code>` references in remittance text, each once, in order. */
export function contributionReferences(lines: readonly string[]): { planYear: number; creditCode: string }[] {
  const found = new Map<string, { planYear: number; creditCode: string }>();
  for (const line of lines) {
    for (const m of line.normalize('NFKC').matchAll(CONTRIBUTION_REFERENCE)) {
      const creditCode = m[2]!.toUpperCase();
      found.set(`${m[1]}${creditCode}`, { planYear: Number(m[1]), creditCode });
    }
  }
  return [...found.values()];
}

/**
 * Whether a credit may be a payout coming back: a return (退票: the ISO return code, or return
 * information), or a reversal of a debit (冲正), which only a person matches to its payout.
 */
export function isReturn(entry: BankEntry): boolean {
  return entry.bankTransactionCode.domain?.subFamily === 'RRTN' || entry.details.some((d) => d.returnInfo !== undefined) || entry.reversal === true;
}

class Matcher {
  private readonly references: PayoutReferences;
  private readonly byAmountAndName = new Map<string, ExpectedPayout[]>();
  /** Attempts the bank refused (RJCT), by amount and name: a debit of no reference may be one of them all the same. */
  private readonly refusedByAmountAndName = new Map<string, ExpectedPayout[]>();
  /** attempt id -> the entry that debited it (from earlier runs, then this one). */
  private readonly debited = new Map<number, number>();
  private readonly returned = new Set<number>();
  private readonly unitByCreditCode = new Map<string, number>();
  private readonly creditCodeOfUnit = new Map<number, string>();
  private readonly contributions = new Map<string, { owedFen: number; paidFen: number }>();
  private readonly yearsOfUnit = new Map<number, number[]>();
  private readonly unitsOfPayer = new Map<string, Set<number>>();
  /** Payments recorded by hand and not matched yet, by `bankReferenceKey` of their reference. */
  private readonly recorded = new Map<string, RecordedPayment[]>();
  private readonly learnedPayers: { account: string; unitId: number }[] = [];
  /** Reported payee accounts' keyed hashes (`cardHash`). */
  private readonly cardHashes = new Map<string, string>();

  constructor(book: MatchBook, private readonly options: MatchOptions) {
    this.references = new PayoutReferences(book.payouts);
    for (const payout of book.payouts) {
      if (payout.debitEntryId !== null) this.debited.set(payout.attemptId, payout.debitEntryId);
      if (payout.returned) this.returned.add(payout.attemptId);
      if (DEBITABLE_STATUSES.has(payout.status)) push(this.byAmountAndName, amountAndName(payout.amountFen, payout.creditorName), payout);
    }
    for (const payout of book.refused) {
      if (payout.status !== 'REJECTED') continue;
      if (payout.debitEntryId !== null && !this.debited.has(payout.attemptId)) this.debited.set(payout.attemptId, payout.debitEntryId);
      push(this.refusedByAmountAndName, amountAndName(payout.amountFen, payout.creditorName), payout);
    }
    for (const unit of book.units) {
      this.unitByCreditCode.set(unit.creditCode.toUpperCase(), unit.unitId);
      this.creditCodeOfUnit.set(unit.unitId, unit.creditCode);
    }
    for (const c of [...book.contributions].sort((a, b) => a.planYear - b.planYear)) {
      this.contributions.set(`${c.unitId}:${c.planYear}`, { owedFen: c.owedFen, paidFen: c.paidFen });
      push(this.yearsOfUnit, c.unitId, c.planYear);
    }
    for (const payer of book.payers) this.addPayer(payer.account, payer.unitId);
    for (const payment of book.recordedPayments) push(this.recorded, bankReferenceKey(payment.reference), payment);
  }

  run(entries: readonly EntryToMatch[]): MatchOutcome {
    const matches: MatchDecision[] = [];
    const exceptions: ExceptionFinding[] = [];
    const entryStates = new Map<number, EntryState>();
    for (const entry of entries) {
      let state: EntryState = 'MATCHED';
      for (const tx of transactionsOf(entry, exceptions)) {
        const result = entry.entry.reversal === true ? this.reversal(tx) : entry.entry.creditDebit === 'DBIT' ? this.debit(tx) : this.credit(tx);
        if ('matches' in result) {
          matches.push(...result.matches);
        } else {
          state = 'EXCEPTION';
          exceptions.push({ key: exceptionKey(result.exception.kind, entry.id, tx.index), entryId: entry.id, txIndex: tx.index, ...result.exception });
        }
      }
      if (exceptions.at(-1)?.entryId === entry.id) state = 'EXCEPTION';
      entryStates.set(entry.id, state);
    }
    return { matches, exceptions, entryStates, learnedPayers: this.learnedPayers };
  }

  // ------------------------------------------------------------ reversals (冲正)

  /**
   * Never matched by itself: a reversal names the booking it undoes only as the bank chooses to, and
   * taking it for a payout's return (or a return's undoing) on a guess could pay a member twice or
   * not at all. The exception names the payout its references point to, for the person who decides.
   */
  private reversal(tx: Transaction): Result {
    const credit = tx.entry.entry.creditDebit === 'CRDT';
    const named = this.references.namedBy(tx);
    const payout = named === undefined || named.rule === 'BATCH' ? undefined : named.payout;
    return exception(credit ? 'UNKNOWN_CREDIT' : 'UNMATCHED_DEBIT', tx.amountFen, payout?.attemptId ?? null, {
      ...transactionEvidence(tx), reversal: true, ...(payout ? { endToEndId: payout.endToEndId, payoutId: payout.payoutId } : {}),
      reason: credit
        ? 'a reversal (冲正) of an earlier debit: if it brings a payout back, match it to that payout as its return'
        : 'a reversal (冲正) of an earlier credit: if it undoes a payout\'s return (退票), the member kept the money and the payout must not be paid again; '
          + 'if it takes back a unit\'s transfer, match it to the contribution payments it reverses',
    });
  }

  // ------------------------------------------------------------ debits: payouts

  private debit(tx: Transaction): Result {
    const referenced = this.references.namedBy(tx);
    if (referenced === undefined) return this.debitByAmountAndName(tx);
    return referenced.rule === 'BATCH' ? this.batchDebit(tx, referenced.payouts) : this.payoutDebit(tx, referenced.payout, referenced.rule);
  }

  private payoutDebit(tx: Transaction, payout: ExpectedPayout, rule: MatchRule): Result {
    // Evidence is built only for an exception: most debits match.
    const evidence = () => ({ ...transactionEvidence(tx), endToEndId: payout.endToEndId, matchedBy: rule, payoutId: payout.payoutId });
    // Each funder's payouts leave its own account: a debit elsewhere is not that payment's.
    if (payout.debtorAccount !== tx.entry.account) {
      return exception('UNMATCHED_DEBIT', tx.amountFen, payout.attemptId, {
        ...evidence(), debtorAccount: payout.debtorAccount, reason: `the payout is paid from account ${payout.debtorAccount}, not from ${tx.entry.account}`,
      });
    }
    // Our payment's references on a debit to another card than the one FINANCE approved: a stranger was paid, maybe not
    // the member. Named, the payout counts as paid by the bank (no blind retry) and a person finds out with the bank.
    const card = this.otherCard(tx, payout);
    if (card !== undefined) {
      return exception('UNMATCHED_DEBIT', tx.amountFen, payout.attemptId, {
        ...evidence(), creditorAccountMasked: payout.creditorAccountMasked,
        reason: `the bank paid card ${otherCardText(card, payout)}, the payment is to ${payout.creditorAccountMasked}: find with the bank who was paid before settling or retrying it`,
      });
    }
    if (payout.amountFen !== tx.amountFen) {
      return exception('AMOUNT_MISMATCH', tx.amountFen, payout.attemptId, {
        ...evidence(), expectedFen: payout.amountFen, reason: `the payout is ${fenToCny(payout.amountFen)}, the bank debited ${fenToCny(tx.amountFen)}`,
      });
    }
    const earlier = this.debited.get(payout.attemptId);
    if (earlier !== undefined) {
      return exception('DUPLICATE_DEBIT', tx.amountFen, payout.attemptId, { ...evidence(), firstEntryId: earlier, reason: `the payout was already debited by entry ${earlier}` });
    }
    if (!DEBITABLE_STATUSES.has(payout.status)) {
      return exception('UNMATCHED_DEBIT', tx.amountFen, payout.attemptId, {
        ...evidence(), attemptStatus: payout.status, reason: `the hub holds this payment as ${payout.status}: the bank should not have debited it`,
      });
    }
    this.debited.set(payout.attemptId, tx.entry.id);
    return { matches: [{ kind: 'PAYOUT', entryId: tx.entry.id, txIndex: tx.index, rule, amountFen: tx.amountFen, attemptId: payout.attemptId }] };
  }

  /** One debit for a whole payment information block (批量代付): the sum of its credited payments, to the fen. */
  private batchDebit(tx: Transaction, payouts: ExpectedPayout[]): Result {
    const open = payouts.filter((p) => p.status === 'PAID' && !this.debited.has(p.attemptId));
    const expectedFen = open.reduce((sum, p) => sum + p.amountFen, 0);
    const evidence = { ...transactionEvidence(tx), batchMsgId: payouts[0]!.batchMsgId, pmtInfId: payouts[0]!.pmtInfId, matchedBy: 'BATCH' };
    if (payouts[0]!.debtorAccount !== tx.entry.account) {
      return exception('UNMATCHED_DEBIT', tx.amountFen, null, {
        ...evidence, debtorAccount: payouts[0]!.debtorAccount, reason: `the batch is paid from account ${payouts[0]!.debtorAccount}, not from ${tx.entry.account}`,
      });
    }
    if (open.length === 0) {
      return exception('DUPLICATE_DEBIT', tx.amountFen, null, { ...evidence, reason: 'every credited payment of this batch is already debited' });
    }
    if (expectedFen !== tx.amountFen) {
      return exception('AMOUNT_MISMATCH', tx.amountFen, null, {
        ...evidence, expectedFen, payments: open.length,
        reason: `the batch's ${open.length} credited payments add up to ${fenToCny(expectedFen)}, the bank debited ${fenToCny(tx.amountFen)}`,
      });
    }
    for (const p of open) this.debited.set(p.attemptId, tx.entry.id);
    return {
      matches: open.map((p) => ({ kind: 'PAYOUT' as const, entryId: tx.entry.id, txIndex: tx.index, rule: 'BATCH' as const, amountFen: p.amountFen, attemptId: p.attemptId })),
    };
  }

  /**
   * No reference the hub knows: the one payout of that amount to that name expected closest to the
   * booking date, to the same card where the bank reports the payee's account (a namesake paid
   * the same amount from the account is not the member). Where none is expected, a payout the bank
   * refused may be what it debited all the same (`debitAfterRefusal`): one executed or refused within
   * the window of the booking, or in between (the bank debits on execution and may answer RJCT days
   * later), its distance the days from the booking to that span (0 within it).
   */
  private debitByAmountAndName(tx: Transaction): Result {
    const name = tx.details?.creditor?.name;
    if (name === undefined) return exception('UNMATCHED_DEBIT', tx.amountFen, null, { ...transactionEvidence(tx), reason: 'no payout has its references, and it names no payee' });
    const card = reportedCard(tx);
    const booked = dayNumber(tx.entry.bookingDate);
    const key = amountAndName(tx.amountFen, name);
    const fits = (p: ExpectedPayout) => !this.debited.has(p.attemptId) && this.otherCard(tx, p) === undefined;
    const distance = (p: ExpectedPayout) => Math.abs(dayNumber(p.expectedOn) - booked);
    const candidates = (this.byAmountAndName.get(key) ?? []).filter(fits)
      .map((p) => ({ payout: p, distance: distance(p) }))
      .filter((c) => c.distance <= this.options.dateWindowDays)
      .sort((a, b) => a.distance - b.distance);
    const best = candidates[0];
    if (!best) {
      // Days from the booking to the span from the refused attempt's execution to its refusal (expectedOn): 0 within it.
      const refusedDistance = (p: ExpectedPayout) => {
        const executed = dayNumber(p.executedOn);
        const refusedOn = dayNumber(p.expectedOn);
        return Math.max(Math.min(executed, refusedOn) - booked, booked - Math.max(executed, refusedOn), 0);
      };
      const refused = (this.refusedByAmountAndName.get(key) ?? [])
        .filter((p) => p.debtorAccount === tx.entry.account && fits(p) && refusedDistance(p) <= this.options.dateWindowDays)
        .sort((a, b) => refusedDistance(a) - refusedDistance(b) || distance(a) - distance(b) || b.attemptId - a.attemptId);
      if (refused.length > 0) return this.debitAfterRefusal(tx, name, refused);
      return exception('UNMATCHED_DEBIT', tx.amountFen, null, {
        ...transactionEvidence(tx),
        reason: `no payout has its references, nor is one of ${fenToCny(tx.amountFen)} to ${name}${card === undefined ? '' : ` (${card})`} expected within ${this.options.dateWindowDays} days`,
      });
    }
    if (candidates[1]?.distance === best.distance) {
      const tied = candidates.filter((c) => c.distance === best.distance).map((c) => c.payout.endToEndId);
      return exception('UNMATCHED_DEBIT', tx.amountFen, null, {
        ...transactionEvidence(tx), candidates: tied, reason: `${tied.length} payouts of ${fenToCny(tx.amountFen)} to ${name} are expected that day: match it by hand`,
      });
    }
    return this.payoutDebit(tx, best.payout, 'AMOUNT_DATE_NAME');
  }

  /**
   * A debit of no reference that no expected payout is but a payout the bank refused (RJCT) may be:
   * banks have debited a payment and refused it all the same. It is never matched to the refused
   * attempt (the hub holds it as failed); the attempt is named, so its payout counts as paid by the
   * bank (payout_paid_by_bank) and its retry takes four eyes. Refused attempts of several payouts
   * are named by none but listed (`refused`): each counts as paid until people find which, if any,
   * the bank paid (two of them, to match the debit to another payout). (Several refused attempts of
   * one payout are no such doubt: the one whose span from execution to refusal is closest to the
   * booking is named.) An expected payout of that amount and name is preferred: a one-person
   * retry's own debit settles it, and were the debit the refused payment's, the retry's own would
   * come second and name the refused one here. `refused` comes closest first.
   */
  private debitAfterRefusal(tx: Transaction, name: string, refused: ExpectedPayout[]): Result {
    const amount = `${fenToCny(tx.amountFen)} to ${name}`;
    const refusedIds = refused.map((p) => p.endToEndId);
    if (new Set(refused.map((p) => p.payoutId)).size > 1) {
      return exception('UNMATCHED_DEBIT', tx.amountFen, null, {
        ...transactionEvidence(tx), refused: refusedIds,
        reason: `${refused.length} payments of ${amount} the bank refused (RJCT) may each be what it debited (${refusedIds.join(', ')}): `
          + 'find with the bank which it paid before retrying any of them',
      });
    }
    const payout = refused[0]!;
    return exception('UNMATCHED_DEBIT', tx.amountFen, payout.attemptId, {
      ...transactionEvidence(tx), endToEndId: payout.endToEndId, payoutId: payout.payoutId, matchedBy: 'AMOUNT_DATE_NAME', attemptStatus: payout.status,
      ...(refused.length > 1 ? { refused: refusedIds } : {}),
      reason: `debited by amount and name (${amount}) after the bank refused it (RJCT), no other payment of that amount to that name expected: the bank may have paid ${payout.endToEndId} all the same`,
    });
  }

  /**
   * The payee card the bank reports (masked, for the evidence) when it is not the attempt's;
   * undefined when it is, or when the statement names no account, as banks often do: then the
   * references decide alone. Compared whole through the keyed hash where the attempt keeps one.
   */
  private otherCard(tx: Transaction, payout: ExpectedPayout): string | undefined {
    const account = tx.details?.creditor?.account;
    if (account === undefined) return undefined;
    const { cardHash } = this.options;
    const same = cardHash !== undefined && payout.creditorAccountHash !== null
      ? this.hashOf(account, cardHash) === payout.creditorAccountHash
      : maskBankCard(account) === payout.creditorAccountMasked;
    return same ? undefined : maskBankCard(account);
  }

  /** A reported account's keyed hash, once per account a run meets. */
  private hashOf(account: string, cardHash: (account: string) => string): string {
    let hash = this.cardHashes.get(account);
    if (hash === undefined) this.cardHashes.set(account, hash = cardHash(account));
    return hash;
  }

  // ------------------------------------------------------------ credits: returns and contributions

  private credit(tx: Transaction): Result {
    return isReturn(tx.entry.entry) ? this.returnCredit(tx) : this.contributionCredit(tx);
  }

  private returnCredit(tx: Transaction): Result {
    const endToEndId = tx.details?.endToEndId;
    const payout = endToEndId === undefined ? undefined : this.references.byEndToEndId.get(endToEndId);
    const evidence = { ...transactionEvidence(tx), returnReason: tx.details?.returnInfo?.reasonCode ?? null };
    if (!payout) {
      return exception('UNKNOWN_CREDIT', tx.amountFen, null, {
        ...evidence, reason: endToEndId === undefined ? 'a return (退票) naming no EndToEndId' : `a return (退票) of ${endToEndId}, which is no payout of ours`,
      });
    }
    const about = { ...evidence, endToEndId: payout.endToEndId, payoutId: payout.payoutId };
    if (payout.debtorAccount !== tx.entry.account) {
      return exception('UNKNOWN_CREDIT', tx.amountFen, payout.attemptId, {
        ...about, debtorAccount: payout.debtorAccount, reason: `a return (退票) of a payout paid from account ${payout.debtorAccount}, credited to ${tx.entry.account}`,
      });
    }
    // A return from another card than the attempt's is not this payment coming back: matched, it would make the payout retryable.
    const card = this.otherCard(tx, payout);
    if (card !== undefined) {
      return exception('UNKNOWN_CREDIT', tx.amountFen, payout.attemptId, {
        ...about, creditorAccountMasked: payout.creditorAccountMasked,
        reason: `a return (退票) from card ${otherCardText(card, payout)}, the payment was to ${payout.creditorAccountMasked}: find with the bank which payment came back`,
      });
    }
    if (payout.amountFen !== tx.amountFen) {
      return exception('AMOUNT_MISMATCH', tx.amountFen, payout.attemptId, {
        ...about, expectedFen: payout.amountFen, reason: `the payout was ${fenToCny(payout.amountFen)}, the bank returned ${fenToCny(tx.amountFen)}`,
      });
    }
    if (this.returned.has(payout.attemptId) || payout.status !== 'PAID') {
      return exception('UNKNOWN_CREDIT', tx.amountFen, payout.attemptId, {
        ...about, attemptStatus: payout.status,
        reason: this.returned.has(payout.attemptId) ? 'the payout was already returned' : `a return of a payment the hub holds as ${payout.status}, not as credited`,
      });
    }
    this.returned.add(payout.attemptId);
    const info = tx.details?.returnInfo;
    return {
      matches: [{
        kind: 'RETURN', entryId: tx.entry.id, txIndex: tx.index, rule: 'END_TO_END_ID', amountFen: tx.amountFen, attemptId: payout.attemptId,
        endToEndId: payout.endToEndId, reasonCode: info?.reasonCode ?? 'NARR', reason: info?.additionalInfo ?? null,
      }],
    };
  }

  private contributionCredit(tx: Transaction): Result {
    const { entry, details, amountFen } = tx;
    const evidence = transactionEvidence(tx);
    const payer = details?.debtor?.account;

    const reference = entry.entry.accountServicerRef;
    const recorded = reference === undefined ? undefined : this.recorded.get(bankReferenceKey(reference));
    if (recorded) return this.recordedCredit(tx, recorded);

    const references = contributionReferences([...(details?.remittanceInfo ?? []), ...(entry.entry.additionalInfo ? [entry.entry.additionalInfo] : [])]);
    if (references.length > 0) {
      const known = references.filter((r) => this.unitByCreditCode.has(r.creditCode));
      if (known.length === 0) {
        return exception('UNKNOWN_CREDIT', amountFen, null, {
          ...evidence, references: references.map((r) => `MAH${r.planYear}${r.creditCode}`),
          reason: `no unit has the credit code ${references.map((r) => r.creditCode).join(', ')}`,
        });
      }
      const years = known.map((r) => ({ unitId: this.unitByCreditCode.get(r.creditCode)!, planYear: r.planYear }));
      const result = this.allocate(tx, years, 'CONTRIBUTION_REFERENCE', years.length === 1);
      if ('matches' in result && payer !== undefined) for (const unitId of new Set(years.map((y) => y.unitId))) this.addPayer(payer, unitId, true);
      return result;
    }

    const units = payer === undefined ? undefined : this.unitsOfPayer.get(payer);
    if (units?.size === 1) {
      const [unitId] = units;
      const open = (this.yearsOfUnit.get(unitId!) ?? []).map((planYear) => ({ unitId: unitId!, planYear })).filter((y) => this.outstanding(y) > 0);
      const single = open.filter((y) => this.outstanding(y) === amountFen);
      if (single.length === 1) return this.allocate(tx, single, 'PAYER_ACCOUNT', false);
      if (open.length > 0 && open.reduce((sum, y) => sum + this.outstanding(y), 0) === amountFen) return this.allocate(tx, open, 'PAYER_ACCOUNT', false);
      return exception('UNKNOWN_CREDIT', amountFen, null, {
        ...evidence, unitCreditCode: this.creditCodeOfUnit.get(unitId!),
        openYears: open.map((y) => ({ planYear: y.planYear, outstandingFen: this.outstanding(y) })),
        reason: `no reference; the payer's account is the unit's, but ${fenToCny(amountFen)} is not what one open year, or all together, still owe`,
      });
    }
    return exception('UNKNOWN_CREDIT', amountFen, null, {
      ...evidence, reason: units && units.size > 1 ? 'no reference, and several units pay from this account' : 'no contribution reference and no known payer account',
    });
  }

  /**
   * A credit of a booking a clerk recorded by hand from the bank's advice. The whole entry of the
   * recorded amount is that payment, counted once; anything else (another amount, a transaction of
   * a batch booking, several payments under the reference) is a person's call, since crediting it
   * as well would count the transfer twice.
   */
  private recordedCredit(tx: Transaction, recorded: RecordedPayment[]): Result {
    const payment = recorded.length === 1 ? recorded[0]! : undefined;
    if (payment && tx.index === 0 && payment.amountFen === tx.amountFen) {
      this.recorded.delete(bankReferenceKey(payment.reference));
      return { matches: [contribution(tx, 'RECORDED_PAYMENT', payment.unitId, payment.planYear, tx.amountFen, payment.id)] };
    }
    const recordedFen = recorded.reduce((sum, p) => sum + p.amountFen, 0);
    const payments = recorded.map((p) => `${p.reference} (payment ${p.id}, plan year ${p.planYear}, ${fenToCny(p.amountFen)})`).join(', ');
    return exception('AMOUNT_MISMATCH', tx.amountFen, null, {
      ...transactionEvidence(tx), expectedFen: recordedFen, recordedPayments: recorded,
      reason: `the transfer is recorded by hand already: ${payments}; the bank credited ${fenToCny(tx.amountFen)}`
        + `${tx.index > 0 ? ` in transaction ${tx.index} of a batch booking` : ''}: a person decides what it pays, counting that payment once`,
    });
  }

  /**
   * The credit over the referenced plan years. One year may be paid in part (`partial`); several
   * years at once must be exactly what they still owe together, each getting its outstanding part.
   */
  private allocate(tx: Transaction, years: { unitId: number; planYear: number }[], rule: MatchRule, partial: boolean): Result {
    const owing = years.map((y) => ({ ...y, outstandingFen: this.outstanding(y) }));
    const outstandingFen = owing.reduce((sum, y) => sum + y.outstandingFen, 0);
    const fits = partial ? tx.amountFen <= outstandingFen : tx.amountFen === outstandingFen;
    if (!fits) {
      return exception('AMOUNT_MISMATCH', tx.amountFen, null, {
        ...transactionEvidence(tx), expectedFen: outstandingFen,
        years: owing.map((y) => ({ unitCreditCode: this.creditCodeOfUnit.get(y.unitId), planYear: y.planYear, outstandingFen: y.outstandingFen })),
        reason: partial
          ? `${fenToCny(tx.amountFen)} is more than the ${fenToCny(outstandingFen)} still owed for ${owing[0]!.planYear}`
          : `${fenToCny(tx.amountFen)} is not the ${fenToCny(outstandingFen)} the ${owing.length} plan years still owe together`,
      });
    }
    const matches = partial
      ? [contribution(tx, rule, owing[0]!.unitId, owing[0]!.planYear, tx.amountFen, null)]
      : owing.filter((y) => y.outstandingFen > 0).map((y) => contribution(tx, rule, y.unitId, y.planYear, y.outstandingFen, null));
    for (const m of matches) this.contributions.get(`${m.unitId}:${m.planYear}`)!.paidFen += m.amountFen;
    return { matches };
  }

  private outstanding(year: { unitId: number; planYear: number }): number {
    let figures = this.contributions.get(`${year.unitId}:${year.planYear}`);
    if (!figures) {
      // A year with neither enrolments nor payments owes nothing (yet).
      figures = { owedFen: 0, paidFen: 0 };
      this.contributions.set(`${year.unitId}:${year.planYear}`, figures);
    }
    return Math.max(0, figures.owedFen - figures.paidFen);
  }

  private addPayer(account: string, unitId: number, learned = false): void {
    const units = this.unitsOfPayer.get(account) ?? new Set<number>();
    if (units.has(unitId)) return;
    units.add(unitId);
    this.unitsOfPayer.set(account, units);
    if (learned) this.learnedPayers.push({ account, unitId });
  }
}

/** The key of the amount + name rule. */
const amountAndName = (amountFen: number, name: string) => `${amountFen}|${normalizeName(name)}`;

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function exception(kind: ExceptionKind, amountFen: number, attemptId: number | null, evidence: Record<string, unknown>): Result {
  return { exception: { kind, amountFen, attemptId, evidence } };
}

function contribution(tx: Transaction, rule: MatchRule, unitId: number, planYear: number, amountFen: number, recordedPaymentId: number | null): MatchDecision & { kind: 'CONTRIBUTION' } {
  return { kind: 'CONTRIBUTION', entryId: tx.entry.id, txIndex: tx.index, rule, amountFen, unitId, planYear, recordedPaymentId };
}

/** Another card than the attempt's, masked: said so where the masks alone cannot tell them apart. */
function otherCardText(card: string, payout: ExpectedPayout): string {
  return card === payout.creditorAccountMasked ? `${card} (another card with the same first and last four digits)` : card;
}

/** The payee's card the bank reports (a debit's, a return's), masked as an attempt shows its own; undefined where it names none. */
function reportedCard(tx: Transaction): string | undefined {
  const account = tx.details?.creditor?.account;
  return account === undefined ? undefined : maskBankCard(account);
}

/** What the bank said about the entry: enough for a person to find it in the bank's own records. */
function entryEvidence(entry: EntryToMatch): Record<string, unknown> {
  const e = entry.entry;
  return {
    account: entry.account, bookingDate: entry.bookingDate, creditDebit: e.creditDebit, amountFen: e.amountFen,
    accountServicerRef: e.accountServicerRef ?? null, bankTransactionCode: e.bankTransactionCode, batch: e.batch ?? null,
  };
}

function transactionEvidence(tx: Transaction): Record<string, unknown> {
  const d = tx.details;
  return {
    ...entryEvidence(tx.entry),
    ...(tx.index > 0 ? { transactionAmountFen: tx.amountFen } : {}),
    endToEndIdReported: d?.endToEndId ?? null,
    transactionReference: d?.accountServicerRef ?? null,
    counterparty: counterparty(tx),
    remittanceInfo: d?.remittanceInfo ?? [],
  };
}

/** The other party; a payee is a member, whose card number is personal data and shown masked. */
function counterparty(tx: Transaction): Record<string, unknown> | null {
  const d = tx.details;
  const payee = tx.entry.entry.creditDebit === 'DBIT' || isReturn(tx.entry.entry);
  const party = payee ? d?.creditor : d?.debtor;
  if (!party) return null;
  return payee && party.account !== undefined ? { ...party, account: maskBankCard(party.account) } : { ...party };
}
