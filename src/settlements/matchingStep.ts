import type pg from 'pg';
import { inTransaction } from '../db/pool.ts';
import { decideMatch } from './matching.ts';
import type { MatchedSettlement, UnmatchedReason } from './model.ts';
import * as store from './store.ts';
import { releaseResolvableUnmatched } from './store/rematch.ts';

/**
 * The match step for a batch of settlements, in one transaction: lock those still RECEIVED, gather
 * the facts, decide (pure), move them out of RECEIVED. Idempotent: a settlement already decided
 * is skipped, so running the same ids twice has the effect once. Returns the ones decided now.
 */
export async function matchSettlements(db: pg.Pool, ids: readonly number[]): Promise<MatchedSettlement[]> {
  if (!ids.length) return [];
  return inTransaction(db, async (tx) => {
    await store.rederivableTransaction(tx);
    const facts = await store.lockMatchFacts(tx, ids);
    return store.applyMatches(tx, facts.map(decideMatch));
  });
}

/**
 * A step that follows matching (adjudication): called once with the settlements whose status
 * changed in a committed batch. A step should only enqueue its own job with a deterministic id;
 * since a crash between the commit and the step loses the call, the next step's sweeper
 * re-derives its work from the rows (e.g. MATCHED settlements without a claim).
 */
export type AfterMatch = (decided: MatchedSettlement[]) => Promise<void>;

/** Matches, then hands what was decided to the steps that follow (worker batches, CLI commands). */
export async function matchAndContinue(db: pg.Pool, ids: readonly number[], afterMatch: readonly AfterMatch[]): Promise<MatchedSettlement[]> {
  const decided = await matchSettlements(db, ids);
  if (decided.length) for (const step of afterMatch) await step(decided);
  return decided;
}

/**
 * UNMATCHED settlements (only those of `reason`, when given) matched again, e.g. after a roster
 * import registered their members. Returns the settlements released for it.
 */
export async function rematchUnmatched(db: pg.Pool, reason: UnmatchedReason | null, afterMatch: readonly AfterMatch[]): Promise<number[]> {
  const ids = await store.releaseUnmatched(db, reason);
  await matchAndContinue(db, ids, afterMatch);
  return ids;
}

/**
 * UNMATCHED settlements whose member or enrolment exists now, matched again and handed on (they
 * then adjudicate). Run after a roster import, after members or enrolments are created, and by the
 * sweeper; a settlement still unresolvable is not touched. Returns the settlements released.
 */
export async function rematchResolvable(db: pg.Pool, afterMatch: readonly AfterMatch[]): Promise<number[]> {
  const ids = await releaseResolvableUnmatched(db);
  await matchAndContinue(db, ids, afterMatch);
  return ids;
}
