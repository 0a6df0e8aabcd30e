import DataLoader from 'dataloader';
import type { Context } from '../gateway/context.ts';
import { scopeOf } from '../gateway/context.ts';
import { byId } from '../gateway/loaders.ts';
import { groupBy } from '../kernel/page.ts';
import type { CondolenceRow } from './model.ts';
import * as store from './store.ts';

/**
 * The condolences domain's per-request DataLoaders, in the caller's scope, kept beside the
 * request's own loaders (`ctx.loaders`) so they live exactly as long.
 */
export interface CondolenceLoaders {
  condolence: DataLoader<number, CondolenceRow | null>;
  condolencesOfMember: DataLoader<number, CondolenceRow[]>;
  /** The condolence a payout pays (null for a claim's payout, or out of scope). */
  condolenceOfPayout: DataLoader<number, CondolenceRow | null>;
  /** The payout id of a condolence, null before planning made one. */
  payoutIdOfCondolence: DataLoader<number, number | null>;
}

const perRequest = new WeakMap<object, CondolenceLoaders>();

export function condolenceLoaders(ctx: Pick<Context, 'db' | 'principal' | 'loaders'>): CondolenceLoaders {
  let loaders = perRequest.get(ctx.loaders);
  if (!loaders) {
    const scope = scopeOf(ctx.principal);
    loaders = {
      condolence: byId((ids) => store.condolencesByIds(ctx.db, ids, scope)),
      condolencesOfMember: new DataLoader(async (ids) => {
        const grouped = groupBy(await store.condolencesOfMembers(ctx.db, ids, scope), (c) => c.memberId);
        return ids.map((id) => grouped.get(id) ?? []);
      }),
      condolenceOfPayout: new DataLoader(async (ids) => {
        const byPayout = new Map((await store.condolencesOfPayouts(ctx.db, ids, scope)).map(({ payoutId, ...c }) => [payoutId, c]));
        return ids.map((id) => byPayout.get(id) ?? null);
      }),
      payoutIdOfCondolence: new DataLoader((ids) => store.payoutIdsOfCondolences(ctx.db, ids)),
    };
    perRequest.set(ctx.loaders, loaders);
  }
  return loaders;
}
