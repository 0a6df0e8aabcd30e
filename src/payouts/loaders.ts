import DataLoader from 'dataloader';
import type { Queryable } from '../kernel/transaction.ts';
import { byId, byParent, countByParent, type ParentKey } from '../gateway/loaders.ts';
import type { AttemptCount, AttemptRow, BatchRow, FunderRow, PaymentPolicyRow, PayoutRow, ReleaseRow, RetryProposalRow, ReleasedToday, SealedBatchFile } from './model.ts';
import { policiesByIds, releasedTodayFrom } from './store/policies.ts';
import { fundersByIds } from './store/funders.ts';
import { attemptCountsOfBatches, batchesByIds, batchFiles, releasesOfBatches } from './store/batches.ts';
import { attemptsOfPayouts, paidByBank, payoutCountsOfMembers, payoutsByIds, payoutsOfClaims, payoutsOfMembers, retryProposalsOfPayouts } from './store/payouts.ts';
import type { Page } from '../kernel/page.ts';
import type { Scope } from '../kernel/scope.ts';

export interface PayoutLoaders {
  /** Payouts by id, within the caller's scope. */
  payout: DataLoader<number, PayoutRow | null>;
  /** A claim's payouts, one per funder of its approved lines. */
  payoutsOfClaim: DataLoader<number, PayoutRow[]>;
  payoutsOfMember: DataLoader<ParentKey<Page>, PayoutRow[], string>;
  payoutCountOfMember: DataLoader<ParentKey<null>, number, string>;
  attemptsOfPayout: DataLoader<number, AttemptRow[]>;
  /** A payout's retry proposal awaiting a second FINANCE person. */
  retryProposalOfPayout: DataLoader<number, RetryProposalRow | null>;
  /** Whether the bank had paid the payout (returned, or debited on a statement): its retry takes four eyes. */
  payoutPaidByBank: DataLoader<number, boolean>;
  /** Batches by id, within the caller's scope (the resolvers check the caller may see batches). */
  payoutBatch: DataLoader<number, BatchRow | null>;
  attemptCountsOfBatch: DataLoader<number, AttemptCount[]>;
  /** A batch's sealed file as stored and its seal (one query whether a request asks for the file, the seal or both). */
  payoutBatchFile: DataLoader<number, SealedBatchFile | null>;
  /** Funders by id, unscoped (a payout's or a batch's: whoever may see those may see whose money they are; Funder.balance checks the scope). */
  funder: DataLoader<number, FunderRow | null>;
  /** How a batch was released (approval or policy), for whoever sees one of its payments. */
  releaseOfBatch: DataLoader<number, ReleaseRow | null>;
  /** Payment policies by id, within the caller's scope (the resolvers check the caller may see batches). */
  paymentPolicy: DataLoader<number, PaymentPolicyRow | null>;
  /** What policies released today from a paying account. */
  releasedTodayFromAccount: DataLoader<string, ReleasedToday>;
}

export function createPayoutLoaders(db: Queryable, scope: Scope): PayoutLoaders {
  return {
    payout: byId((ids) => payoutsByIds(db, ids, scope)),
    payoutsOfClaim: new DataLoader((ids) => payoutsOfClaims(db, ids, scope)),
    payoutsOfMember: byParent((memberIds, page) => payoutsOfMembers(db, memberIds, scope, page)),
    payoutCountOfMember: countByParent<null>((memberIds) => payoutCountsOfMembers(db, memberIds, scope)),
    attemptsOfPayout: new DataLoader((ids) => attemptsOfPayouts(db, ids)),
    retryProposalOfPayout: new DataLoader((ids) => retryProposalsOfPayouts(db, ids)),
    payoutPaidByBank: new DataLoader((ids) => paidByBank(db, ids)),
    payoutBatch: byId((ids) => batchesByIds(db, ids, scope)),
    attemptCountsOfBatch: new DataLoader((ids) => attemptCountsOfBatches(db, ids)),
    payoutBatchFile: new DataLoader((ids) => batchFiles(db, ids)),
    funder: byId((ids) => fundersByIds(db, ids)),
    releaseOfBatch: new DataLoader((ids) => releasesOfBatches(db, ids)),
    paymentPolicy: byId((ids) => policiesByIds(db, ids, scope)),
    releasedTodayFromAccount: new DataLoader(async (accounts) => {
      const today = await releasedTodayFrom(db, accounts);
      return accounts.map((a) => today.get(a) ?? { payouts: 0, totalFen: 0 });
    }),
  };
}
