import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { queriesPerPageSize, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedBatch, approvedClaims } from './support.ts';
import { PAGE_DOCUMENTS } from '../gateway/pageDocuments.ts';

/** A page of payouts with their claims, members and attempts costs the same SQL statements for 5 payouts as for 50. */

let db: TestDatabase;
let gw: TestGateway;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  await approvedClaims(db.pool, 55);
  await approvedBatch(db.pool);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const PAGE = PAGE_DOCUMENTS.payouts;

describe('the payouts connection', () => {
  it('serves a page of payouts with claim, member, unit, attempts and batches in a constant number of SQL statements', async () => {
    const [small, large] = await queriesPerPageSize(gw, PAGE, [5, 50]);
    expect(large!.result.errors).toBeUndefined();
    expect(large!.result.data.payouts.edges).toHaveLength(50);
    expect(large!.result.data.payouts.edges[0].node.attempts[0].batch).not.toBeNull();
    expect(large!.queries).toBe(small!.queries);
  });
});
