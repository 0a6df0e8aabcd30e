import DataLoader from 'dataloader';
import type { Queryable } from '../db/pool.ts';
import { byId, byParent, type ParentKey } from '../gateway/loaders.ts';
import type { Scope } from '../members/store.ts';
import { attemptCountsOfBatches, attemptsOfPayouts, batchesByIds, batchFiles, payoutsByIds, payoutsOfClaims, payoutsOfMembers, retryProposalsOfPayouts, type AttemptRow, type BatchRow, type PayoutRow, type RetryProposalRow, type SealedBatchFile } from './store.ts';
import type { Page } from '../kernel/page.ts';

export interface PayoutLoaders {
  /** Payouts by id, within the caller's scope. */
  payout: DataLoader<number, PayoutRow | null>;
  payoutOfClaim: DataLoader<number, PayoutRow | null>;
  payoutsOfMember: DataLoader<ParentKey<Page>, PayoutRow[], string>;
  attemptsOfPayout: DataLoader<number, AttemptRow[]>;
  /** A payout's retry proposal awaiting a second FINANCE person. */
  retryProposalOfPayout: DataLoader<number, RetryProposalRow | null>;
  /** Batches by id (the resolvers check the caller may see batches). */
  payoutBatch: DataLoader<number, BatchRow | null>;
  attemptCountsOfBatch: DataLoader<number, { status: string; count: number }[]>;
  /** A batch's sealed file as stored and its seal (one query whether a request asks for the file, the seal or both). */
  payoutBatchFile: DataLoader<number, SealedBatchFile | null>;
}

export function createPayoutLoaders(db: Queryable, scope: Scope): PayoutLoaders {
  return {
    payout: byId((ids) => payoutsByIds(db, ids, scope)),
    payoutOfClaim: new DataLoader((ids) => payoutsOfClaims(db, ids, scope)),
    payoutsOfMember: byParent((memberIds, page) => payoutsOfMembers(db, memberIds, scope, page)),
    attemptsOfPayout: new DataLoader((ids) => attemptsOfPayouts(db, ids)),
    retryProposalOfPayout: new DataLoader((ids) => retryProposalsOfPayouts(db, ids)),
    payoutBatch: byId((ids) => batchesByIds(db, ids)),
    attemptCountsOfBatch: new DataLoader((ids) => attemptCountsOfBatches(db, ids)),
    payoutBatchFile: new DataLoader((ids) => batchFiles(db, ids)),
  };
}
