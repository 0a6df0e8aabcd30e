import { canMove } from '../kernel/transitions.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { conflict, invalid, notFound, type DomainError } from '../kernel/errors.ts';
import { fenToCny } from '../kernel/money.ts';
import type { Db, Tx } from '../kernel/transaction.ts';
import { settlePayoutAttempts } from '../payouts/bankEvents.ts';
import { paidByBank } from '../payouts/store/payouts.ts';
import { contributionFigures, lockContributionPayments } from '../members/store.ts';
import { aboveThreshold, decideOrPropose, proposeWhen, whyCoverageNeedsSecondPerson } from './fourEyes.ts';
import { isReturn } from './matching/matcher.ts';
import { DEBITABLE, type BankEntry, type EntryToMatch, type MatchDecision, type RecordedPayment } from './matching/types.ts';
import { EXCEPTION_TRANSITIONS, type Confirmed, type ExceptionStatus, type ManualMatch, type OpenException } from './model.ts';
import { lockedRecordedPayments, recordContributionPayments, recordReturns, refreshProofs } from './run.ts';
import * as store from './store/resolutions.ts';
import { entryToMatch, insertMatches, lockAccounts, type MatchRow } from './store/runs.ts';

/**
 * A person resolving an exception: matching its transaction by hand (to payouts by EndToEndId, or
 * to units' plan years), or writing it off with a reason. Amounts must agree to the fen. The
 * decision and its audit record commit together; the day's proof is recomputed with them. Above
 * FOUR_EYES_ABOVE_FEN the decision is a proposal a second person confirms (fourEyes.ts), as is,
 * whatever its amount, a match of a debit to another payout than one it counts as paid by the bank,
 * and of a credit to units' contributions that would cover an enrolment.
 * A refused decision is a DomainError naming the input field, as the API shows it.
 */

/** Writes the exception off at once, or (above `aboveFen`) proposes it: the proposal's id, else null. */
export async function writeOffException(db: Db, actor: Actor, exceptionId: number, reason: string, aboveFen: number): Promise<number | null> {
  const why = reason.trim();
  if (why.length < 4) throw invalid('input.reason', 'say why it is written off (at least 4 characters)');
  return inTransaction(db, (tx) => withOpenException(tx, exceptionId, (x) => decideOrPropose(
    tx, actor, aboveFen, { kind: 'EXCEPTION_WRITE_OFF', exceptionId: x.id, amountFen: x.amountFen, decision: { reason: why } }, () => applyWriteOff(tx, actor, x, why),
  )));
}

export async function applyWriteOff(tx: Tx, actor: Actor, x: OpenException, reason: string, confirmed?: Confirmed): Promise<void> {
  await close(tx, x, 'WRITTEN_OFF', reason, actor);
  await recordAudit(tx, actor, {
    action: 'reconciliation.exception.write_off', targetType: 'ReconciliationException', targetId: String(x.id), reason,
    details: { kind: x.kind, account: x.account, entryId: x.entryId, amountFen: x.amountFen, ...confirmed },
  });
}

/**
 * Matches the exception's transaction at once, or proposes it: above `aboveFen`, or whatever its
 * amount when it would free a payout its debit counts as paid (`whyFreeingNeedsSecondPerson`) or
 * cover an enrolment with its credit (`whyCoveringNeedsSecondPerson`). The proposal's id, else null.
 */
export async function matchException(db: Db, actor: Actor, exceptionId: number, target: ManualMatch, aboveFen: number): Promise<number | null> {
  return inTransaction(db, (tx) => withOpenException(tx, exceptionId, async (x) => {
    // As a manual payment takes it, before what is paid is read, until the commit: no other payment (a match on another
    // account, a manual one, reconciliation's) lands in between, so two that each cover no one cannot together. After the
    // account's lock, as reconciliation runs take the two, and before checkedMatch's shared one.
    if ((target.contributions ?? []).length > 0) await lockContributionPayments(tx, 'exclusive');
    const match = await checkedMatch(tx, x, target);
    return proposeWhen(
      tx, actor, aboveThreshold(x.amountFen, aboveFen) ?? await whyFreeingNeedsSecondPerson(tx, actor, x, match) ?? await whyCoveringNeedsSecondPerson(tx, match),
      { kind: 'EXCEPTION_MATCH', exceptionId: x.id, amountFen: x.amountFen, decision: target }, () => applyCheckedMatch(tx, actor, x, target, match),
    );
  }));
}

