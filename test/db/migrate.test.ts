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
});
