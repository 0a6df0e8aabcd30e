import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { queriesPerPageSize, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { seedEnrolledMember, seedReversal, seedSettlement } from '../benefits/seed.ts';
import { PAGE_DOCUMENTS } from '../gateway/pageDocuments.ts';

/** A page of settlements with what links them (member, enrolment, unit, reversals, claim) costs the same SQL statements for 5 as for 50. */

let db: TestDatabase;
let gw: TestGateway;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  for (let i = 0; i < 55; i += 1) {
    const m = await seedEnrolledMember(db.pool);
    const settlement = await seedSettlement(db.pool, m, { setlTime: `2025-06-${String(1 + (i % 28)).padStart(2, '0')} 10:00:00` });
    // Every fifth settlement reversed: both ends of a reversal appear on the pages.
    if (i % 5 === 0) await seedReversal(db.pool, m, settlement);
  }
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const PAGE = PAGE_DOCUMENTS.settlements;

describe('the settlements connection', () => {
  it('serves a page of settlements with member, enrolment, unit, reversals and claim in a constant number of SQL statements', async () => {
    const [small, large] = await queriesPerPageSize(gw, PAGE, [5, 50]);
    expect(large!.result.errors).toBeUndefined();
    const nodes = large!.result.data.settlements.edges.map((e: { node: { reverses: unknown; reversedBy: unknown } }) => e.node);
    expect(nodes).toHaveLength(50);
    expect(nodes.some((s: { reverses: unknown }) => s.reverses !== null)).toBe(true);
    expect(nodes.some((s: { reversedBy: unknown }) => s.reversedBy !== null)).toBe(true);
    expect(large!.queries).toBe(small!.queries);
  });
});
