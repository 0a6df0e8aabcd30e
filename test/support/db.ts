import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';
import { waitFor } from './waitFor.ts';

/** The database tests use; every test file works in a schema of its own inside it. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  pool: pg.Pool;
  schema: string;
  /** A connection URL whose connections use the test schema (for child processes). */
  url: string;
  /** The role `pool` and `url` log in as when it is not the owner of the tables (`runtimeRole`). */
  runtimeRole?: string;
  drop(): Promise<void>;
}

/** `url` with its connections using `schema` first. */
export const inSchema = (url: string, schema: string) => `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema},public`)}`;

/**
 * A freshly migrated schema, dropped again by `drop()`. `runtimeRole`: migrated as the test
 * database's user, which owns the tables (MIGRATION_DATABASE_URL), and used as a fresh login role
 * granted the hub's run-time privileges (DATABASE_URL), dropped with the schema.
 */
export async function freshDatabase(options: { runtimeRole?: boolean } = {}): Promise<TestDatabase> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const runtimeRole = options.runtimeRole ? `hub_${schema}` : undefined;
  if (runtimeRole) await asOwner((admin) => admin.query(`CREATE ROLE ${runtimeRole} LOGIN`));
  await migrate({ databaseUrl: TEST_DATABASE_URL, schema, runtimeRole });
  const connectionString = runtimeRole ? withUser(TEST_DATABASE_URL, runtimeRole) : TEST_DATABASE_URL;
  const pool = createPool({ connectionString, schema, max: 10 });
  return {
    pool,
    schema,
    url: inSchema(connectionString, schema),
    runtimeRole,
    async drop() {
      await pool.end();
      await asOwner(async (admin) => {
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        if (runtimeRole) await admin.query(`DROP ROLE ${runtimeRole}`);
      });
    },
  };
}

/** `url` logging in as `role`. */
function withUser(url: string, role: string): string {
  const named = new URL(url);
  named.username = role;
  return named.toString();
}

/** Runs `work` on a connection of the test database's user (a superuser, the tables' owner). */
export async function asOwner<T>(work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Resolves once some backend waits for a lock the connection `holder` holds, or once `work` has
 * ended without waiting: then the test's expectations that follow show what went wrong.
 */
export async function untilBlockedBy(pool: pg.Pool, holder: pg.ClientBase, work: Promise<unknown>): Promise<void> {
  const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  let settled = false;
  work.then(() => { settled = true; }, () => { settled = true; });
  await waitFor(`a backend blocked by ${pid}, or the work to end`, async () => settled
    || (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid])).rows[0]!.n > 0);
}

/** How many backends of the test database wait for a lock now. */
export async function lockWaits(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
  return rows[0]!.n;
}

/**
 * `work` run against a transaction held open on a connection of its own: `hold` writes in it (taking
 * the locks `work` must wait for), `work` starts, and once it waits (or has ended) `whileWaiting`
 * runs and the transaction commits. Returns what `hold` returned and `work`'s promise, not awaited,
 * so a refusal is the test's to expect. The connection is rolled back and released whatever happens.
 */
export async function commitOnceWaitedOn<H, T>(
  pool: pg.Pool, hold: (held: pg.PoolClient) => Promise<H>, work: () => Promise<T>, whileWaiting?: () => Promise<void>,
): Promise<{ held: H; work: Promise<T> }> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const held = await hold(client);
    const working = work();
    await untilBlockedBy(pool, client, working);
    await whileWaiting?.();
    await client.query('COMMIT');
    return { held, work: working };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

/**
 * Counts the SQL statements run while `work` runs, on every connection of this process (the gateway's
 * reads go out on a pool of their own, src/db/reads.ts), and the round trips they took: a statement
 * asked while its connection still has others in flight travels with them (pipelined), one asked on
 * an idle connection starts a round trip of its own.
 */
export async function countQueries<T>(work: () => Promise<T>): Promise<{ result: T; queries: number; roundTrips: number }> {
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = prototype.query;
  const inFlight = new WeakMap<object, number>();
  let queries = 0;
  let roundTrips = 0;
  prototype.query = function (this: object, ...args: unknown[]) {
    queries += 1;
    const waiting = inFlight.get(this) ?? 0;
    if (waiting === 0) roundTrips += 1;
    const answer = original.apply(this, args);
    // pg's own pool asks with a callback (no promise): its statements are awaited one by one.
    if (answer instanceof Promise) {
      inFlight.set(this, waiting + 1);
      const settled = () => inFlight.set(this, inFlight.get(this)! - 1);
      answer.then(settled, settled);
    }
    return answer;
  };
  try {
    const result = await work();
    return { result, queries, roundTrips };
  } finally {
    prototype.query = original;
  }
}

/**
 * The values the one `column IN (…)` CHECK of `table` allows, sorted (PostgreSQL shows it as
 * `column = ANY (ARRAY[…])`): model tests hold their status unions against it.
 */
export async function checkedValues(db: TestDatabase, table: string, column: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ def: string }>(
    `SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE c.contype = 'c' AND n.nspname = $1 AND t.relname = $2`,
    [db.schema, table],
  );
  const lists = rows.flatMap(({ def }) => {
    const match = new RegExp(`^CHECK \\(\\(${column} = ANY \\(ARRAY\\[(.*)\\]\\)\\)\\)$`).exec(def);
    return match ? [[...match[1]!.matchAll(/'([^']*)'::text/g)].map((m) => m[1]!)] : [];
  });
  if (lists.length !== 1) throw new Error(`expected one CHECK on ${table}.${column}, found ${lists.length}`);
  return lists[0]!.sort();
}
