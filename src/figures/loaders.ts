import DataLoader from 'dataloader';
import type { Context } from '../gateway/context.ts';
import { scopeOf } from '../gateway/context.ts';
import { claimTimelines, type ClaimTimeline } from './waiting.ts';

/**
 * The figures domain's per-request DataLoaders, in the caller's scope, kept beside the request's
 * own loaders (`ctx.loaders`) so they live exactly as long.
 */
export interface FiguresLoaders {
  /** A claim's timeline; null when the claim is not in scope. */
  claimTimeline: DataLoader<number, ClaimTimeline | null>;
}

const perRequest = new WeakMap<object, FiguresLoaders>();

export function figuresLoaders(ctx: Pick<Context, 'reads' | 'principal' | 'loaders'>): FiguresLoaders {
  let loaders = perRequest.get(ctx.loaders);
  if (!loaders) {
    const scope = scopeOf(ctx.principal);
    loaders = { claimTimeline: new DataLoader((ids) => claimTimelines(ctx.reads, ids, scope)) };
    perRequest.set(ctx.loaders, loaders);
  }
  return loaders;
}
