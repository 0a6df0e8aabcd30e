import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusesInto } from '../../src/kernel/transitions.ts';
import { DELIVERY_STATUSES, DELIVERY_TRANSITIONS, NOTIFICATION_CHANNELS, NOTIFICATION_KINDS } from '../../src/notifications/model.ts';
import { checkedValues, freshDatabase, type TestDatabase } from '../support/db.ts';
import { record, seedPerson } from './support.ts';

/** The model's unions against the database's CHECKs, and its transition table against the trigger. */
let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('the notifications model', () => {
  it('names exactly the kinds, channels and delivery statuses the database allows', async () => {
    expect(await checkedValues(db, 'notifications', 'kind')).toEqual([...NOTIFICATION_KINDS].sort());
    expect(await checkedValues(db, 'notification_deliveries', 'channel')).toEqual([...NOTIFICATION_CHANNELS].sort());
    expect(await checkedValues(db, 'notification_deliveries', 'status')).toEqual([...DELIVERY_STATUSES].sort());
  });

  it('SENT is final in the table and in the database: every move out of it is refused', async () => {
    expect(DELIVERY_TRANSITIONS.SENT).toEqual([]);
    expect(statusesInto(DELIVERY_TRANSITIONS, 'SENT')).toEqual(['SENDING']);
    const m = await seedPerson(db.pool);
    await record(db.pool, [{ memberId: m.id, kind: 'PAYOUT_PAID', subjectType: 'Payout', subjectId: 1, facts: { amountFen: 1 } }]);
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO notification_deliveries (notification_id, channel, status, sent_at) SELECT id, 'SMS', 'SENT', now() FROM notifications RETURNING id`,
    );
    for (const to of DELIVERY_STATUSES.filter((s) => s !== 'SENT')) {
      await expect(db.pool.query(`UPDATE notification_deliveries SET status = $2, sent_at = NULL, sending_since = now() WHERE id = $1`, [rows[0]!.id, to]))
        .rejects.toThrow(/was SENT/);
    }
  });
});