/**
 * Why matching the debit's transaction to these payouts needs a second person whatever its amount,
 * or null. A debit whose exceptions name a payout's attempt, or list the refused (RJCT) ones it may
 * be, counts those payouts as paid by the bank, so that one person cannot retry them; matched to
 * another payout, it may no longer. One person's match would so let them, or anyone after them, pay
 * again a member the bank may have paid, and mark the other payout paid by a debit that may not be
 * its own. payout_paid_by_bank alone says which it frees: asked before and after the match's rows
 * are written, then undone, of every payout the entry's exceptions may count.
 */
async function whyFreeingNeedsSecondPerson(tx: Tx, actor: Actor, x: OpenException, match: CheckedMatch): Promise<string | null> {
  if (match.entry.entry.creditDebit !== 'DBIT' || match.attempts.length === 0) return null;
  const named = new Set(match.attempts.map((a) => a.payoutId));
  const candidates = (await store.payoutsExceptionsMayCountPaid(tx, match.entry.id)).filter((p) => !named.has(p.payoutId));
  if (candidates.length === 0) return null;
  const payoutIds = candidates.map((p) => p.payoutId);
  const before = await paidByBank(tx, payoutIds);
  const after = await store.undone(tx, async () => {
    await insertMatches(tx, payoutMatches(x, match), actor.subject, x.id);
    return paidByBank(tx, payoutIds);
  });
  const freed = candidates.filter((_, i) => before[i] && !after[i]);
  if (freed.length === 0) return null;
  return `the bank's debit counts ${freed.map((p) => `payout ${p.payoutId} (${p.endToEndIds.join(', ')})`).join(', ')} as paid by the bank: `
    + `matched to another payout it no longer would, and one person could retry ${freed.length > 1 ? 'them' : 'it'}`;
}

/**
 * Why matching the credit to these contributions needs a second person whatever its amount, or
 * null: it would make a unit's payments for a plan year cover an enrolment they do not cover yet.
 * The money is the bank's, but the person chooses the unit, and so whose claims are paid. A unit's
 * year counts what the match adds to it in all, beside everything paid so far (a payment a clerk
 * recorded by hand that it links is counted already).
 */
async function whyCoveringNeedsSecondPerson(tx: Tx, match: CheckedMatch): Promise<string | null> {
  const added = new Map<string, { unitId: number; planYear: number; amountFen: number }>();
  for (const c of match.contributions) {
    if (c.recordedPaymentId !== null) continue;
    const key = `${c.unitId}:${c.planYear}`;
    added.set(key, { unitId: c.unitId, planYear: c.planYear, amountFen: (added.get(key)?.amountFen ?? 0) + c.amountFen });
  }
  const years = [...added.values()];
  const figures = await contributionFigures(tx, years);
  const reasons: string[] = [];
  for (const [i, year] of years.entries()) {
    const why = await whyCoverageNeedsSecondPerson(tx, { ...year, ...figures[i]! }, year.amountFen);
    if (why !== null) reasons.push(why);
  }
  return reasons.length > 0 ? reasons.join('; ') : null;
}

/**
 * A person's match, checked as far as it can be before anything is written: its entry, the
 * attempts its endToEndIds name, and the matches of the contributions it gives, read once for the
 * four-eyes checks and the match.
 */
interface CheckedMatch {
  entry: EntryToMatch;
  attempts: store.AttemptToMatch[];
  contributions: ContributionMatch[];
}

type ContributionMatch = MatchDecision & { kind: 'CONTRIBUTION' };

async function checkedMatch(tx: Tx, x: OpenException, target: ManualMatch): Promise<CheckedMatch> {
  // A return after settlement is matched already, as is the debit of a payment the bank refused after paying it (refusals.ts).
  if (x.entryId === null || x.kind === 'RETURN_AFTER_SETTLEMENT' || x.kind === 'REJECTED_AFTER_PAYMENT') {
    throw invalid('input.exceptionId', `a ${x.kind} has no statement transaction to match: write it off with the reason once it is dealt with`);
  }
  const entry = await entryToMatch(tx, x.entryId);
  const endToEndIds = target.endToEndIds ?? [];
  if ([endToEndIds, target.contributions ?? [], target.reversedContributionPayments ?? []].filter((given) => given.length > 0).length !== 1) {
    throw invalid('input', 'give one of endToEndIds, contributions or reversedContributionPayments');
  }
  const contributions = target.contributions ?? [];
  if (contributions.length > 0) return { entry, attempts: [], contributions: await contributionMatches(tx, x, entry, contributions) };
  if (endToEndIds.length === 0) return { entry, attempts: [], contributions: [] };
  const credit = entry.entry.creditDebit === 'CRDT';
  if (credit && (!isReturn(entry.entry) || endToEndIds.length > 1)) {
    throw invalid('input.endToEndIds', 'a credit matches one payout only as its return (退票); match contributions instead');
  }
  const attempts = await attemptsOf(tx, endToEndIds, credit ? 'RETURN' : 'PAYOUT', x.account);
  const sum = attempts.reduce((total, a) => total + a.amountFen, 0);
  if (sum !== x.amountFen) throw invalid('input.endToEndIds', `the payouts add up to ${fenToCny(sum)}; the bank's transaction is ${fenToCny(x.amountFen)}`);
  return { entry, attempts, contributions: [] };
}

