import DataLoader from 'dataloader';
import type { Context } from '../gateway/context.ts';
import { scopeOf } from '../gateway/context.ts';
import { byId } from '../gateway/loaders.ts';
import { groupBy } from '../kernel/page.ts';
import type { NoticeRow } from './model.ts';
import * as store from './store.ts';

/** The notices' per-request DataLoaders, in the caller's scope, kept beside the request's own loaders (as the appeals' are). */
export interface NoticeLoaders {
  notice: DataLoader<number, NoticeRow | null>;
  noticesOfMember: DataLoader<number, NoticeRow[]>;
  noticesOfClaim: DataLoader<number, NoticeRow[]>;
}

const perRequest = new WeakMap<object, NoticeLoaders>();

export function noticeLoaders(ctx: Pick<Context, 'db' | 'principal' | 'loaders'>): NoticeLoaders {
  let loaders = perRequest.get(ctx.loaders);
  if (!loaders) {
    const scope = scopeOf(ctx.principal);
    loaders = {
      notice: byId((ids) => store.noticesByIds(ctx.db, ids, scope)),
      noticesOfMember: new DataLoader(async (ids) => {
        const grouped = groupBy(await store.noticesOfMembers(ctx.db, ids, scope), (n) => n.memberId);
        return ids.map((id) => grouped.get(id) ?? []);
      }),
      noticesOfClaim: new DataLoader(async (ids) => {
        const grouped = groupBy(await store.noticesOfClaims(ctx.db, ids, scope), (n) => n.claimId);
        return ids.map((id) => grouped.get(id) ?? []);
      }),
    };
    perRequest.set(ctx.loaders, loaders);
  }
  return loaders;
}
