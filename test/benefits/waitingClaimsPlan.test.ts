import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../src/kernel/transaction.ts';
import { waitingClaimsAfter } from '../../src/benefits/store.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The member-year's waiting claims are looked up for every claim a reversal, a rejection or a lowered
 * line releases: thousands in an adjudication batch of a province's feed. The look must read the
 * waiting claims of that member-year by index, never the plan year's claims: with the year's
 * statistics taken while it was small, the planner ANDed claims_member with claims_year and read
 * the whole year's index at each call (750 s of a province's flow). The plan is read with
 * sequential scans priced out, so the test holds on an empty table as on a province's.
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
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      let plan = '';
      // The statement as the store sends it, explained instead of run.
      const explaining = {
        query: async (q: string, values: unknown[]) => {
          plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n');
          return { rows: [] };
        },
      } as unknown as Tx;
      await waitingClaimsAfter(explaining, 1, 2, 2025);
      expect(plan, plan).toContain('claims_waiting');
      expect(plan, plan).not.toContain('claims_year');
      expect(plan, plan).not.toMatch(/Seq Scan on claim_reversals/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
