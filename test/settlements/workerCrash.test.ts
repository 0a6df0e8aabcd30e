import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { simulatedItems } from '../../src/settlements/simulator/generate.ts';
import { startInsuranceSimulator, type InsuranceSimulator } from '../../src/settlements/simulator/server.ts';
import * as store from '../../src/settlements/store.ts';
import { expectedOutcome, registerMembers, registerPlatformSource, sampleRegistry, simData, statusOf } from './support.ts';
import { waitFor } from '../support/waitFor.ts';
import { closeQueues, createQueues, type Queues } from '../../src/queues.ts';
import { enqueueSettlementPull } from '../../src/settlements/queue.ts';

/**
 * A worker process killed (SIGKILL) in the middle of a pull job: the page was fetched, the
 * transaction storing it not committed. Another worker finds the job stalled and runs it again;
 * the page is stored once, the cursor moves once, every settlement is decided once.
 */
const hub = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
const registry = sampleRegistry(40);
const data = simData(registry, 250, 31);
const items = [...simulatedItems(data)];
const valid = items.filter((i) => i.truth.kind !== 'INVALID');

const prefix = `test-${randomBytes(5).toString('hex')}`;
let db: TestDatabase;
let redis: Redis;
let queues: Queues;
let simulator: InsuranceSimulator;

function startWorkerProcess(): ChildProcess {
  return spawn(process.execPath, [hub, 'work'], {
    env: {
      ...process.env, NODE_ENV: 'test', DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix,
      // A short lock, so the stalled job is noticed within seconds.
      SETTLEMENT_JOB_LOCK_MS: '1000', LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

beforeAll(async () => {
  db = await freshDatabase();
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  queues = createQueues(redis, prefix);
  await registerMembers(db.pool, registry);
  simulator = await startInsuranceSimulator({ ...data, infno: '9901' });
  await registerPlatformSource(db.pool, 'sim', simulator.url, 100);
});
afterAll(async () => {
  await simulator.close();
  await closeQueues(queues);
  const left = await redis.keys(`${prefix}:*`);
  if (left.length) await redis.del(...left);
  redis.disconnect();
  await db.drop();
});

describe('a worker killed during a job', () => {
  it('has its job run again by another worker, with the effect once', async () => {
    // Hold the source row: the first worker fetches page 1, then waits to store it.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query(`BEGIN`);
    await locker.query(`SELECT 1 FROM settlement_sources WHERE name = 'sim' FOR UPDATE`);
    await enqueueSettlementPull(queues.settlementPull, 'sim', null);

    const first = startWorkerProcess();
    await waitFor('the first worker to be inside the pull job', async () => {
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE settlement_sources SET cursor%'`,
      );
      return simulator.requested().includes(null) && rows[0]!.n === 1;
    });
    first.kill('SIGKILL');
    await once(first, 'exit');
    await locker.query('ROLLBACK');
    await locker.end();

    const second = startWorkerProcess();
    try {
      await waitFor('the second worker to pull the whole feed', async () => {
        const source = await store.sourceByName(db.pool, 'sim');
        const [counts] = await store.sourceCounts(db.pool, ['sim']);
        return source?.cursor === String(data.count) && counts!.received === 0 && counts!.total === valid.length;
      }, 60_000);
    } finally {
      second.kill('SIGTERM');
      const [code] = await once(second, 'exit');
      expect(code).toBe(0); // graceful shutdown
    }

    // The first page was fetched twice (the killed attempt and its re-run): stored once all the same.
    expect(simulator.requested().filter((c) => c === null)).toHaveLength(2);
    const stored = await statusOf(db.pool);
    expect(stored.size).toBe(valid.length);
    for (const item of valid) {
      const expected = expectedOutcome(data, registry, item);
      expect(stored.get(expected.setlId), expected.setlId).toEqual({ status: expected.status, reason: expected.reason, count: 1 });
    }
    const { rows } = await db.pool.query(`SELECT sum(received)::int AS received, sum(pages)::int AS pages FROM settlement_runs`);
    expect(rows[0]).toEqual({ received: data.count, pages: 3 });
    const rejections = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM settlement_rejections`);
    expect(rejections.rows[0]!.n).toBe(items.length - valid.length);
  });
});
