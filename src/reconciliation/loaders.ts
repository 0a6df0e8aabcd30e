import DataLoader from 'dataloader';
import type { Queryable } from '../kernel/transaction.ts';
import { byId } from '../gateway/loaders.ts';
import type {
  BankDocumentRow, BankStatementRow, DailyProofRow, ProposalRow, ReconciliationExceptionRow, ReconciliationMatchRow, ReconciliationRunRow,
  StatementEntryRow,
} from './model.ts';
import * as reads from './store/reads.ts';
import { pendingProposalsOfExceptions, proposalsByIds } from './store/resolutions.ts';

/** Per-request loaders of reconciliation rows (the resolvers check the caller's role first). */
export interface ReconciliationLoaders {
  bankDocument: DataLoader<number, BankDocumentRow | null>;
  bankStatement: DataLoader<number, BankStatementRow | null>;
  statementEntry: DataLoader<number, StatementEntryRow | null>;
  reconciliationMatch: DataLoader<number, ReconciliationMatchRow | null>;
  reconciliationException: DataLoader<number, ReconciliationExceptionRow | null>;
  reconciliationRun: DataLoader<number, ReconciliationRunRow | null>;
  matchesOfEntry: DataLoader<number, ReconciliationMatchRow[]>;
  exceptionsOfEntry: DataLoader<number, ReconciliationExceptionRow[]>;
  proofOfStatement: DataLoader<number, DailyProofRow | null>;
  fourEyesProposal: DataLoader<number, ProposalRow | null>;
  pendingProposalOfException: DataLoader<number, ProposalRow | null>;
}

export function createReconciliationLoaders(db: Queryable): ReconciliationLoaders {
  return {
    bankDocument: byId((ids) => reads.documentsByIds(db, ids)),
    bankStatement: byId((ids) => reads.statementsByIds(db, ids)),
    statementEntry: byId((ids) => reads.entriesByIds(db, ids)),
    reconciliationMatch: byId((ids) => reads.matchesByIds(db, ids)),
    reconciliationException: byId((ids) => reads.exceptionsByIds(db, ids)),
    reconciliationRun: byId((ids) => reads.runsByIds(db, ids)),
    matchesOfEntry: new DataLoader((ids) => reads.matchesOfEntries(db, ids)),
    exceptionsOfEntry: new DataLoader((ids) => reads.exceptionsOfEntries(db, ids)),
    proofOfStatement: new DataLoader((ids) => reads.proofsOfStatements(db, ids)),
    fourEyesProposal: byId((ids) => proposalsByIds(db, ids)),
    pendingProposalOfException: new DataLoader((ids) => pendingProposalsOfExceptions(db, ids)),
  };
}
