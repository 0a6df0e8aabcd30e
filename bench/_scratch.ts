import pg from 'pg';
import type { Redis } from 'ioredis';

/** A benchmark's own scratch space goes away with it: its queues' keys and its schema. */
export async function dropScratch(databaseUrl: string, schema: string, queues?: { redis: Redis; prefix: string }): Promise<void> {
  if (queues) {
    const left = await queues.redis.keys(`${queues.prefix}:*`);
    // In slices: one DEL with a million arguments would block Redis.
    for (let i = 0; i < left.length; i += 1000) await queues.redis.del(...left.slice(i, i + 1000));
    queues.redis.disconnect();
  }
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  } finally {
    await admin.end();
  }
}
