import { Redis } from 'ioredis';
import type pg from 'pg';
import type { Config } from './config.ts';
import { createPool } from './db/pool.ts';
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
