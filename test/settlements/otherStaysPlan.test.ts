import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otherSettlementsOfStays } from '../../src/settlements/store/applications.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { planWithoutSeqScans } from '../support/plan.ts';

/**
 * The same-stay look runs in every adjudication batch, approval and re-decision, under their locks:
 * each of its branches must be answered by an index, never by reading every settlement. Its plan
 * is read with sequential scans priced out (an index the planner could use is then used), so the
 * test holds on an empty table as on a province's.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('the same-stay look', () => {
  it('reads the candidates of a feed settlement and of an application by index, never the whole table', async () => {
    let jit = '';
    const plan = await planWithoutSeqScans(db.pool, (explaining) => otherSettlementsOfStays(explaining, [1, 2]), async (client) => {
      jit = (await client.query<{ jit: string }>('SHOW jit')).rows[0]!.jit;
    });
    expect(plan).toContain('settlements_application_person');
    expect(plan).toContain('settlements_stay');
    expect(plan).toContain('settlements_unnamed_person');
    expect(plan, plan).not.toMatch(/Seq Scan on settlements/);
    // Never compiled: priced at millions of rows it never reads, a JIT compile took 4 s of each adjudication batch.
    expect(jit).toBe('off');
  });
});
