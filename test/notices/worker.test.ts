import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as noticeWorker from '../../jobs/notices.ts';
import { createNoticeQueue } from '../../src/notices/queue.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { waitFor } from '../support/waitFor.ts';
import { decidedClaim, namedMember, noticeTestSettings, notify, paidPayout, paymentNotification } from './support.ts';

/**
 * The notice worker (jobs/notices.ts): its sweep finds every decision or payment notification
 * without a notice, its jobs issue them, and sweeping again adds nothing. Without a seal it stays idle.
 */
let db: TestDatabase;
let redis: Redis;
const prefix = `test-notices-${randomBytes(4).toString('hex')}`;
let workers: Worker[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  const left = await redis.keys(`${prefix}*`);
  if (left.length) await redis.del(...left);
  redis.disconnect();
  await db.drop();
});

const count = async (sql: string) => (await db.pool.query<{ n: number }>(sql)).rows[0]!.n;

describe('the notice worker', () => {
  it('issues a notice for each decision and payment notification, once', async () => {
    const m = await namedMember(db.pool);
    const claimId = await decidedClaim(db.pool, m);
    const payoutId = await paidPayout(db.pool, m, claimId, 50_000);
    await notify(db.pool, { memberId: m.memberId, kind: 'CLAIM_DECIDED', subjectType: 'Claim', subjectId: claimId, facts: {} });
    await paymentNotification(db.pool, 'PAYOUT_PAID', payoutId);
    // Not a decision or payment: no notice.
    await notify(db.pool, { memberId: m.memberId, kind: 'BANK_ACCOUNT_CHANGED', subjectType: 'Member', subjectId: m.memberId, facts: {} });

    const queue = createNoticeQueue(redis, prefix);
    const services = { db: db.pool, connection: redis, prefix, notices: { settings: noticeTestSettings(), queue } };
    workers = await noticeWorker.start(services);
    expect(await noticeWorker.sweep(services)).toBe(2);
    await waitFor('two notices', async () => (await count(`SELECT count(*)::int AS n FROM notices`)) === 2);
    const kinds = (await db.pool.query<{ kind: string }>(`SELECT kind FROM notices ORDER BY notification_id`)).rows.map((r) => r.kind);
    expect(kinds).toEqual(['CLAIM_DECIDED', 'PAYOUT_PAID']);
    expect(await noticeWorker.sweep(services)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'notice.issue'`)).toBe(2);
    await queue.close();
  });

  it('without a seal starts no worker and sweeps nothing', async () => {
    const services = { db: db.pool, connection: redis, prefix, notices: null };
    expect(await noticeWorker.start(services)).toEqual([]);
    expect(await noticeWorker.sweep(services)).toBe(0);
  });
});
