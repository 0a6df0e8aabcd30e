import { invalid } from '../kernel/errors.ts';
import { isSortValue, type Page, type PagePosition, type SortDirection } from '../kernel/page.ts';
import type { Ordering, SortField } from '../db/keyset.ts';

/**
 * Relay connections over keyset cursors, both ways. A cursor holds the order it was read in and the
 * row's place in it (sort value and key), so pages never skip or repeat rows while others insert
 * (unlike OFFSET), and a cursor of another order is refused rather than misread.
 */
export const MAX_PAGE_SIZE = 100;
/** `first` (or `last`) when a client gives neither. */
export const DEFAULT_PAGE_SIZE = 20;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
  orderBy?: { field: string; direction?: SortDirection | null } | null;
}

/**
 * The page a connection field's arguments ask for: `first`/`after` forward, `last`/`before` backward
 * (the page just before the cursor, in the same order as forward pages), in `orderBy` when the
 * connection offers orders (`ordering`).
 */
export function readPage(args: PageArgs, ordering?: Ordering): Page {
  const { first, after, last, before } = args;
  if (first != null && last != null) throw invalid('last', 'cannot be given with first: first/after read forward, last/before backward');
  if (before != null && (first != null || after != null)) throw invalid('before', `cannot be given with ${first != null ? 'first' : 'after'}: first/after read forward, last/before backward`);
  if (after != null && last != null) throw invalid('after', 'cannot be given with last: first/after read forward, last/before backward');
  const backward = last != null || before != null;
  const size = (backward ? last : first) ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw invalid(backward ? 'last' : 'first', `must be between 1 and ${MAX_PAGE_SIZE}`);

  let order: Page['order'] = null;
  let field: SortField | undefined;
  if (args.orderBy) {
    field = (ordering?.fields as Record<string, SortField | undefined> | undefined)?.[args.orderBy.field];
    if (!field) throw invalid('orderBy.field', 'is not an order of this connection');
    order = { field: args.orderBy.field, direction: args.orderBy.direction ?? 'ASC' };
  }
  const cursor = backward ? before : after;
  const from = cursor ? decodeCursor(backward ? 'before' : 'after', cursor, order, field) : null;
  return { size, limit: size + 1, order, backward, from };
}

function encodeCursor(order: Page['order'], position: PagePosition): string {
  const text = order ? `o:${JSON.stringify([order.field, order.direction, position.value, position.key])}` : `k:${position.key}`;
  return Buffer.from(text).toString('base64url');
}

function decodeCursor(arg: string, cursor: string, order: Page['order'], field: SortField | undefined): PagePosition {
  const notOurs = () => invalid(arg, 'is not a cursor returned by this connection');
  const otherOrder = () => invalid(arg, 'is not a cursor of this ordering');
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const byKey = /^k:(\d{1,15})$/.exec(text);
  if (byKey) {
    if (order) throw otherOrder();
    return { value: null, key: Number(byKey[1]) };
  }
  if (!text.startsWith('o:')) throw notOurs();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(2));
  } catch {
    throw notOurs();
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw notOurs();
  const [name, direction, value, key] = parsed as unknown[];
  if (typeof name !== 'string' || (direction !== 'ASC' && direction !== 'DESC') || (value !== null && typeof value !== 'string')
    || typeof key !== 'number' || !Number.isSafeInteger(key) || key < 0) throw notOurs();
  if (!order || !field || name !== order.field || direction !== order.direction) throw otherOrder();
  // The value becomes a SQL parameter of the field's type: one that would not read back is refused here.
  if (value === null ? !field.nullable : !isSortValue(field.kind, value)) throw notOurs();
  return { value, key };
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** A connection whose total is counted only when a client asks for `totalCount`. */
export interface CountedConnection<T> extends Connection<T> {
  count?: () => Promise<number>;
}

/** The `totalCount` resolver of every counted connection: the count when it has one, else its edges. */
export const countedTotal = (connection: CountedConnection<unknown>): number | Promise<number> => connection.count?.() ?? connection.edges.length;

/**
 * Builds a connection from up to `page.limit` rows as the store read them (src/db/keyset.ts: in the
 * page's order, nearest the cursor first when backward, each with its `pageKey` when sorted by a
 * field); `key` is the row's unique key.
 */
export function toConnection<T extends object>(rows: T[], page: Page, key: (row: T) => number): Connection<T> {
  const taken = rows.slice(0, page.size);
  if (page.backward) taken.reverse();
  const edges = taken.map((node) => ({ cursor: encodeCursor(page.order, { value: sortValueOf(node), key: key(node) }), node }));
  const more = rows.length > page.size;
  return {
    edges,
    pageInfo: {
      // The far side is read (one row more); the near side is the cursor's, seen by the client before.
      hasNextPage: page.backward ? page.from !== null : more,
      hasPreviousPage: page.backward ? more : page.from !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

const sortValueOf = (row: object): string | null => ('pageKey' in row && typeof row.pageKey === 'string' ? row.pageKey : null);
