import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/kernel/transaction.ts';
import { otherSettlementsOfStays } from '../../src/settlements/store/applications.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

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
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      let plan = '';
      // The statement as the store sends it, explained instead of run (its settings run as sent).
      const explaining = {
        query: async (q: string | { text: string; values: unknown[] }) => {
          if (typeof q === 'string') return client.query(q);
          plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${q.text}`, q.values)).rows.map((r) => r['QUERY PLAN']).join('\n');
          return { rows: [] };
        },
      } as unknown as Queryable;
      await otherSettlementsOfStays(explaining, [1, 2]);
      expect(plan).toContain('settlements_application_person');
      expect(plan).toContain('settlements_stay');
      expect(plan).toContain('settlements_unnamed_person');
      expect(plan, plan).not.toMatch(/Seq Scan on settlements/);
      // Never compiled: priced at millions of rows it never reads, a JIT compile took 4 s of each adjudication batch.
      expect((await client.query<{ jit: string }>('SHOW jit')).rows[0]!.jit).toBe('off');
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
