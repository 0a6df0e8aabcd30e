import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { startBank, testFilePki } from '../banks/simulator/support.ts';
import { waitFor } from '../support/waitFor.ts';
import { approvedBatch, approvedClaims, creditedByPayout, keys, payoutsOf, submissionContext } from './support.ts';
import { closeQueues, createQueues, type Queues } from '../../src/queues.ts';
import { enqueuePayoutBatch } from '../../src/payouts/queue.ts';

/**
 * A worker process killed (SIGKILL) while it waits for the bank's answer to a batch the bank has
 * already executed. Another worker finds the job stalled, sees the batch was being sent, asks the
 * bank first, and records what the bank did: every payout credited once.
 */
const hub = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
const pki = testFilePki();
const prefix = `test-${randomBytes(5).toString('hex')}`;
let db: TestDatabase;
let redis: Redis;
let queues: Queues;

beforeAll(async () => {
  db = await freshDatabase();
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  queues = createQueues(redis, prefix);
});
afterAll(async () => {
  await closeQueues(queues);
  const left = await redis.keys(`${prefix}:*`);
  if (left.length) await redis.del(...left);
  redis.disconnect();
  await db.drop();
});

function startWorkerProcess(bankUrl: string, outDir: string): ChildProcess {
  return spawn(process.execPath, [hub, 'work'], {
    env: {
      ...process.env, NODE_ENV: 'test', DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent',
      PII_KEY: keys.encryptionKey.toString('base64'), BANK_URL: bankUrl, CERTS_DIR: pki.certsDir, PAYOUT_OUT_DIR: outDir,
      // A short lock, so the stalled job is noticed within seconds; quick status polling.
      PAYOUT_JOB_LOCK_MS: '1000', PAYOUT_POLL_MS: '200', WORKER_PORT: '0',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

describe('a payout worker killed mid-submission', () => {
  it('leaves work another worker finishes, and the bank credits each payout once', async () => {
    await approvedClaims(db.pool, 4);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      // The bank executes the file at once but answers only after 30 s: the worker is killed while waiting.
      bank.simulator.setFaults({ delayMs: 30_000 });
      await enqueuePayoutBatch(queues.payouts, batch.id);
      const first = startWorkerProcess(bank.simulator.url, ctx.outDir);
      await waitFor('the bank to execute the batch', async () => (await bank.ledger()).length === 4, 60_000);
      first.kill('SIGKILL');
      await once(first, 'exit');
      const { rows } = await db.pool.query(`SELECT status, submission FROM payout_batches WHERE id = $1`, [batch.id]);
      expect(rows[0]).toEqual({ status: 'SUBMITTED', submission: 'SENDING' });

      bank.simulator.setFaults({ delayMs: 0 });
      const second = startWorkerProcess(bank.simulator.url, ctx.outDir);
      try {
        await waitFor('the second worker to record the bank\'s answer', async () => {
          const { rows: [b] } = await db.pool.query(`SELECT status FROM payout_batches WHERE id = $1`, [batch.id]);
          return b.status === 'ACCEPTED';
        }, 60_000);
      } finally {
        second.kill('SIGTERM');
        const [code] = await once(second, 'exit');
        expect(code).toBe(0); // graceful shutdown
      }
      const payouts = await payoutsOf(db.pool);
      const credited = await creditedByPayout(db.pool, bank);
      expect(credited.size).toBe(4);
      for (const p of payouts) expect([p.status, credited.get(p.id)]).toEqual(['PAID', p.amountFen]);
    } finally {
      ctx.remove();
    }
  });
});
