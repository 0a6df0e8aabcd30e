import type { Db, Tx } from '../kernel/transaction.ts';
import { inTransaction } from '../db/pool.ts';
import { contributionFigures, insertBankContributionPayments, learnUnitPayerAccounts, lockContributionPayments, recordedContributionReferences } from '../members/store.ts';
import { recordPayoutReturns, settlePayoutAttempts } from '../payouts/bankEvents.ts';
import { analyzePayouts } from '../payouts/store/payouts.ts';
import { laterAttemptsOf } from '../payouts/store/submission.ts';
import type { LaterAttempt } from '../payouts/model.ts';
import { retryNamed } from './refusals.ts';
import { bankReferenceKey } from '../kernel/identifiers.ts';
import { bankCardHash, type PersonalDataKeys } from '../privacy/personalData.ts';
import { amountRuleAmounts, contributionReferences, DEFAULT_MATCH_OPTIONS, matchEntries, type MatchOptions } from './matching/matcher.ts';
import { dailyProof, missingDebits, type DailyProof } from './matching/proof.ts';
import { exceptionKey, type EntryToMatch, type ExceptionFinding, type MatchBook, type MatchDecision, type MatchOutcome, type RecordedPayment } from './matching/types.ts';
import * as proofs from './store/proofs.ts';
import * as store from './store/runs.ts';
import { addDays, chinaToday } from '../kernel/time.ts';
import { ANALYZE_AFTER, timed, type StepTimes } from './steps.ts';

/**
 * One reconciliation of an account: its pending entries matched chunk by chunk (each chunk one
 * transaction: matches, exceptions, settled payouts and returns commit together), then payouts
 * whose debit is overdue, then the daily proofs of the days touched. Safe to run again at any
 * time: matched entries are never matched twice, and a finding already stored is not repeated.
 */

export interface ReconcileOptions {
  /** Who runs it: `schedule`, `cli`, a user's subject. */
  startedBy: string;
  /** The members' lookup key: a payee account the bank reports is compared with the attempt's card through its keyed hash. */
  keys: PersonalDataKeys;
  /** The China date the T+N rule looks from (default: today). */
  asOf?: string;
  /** Business days the bank has to show a credited payment's debit (T+2). */
  debitDays?: number;
  holidays?: ReadonlySet<string>;
  /** Entries matched per transaction. */
  chunk?: number;
  /** Called once the run is started (all counts 0), then after each chunk. */
  onProgress?: (progress: ReconcileProgress & { runId: number }) => void | Promise<void>;
  /** Called after each commit that settled payouts, with their ids (measured waiting); must not throw. */
  onSettled?: (payoutIds: number[]) => Promise<void>;
  /** Adds the milliseconds of each step here, over all chunks (benchmarks). */
  steps?: StepTimes;
}

export interface ReconcileProgress {
  entries: number;
  matched: number;
  exceptions: number;
}

export interface ReconcileResult extends ReconcileProgress {
  runId: number;
  account: string;
  settled: number;
  returned: number;
  missingDebits: number;
  cleared: number;
  /** Proofs recomputed in this run (days touched). */
  proofs: DailyProof[];
}

const MATCHED_BY = 'reconciliation';

