import { rmSync } from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';
import { bankBooksFile } from './payouts.ts';
import { tryHoldLock } from '../../src/db/pool.ts';

/**
 * What a demo run owns, reset at every start: the schema `hub_demo` in the configured database,
 * the BullMQ keys under `<QUEUE_PREFIX>-demo` and the bank simulator's books for that schema.
 * The demo plays the units, the reviewer and the bank, and what it plays only adds up against the
 * hub's tables as it left them: a run killed after the bank booked a unit's transfer, before the
 * hub reconciled it, leaves the unit's contribution outstanding in the tables, so the next run's
 * unit pays it again and the day is rightly not proven. Starting from nothing, every run — after
 * any crash — ends in the same state. Nothing outside the demo's own schema and prefix is touched.
 */
export const DEMO_SCHEMA = 'hub_demo';

export interface DemoState {
  /** DATABASE_URL of the demo's schema (its connections use `hub_demo` first). */
  databaseUrl: string;
  queuePrefix: string;
  /** Ends the demo's hold on the schema (another demo may then reset it). */
  release(): Promise<void>;
}

export class DemoBusyError extends Error {}

export async function resetDemoState(config: { DATABASE_URL: string; REDIS_URL: string; QUEUE_PREFIX: string }): Promise<DemoState> {
  // Held while the demo runs: a second demo on the same database would drop the schema under it.
  const holder = new pg.Client({ connectionString: config.DATABASE_URL });
  holder.on('error', () => undefined); // a lost connection only ends the hold
  await holder.connect();
  try {
    if (!await tryHoldLock(holder, DEMO_SCHEMA)) throw new DemoBusyError(`another hub demo is running on this database (schema ${DEMO_SCHEMA}); stop it first`);
    await holder.query(`DROP SCHEMA IF EXISTS ${DEMO_SCHEMA} CASCADE`);
  } catch (error) {
    await holder.end();
    throw error;
  }
  const databaseUrl = `${config.DATABASE_URL}${config.DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${DEMO_SCHEMA},public`)}`;
  const queuePrefix = `${config.QUEUE_PREFIX}-demo`;
  await clearKeys(config.REDIS_URL, `${queuePrefix}:*`);
  rmSync(bankBooksFile(databaseUrl), { force: true });
  return { databaseUrl, queuePrefix, release: () => holder.end() };
}

async function clearKeys(redisUrl: string, pattern: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    for await (const keys of redis.scanStream({ match: pattern, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length) await redis.unlink(...keys);
    }
  } finally {
    redis.disconnect();
  }
}
