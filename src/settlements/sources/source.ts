import type { SourceRecord } from '../records.ts';

/**
 * The one interface every settlement source implements: the platform's HTTP interface (or its
 * simulator), a drop directory, a single file. A source pages forward from a cursor it defines;
 * the hub stores that cursor and advances it in the transaction that stores the page.
 */
export interface SettlementPage {
  records: SourceRecord[];
  /** The cursor to ask with next (after this page). */
  nextCursor: string | null;
  hasMore: boolean;
  /** Records after this page, when the source knows (progress bars). */
  remaining: number | null;
}

export interface SettlementSource {
  /** The page of at most `limit` records after `cursor` (null: from the beginning). */
  fetchPage(cursor: string | null, limit: number): Promise<SettlementPage>;
}
