import { randomBytes } from 'node:crypto';
import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCamt054 } from '../../src/banks/iso20022/camt.ts';
import type { ReconciliationSettings } from '../../src/reconciliation/settings.ts';
import * as reconciliation from '../../jobs/reconciliation.ts';
import { startBank, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, keys, payoutsOf, submissionContext } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { bookedEntry } from './support.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { QUEUE_NAMES, type Queues } from '../../src/queues.ts';
import { waitFor } from '../support/waitFor.ts';

/**
 * The reconciliation worker on real Redis: the scheduled fetch pulls the simulator's documents and
 * reconciles (reporting progress), and after Redis lost everything the sweep re-derives the work
 * from PostgreSQL rows (a document left RECEIVED, entries left PENDING).
 */
const pki = testFilePki();
let db: TestDatabase;
let redis: Redis;
const prefix = `test-${randomBytes(5).toString('hex')}`;
const silent = pino({ level: 'silent' });

beforeAll(async () => {
  db = await freshDatabase();
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await db.drop();
});

describe('the reconciliation worker', () => {
  it('fetches on its schedule and reconciles; after a Redis flush the sweep brings back what the rows say is undone', async () => {
    await approvedClaims(db.pool, 2);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    const batch = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
    ctx.remove();

    const settings: ReconciliationSettings = {
      adapter: bank.adapter, accounts: [UNION_ACCOUNT], fetchEverySeconds: 3_600, lookbackDays: 0, debitDays: 2, holidays: new Set(), xsdDir: undefined,
    };
    const progress: unknown[] = [];
    const queue = new Queue(QUEUE_NAMES.reconciliation, { connection: redis, prefix });
    const servicesWith = (reconciliationSettings: ReconciliationSettings) => ({
      db: db.pool, keys, connection: redis, prefix, log: silent, queues: { reconciliation: queue } as Queues, reconciliation: reconciliationSettings,
    });
    let [worker] = await reconciliation.start(servicesWith(settings)) as [Worker];
    worker.on('progress', (_job, value) => progress.push(value));
    try {
      // The schedule's first run fetches at once.
      const run = await waitFor('a finished run', async () => (await db.pool.query(`SELECT status, started_by, matched FROM reconciliation_runs WHERE matched > 0 AND status <> 'RUNNING'`)).rows[0], 20_000);
      expect(run).toEqual({ status: 'DONE', started_by: 'schedule', matched: 2 });
      expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['SETTLED', 'SETTLED']);
      expect(progress).toContainEqual({ entries: 2, matched: 2, exceptions: 0 });

      // Redis loses everything while a document is stored but not processed.
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.removeJobScheduler('fetch-statements');
      const today = chinaToday();
      const credit = bookedEntry('CRDT', 4_321, today, { details: [{ debtor: { name: '无名', account: '999' }, remittanceInfo: ['?'] }] });
      const xml = writeCamt054({ msgId: 'LOST054', createdAt: `${today}T10:00:00+08:00`, notifications: [{ id: 'LOST054', createdAt: `${today}T10:00:00+08:00`, account: { id: UNION_ACCOUNT }, entries: [credit] }] });
      // An upload a second person confirmed, left RECEIVED by a worker that died before processing it.
      await db.pool.query(
        `INSERT INTO bank_documents (kind, xml, sha256, source, received_by, confirmed_by, confirmed_at, confirmation_reason)
         VALUES ('camt.054', $1, sha256(convert_to($1, 'UTF8')), 'UPLOAD', 'test', 'test-second', now(), 'checked with the bank')`,
        [xml],
      );

      [worker] = await reconciliation.start(servicesWith({ ...settings, adapter: null })) as [Worker];
      expect(await reconciliation.sweep(servicesWith({ ...settings, adapter: null }))).toBe(1);
      const exception = await waitFor('the unknown credit', async () => (await db.pool.query(`SELECT kind, amount_fen FROM reconciliation_exceptions`)).rows[0], 20_000);
      expect(exception).toEqual({ kind: 'UNKNOWN_CREDIT', amount_fen: 4_321 });
      expect((await db.pool.query(`SELECT status FROM bank_documents WHERE msg_id = 'LOST054'`)).rows).toEqual([{ status: 'ACCEPTED' }]);
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
