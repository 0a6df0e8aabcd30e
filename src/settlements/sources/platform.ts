import { errorEnvelope, PlatformError, readFeedOutput, readResponse, requestEnvelope, type PlatformClient } from '../envelope.ts';
import { itemRecord } from '../records.ts';
import type { SettlementPage, SettlementSource } from './source.ts';

/**
 * The platform's HTTP interface (and the simulator, which speaks the same envelope): one POST per
 * page. Errors (HTTP, infcode -1, malformed answers, timeouts) throw, for the job to retry.
 */
export interface PlatformSourceOptions {
  url: string;
  client: PlatformClient;
  infno: string;
  timeoutMs?: number;
}

export function platformSource(options: PlatformSourceOptions): SettlementSource {
  let sequence = 0;
  return {
    async fetchPage(cursor, limit): Promise<SettlementPage> {
      sequence += 1;
      const request = requestEnvelope(options.infno, { data: { cursor, page_size: limit } }, options.client, new Date(), sequence);
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json;charset=utf-8' },
          body: JSON.stringify(request),
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        throw new PlatformError(`${options.url}: ${(error as Error).message}`);
      }
      const body: unknown = await response.json().catch(() => errorEnvelope(request, `HTTP ${response.status}, not JSON`, new Date()));
      if (!response.ok && readInfcode(body) === 0) throw new PlatformError(`${options.url}: HTTP ${response.status}`);
      const feed = readFeedOutput(readResponse(body));
      const after = cursor === null ? 'from the start' : `after cursor ${cursor}`;
      return {
        records: feed.data.map((item, i) => itemRecord(item, `item ${i + 1} ${after}`)),
        nextCursor: feed.next_cursor,
        hasMore: feed.has_more,
        remaining: feed.remaining,
      };
    },
  };
}

function readInfcode(body: unknown): number | null {
  return typeof body === 'object' && body !== null && 'infcode' in body ? Number((body as { infcode: unknown }).infcode) : null;
}
