import pg from 'pg';
import { config } from '../config.ts';
import { log } from '../log.ts';
import type { Queryable, Tx } from '../kernel/transaction.ts';

// bigint (int8) columns hold fen and ids: parse them as JS numbers only when safe, never silently round.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${v} exceeds the safe integer range`);
  return n;
});
// DATE columns stay 'yyyy-MM-dd' strings: no time zone can shift a calendar date.
pg.types.setTypeParser(pg.types.builtins.DATE, (v: string) => v);


export interface PoolOptions {
  connectionString?: string;
  /** Every connection uses this schema first (tests give each file its own). */
  schema?: string;
  max?: number;
}

export function createPool(options: PoolOptions = {}): pg.Pool {
  const { connectionString = config().DATABASE_URL, schema, max = config().DATABASE_POOL_SIZE } = options;
  return watched(new pg.Pool({
    connectionString,
    max,
    options: schema ? `-c search_path=${schema},public` : undefined,
    application_name: 'mutual-aid-hub',
  }));
}

/**
 * A pool like `pool` (the same server, schema and size) whose connections pipeline: for reads sent
 * together (src/db/reads.ts). Kept apart from `pool` because a pipelined connection refuses COPY
 * (roster and statement imports use it) and cursors. Its statements are prepared once a connection;
 * each is still planned for its own values (`plan_cache_mode`), so a unit of 20 members and one of
 * 20,000 never share a plan made for the other.
 */
export function pipelinedPool(pool: pg.Pool): pg.Pool {
  // Given here, `options` would hide libpq's PGOPTIONS, which pg reads only when none is given.
  const options = [pool.options.options ?? process.env.PGOPTIONS, '-c plan_cache_mode=force_custom_plan'].filter(Boolean).join(' ');
  return watched(new pg.Pool({ ...pool.options, options, pipeline: true }));
}

function watched(pool: pg.Pool): pg.Pool {
  // A connection the server dropped (restart, failover) fails its query and is replaced; its
  // 'error' event, unhandled, would end the process (idle ones reach the pool's, checked-out ones their own).
  pool.on('error', (error) => log.warn({ reason: error.message }, 'an idle database connection was lost'));
  pool.on('connect', (client) => client.on('error', (error) => {
    // A socket's own error (a reset with a query in flight) names no address: mark it as the
    // database's, before the query is failed with it, so a command's line names DATABASE_URL
    // (src/cliErrors.ts). pg emits this event before it rejects the client's queries.
    if ('syscall' in error) Object.assign(error, { setting: 'DATABASE_URL' });
    log.warn({ reason: error.message }, 'a database connection in use was lost');
  }));
  return pool;
}

/**
 * Runs `work` in one transaction; rolls back on any error so a batch is never half-written. A
 * connection whose ROLLBACK failed may still hold the transaction open: it is closed, not returned
 * to the pool for the next caller to inherit.
 */
export async function inTransaction<T>(db: pg.Pool, work: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client as Tx);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => { broken = rollbackError; });
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Resolves when the database answers a query (readiness checks). */
export async function ping(db: Queryable | pg.ClientBase): Promise<void> {
  await db.query('SELECT 1');
}

/**
 * Takes the session-level advisory lock named `key` on this connection, if no other session holds
 * it: held until the connection ends (one process owning a schema, e.g. the demo's).
 */
export async function tryHoldLock(client: pg.ClientBase, key: string): Promise<boolean> {
  const { rows } = await client.query<{ held: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS held`, [key]);
  return rows[0]!.held;
}
