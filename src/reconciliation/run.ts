import type { Tx } from '../kernel/transaction.ts';
import type pg from 'pg';
import { inTransaction } from '../db/pool.ts';
import { recordPayoutReturns, settlePayoutAttempts } from '../payouts/bankEvents.ts';
import { matchEntries } from './match.ts';
import { exceptionKey, type EntryToMatch, type MatchDecision } from './model.ts';
import { missingDebits, type DailyProof } from './proof.ts';
import * as store from './store.ts';
import { chinaToday } from '../kernel/time.ts';

/**
 * One reconciliation of an account: its pending entries matched chunk by chunk (each chunk one
 * transaction: matches, exceptions, settled payouts and returns commit together), then payouts
 * whose debit is overdue, then the daily proofs of the days touched. Safe to run again at any
 * time: matched entries are never matched twice, and a finding already stored is not repeated.
 */

export interface ReconcileOptions {
  /** Who runs it: `schedule`, `cli`, a user's subject. */
  startedBy: string;
  /** The China date the T+N rule looks from (default: today). */
  asOf?: string;
  /** Business days the bank has to show a credited payment's debit (T+2). */
  debitDays?: number;
  holidays?: ReadonlySet<string>;
  /** Entries matched per transaction. */
  chunk?: number;
  onProgress?: (progress: ReconcileProgress) => void | Promise<void>;
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

export async function reconcileAccount(db: pg.Pool, account: string, options: ReconcileOptions): Promise<ReconcileResult> {
  const { rows } = await db.query<{ id: number }>('INSERT INTO reconciliation_runs (account, started_by) VALUES ($1, $2) RETURNING id', [account, options.startedBy]);
  const runId = rows[0]!.id;
  const progress: ReconcileProgress = { entries: 0, matched: 0, exceptions: 0 };
  let settled = 0;
  let returned = 0;
  let fromDate: string | null = null;
  let last: EntryToMatch | null = null;
  try {
    for (;;) {
      const step = await inTransaction(db, async (tx) => {
        await store.lockAccounts(tx, [account]);
        const entries = await store.pendingEntries(tx, account, options.chunk ?? 5_000, last);
        if (entries.length === 0) return null;
        last = entries.at(-1)!;
        const outcome = matchEntries(entries, await store.loadBook(tx, account, entries));
        const written = await store.writeOutcome(tx, entries, outcome, MATCHED_BY);
        const settledNow = await settlePayoutAttempts(tx, written.debited);
        const afterSettlement = await recordReturns(tx, account, written.returns, new Map(entries.map((e) => [e.id, e.bookingDate])));
        await tx.query(
          'UPDATE reconciliation_runs SET entries = entries + $2, matched = matched + $3, exceptions = exceptions + $4 WHERE id = $1',
          [runId, entries.length, written.matched, written.exceptions + afterSettlement],
        );
        return { entries: entries.length, matched: written.matched, exceptions: written.exceptions + afterSettlement, settled: settledNow.length, returned: written.returns.length, firstDate: entries[0]!.bookingDate };
      });
      if (!step) break;
      progress.entries += step.entries;
      progress.matched += step.matched;
      progress.exceptions += step.exceptions;
      settled += step.settled;
      returned += step.returned;
      if (fromDate === null || step.firstDate < fromDate) fromDate = step.firstDate;
      await options.onProgress?.({ ...progress });
    }

    return await inTransaction(db, async (tx) => {
      await store.lockAccounts(tx, [account]);
      settled += (await settlePayoutAttempts(tx, await store.unsettledDebitedAttempts(tx, account))).length;
      const overdue = missingDebits(await store.undebitedPayouts(tx, account), options.asOf ?? chinaToday(), options.debitDays ?? 2, options.holidays ?? new Set());
      const missing = await store.insertExceptions(tx, overdue.map((f) => ({ ...f, account, occurredOn: String(f.evidence.creditedOn) })));
      const cleared = await store.clearMissingDebits(tx, account);
      const stale = await store.staleProofDate(tx, account);
      const from = [fromDate, stale].filter((d): d is string => d !== null).sort()[0] ?? null;
      const proofs = from === null ? [] : await store.refreshProofs(tx, account, from);
      progress.exceptions += missing;
      await tx.query(
        `UPDATE reconciliation_runs SET status = 'DONE', exceptions = $2, finished_at = now() WHERE id = $1`,
        [runId, progress.exceptions],
      );
      return { runId, account, ...progress, settled, returned, missingDebits: missing, cleared, proofs };
    });
  } catch (error) {
    await db.query(`UPDATE reconciliation_runs SET status = 'FAILED', failure = $2, finished_at = now() WHERE id = $1`, [runId, (error as Error).message]);
    throw error;
  }
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