/**
 * The matches of the credit to the units' plan years a person gives: each linked to the payment a
 * clerk recorded by hand for the transfer, when it is that payment.
 */
async function contributionMatches(tx: Tx, x: OpenException, entry: EntryToMatch, contributions: NonNullable<ManualMatch['contributions']>): Promise<ContributionMatch[]> {
  if (entry.entry.creditDebit !== 'CRDT') throw invalid('input.contributions', 'a debit pays payouts, not contributions');
  contributions.forEach((c, i) => {
    if (!Number.isSafeInteger(c.amountFen) || c.amountFen <= 0) throw invalid(`input.contributions[${i}].amountFen`, 'must be a positive whole number of fen');
    if (!Number.isInteger(c.planYear) || c.planYear < 2000 || c.planYear > 2100) throw invalid(`input.contributions[${i}].planYear`, 'must be a plan year like 2025');
  });
  const sum = contributions.reduce((total, c) => total + c.amountFen, 0);
  if (sum !== x.amountFen) throw invalid('input.contributions', `add up to ${fenToCny(sum)}; the bank's transaction is ${fenToCny(x.amountFen)}`);
  const units = await store.existingUnitIds(tx, contributions.map((c) => c.unitId));
  const missing = contributions.findIndex((c) => !units.includes(c.unitId));
  // Bad input on the field that names it (not the exception's NOT_FOUND).
  if (missing >= 0) throw invalid(`input.contributions[${missing}].unitId`, 'is not a unit');
  const base = { entryId: entry.id, txIndex: matchedTransaction(x), rule: 'MANUAL' as const };
  const recorded = await recordedByHand(tx, entry);
  const matches = contributions.map((c) => {
    // The transfer a clerk recorded by hand is this payment: linked, not recorded a second time.
    const same = recorded.findIndex((p) => p.unitId === c.unitId && p.planYear === c.planYear && p.amountFen === c.amountFen);
    const [payment] = same >= 0 ? recorded.splice(same, 1) : [];
    return { ...base, kind: 'CONTRIBUTION' as const, amountFen: c.amountFen, unitId: c.unitId, planYear: c.planYear, recordedPaymentId: payment?.id ?? null };
  });
  // The whole entry is the transfer the clerk recorded: every payment of it is named. A transaction of a batch
  // booking may leave one to another transaction, but never pays its unit's year afresh beside it.
  const unlinked = recorded.find((p) => base.txIndex === 0
    || matches.some((m) => m.recordedPaymentId === null && m.unitId === p.unitId && m.planYear === p.planYear));
  if (unlinked) {
    throw conflict(
      `input.contributions: the transfer ${unlinked.reference} is recorded by hand already, for plan year ${unlinked.planYear}, ${fenToCny(unlinked.amountFen)}: `
      + 'give that payment among the contributions (the same unit, year and amount), so the transfer is counted once', 'input.contributions',
    );
  }
  // One payment of the credit per unit's year: two would both want the reference derived from the entry.
  const twice = matches.findIndex((m, i) => m.recordedPaymentId === null
    && matches.slice(0, i).some((o) => o.recordedPaymentId === null && o.unitId === m.unitId && o.planYear === m.planYear));
  if (twice >= 0) {
    const { unitId, planYear } = matches[twice]!;
    throw invalid(`input.contributions[${twice}]`, `unit ${unitId}'s ${planYear} is given twice: give it once, with the sum`);
  }
  return matches;
}