export async function reconcileAccount(db: Db, account: string, options: ReconcileOptions): Promise<ReconcileResult> {
  const runId = await store.startRun(db, account, options.startedBy);
  const progress: ReconcileProgress = { entries: 0, matched: 0, exceptions: 0 };
  await options.onProgress?.({ runId, ...progress });
  let settled = 0;
  let returned = 0;
  let fromDate: string | null = null;
  let last: EntryToMatch | null = null;
  const matchOptions: MatchOptions = { ...DEFAULT_MATCH_OPTIONS, cardHash: (card) => bankCardHash(options.keys, card).toString('hex') };
  try {
    for (;;) {
      const step = await inTransaction(db, async (tx) => {
        await store.lockAccounts(tx, [account]);
        await store.planForChunks(tx);
        const { steps } = options;
        const entries = await timed(steps, 'pendingEntries', () => store.pendingEntries(tx, account, options.chunk ?? 5_000, last));
        if (entries.length === 0) return null;
        last = entries.at(-1)!;
        // The book is loaded for the options the entries are matched with (the amount + name rule's date window).
        const book = await timed(steps, 'loadBook', () => loadBook(tx, account, entries, matchOptions));
        const outcome = await timed(steps, 'match', () => matchEntries(entries, book, matchOptions));
        const written = await timed(steps, 'writeOutcome', () => writeOutcome(tx, entries, outcome, MATCHED_BY));
        const settledNow = await timed(steps, 'settle', () => settlePayoutAttempts(tx, written.debited));
        const afterSettlement = await recordReturns(tx, account, written.returns, new Map(entries.map((e) => [e.id, e.bookingDate])));
        await store.countRunChunk(tx, runId, entries.length, written.matched, written.exceptions + afterSettlement);
        return { entries: entries.length, matched: written.matched, exceptions: written.exceptions + afterSettlement, settled: settledNow.map((s) => s.payoutId), returned: written.returns.length, firstDate: entries[0]!.bookingDate };
      });
      if (!step) break;
      progress.entries += step.entries;
      progress.matched += step.matched;
      progress.exceptions += step.exceptions;
      settled += step.settled.length;
      if (step.settled.length) await options.onSettled?.(step.settled);
      returned += step.returned;
      if (fromDate === null || step.firstDate < fromDate) fromDate = step.firstDate;
      await options.onProgress?.({ runId, ...progress });
    }

    // The closing step looks for undebited payouts among those still PAID: after many were settled at once,
    // the planner must know they are few now, or it reads every attempt ever paid.
    if (settled >= ANALYZE_AFTER) await timed(options.steps, 'analyze', () => analyzePayouts(db));
    const closing = await timed(options.steps, 'closing', () => inTransaction(db, async (tx) => {
      await store.lockAccounts(tx, [account]);
      const settledNow = await settlePayoutAttempts(tx, await timed(options.steps, 'debitedUnsettled', () => store.unsettledDebitedAttempts(tx, account)));
      settled += settledNow.length;
      const undebited = await timed(options.steps, 'undebited', () => store.undebitedPayouts(tx, account));
      const overdue = missingDebits(undebited, options.asOf ?? chinaToday(), options.debitDays ?? 2, options.holidays ?? new Set());
      const missing = await store.insertExceptions(tx, overdue.map((f) => ({ ...f, account, occurredOn: String(f.evidence.creditedOn) })));
      const cleared = await store.clearMissingDebits(tx, account);
      const stale = await proofs.staleProofDate(tx, account);
      const from = [fromDate, stale].filter((d): d is string => d !== null).sort()[0] ?? null;
      const refreshed = from === null ? [] : await refreshProofs(tx, account, from);
      progress.exceptions += missing;
      await store.finishRun(tx, runId, progress.exceptions);
      return { result: { runId, account, ...progress, settled, returned, missingDebits: missing, cleared, proofs: refreshed }, settledNow };
    }));
    if (closing.settledNow.length) await options.onSettled?.(closing.settledNow.map((s) => s.payoutId));
    return closing.result;
  } catch (error) {
    await store.failRun(db, runId, (error as Error).message);
    throw error;
  }
}

/**
 * What the entries may match: payouts by their references and, for the amount + name rule, open ones
 * of the account and those the bank refused (which that rule never matches, but must not overlook);
 * units' contributions.
 */
