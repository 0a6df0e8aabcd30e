import { textProblem } from './text.ts';

/** Ascending or descending, as a client asks for a sort. */
export type SortDirection = 'ASC' | 'DESC';

/** How a sort value travels in a cursor: as text, exactly as the database compares it. */
export type SortKind = 'text' | 'integer' | 'timestamp';

/** A row's place in an order: its sort value (null when sorting by the key alone, or the row has none) and its unique key. */
export interface PagePosition {
  value: string | null;
  key: number;
}

/**
 * A page of rows in keyset order, as stores read it (the gateway turns the arguments and cursor into
 * one; src/db/keyset.ts into SQL). Every order ends with the unique key, so ties never skip or
 * repeat rows.
 */
export interface Page {
  /** Rows to fetch: one more than asked, to learn whether more exist in the reading direction. */
  limit: number;
  size: number;
  /** The field sorted by (one of the connection's), or null for the connection's own order by its key. */
  order: { field: string; direction: SortDirection } | null;
  /** Read the rows before `from` (`last`/`before`), nearest first; the gateway puts them back in order. */
  backward: boolean;
  /** The cursor's row: the page starts after it (or ends before it, backward); null from the start (or the end). */
  from: PagePosition | null;
}

/** Just the first `size` rows in the list's own order, without a look past them: for a command's listing or a field showing the latest row. */
export const firstRows = (size: number): Page => ({ size, limit: size, order: null, backward: false, from: null });

const INTEGER = /^-?\d{1,18}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * Whether `value` is a sort value of `kind` as the database writes it (src/db/keyset.ts): a cursor
 * is sent back by clients, so what it holds is checked before it reaches SQL as a parameter.
 */
export function isSortValue(kind: SortKind, value: string): boolean {
  switch (kind) {
    case 'integer': return INTEGER.test(value);
    // Written in UTC with microseconds; an impossible date (Feb 30) reads back differently.
    case 'timestamp': {
      if (!TIMESTAMP.test(value)) return false;
      const time = new Date(`${value.slice(0, 23)}Z`);
      return !Number.isNaN(time.getTime()) && time.toISOString().slice(0, 23) === value.slice(0, 23);
    }
    case 'text': return value.length <= 1000 && textProblem(value) === null;
  }
}

/** Groups rows by a parent column, keeping the query's order (one query for many parents). */
export function groupBy<T>(rows: T[], parentOf: (row: T) => number): Map<number, T[]> {
  const map = new Map<number, T[]>();
  for (const row of rows) {
    const list = map.get(parentOf(row));
    if (list) list.push(row);
    else map.set(parentOf(row), [row]);
  }
  return map;
}
