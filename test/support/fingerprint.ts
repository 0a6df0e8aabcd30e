import type pg from 'pg';

/**
 * Table fingerprints for "nothing already stored changes": a test takes them before feeding bad
 * input and compares after.
 */

/** Row count and md5 of every row of `table` as text, in a stable order: any insert, update or delete changes it. */
export async function fingerprint(db: pg.Pool, table: string, order = 't::text'): Promise<{ rows: number; md5: string | null }> {
  const { rows } = await db.query<{ rows: number; md5: string | null }>(
    `SELECT count(*)::int AS rows, md5(string_agg(t::text, ',' ORDER BY ${order})) AS md5 FROM ${table} t`,
  );
  return rows[0]!;
}

/** Fingerprints of several tables at once, keyed by table name. */
export async function fingerprints(db: pg.Pool, tables: readonly string[]): Promise<Record<string, { rows: number; md5: string | null }>> {
  const out: Record<string, { rows: number; md5: string | null }> = {};
  for (const table of tables) out[table] = await fingerprint(db, table);
  return out;
}
