import { invalid } from '../kernel/errors.ts';
import type { Page } from '../kernel/page.ts';

/**
 * Relay connections over keyset cursors. A cursor is the sort key of the last row seen, so
 * pages never skip or repeat rows while others insert (unlike OFFSET).
 */
export const MAX_PAGE_SIZE = 100;
/** `first` when a client leaves it out (the schema's connection fields declare the same default). */
export const DEFAULT_PAGE_SIZE = 20;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export function readPage({ first, after }: PageArgs): Page {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw invalid('first', `must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return { size, limit: size + 1, afterKey: after ? decodeCursor(after) : null };
}

export function encodeCursor(key: number): string {
  return Buffer.from(`k:${key}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^k:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw invalid('after', 'is not a cursor returned by this connection');
  return Number(match[1]);
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

/** Builds a connection from up to `page.limit` rows ordered by `key`. */
export function toConnection<T>(rows: T[], page: Page, key: (row: T) => number): Connection<T> {
  const edges = rows.slice(0, page.size).map((node) => ({ cursor: encodeCursor(key(node)), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > page.size,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