/** The rows matching the debit's transaction to the payouts a person names. */
function payoutMatches(x: OpenException, match: CheckedMatch): MatchRow[] {
  return match.attempts.map((a) => ({
    entryId: match.entry.id, txIndex: matchedTransaction(x), rule: 'MANUAL', kind: 'PAYOUT', amountFen: a.amountFen, attemptId: a.id, contributionPaymentId: null,
  }));
}

export async function applyMatch(tx: Tx, actor: Actor, x: OpenException, target: ManualMatch, confirmed?: Confirmed): Promise<void> {
  await applyCheckedMatch(tx, actor, x, target, await checkedMatch(tx, x, target), confirmed);
}

async function applyCheckedMatch(tx: Tx, actor: Actor, x: OpenException, target: ManualMatch, checked: CheckedMatch, confirmed?: Confirmed): Promise<void> {
  const { entry } = checked;
  const base = { entryId: entry.id, txIndex: matchedTransaction(x), rule: 'MANUAL' as const };
  const endToEndIds = target.endToEndIds ?? [];
  const contributions = target.contributions ?? [];
  const reversed = target.reversedContributionPayments ?? [];

  let details: Record<string, unknown>;
  if (reversed.length > 0) {
    details = await reverseContributions(tx, actor, x, entry, reversed);
  } else if (endToEndIds.length > 0) {
    if (entry.entry.creditDebit === 'CRDT') {
      const a = checked.attempts[0]!;
      const info = returnInfo(entry.entry, base.txIndex);
      const match: MatchDecision & { kind: 'RETURN' } = { ...base, kind: 'RETURN', amountFen: a.amountFen, attemptId: a.id, endToEndId: a.endToEndId, ...info };
      await insertMatches(tx, [{ ...match, contributionPaymentId: null }], actor.subject, x.id);
      await recordReturns(tx, x.account, [match], new Map([[entry.id, entry.bookingDate]]));
    } else {
      await insertMatches(tx, payoutMatches(x, checked), actor.subject, x.id);
      await settlePayoutAttempts(tx, checked.attempts.map((a) => a.id));
    }
    details = { endToEndIds };
  } else {
    const matches = checked.contributions;
    const ids = await recordContributionPayments(tx, matches, new Map([[entry.id, entry]]), actor.subject);
    await insertMatches(tx, matches.map((m) => ({ ...m, contributionPaymentId: ids.get(m)! })), actor.subject, x.id);
    details = { contributions };
  }
  await close(tx, x, 'MATCHED', target.note?.trim() || null, actor);
  await recordAudit(tx, actor, {
    action: 'reconciliation.exception.match', targetType: 'ReconciliationException', targetId: String(x.id), reason: target.note?.trim() || null,
    details: { kind: x.kind, account: x.account, entryId: x.entryId, amountFen: x.amountFen, ...details, ...confirmed },
  });
}

/**
 * A reversal (冲正) of a unit's transfer, booked as a debit with RvslInd: the money went back, so
 * the contribution payments it names no longer count (a unit's paid figure, its members' coverage).
 * Each payment is taken back once, by a reversal on the account its credit was booked on; together
 * they are the reversal's amount to the fen.
 */
async function reverseContributions(
  tx: Tx, actor: Actor, x: OpenException, entry: { id: number; bookingDate: string; entry: BankEntry }, paymentIds: readonly number[],
): Promise<Record<string, unknown>> {
  const field = 'input.reversedContributionPayments';
  if (entry.entry.creditDebit !== 'DBIT' || entry.entry.reversal !== true) {
    throw invalid(field, "only a reversal (冲正) of a credit, a debit the bank marks as a reversal (RvslInd), takes back contribution payments");
  }
  const payments = await store.lockPaymentsToReverse(tx, paymentIds);
  const named = paymentIds.map((id, i) => {
    const at = `${field}[${i}]`;
    if (paymentIds.indexOf(id) !== i) throw invalid(at, 'is given twice');
    const payment = payments.find((p) => p.id === id);
    // Bad input on the field that names it (not the exception's NOT_FOUND).
    if (!payment) throw invalid(at, 'is not a contribution payment');
    if (payment.reversedByEntry !== null) throw conflict(`${at}: the payment ${payment.reference} is reversed already`, at);
    // A payment recorded by hand that no credit matched yet: its credit, when it comes, would be counted afresh.
    if (payment.account === null) throw invalid(at, `the payment ${payment.reference} is on no statement yet: reconcile its credit first`);
    if (payment.account !== x.account) {
      throw invalid(at, `the payment ${payment.reference} was credited on account ${payment.account}, not on ${x.account}`);
    }
    return payment;
  });
  const sum = named.reduce((total, p) => total + p.amountFen, 0);
  if (sum !== x.amountFen) throw invalid(field, `the payments add up to ${fenToCny(sum)}; the bank's reversal is ${fenToCny(x.amountFen)}`);
  await store.insertContributionReversals(tx, paymentIds, { entryId: entry.id, exceptionId: x.id, reversedOn: entry.bookingDate, matchedBy: actor.subject });
  return { reversedContributionPayments: named.map((p) => ({ id: p.id, unitId: p.unitId, planYear: p.planYear, amountFen: p.amountFen, reference: p.reference })) };
}