async function loadBook(tx: Tx, account: string, entries: readonly EntryToMatch[], options: MatchOptions): Promise<MatchBook> {
  const details = entries.flatMap((e) => e.entry.details);
  const endToEndIds = unique(details.map((d) => d.endToEndId));
  const references = unique([...entries.map((e) => e.entry.accountServicerRef), ...details.map((d) => d.accountServicerRef)]);
  // Whole batches only for debits the batch rule may match: those naming no EndToEndId.
  const batchBookings = entries.filter((e) => e.entry.creditDebit === 'DBIT' && e.entry.details.every((d) => d.endToEndId === undefined));
  const batchIds = unique(batchBookings.flatMap((e) => [e.entry.batch?.msgId, e.entry.batch?.pmtInfId, ...e.entry.details.flatMap((d) => [d.msgId, d.pmtInfId])]));
  const named = await store.referencedPayouts(tx, { endToEndIds, references, batchIds });
  // Open payouts by amount only for the debits no reference names: the rest never reach that rule.
  const amounts = unique(amountRuleAmounts(entries, named));
  const byAmount = amounts.length === 0 ? [] : await store.openPayoutsOfAmounts(tx, account, amounts);
  const seen = new Set(named.map((p) => p.attemptId));
  const payouts = [...named, ...byAmount.filter((p) => !seen.has(p.attemptId))];
  // Refused payouts a debit of those amounts may be: executed or refused (or in between) within the rule's window of the chunk's booking days.
  const days = entries.map((e) => e.bookingDate).sort();
  const refused = amounts.length === 0 ? [] : await store.refusedPayoutsOfAmounts(
    tx, account, amounts, addDays(days[0]!, -options.dateWindowDays), addDays(days.at(-1)!, options.dateWindowDays),
  );

  const credits = entries.filter((e) => e.entry.creditDebit === 'CRDT');
  if (credits.length === 0) return { payouts, refused, units: [], contributions: [], payers: [], recordedPayments: [] };
  const creditDetails = credits.flatMap((e) => e.entry.details);
  const referenced = contributionReferences([...creditDetails.flatMap((d) => d.remittanceInfo), ...credits.map((e) => e.entry.additionalInfo ?? '')]);
  const payers = await store.payerAccounts(tx, unique(creditDetails.map((d) => d.debtor?.account)));
  const units = await store.unitsOf(tx, unique(referenced.map((r) => r.creditCode)), payers.map((p) => p.unitId));
  const years = await store.contributionYears(tx, units.map((u) => u.unitId));
  const figures = await contributionFigures(tx, years);
  const recordedPayments = await lockedRecordedPayments(tx, unique(credits.map((e) => e.entry.accountServicerRef)));
  return {
    payouts, refused, units, payers, recordedPayments,
    contributions: years.map((y, i) => ({ ...y, owedFen: figures[i]!.owedFen, paidFen: figures[i]!.paidFen })),
  };
}

/**
 * Payments recorded by hand under these bank references (as the matcher compares them: any case)
 * that no credit matched yet, read under the shared contribution-payment lock, held until the
 * caller commits: a clerk's payment recorded after this read waits, so it is never missed here and
 * counted again under a reference of the caller's.
 */
export async function lockedRecordedPayments(tx: Tx, references: readonly string[]): Promise<RecordedPayment[]> {
  await lockContributionPayments(tx, 'shared');
  return store.unmatchedRecordedPayments(tx, unique(references.map(bankReferenceKey)));
}

interface WrittenOutcome {
  matched: number;
  exceptions: number;
  /** Payout attempts a debit matched (to settle) and returns to record. */
  debited: number[];
  returns: (MatchDecision & { kind: 'RETURN' })[];
}

