import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startWorkers } from '../../jobs/worker.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { deliverDue, idempotencyKey } from '../../src/notifications/delivery.ts';
import { retryDelivery, setPreferences } from '../../src/notifications/decisions.ts';
import { claimDueDeliveries, planDeliveries } from '../../src/notifications/store.ts';
import type { NotifySimulator } from '../../src/notifications/simulator/server.ts';
import { renderMessage } from '../../src/notifications/messages.ts';
import type { NewNotification } from '../../src/notifications/model.ts';
import { maskBankCard, maskIdNumber } from '../../src/privacy/personalData.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { waitFor } from '../support/waitFor.ts';
import { deliveries, deliveryContext, keys, record, seedPerson, silent, simulatorSettings, startNotifySimulator, type TestMember } from './support.ts';

/**
 * Delivering the outbox over HTTP to the channel simulator. The oracle is the simulator: what it
 * recorded is what handsets received, once per idempotency key; its request counts show what was
 * sent, duplicates included.
 */
let db: TestDatabase;
let sim: NotifySimulator;
const member = { subject: 'member-chen', role: 'MEMBER' };
const OPENID = 'oAbCdEfGhIjKlMnOpQrStUvWxYz0';

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  await db.pool.query(`TRUNCATE notification_deliveries, notifications, notification_preferences RESTART IDENTITY CASCADE`);
  await sim?.close();
  sim = await startNotifySimulator();
  return () => sim.close();
});

const claimDecided = (m: TestMember, subjectId: number, amountFen: number) => ({
  memberId: m.id, kind: 'CLAIM_DECIDED' as const, subjectType: 'Claim' as const, subjectId, facts: { status: 'APPROVED', amountFen },
});

