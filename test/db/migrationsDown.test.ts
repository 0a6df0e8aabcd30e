import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.ts';
import { TEST_DATABASE_URL } from '../support/db.ts';

/**
 * The migrations' Down sections are kept and tested rather than removed: applied migrations are
 * never edited (test/db/migrationChecksums.test.ts). Here, on a schema of its own: all migrations up,
 * then down one at a time, newest first, to an empty schema, then up again.
 */

const MIGRATIONS = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));
const schema = `t_${randomBytes(6).toString('hex')}`;
const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });

beforeAll(() => admin.connect());
afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

/** What the schema holds besides node-pg-migrate's own table: tables, indexes, sequences, views, functions, types. */
async function objectsOf(schemaName: string): Promise<string[]> {
  const { rows } = await admin.query<{ o: string }>(
    `SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' ELSE c.relkind::text END || ' ' || c.relname AS o
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname NOT LIKE 'pgmigrations%'
     UNION ALL
     SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
     UNION ALL
     SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'c') AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid)
     ORDER BY 1`,
    [schemaName],
  );
  return rows.map((r) => r.o);
}

/** Runs the Down section of the newest applied migration; returns its name. */
async function downOne(): Promise<string> {
  const [migration] = await runner({
    databaseUrl: TEST_DATABASE_URL, dir: MIGRATIONS, direction: 'down', count: 1, migrationsTable: 'pgmigrations', schema,
    checkOrder: true, singleTransaction: true,
    // node-pg-migrate's lock is one per database, and nothing else touches this test's schema: other
    // test files migrating their own schemas at the same time are not waited for.
    noLock: true,
    log: () => undefined,
  });
  return migration!.name;
}

describe('migrations down', () => {
  it('runs every Down section, newest first, to an empty schema, and migrates up again', async () => {
    const applied = await migrate({ databaseUrl: TEST_DATABASE_URL, schema });
    expect(await objectsOf(schema)).toEqual(expect.arrayContaining(['table members', 'function audit_log_chain']));
    const downed: string[] = [];
    for (const name of [...applied].reverse()) {
      downed.push(await downOne().catch((error: Error) => {
        throw new Error(`the Down section of ${name} fails: ${error.message}`);
      }));
    }
    expect(downed).toEqual([...applied].reverse());
    expect(await objectsOf(schema), 'left behind by the Down sections').toEqual([]);
    expect(await migrate({ databaseUrl: TEST_DATABASE_URL, schema })).toEqual(applied);
  });
});
