import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.ts';
import { TEST_DATABASE_URL } from '../support/db.ts';

/** node-pg-migrate's advisory lock (one per database); held by someone else, migrate waits for it. */
const NODE_PG_MIGRATE_LOCK = '7241865325823964';

describe('migrate', () => {
  it('waits for another process migrating the same database instead of failing', async () => {
    const other = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await other.connect();
    const schema = `t_${randomBytes(6).toString('hex')}`;
    try {
      await other.query(`SELECT pg_advisory_lock(${NODE_PG_MIGRATE_LOCK})`);
      const migrating = migrate({ databaseUrl: TEST_DATABASE_URL, schema });
      let settled = false;
      migrating.then(() => { settled = true; }, () => { settled = true; });
      await new Promise((resolve) => setTimeout(resolve, 600));
      // Still waiting for the lock (not failed, not done) while the other process holds it.
      expect(settled).toBe(false);
      await other.query(`SELECT pg_advisory_unlock(${NODE_PG_MIGRATE_LOCK})`);
      const applied = await migrating;
      expect(applied[0]).toBe('0001_members');
    } finally {
      await other.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await other.end();
    }
  });

  /**
   * `hub demo` prints its DATABASE_URL (`?options=-c search_path=hub_demo,public`) for other commands,
   * which all read the schema it names first: `hub migrate` with it must not migrate public instead.
   * A database of its own, so that public, were it migrated, is no other test's.
   */
  it('migrates the schema the URL\'s search_path names first, folded as PostgreSQL folds it, and leaves public alone', async () => {
    const database = `migrate_${randomBytes(5).toString('hex')}`;
    const base = TEST_DATABASE_URL.replace(/\/[^/?]+(\?|$)/, `/${database}$1`);
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const db = new pg.Client({ connectionString: base });
    await db.connect();
    try {
      const applied = await migrate({ databaseUrl: `${base}?options=${encodeURIComponent('-c search_path=Hub_Demo,public')}` });
      expect(applied[0]).toBe('0001_members');
      const { rows } = await db.query<{ schema: string; tables: number }>(
        `SELECT table_schema AS schema, count(*)::int AS tables FROM information_schema.tables WHERE table_schema IN ('public', 'hub_demo') GROUP BY 1`);
      expect(rows).toEqual([{ schema: 'hub_demo', tables: expect.any(Number) }]);
      expect((await db.query('SELECT name FROM hub_demo.pgmigrations ORDER BY id')).rows.map((r) => r.name)).toEqual(applied);
    } finally {
      await db.end();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  });
});
