import { Redis } from 'ioredis';
import type pg from 'pg';
import type { Config } from './config.ts';
import { createPool } from './db/pool.ts';
import { assertMigrated } from './db/migrate.ts';
import { log } from './log.ts';
import { personalDataKeys, type PersonalDataKeys } from './privacy/personalData.ts';

/** The process-wide resources every command shares, built from configuration. */
export interface Runtime {
  config: Config;
  db: pg.Pool;
  keys: PersonalDataKeys;
  /** Shared Redis connection for BullMQ (workers duplicate it for their blocking reads). */
  redis: Redis;
  close(): Promise<void>;
}

export function createRuntime(config: Config): Runtime {
  const db = createPool({ connectionString: config.DATABASE_URL });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false });
  // ioredis reconnects by itself; without a listener each failed attempt is printed as "unhandled".
  redis.on('error', (error: Error) => log.warn({ reason: error.message }, 'Redis connection error; reconnecting'));
  return {
    config,
    db,
    keys: personalDataKeys(config.PII_KEY, config.PII_HASH_KEY),
    redis,
    async close() {
      redis.disconnect();
      await db.end();
    },
  };
}

/**
 * createRuntime, once Redis answers and PostgreSQL answers with every migration applied: a command
 * or process that cannot start fails with the reason (cliErrors.ts) instead of waiting on
 * reconnects. Later losses are survived as before (reconnects, logged).
 */
export async function openRuntime(config: Config): Promise<Runtime> {
  const probe = new Redis(config.REDIS_URL, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  // connect() rejects with "Connection is closed."; the first error event says why (ECONNREFUSED, …).
  let reason: Error | undefined;
  probe.on('error', (error: Error) => (reason ??= error));
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    throw reason ?? error;
  } finally {
    probe.disconnect();
  }
  const runtime = createRuntime(config);
  try {
    await assertMigrated(runtime.db);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  return runtime;
}
