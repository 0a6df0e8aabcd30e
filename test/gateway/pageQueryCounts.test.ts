import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { queriesPerPageSize, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedBatch, approvedClaims } from '../payouts/support.ts';
import { PAGE_DOCUMENTS, type PageKind } from './pageDocuments.ts';

/**
 * The pages bench/gateway.ts measures, as the gateway executes them (queries compiled by graphql-jit):
 * each costs the same SQL statements, and round trips (src/db/reads.ts), for 5 items as for 50, and
 * answers exactly what graphql-js answers (a gateway with GRAPHQL_COMPILED_DOCUMENTS=0 over the same rows).
 */

let db: TestDatabase;
let compiled: TestGateway;
let interpreted: TestGateway;

beforeAll(async () => {
  db = await freshDatabase();
  compiled = await startTestGateway(db, { RATE_LIMIT_POINTS: '0', RESPONSE_CACHE_MB: '0' });
  interpreted = await startTestGateway(db, { RATE_LIMIT_POINTS: '0', RESPONSE_CACHE_MB: '0', GRAPHQL_COMPILED_DOCUMENTS: '0' });
  await approvedClaims(db.pool, 55);
  await approvedBatch(db.pool);
});
afterAll(async () => {
  await compiled?.close();
  await interpreted?.close();
  await db?.drop();
});

describe('executed pages', () => {
  for (const kind of Object.keys(PAGE_DOCUMENTS) as PageKind[]) {
    it(`a page of ${kind} costs the same SQL statements and round trips for 5 as for 50, fewer round trips than statements, and answers as graphql-js does`, async () => {
      const [small, large] = await queriesPerPageSize(compiled, PAGE_DOCUMENTS[kind], [5, 50]);
      expect(large!.result.errors).toBeUndefined();
      expect(large!.result.data[kind].edges).toHaveLength(50);
      expect(small!.result.data[kind].edges).toHaveLength(5);
      expect(large!.queries).toBe(small!.queries);
      // The page's nested reads, asked together, go out together: fewer round trips than statements.
      expect(large!.roundTrips).toBe(small!.roundTrips);
      expect(large!.roundTrips).toBeLessThan(large!.queries);
      expect(await interpreted.query({ role: 'ADMIN' }, PAGE_DOCUMENTS[kind], { n: 50 })).toEqual(large!.result);
    });
  }
});
