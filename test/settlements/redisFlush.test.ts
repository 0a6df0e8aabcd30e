import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { log } from '../../src/log.ts';
import { startWorkers, type RunningWorkers } from '../../jobs/worker.ts';
import type { MatchedSettlement } from '../../src/settlements/model.ts';
import { simulatedItems } from '../../src/settlements/simulator/generate.ts';
import { startInsuranceSimulator, type InsuranceSimulator } from '../../src/settlements/simulator/server.ts';
import * as store from '../../src/settlements/store.ts';
import { importFromSource } from '../../src/settlements/ingest.ts';
import { fileSource } from '../../src/settlements/sources/files.ts';
import { expectedOutcome, keys, registerMembers, registerPlatformSource, sampleRegistry, simData, statusOf } from './support.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * Postgres is the record, Redis only carries work: the test prefix's keys are flushed while the
 * workers pull and match; after a restart every settlement is still stored and decided exactly once.
 */
const registry = sampleRegistry(80);
const data = simData(registry, 1200, 23);
const items = [...simulatedItems(data)];
const valid = items.filter((i) => i.truth.kind !== 'INVALID');

const prefix = `test-${randomBytes(5).toString('hex')}`;
let db: TestDatabase;
let redis: Redis;
let simulator: InsuranceSimulator;

async function flushPrefix(): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (found.length) removed += await redis.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
  return removed;
}

beforeAll(async () => {
  db = await freshDatabase();
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  await registerMembers(db.pool, registry);
  simulator = await startInsuranceSimulator({ ...data, infno: '9901', latencyMs: 40 });
  await registerPlatformSource(db.pool, 'sim', simulator.url, 50, 1);
});
afterAll(async () => {
  await simulator.close();
  await flushPrefix();
  redis.disconnect();
  await db.drop();
});

describe('losing Redis mid-run', () => {
  it('loses nothing and decides every settlement exactly once', async () => {
    const decided: number[] = [];
    const afterMatch = [async (batch: MatchedSettlement[]) => void decided.push(...batch.map((d) => d.id))];
    const start = () => startWorkers({ db: db.pool, keys, connection: redis, prefix, log, settlements: { afterMatch, lockMs: 2000 } });

    let workers: RunningWorkers = await start();
    const countStored = async () => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM settlements`)).rows[0]!.n;
    const storedAtFlush = await waitFor('a part of the feed to be stored', async () => {
      const n = await countStored();
      return n >= 200 ? n : null;
    });
    expect(await flushPrefix()).toBeGreaterThan(0);
    expect(storedAtFlush).toBeLessThan(valid.length); // really mid-run
    await workers.close();

    workers = await start();
    let lastSeen: unknown;
    try {
      await waitFor('the whole feed to be stored and decided', async () => {
        const source = await store.sourceByName(db.pool, 'sim');
        const [counts] = await store.sourceCounts(db.pool, ['sim']);
        lastSeen = { cursor: source?.cursor, of: data.count, ...counts, expected: valid.length };
        return source?.cursor === String(data.count) && counts!.received === 0 && counts!.total === valid.length;
      }, 150_000).catch((error: Error) => {
        throw new Error(`${error.message}; last seen ${JSON.stringify(lastSeen)}`);
      });
    } finally {
      await workers.close();
    }

    const stored = await statusOf(db.pool);
    expect(stored.size).toBe(valid.length);
    for (const item of valid) {
      const expected = expectedOutcome(data, registry, item);
      expect(stored.get(expected.setlId), expected.setlId).toEqual({ status: expected.status, reason: expected.reason, count: 1 });
    }
    const rejections = (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM settlement_rejections`)).rows[0]!.n;
    expect(rejections).toBe(items.length - valid.length);
    // Each settlement passed the match step once: the step after it saw every one exactly once.
    expect(decided.length).toBe(valid.length);
    expect(new Set(decided).size).toBe(valid.length);
  }, 200_000);

  it('re-derives missing match jobs from the rows: a stored settlement nobody enqueued is still decided', async () => {
    // Stored without any job (as if the process died between commit and enqueue).
    const extra = items.slice(0, 30).filter((i) => i.truth.kind === 'SETTLEMENT').map((i) => JSON.stringify({ ...i.item, setlinfo: { ...i.item.setlinfo, setl_id: `X${i.index}` } }));
    await store.fileSourceNamed(db.pool, 'orphans');
    const { toMatch } = await importFromSource(db.pool, keys, fileSource(Readable.from([extra.join('\n')]), 'jsonl'), { source: 'orphans', fileName: 'o.jsonl', startedBy: 'test' });
    expect(toMatch).toHaveLength(extra.length);
    const workers = await startWorkers({ db: db.pool, keys, connection: redis, prefix, log });
    try {
      await waitFor('the sweeper to hand them to the match step', async () => (await store.sourceCounts(db.pool, ['orphans']))[0]!.received === 0);
    } finally {
      await workers.close();
    }
    const [counts] = await store.sourceCounts(db.pool, ['orphans']);
    expect(counts!.total).toBe(extra.length);
    expect(counts!.matched + counts!.unmatched).toBe(extra.length);
  });
});