/** Why an exception cannot be resolved (matched or written off) now, or null: it must be OPEN. ReconciliationException.viewerCanResolve shows it. */
export function resolutionRefusal(x: { status: ExceptionStatus }): DomainError | null {
  return canMove(EXCEPTION_TRANSITIONS, x.status, 'RESOLVED') ? null : conflict('input.exceptionId: is resolved already', 'input.exceptionId');
}

/**
 * Runs `work` on an OPEN exception with its account locked (the lock first, as reconciliation runs
 * take it). Its proposals reference an existing exception, so "not found" is always the exception's.
 */
export async function withOpenException<T>(tx: Tx, exceptionId: number, work: (x: OpenException) => Promise<T>): Promise<T> {
  const account = await store.exceptionAccount(tx, exceptionId);
  if (account === undefined) throw notFound('reconciliation exception', 'input.exceptionId');
  await lockAccounts(tx, [account]);
  const x = await store.lockException(tx, exceptionId);
  const refusal = resolutionRefusal(x);
  if (refusal) throw refusal;
  return work(x);
}

async function close(tx: Tx, x: OpenException, resolution: 'MATCHED' | 'WRITTEN_OFF', reason: string | null, actor: Actor): Promise<void> {
  await store.resolveException(tx, x.id, resolution, reason, actor.subject);
  if (x.entryId !== null) await store.resolveEntry(tx, x.entryId);
  await refreshProofs(tx, x.account, x.occurredOn);
}

/** The transaction of its entry a match of the exception is for: its own, else the whole entry (0). */
function matchedTransaction(x: OpenException): number {
  return x.txIndex ?? 0;
}

/**
 * Payments a clerk recorded by hand under the entry's bank reference and no credit matched yet,
 * locked as a chunk reads them; whatever the transaction, since one of a batch booking may be one of them.
 */
async function recordedByHand(tx: Tx, entry: { entry: BankEntry }): Promise<RecordedPayment[]> {
  const reference = entry.entry.accountServicerRef;
  return reference === undefined ? [] : lockedRecordedPayments(tx, [reference]);
}

/** The attempts a person names for a transaction booked on `account`; the matcher's rules hold by hand too. */
async function attemptsOf(tx: Tx, endToEndIds: readonly string[], kind: 'PAYOUT' | 'RETURN', account: string) {
  const rows = await store.attemptsByEndToEndId(tx, endToEndIds, kind);
  return endToEndIds.map((id, i) => {
    const field = `input.endToEndIds[${i}]`;
    if (endToEndIds.indexOf(id) !== i) throw invalid(field, `${id} is given twice`);
    const attempt = rows.find((r) => r.endToEndId === id);
    // Bad input on the field that names it (not the exception's NOT_FOUND).
    if (!attempt) throw invalid(field, `no payout attempt has the EndToEndId ${id}`);
    // Each funder's payouts leave, and come back to, its own account: a transaction elsewhere is not that payment's.
    if (attempt.debtorAccount !== account) throw invalid(field, `${id} is paid from account ${attempt.debtorAccount}, not from ${account}`);
    if (attempt.matched) throw conflict(`${field}: ${id} is already matched to ${kind === 'PAYOUT' ? 'a debit' : 'a return'}`, field);
    const allowed = kind === 'PAYOUT' ? DEBITABLE.includes(attempt.status) : attempt.status === 'PAID';
    if (!allowed) throw invalid(field, `${id} is ${attempt.status}: the bank ${kind === 'PAYOUT' ? 'was not to pay it' : 'has not credited it'}`);
    return attempt;
  });
}

function returnInfo(entry: BankEntry, txIndex: number): { reasonCode: string; reason: string | null } {
  const info = entry.details[Math.max(0, txIndex - 1)]?.returnInfo;
  return { reasonCode: info?.reasonCode ?? 'NARR', reason: info?.additionalInfo ?? null };
}
