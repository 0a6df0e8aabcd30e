import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { insertRunningRosterImport } from '../../src/members/store.ts';
import { registerUnits } from '../support/units.ts';
import { demoSample, ROSTER_HEADER, rosterLine, type SampleMember } from '../../src/demo/sampleData.ts';
import { withLuhnCheck } from '../../src/kernel/identifiers.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { deliverDue } from '../../src/notifications/delivery.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { deliveryContext, simulatorSettings, startNotifySimulator } from './support.ts';

/**
 * A roster import that replaces a member's bank account or phone tells the member, like
 * updateMember and the member's own change: the import is how an insider at a unit could redirect a
 * payout, and the member is the one who notices, on the phone it had. One notification per recorded
 * change, none for other fields, none when the same file comes again.
 */

const keys = personalDataKeys(Buffer.alloc(32, 7).toString('base64'));
let db: TestDatabase;
const year = Number(chinaToday().slice(0, 4));
const today = chinaToday();

async function importLines(members: SampleMember[]) {
  const importId = await insertRunningRosterImport(db.pool, { fileName: 'roster.csv', defaultUnitId: null, createdBy: 'operator-li' });
  const result = await importRoster(db.pool, keys, ROSTER_HEADER + members.map((m) => rosterLine(m, year, false)).join(''), { importId, today });
  expect(result.rowsRejected).toBe(0);
  return importId;
}

async function told() {
  const { rows } = await db.pool.query<{ member_id: number; event_key: string; facts: Record<string, unknown> }>(
    `SELECT member_id, event_key, facts FROM notifications WHERE kind = 'BANK_ACCOUNT_CHANGED' ORDER BY id`);
  return rows;
}

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('a roster import that replaces bank accounts', () => {
  it('tells each member whose account it replaced, once per change, and nobody else', async () => {
    const { units, members } = demoSample(3);
    await registerUnits(db.pool, units);
    await importLines(members);
    expect(await told()).toEqual([]); // first registration: no account is replaced

    const [redirected, renamed, unchanged] = members as [SampleMember, SampleMember, SampleMember];
    const otherCard = withLuhnCheck(redirected.bankCard.slice(0, 6) + '9'.repeat(redirected.bankCard.length - 7));
    const second = [{ ...redirected, bankCard: otherCard }, { ...renamed, phone: '13900000000' }, unchanged];
    const importId = await importLines(second);
    await importLines(second); // the same file again changes nothing and tells nothing

    const { rows: changes } = await db.pool.query<{ id: number; member_id: number }>(
      `SELECT id, member_id FROM member_changes WHERE import_id = $1 AND field = 'BANK_ACCOUNT'`, [importId]);
    expect(changes).toHaveLength(1);
    const notifications = await told();
    expect(notifications).toEqual([{
      member_id: changes[0]!.member_id, event_key: String(changes[0]!.id),
      facts: expect.objectContaining({ byMember: false, firstAccount: false }),
    }]);
    // Figures only: neither card number appears in what is stored for the channel.
    expect(JSON.stringify(notifications)).not.toContain(otherCard);
    expect(JSON.stringify(notifications)).not.toContain(redirected.bankCard);
  });

  it('a row giving a new phone with the new card: the member is told on the phone it had before the import', async () => {
    const { units, members } = demoSample(4);
    await registerUnits(db.pool, units);
    const member = members[3]!;
    await importLines([member]);
    const insiderPhone = '13700000003';
    const insiderCard = withLuhnCheck(member.bankCard.slice(0, 6) + '8'.repeat(member.bankCard.length - 7));
    await importLines([{ ...member, phone: insiderPhone, bankCard: insiderCard }]);

    const sim = await startNotifySimulator();
    try {
      await deliverDue(deliveryContext(db.pool, simulatorSettings(sim)));
      const told = sim.messages().filter((m) => m.to === member.phone || m.to === insiderPhone);
      expect(told.map((m) => [m.to, m.request.TemplateCode]).sort()).toEqual([
        [member.phone, 'SMS_MAH_BANK_ACCOUNT_CHANGED'], [member.phone, 'SMS_MAH_PHONE_CHANGED'],
      ]);
    } finally {
      await sim.close();
    }
  });

  it('a file giving only a new phone, and a later one the new card: the member hears of the phone on the phone it had', async () => {
    const { units, members } = demoSample(5);
    await registerUnits(db.pool, units);
    const member = members[4]!;
    await importLines([member]);
    const insiderPhone = '13700000004';
    const insiderCard = withLuhnCheck(member.bankCard.slice(0, 6) + '7'.repeat(member.bankCard.length - 7));
    const phoneFile = await importLines([{ ...member, phone: insiderPhone }]);
    const cardFile = [{ ...member, phone: insiderPhone, bankCard: insiderCard }];
    await importLines(cardFile);
    await importLines(cardFile); // the same file again: no change, nothing told

    const { rows: phoneChanges } = await db.pool.query<{ id: number }>(
      `SELECT id FROM member_changes WHERE import_id = $1 AND field = 'PHONE'`, [phoneFile]);
    const { rows: alerts } = await db.pool.query<{ event_key: string; alert_phone: string; facts: Record<string, unknown> }>(
      `SELECT event_key, alert_phone, facts FROM notifications WHERE kind = 'PHONE_CHANGED' AND member_id = (SELECT id FROM members WHERE phone = $1)`,
      [insiderPhone]);
    expect(alerts).toEqual([{ event_key: String(phoneChanges[0]!.id), alert_phone: member.phone, facts: expect.objectContaining({ byMember: false }) }]);
    // Figures only: neither number is among the facts the channel is given.
    expect(JSON.stringify(alerts.map((a) => a.facts))).not.toContain(insiderPhone);
    expect(JSON.stringify(alerts.map((a) => a.facts))).not.toContain(member.phone!);

    const sim = await startNotifySimulator();
    try {
      await deliverDue(deliveryContext(db.pool, simulatorSettings(sim)));
      const told = sim.messages().filter((m) => m.to === member.phone || m.to === insiderPhone);
      expect(told.map((m) => [m.to, m.request.TemplateCode])).toEqual(expect.arrayContaining([
        [insiderPhone, 'SMS_MAH_BANK_ACCOUNT_CHANGED'], [member.phone, 'SMS_MAH_PHONE_CHANGED'],
      ]));
      expect(told).toHaveLength(2);
    } finally {
      await sim.close();
    }
  });
});
