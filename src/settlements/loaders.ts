import DataLoader from 'dataloader';
import type { Queryable } from '../kernel/transaction.ts';
import { byId, byParent, type ParentKey } from '../gateway/loaders.ts';
import type { IngestionRunRow, RejectionRow, SettlementRow, SettlementSourceRow, SourceCounts } from './model.ts';
import {
  listSources, rejectionsByIds, reversalsOf, runsByIds, runUnmatchedCounts, settlementsByIds, settlementsOfMembers, sourceCounts,
  type SettlementFilter,
} from './store.ts';
import type { Page } from '../kernel/page.ts';
import type { Scope } from '../kernel/scope.ts';

export interface SettlementLoaders {
  /** Settlements by id, within the caller's scope. */
  settlement: DataLoader<number, SettlementRow | null>;
  settlementsOfMember: DataLoader<ParentKey<{ filter: SettlementFilter; page: Page }>, SettlementRow[], string>;
  /** The reversals that cancel a settlement. */
  reversalsOf: DataLoader<number, SettlementRow[]>;
  ingestionRun: DataLoader<number, IngestionRunRow | null>;
  runUnmatched: DataLoader<number, number>;
  rejection: DataLoader<number, RejectionRow | null>;
  sourceCounts: DataLoader<string, SourceCounts>;
  /** Sources by name (a handful: one query reads them all). */
  source: DataLoader<string, SettlementSourceRow | null>;
}

export function createSettlementLoaders(db: Queryable, scope: Scope): SettlementLoaders {
  return {
    settlement: byId((ids) => settlementsByIds(db, ids, scope)),
    settlementsOfMember: byParent((memberIds, { filter, page }) => settlementsOfMembers(db, memberIds, scope, filter, page)),
    reversalsOf: new DataLoader((ids) => reversalsOf(db, ids, scope)),
    ingestionRun: byId((ids) => runsByIds(db, ids)),
    runUnmatched: new DataLoader((ids) => runUnmatchedCounts(db, ids)),
    rejection: byId((ids) => rejectionsByIds(db, ids)),
    sourceCounts: new DataLoader((names) => sourceCounts(db, names)),
    source: new DataLoader(async (names) => {
      const sources = await listSources(db);
      return names.map((name) => sources.find((s) => s.name === name) ?? null);
    }),
  };
}
