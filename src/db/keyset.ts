import type { Page, SortDirection, SortKind } from '../kernel/page.ts';
import type { Params } from './sql.ts';

/** A column (or expression) a connection may be sorted by. */
export interface SortField {
  /** SQL of the value, from the store's own text: never from a request. */
  sql: string;
  kind: SortKind;
  /** The value may be NULL: such rows come after all others ascending (PostgreSQL's NULLS LAST), first descending. */
  nullable?: boolean;
}

/**
 * The orders a connection offers: by its unique `key` alone (its own order, in `direction`), or by
 * one of `fields` (a whitelist: a client names a field, never SQL) and then the key, so rows with
 * equal values keep one order.
 */
export interface Ordering<F extends string = string> {
  key: string;
  direction: SortDirection;
  fields: Readonly<Record<F, SortField>>;
}

/** The connection's own order only (no `orderBy`). */
export const byKey = (key: string, direction: SortDirection): Ordering<never> => ({ key, direction, fields: {} });

const SQL_TYPES: Record<SortKind, string> = { text: 'text', integer: 'bigint', timestamp: 'timestamptz' };

/** The sort value as a cursor carries it: text that reads back to the same value (timestamps to the microsecond, in UTC). */
function valueAsText(field: SortField): string {
  switch (field.kind) {
    case 'text': return `${field.sql}::text`;
    case 'integer': return `${field.sql}::text`;
    case 'timestamp': return `to_char(${field.sql} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
  }
}

/**
 * SQL of a keyset page: `where` (the rows after the page's cursor, or before it backward; `true`
 * from an end), `orderBy` (reversed backward: the rows nearest the cursor come first, the gateway
 * turns them around) and `pageKey`, a select item giving each row's sort value for its cursor
 * (empty in the key's own order, where the key is the cursor). Cursor values enter as parameters.
 */
export function keysetSql(p: Params, ordering: Ordering, page: Page): { where: string; orderBy: string; pageKey: string } {
  const field = page.order ? (ordering.fields as Record<string, SortField | undefined>)[page.order.field] : undefined;
  if (page.order && !field) throw new RangeError(`no order ${page.order.field} here`); // the gateway checks orderBy first
  const ascending = ((page.order?.direction ?? ordering.direction) === 'ASC') !== page.backward;
  const sort = ascending ? 'ASC' : 'DESC';
  const { key } = ordering;
  const orderBy = field ? `${field.sql} ${sort}, ${key} ${sort}` : `${key} ${sort}`;
  const pageKey = field ? `, ${valueAsText(field)} AS "pageKey"` : '';
  if (!page.from) return { where: 'true', orderBy, pageKey };

  const op = ascending ? '>' : '<';
  const from = `${p.add(page.from.key)}::bigint`;
  if (!field) return { where: `${key} ${op} ${from}`, orderBy, pageKey };
  if (page.from.value === null) {
    // NULL sorts last ascending: after a NULL come only NULLs with a greater key; before it, every value.
    const where = ascending ? `(${field.sql} IS NULL AND ${key} > ${from})` : `(${field.sql} IS NOT NULL OR ${key} < ${from})`;
    return { where, orderBy, pageKey };
  }
  const value = `${p.add(page.from.value)}::${SQL_TYPES[field.kind]}`;
  // A row comparison, which a (value, key) index answers directly.
  const where = `(${field.sql}, ${key}) ${op} (${value}, ${from})`;
  return { where: field.nullable && ascending ? `(${where} OR ${field.sql} IS NULL)` : where, orderBy, pageKey };
}