/** Stores what the matcher concluded: contribution payments and matches, exceptions, entry states, learned payer accounts. */
async function writeOutcome(tx: Tx, entries: readonly EntryToMatch[], outcome: MatchOutcome, matchedBy: string): Promise<WrittenOutcome> {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const contributions = outcome.matches.filter((m): m is MatchDecision & { kind: 'CONTRIBUTION' } => m.kind === 'CONTRIBUTION');
  const paymentIds = await recordContributionPayments(tx, contributions, byId, matchedBy);
  await store.insertMatches(tx, outcome.matches.map((m) => ({ ...m, contributionPaymentId: m.kind === 'CONTRIBUTION' ? paymentIds.get(m)! : null })), matchedBy, null);
  const findings = await withRetries(tx, outcome.exceptions, byId);
  const exceptions = await store.insertExceptions(tx, findings.map((f) => placed(f, byId.get(f.entryId!)!)));
  const states = [...outcome.entryStates];
  await store.setEntryStates(tx, states);
  await learnUnitPayerAccounts(tx, outcome.learnedPayers);
  return {
    matched: states.filter(([, s]) => s === 'MATCHED').length,
    exceptions,
    debited: outcome.matches.flatMap((m) => (m.kind === 'PAYOUT' ? [m.attemptId] : [])),
    returns: outcome.matches.filter((m): m is MatchDecision & { kind: 'RETURN' } => m.kind === 'RETURN'),
  };
}

/**
 * Contribution payments (source BANK) for matched credits, so a unit's contribution status follows
 * the bank. The reference is the bank's (AcctSvcrRef); with several plan years in one transfer,
 * where it is taken, or where the bank gave none, one derived from the entry.
 */
export async function recordContributionPayments(
  tx: Tx, matches: readonly (MatchDecision & { kind: 'CONTRIBUTION' })[], entries: ReadonlyMap<number, EntryToMatch>, recordedBy: string,
): Promise<Map<MatchDecision, number>> {
  const ids = new Map<MatchDecision, number>();
  const fresh = matches.filter((m) => {
    if (m.recordedPaymentId !== null) ids.set(m, m.recordedPaymentId);
    return m.recordedPaymentId === null;
  });
  if (fresh.length === 0) return ids;
  const perEntry = new Map<number, number>();
  for (const m of fresh) perEntry.set(m.entryId, (perEntry.get(m.entryId) ?? 0) + 1);
  const bankReference = (m: MatchDecision) => entries.get(m.entryId)!.entry.accountServicerRef;
  // An entry the bank gave no reference has none to take: the one derived from the entry.
  const wanted = fresh.map((m) => {
    const reference = bankReference(m);
    if (reference === undefined) return undefined;
    return perEntry.get(m.entryId) === 1 && m.txIndex === 0 ? reference : `${reference}/${m.planYear}`;
  });
  const taken = await recordedContributionReferences(tx, unique(wanted));
  // Two transactions of a batch booking paying the same unit's year want one reference: neither takes it.
  const wantedBy = new Map<string, number>();
  for (const reference of wanted) if (reference !== undefined) wantedBy.set(reference, (wantedBy.get(reference) ?? 0) + 1);
  const references = fresh.map((m, i) => {
    const reference = wanted[i];
    return reference !== undefined && reference.length <= 35 && !taken.has(reference) && wantedBy.get(reference) === 1
      ? reference : `HUB-E${m.entryId}-${m.txIndex}-${m.planYear}`;
  });
  const byReference = await insertBankContributionPayments(
    tx, fresh.map((m, i) => ({ unitId: m.unitId, planYear: m.planYear, amountFen: m.amountFen, reference: references[i]!, paidOn: entries.get(m.entryId)!.bookingDate })), recordedBy,
  );
  fresh.forEach((m, i) => ids.set(m, byReference.get(references[i]!)!));
  return ids;
}

/**
 * An exception on a debit naming an attempt whose payout was retried since: the bank may have paid
 * that attempt after all (or again: a reversal, 冲正, of its return), so from its detection no retry
 * goes to the bank unless two FINANCE people confirm one after it (payout_retry_confirmed, 0070),
 * even one they confirmed before. It lists those retries (evidence `retries`, as a credit after a
 * refusal does) and says what becomes of each.
 */
