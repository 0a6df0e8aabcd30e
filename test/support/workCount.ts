/**
 * Counting work instead of timing it. Tests that guard against quadratic algorithms or entity
 * expansion bound what the code under test does — characters it touches, property reads it makes —
 * never how long it took: a loaded CI machine then cannot fail a correct build, and a quadratic
 * change fails on every machine. Durations are measured in bench/, which asserts nothing.
 */

import type pg from 'pg';

/**
 * The objects of `items`, each wrapped so that every property read is counted. An algorithm that
 * compares every entry with every payout reads N² properties; a linear one a few per object.
 */
export function countingReads<T extends object>(items: readonly T[]): { items: T[]; reads: () => number } {
  let reads = 0;
  const wrapped = items.map((item) => new Proxy(item, {
    get(target, key, receiver) {
      reads += 1;
      return Reflect.get(target, key, receiver);
    },
  }));
  return { items: wrapped, reads: () => reads };
}

/**
 * A document text that counts the characters a reader touches through it: one per `charCodeAt`,
 * the characters scanned by `indexOf`, copied by `slice`, compared by `startsWith`. A single-pass
 * reader touches each character a small constant number of times; pass it where a `string` is
 * expected (`text as unknown as string`).
 */
export class CountingText extends String {
  steps = 0;

  override charCodeAt(index: number): number {
    this.steps += 1;
    return super.charCodeAt(index);
  }

  override indexOf(search: string, from = 0): number {
    const at = super.indexOf(search, from);
    this.steps += Math.max(1, (at === -1 ? this.length : at + search.length) - Math.max(0, from));
    return at;
  }

  override slice(start?: number, end?: number): string {
    const part = super.slice(start, end);
    this.steps += part.length + 1;
    return part;
  }

  override startsWith(search: string, position?: number): boolean {
    this.steps += search.length;
    return super.startsWith(search, position);
  }
}

/**
 * Rows of `table` this connection's transaction has read so far (its statistics: earlier
 * transactions' counts may not be flushed yet, so take a difference within one transaction):
 * by scanning the table, fetched through its indexes, and both.
 */
export async function rowsReadSoFar(db: Pick<pg.ClientBase, 'query'>, table: string): Promise<{ scanned: number; fetched: number; read: number }> {
  const { rows: [read] } = await db.query<{ scanned: number; fetched: number }>(
    `SELECT coalesce(sum(seq_tup_read), 0)::int AS scanned, coalesce(sum(idx_tup_fetch), 0)::int AS fetched
       FROM pg_stat_xact_user_tables WHERE relid = $1::regclass`, [table]);
  return { ...read!, read: read!.scanned + read!.fetched };
}
