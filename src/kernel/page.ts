/** A page of rows in keyset order, as stores read it (the gateway turns cursors into one). */
export interface Page {
  /** Rows to fetch: one more than asked, to learn whether a next page exists. */
  limit: number;
  size: number;
  /** Sort key after which the page starts (the cursor's content), or null for the first page. */
  afterKey: number | null;
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
