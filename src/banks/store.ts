import type { Queryable } from '../kernel/transaction.ts';

/**
 * The banks domain's SQL: where the hub stands in each of the bank's document feeds (the
 * `nextCursor` of `BankAdapter.statusReports` and `notifications`), one row per feed name.
 */

interface CursorRow {
  cursor: string;
}

/** The cursor stored for `feed`, or null when the feed was never read (read it from the start). */
export async function feedCursor(db: Queryable, feed: string): Promise<string | null> {
  const { rows } = await db.query<CursorRow>('SELECT cursor FROM bank_feed_cursors WHERE feed = $1', [feed]);
  return rows[0]?.cursor ?? null;
}

/** Stores where to continue `feed` from. */
export async function saveFeedCursor(db: Queryable, feed: string, cursor: string): Promise<void> {
  await db.query(
    `INSERT INTO bank_feed_cursors (feed, cursor) VALUES ($1, $2) ON CONFLICT (feed) DO UPDATE SET cursor = excluded.cursor, updated_at = now()`,
    [feed, cursor],
  );
}
