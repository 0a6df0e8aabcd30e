import DataLoader from 'dataloader';
import { scopeOf, type Context } from '../gateway/context.ts';
import { byId } from '../gateway/loaders.ts';
import { groupBy } from '../kernel/page.ts';
import { UNSCOPED } from '../kernel/scope.ts';
import type { OrganisationRow, UnitMoveRow } from './model.ts';
import { organisationInScope } from './service.ts';
import * as store from './store.ts';

/**
 * The organisations domain's per-request DataLoaders. Organisations are loaded unscoped: a caller
 * sees the names and codes of those above its own (`parent`, `ancestors`) and its unit's; what lies
 * below one (children, units) is shown only in the caller's scope (resolvers.ts).
 */
export interface OrganisationLoaders {
  organisation: DataLoader<number, OrganisationRow | null>;
  childrenOf: DataLoader<number, OrganisationRow[]>;
  openMoveOfUnit: DataLoader<number, UnitMoveRow | null>;
}

const perRequest = new WeakMap<object, OrganisationLoaders>();

export function organisationLoaders(ctx: Pick<Context, 'db' | 'loaders'>): OrganisationLoaders {
  let loaders = perRequest.get(ctx.loaders);
  if (!loaders) {
    loaders = {
      organisation: byId((ids) => store.organisationsByIds(ctx.db, ids, UNSCOPED)),
      childrenOf: new DataLoader(async (ids) => {
        const grouped = groupBy(await store.childrenOf(ctx.db, ids), (o) => o.parentId!);
        return ids.map((id) => grouped.get(id) ?? []);
      }),
      openMoveOfUnit: new DataLoader(async (ids) => {
        const moves = new Map((await store.openUnitMoves(ctx.db, ids)).map((m) => [m.unitId, m]));
        return ids.map((id) => moves.get(id) ?? null);
      }),
    };
    perRequest.set(ctx.loaders, loaders);
  }
  return loaders;
}

/**
 * Whether an organisation (by id) lies within the one the caller's token is bound to (`org`): always
 * for a caller bound to none, without loading it. For what a caller reaches unscoped (a member's
 * past unit, a payout's funder) and must not read beyond its organisation.
 */
export async function withinCallerOrganisation(ctx: Context, organisationId: number): Promise<boolean> {
  const scope = scopeOf(ctx.principal);
  return scope.organisationId == null || organisationInScope(scope, (await organisationLoaders(ctx).organisation.load(organisationId))!);
}
