import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../src/kernel/transaction.ts';
import { waitingClaimsAfter } from '../../src/benefits/store.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { planWithoutSeqScans } from '../support/plan.ts';

/**
 * The member-year's waiting claims are looked up for every claim a reversal, a rejection or a lowered
 * line releases: thousands in an adjudication batch of a province's feed. The look must read the
 * waiting claims of that member-year by index, never the plan year's claims: with the year's
 * statistics taken while it was small, the planner ANDed claims_member with claims_year and read
 * the whole year's index at each call (750 s of a province's flow).
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('the waiting claims of a member-year', () => {
  it('are read through the index of waiting claims alone, never the plan year\'s index', async () => {
    const plan = await planWithoutSeqScans(db.pool, (explaining) => waitingClaimsAfter(explaining as Tx, 1, 2, 2025));
    expect(plan, plan).toContain('claims_waiting');
    expect(plan, plan).not.toContain('claims_year');
    expect(plan, plan).not.toMatch(/Seq Scan on claim_reversals/);
  });
});
