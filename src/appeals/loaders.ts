import DataLoader from 'dataloader';
import type { Context } from '../gateway/context.ts';
import { scopeOf } from '../gateway/context.ts';
import { byId } from '../gateway/loaders.ts';
import { groupBy } from '../kernel/page.ts';
import type { AttachmentRow } from '../attachments/model.ts';
import { attachmentsByIds } from '../attachments/store.ts';
import type { AppealRow } from './model.ts';
import * as store from './store.ts';

/**
 * The appeals domain's per-request DataLoaders, in the caller's scope. Kept beside the request's
 * own loaders (`ctx.loaders`, one object per request and per subscription event), so they live
 * exactly as long.
 */
export interface AppealLoaders {
  appeal: DataLoader<number, AppealRow | null>;
  appealsOfClaim: DataLoader<number, AppealRow[]>;
  appealsOfMember: DataLoader<number, AppealRow[]>;
  attachmentsOfAppeal: DataLoader<number, AttachmentRow[]>;
}

const perRequest = new WeakMap<object, AppealLoaders>();

const children = <T>(fetch: (ids: readonly number[]) => Promise<T[]>, parentOf: (row: T) => number) =>
  new DataLoader<number, T[]>(async (ids) => {
    const grouped = groupBy(await fetch(ids), parentOf);
    return ids.map((id) => grouped.get(id) ?? []);
  });

export function appealLoaders(ctx: Pick<Context, 'db' | 'principal' | 'loaders'>): AppealLoaders {
  let loaders = perRequest.get(ctx.loaders);
  if (!loaders) {
    const scope = scopeOf(ctx.principal);
    loaders = {
      appeal: byId((ids) => store.appealsByIds(ctx.db, ids, scope)),
      appealsOfClaim: children((ids) => store.appealsOfClaims(ctx.db, ids, scope), (a) => a.claimId),
      appealsOfMember: children((ids) => store.appealsOfMembers(ctx.db, ids, scope), (a) => a.memberId),
      // The appeal was loaded in scope; its documents are its member's.
      attachmentsOfAppeal: new DataLoader(async (ids) => {
        const links = await store.attachmentIdsOfAppeals(ctx.db, ids);
        const rows = new Map((await attachmentsByIds(ctx.db, links.map((l) => l.attachmentId), scope)).map((r) => [r.id, r]));
        const grouped = groupBy(links, (l) => l.appealId);
        return ids.map((id) => (grouped.get(id) ?? []).flatMap((l) => rows.get(l.attachmentId) ?? []));
      }),
    };
    perRequest.set(ctx.loaders, loaders);
  }
  return loaders;
}
