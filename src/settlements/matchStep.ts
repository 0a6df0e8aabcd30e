import type pg from 'pg';
import { inTransaction } from '../db/pool.ts';
import { decideMatch } from './matching.ts';
import type { SettlementStatus } from './model.ts';
import * as store from './store.ts';

export interface MatchedSettlement {
  id: number;
  status: Exclude<SettlementStatus, 'RECEIVED'>;
}

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
    const applied = await store.applyMatches(tx, facts.map(decideMatch));
    return applied as MatchedSettlement[];
  });
}
