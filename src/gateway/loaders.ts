import DataLoader from 'dataloader';

/**
 * Per-request DataLoaders. `byId` batches lookups of single rows; `byParent` batches pages of
 * children (one connection per parent, same arguments) into one SQL query per distinct arguments.
 */
export function byId<T extends { id: number }>(fetch: (ids: readonly number[]) => Promise<T[]>): DataLoader<number, T | null> {
  return new DataLoader(async (ids) => {
    const rows = new Map((await fetch(ids)).map((row) => [row.id, row]));
    return ids.map((id) => rows.get(id) ?? null);
  });
}

export interface ParentKey<A> {
  parentId: number;
  args: A;
}

export function byParent<A, T>(
  fetch: (parentIds: number[], args: A) => Promise<Map<number, T[]>>,
): DataLoader<ParentKey<A>, T[], string> {
  return perParent(fetch, []);
}

/** Counts of children (a connection's `totalCount` per parent), batched as `byParent` batches pages. */
export function countByParent<A>(fetch: (parentIds: number[], args: A) => Promise<Map<number, number>>): DataLoader<ParentKey<A>, number, string> {
  return perParent(fetch, 0);
}

function perParent<A, V>(
  fetch: (parentIds: number[], args: A) => Promise<Map<number, V>>,
  none: V,
): DataLoader<ParentKey<A>, V, string> {
  // Each key's arguments as text, made once per key (the cache key, then its batch's group).
  const argsKeys = new WeakMap<ParentKey<A>, string>();
  const argsKeyOf = (key: ParentKey<A>) => {
    let text = argsKeys.get(key);
    if (text === undefined) argsKeys.set(key, (text = JSON.stringify(key.args)));
    return text;
  };
  return new DataLoader(
    async (keys) => {
      const groups = new Map<string, { args: A; parentIds: number[] }>();
      for (const key of keys) {
        const argsKey = argsKeyOf(key);
        const group = groups.get(argsKey) ?? { args: key.args, parentIds: [] };
        group.parentIds.push(key.parentId);
        groups.set(argsKey, group);
      }
      const results = new Map<string, Map<number, V>>();
      await Promise.all(
        [...groups].map(async ([argsKey, group]) => results.set(argsKey, await fetch(group.parentIds, group.args))),
      );
      return keys.map((key) => results.get(argsKeyOf(key))?.get(key.parentId) ?? none);
    },
    { cacheKeyFn: (key) => `${key.parentId}|${argsKeyOf(key)}` },
  );
}

/**
 * Per-request loader sets made on first use: a request reads one or two domains, and making every
 * domain's loaders for each request cost the gateway a tenth of its throughput. Returns a maker of
 * the merged object; each set's loaders appear as properties and share their set.
 */
export function lazyLoaders<S, T extends object>(sets: ReadonlyArray<(scope: S) => object>, sample: S): (scope: S) => T {
  class Loaders {
    readonly made: object[] = [];
    constructor(readonly scope: S) {}
  }
  sets.forEach((make, i) => {
    for (const name of Object.keys(make(sample))) {
      Object.defineProperty(Loaders.prototype, name, {
        get(this: Loaders) {
          return (this.made[i] ??= make(this.scope))[name as keyof object];
        },
      });
    }
  });
  return (scope) => new Loaders(scope) as unknown as T;
}