async function withRetries(tx: Tx, findings: readonly ExceptionFinding[], entries: ReadonlyMap<number, EntryToMatch>): Promise<readonly ExceptionFinding[]> {
  const onDebits = new Set(findings.filter((f) => f.attemptId !== null && entries.get(f.entryId!)!.entry.creditDebit === 'DBIT'));
  if (onDebits.size === 0) return findings;
  const later = await laterAttemptsOf(tx, [...onDebits].map((f) => f.attemptId!));
  if (later.size === 0) return findings;
  return findings.map((f) => {
    const retries = onDebits.has(f) ? later.get(f.attemptId!) : undefined;
    return retries === undefined ? f : { ...f, evidence: { ...f.evidence, retries, reason: `${String(f.evidence.reason)}. ${retriesReason(retries)}` } };
  });
}

/** What becomes of the retries of a payout whose earlier attempt a debit names: those not sent wait for two FINANCE people; those sent may have paid twice. */
function retriesReason(retries: readonly LaterAttempt[]): string {
  const waiting = retries.filter((r) => r.sentOn === null).map(retryNamed);
  const sent = retries.filter((r) => r.sentOn !== null).map(retryNamed);
  return [
    waiting.length === 0 ? '' : `The payout's retry ${waiting.join(', ')} is not sent: it goes to the bank only if two FINANCE people confirm a retry after this `
      + '(even one they confirmed before is confirmed no more), so it leaves its batch at sealing, or its sealed batch is cancelled at the hand-over',
    sent.length === 0 ? '' : `The payout's retry ${sent.join(', ')} went to the bank: the member may have been paid twice. `
      + 'Ask the bank which payments it executed and recover the one too many',
  ].filter((text) => text !== '').join('. ');
}

function placed(finding: ExceptionFinding, entry: { account: string; bookingDate: string }): store.PlacedException {
  return { ...finding, account: entry.account, occurredOn: entry.bookingDate };
}

/** Recomputes and stores the proofs of the account's statements from `fromDate` on. */
export async function refreshProofs(tx: Tx, account: string, fromDate: string | null): Promise<DailyProof[]> {
  const figures = await proofs.proofFigures(tx, account, fromDate);
  const computed = figures.map(({ statementId, ...f }) => ({ statementId, proof: dailyProof(f) }));
  for (const { statementId, proof } of computed) await proofs.saveProof(tx, statementId, proof);
  return computed.map((p) => p.proof);
}

/**
 * Returns (退票) make their payouts FAILED again (retryable); one whose payout was already settled
 * against a statement is also an exception: a person must see that settled money came back.
 */
export async function recordReturns(
  tx: Tx, account: string, returns: readonly (MatchDecision & { kind: 'RETURN' })[], bookingDates: ReadonlyMap<number, string>,
): Promise<number> {
  if (returns.length === 0) return 0;
  const outcomes = await recordPayoutReturns(tx, returns.map((r) => ({ endToEndId: r.endToEndId, reasonCode: r.reasonCode, ...(r.reason ? { reason: r.reason } : {}) })));
  const findings = returns.flatMap((r, i) => {
    const outcome = outcomes[i]!;
    if (!outcome.wasSettled) return [];
    return [{
      key: exceptionKey('RETURN_AFTER_SETTLEMENT', r.entryId, r.txIndex), kind: 'RETURN_AFTER_SETTLEMENT' as const, entryId: r.entryId, txIndex: r.txIndex,
      attemptId: r.attemptId, amountFen: r.amountFen, account, occurredOn: bookingDates.get(r.entryId)!,
      evidence: {
        endToEndId: r.endToEndId, payoutId: outcome.payoutId, returnReason: r.reasonCode, returnInfo: r.reason,
        reason: 'the payout was settled against the statement, then the money came back (退票): the payout is FAILED again and may be retried',
      },
    }];
  });
  return store.insertExceptions(tx, findings);
}

function unique<T>(values: readonly (T | undefined | null)[]): T[] {
  return [...new Set(values.filter((v): v is T => v !== undefined && v !== null))];
}
