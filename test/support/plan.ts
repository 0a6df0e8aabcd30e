import type pg from 'pg';
import type { Queryable } from '../../src/kernel/transaction.ts';

/**
 * The plan of the statement `send` makes through the connection it is given, explained instead of
 * run (statements without values, such as its `set_config`, run as sent), in a transaction with
 * sequential scans priced out: an index the planner could use is then used, so a test of a plan
 * holds on an empty table as on a province's. `after` looks at the transaction before it is rolled
 * back (the settings the statement left).
 */
export async function planWithoutSeqScans(
  pool: pg.Pool, send: (explaining: Queryable) => Promise<unknown>, after: (client: pg.PoolClient) => Promise<void> = async () => {},
): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL enable_seqscan = off');
    let plan = '';
    const explaining = {
      query: async (q: string | { text: string; values: unknown[] }, values?: unknown[]) => {
        const [text, params] = typeof q === 'string' ? [q, values] : [q.text, q.values];
        if (params === undefined) return client.query(text);
        plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');
        return { rows: [] };
      },
    } as unknown as Queryable;
    await send(explaining);
    await after(client);
    return plan;
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}