/** Runs rounds until no delivery is due now (each round claims what is due; waits between are ms). */
async function deliverAll(settings = simulatorSettings(sim)): Promise<void> {
  const ctx = deliveryContext(db.pool, settings);
  for (let i = 0; i < 50; i += 1) {
    const round = await deliverDue(ctx);
    const open = (await deliveries(db.pool)).filter((d) => d.status === 'PENDING' || d.status === 'UNKNOWN' || d.status === 'SENDING');
    if (round.claimed === 0 && open.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the notification worker', () => {
  it('delivers a recorded notification once on each preferred channel, through the real worker', async () => {
    const m = await seedPerson(db.pool);
    await setPreferences(db.pool, keys, member, m.id, { channels: ['SMS', 'WECHAT'], wechatOpenid: OPENID });
    await record(db.pool, [claimDecided(m, 41, 12_345)]);
    // The same event recorded again (a retried job) is kept once.
    await record(db.pool, [claimDecided(m, 41, 12_345)]);

    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const prefix = `test-${randomBytes(5).toString('hex')}`;
    const workers = await startWorkers({
      db: db.pool, keys, connection: redis, prefix, log: silent, payouts: null, sweepSeconds: 3600, notifications: simulatorSettings(sim),
    });
    try {
      await waitFor('both deliveries SENT', async () => (await deliveries(db.pool)).filter((d) => d.status === 'SENT').length === 2);
    } finally {
      await workers.close();
      await redis.quit();
    }
    const messages = sim.messages();
    expect(messages.map((x) => x.channel).sort()).toEqual(['SMS', 'WECHAT']);
    expect(messages.find((x) => x.channel === 'SMS')!.to).toBe(m.phone);
    expect(messages.find((x) => x.channel === 'WECHAT')!.to).toBe(OPENID);
    expect(Object.values(sim.sendRequests())).toEqual([1, 1]);
    // The SMS carries the template and its parameters: 123.45 yuan, from 12,345 fen.
    const sms = messages.find((x) => x.channel === 'SMS')!.request;
    expect(sms.TemplateCode).toBe('SMS_MAH_CLAIM_DECIDED');
    expect(JSON.parse(String(sms.TemplateParam))).toMatchObject({ amount: '123.45', reference: 'C41' });
    const wechat = messages.find((x) => x.channel === 'WECHAT')!.request as { data: Record<string, { value: string }> };
    expect(wechat.data.amount2!.value).toBe('123.45元');
  });

  it('a member who chose WeChat only gets no SMS; one who chose nothing but has no phone is told in the hub only', async () => {
    const wechatOnly = await seedPerson(db.pool);
    const noPhone = await seedPerson(db.pool, { phone: null });
    await setPreferences(db.pool, keys, member, wechatOnly.id, { channels: ['WECHAT'], wechatOpenid: OPENID });
    await record(db.pool, [claimDecided(wechatOnly, 1, 100), claimDecided(noPhone, 2, 200)]);
    await deliverAll();
    expect((await deliveries(db.pool)).map((d) => [d.memberId, d.channel, d.status])).toEqual([[wechatOnly.id, 'WECHAT', 'SENT']]);
    expect(sim.messages().map((x) => x.channel)).toEqual(['WECHAT']);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM notifications WHERE planned_at IS NOT NULL`);
    expect(rows[0].n).toBe(2);
  });

  it('two workers side by side never take the same delivery: each message is sent once', async () => {
    const people = [await seedPerson(db.pool), await seedPerson(db.pool), await seedPerson(db.pool)];
    await record(db.pool, people.flatMap((p, i) => Array.from({ length: 20 }, (_, k) => claimDecided(p, 1_000 + i * 100 + k, 100 + k))));
    const settings = simulatorSettings(sim, { batchSize: 7 });
    await Promise.all([0, 1, 2].map(async () => {
      for (let round = 0; round < 30; round += 1) await deliverDue(deliveryContext(db.pool, settings));
    }));
    const states = await deliveries(db.pool);
    expect(states).toHaveLength(60);
    expect(states.every((d) => d.status === 'SENT')).toBe(true);
    expect(sim.messages()).toHaveLength(60);
    expect(Object.values(sim.sendRequests()).every((n) => n === 1)).toBe(true);
  });

  it('a timeout after the channel took the message: UNKNOWN, then asked by its key, never sent twice', async () => {
    const m = await seedPerson(db.pool);
    await record(db.pool, [claimDecided(m, 7, 5_000)]);
    sim.setFaults({ acceptThenHangNext: 1 });
    const settings = simulatorSettings(sim, {}, 300);
    await deliverDue(deliveryContext(db.pool, settings));
    const [after] = await deliveries(db.pool);
    expect(after!.status).toBe('UNKNOWN');
    expect(sim.messages()).toHaveLength(1); // the handset has it

    await deliverAll(settings);
    const [final] = await deliveries(db.pool);
    expect(final!.status).toBe('SENT');
    expect(sim.messages()).toHaveLength(1);
    expect(sim.sendRequests()[idempotencyKey(final!.id)]).toBe(1);
  });

  it('a worker that died after sending, before recording: the stale SENDING delivery is asked about, not resent', async () => {
    const m = await seedPerson(db.pool);
    await record(db.pool, [claimDecided(m, 8, 6_000)]);
    const settings = simulatorSettings(sim);
    // What a worker does before it dies: claim (SENDING, committed), send, and nothing more.
    await inTransaction(db.pool, (tx) => planDeliveries(tx, 10));
    const [claimed] = await inTransaction(db.pool, (tx) => claimDueDeliveries(tx, ['SMS', 'WECHAT'], 10, settings.staleMs));
    const sent = await settings.channels.SMS!.send(idempotencyKey(claimed!.id), { to: m.phone!, templateCode: 'SMS_X', message: renderMessage(claimed!.notification) });
    expect(sent.kind).toBe('ACCEPTED');

    // While young, the SENDING delivery belongs to its (maybe live) worker: left alone.
    await deliverDue(deliveryContext(db.pool, settings));
    expect((await deliveries(db.pool))[0]!.status).toBe('SENDING');
    await db.pool.query(`UPDATE notification_deliveries SET sending_since = now() - interval '1 hour'`);
    await deliverAll(settings);
    expect((await deliveries(db.pool))[0]!.status).toBe('SENT');
    expect(sim.sendRequests()[idempotencyKey(claimed!.id)]).toBe(1);
    expect(sim.messages()).toHaveLength(1);
  });

  it('a send cut off before the channel took it: asked, "never got it", then sent once', async () => {
    const m = await seedPerson(db.pool);
    await record(db.pool, [claimDecided(m, 9, 700)]);
    sim.setFaults({ hangNext: 1 });
    const settings = simulatorSettings(sim, {}, 300);
    await deliverDue(deliveryContext(db.pool, settings));
    expect((await deliveries(db.pool))[0]!.status).toBe('UNKNOWN');
    expect(sim.messages()).toHaveLength(0);
    await deliverAll(settings);
    expect((await deliveries(db.pool))[0]!.status).toBe('SENT');
    expect(sim.messages()).toHaveLength(1);
  });

  it('a failing channel is retried with backoff and then succeeds', async () => {
    const m = await seedPerson(db.pool);
    await record(db.pool, [claimDecided(m, 10, 800)]);
    sim.setFaults({ failNext: 2 });
    await deliverAll(simulatorSettings(sim, { maxAttempts: 5 }));
    const [d] = await deliveries(db.pool);
    expect(d!.status).toBe('SENT');
    expect(d!.attempts).toBe(3);
    expect(sim.messages()).toHaveLength(1);
  });

  it('failing past NOTIFY_MAX_ATTEMPTS: FAILED; an ADMIN retry (audited) sends it; a SENT one is never retried', async () => {
    const m = await seedPerson(db.pool);
    await record(db.pool, [claimDecided(m, 11, 900)]);
    sim.setFaults({ failNext: 10 });
    await deliverAll(simulatorSettings(sim, { maxAttempts: 2 }));
    const [failed] = await deliveries(db.pool);
    expect(failed!.status).toBe('FAILED');
    expect(failed!.attempts).toBe(2);
    expect(failed!.lastError).toMatch(/503/);
    expect(sim.messages()).toHaveLength(0);

    sim.setFaults({ failNext: 0 });
    await retryDelivery(db.pool, { subject: 'admin-lin', role: 'ADMIN' }, failed!.id, 'the provider was down');
    await deliverAll();
    expect((await deliveries(db.pool))[0]!.status).toBe('SENT');
    expect(sim.messages()).toHaveLength(1);
    const audit = await db.pool.query(`SELECT action, target_id AS "targetId" FROM audit_log WHERE action = 'notification.delivery.retried'`);
    expect(audit.rows).toEqual([{ action: 'notification.delivery.retried', targetId: String(failed!.id) }]);

    await expect(retryDelivery(db.pool, { subject: 'admin-lin', role: 'ADMIN' }, failed!.id, 'once more please')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(db.pool.query(`UPDATE notification_deliveries SET status = 'PENDING', sent_at = NULL WHERE id = $1`, [failed!.id])).rejects.toThrow(/was SENT/);
  });

  it('a number the provider refuses: FAILED at once, not retried', async () => {
    const m = await seedPerson(db.pool, { phone: '021-5555' });
    await record(db.pool, [claimDecided(m, 12, 1_000)]);
    await deliverAll();
    const [d] = await deliveries(db.pool);
    expect(d!.status).toBe('FAILED');
    expect(d!.attempts).toBe(1);
  });

  it('message bodies carry no name, ID number, bank card or (on WeChat) phone', async () => {
    const people = [await seedPerson(db.pool), await seedPerson(db.pool)];
    await setPreferences(db.pool, keys, member, people[1]!.id, { channels: ['SMS', 'WECHAT'], wechatOpenid: OPENID });
    await record(db.pool, people.flatMap((p, i): NewNotification[] => [
      claimDecided(p, 100 + i, 123_456),
      { memberId: p.id, kind: 'PAYOUT_FAILED', subjectType: 'Payout', subjectId: 200 + i, eventKey: 'attempt-1', facts: { amountFen: 123_456, reasonCode: 'AC04' } },
      { memberId: p.id, kind: 'BANK_ACCOUNT_CHANGED', subjectType: 'Member', subjectId: p.id, eventKey: '1', facts: {} },
    ]));
    await deliverAll();
    const messages = sim.messages();
    expect(messages).toHaveLength(3 + 6);
    for (const message of messages) {
      const body = JSON.stringify(message.request);
      for (const p of people) {
        for (const secret of [p.name, p.idNumber, maskIdNumber(p.idNumber), p.card, maskBankCard(p.card), p.card.slice(-4) + '，', p.idNumber.slice(-6)]) {
          expect(body).not.toContain(secret);
        }
        // The phone only as the SMS's own address.
        if (message.channel === 'WECHAT') expect(body).not.toContain(p.phone!);
        else expect(body.split(p.phone!).length - 1).toBeLessThanOrEqual(1);
      }
    }
  });
});
