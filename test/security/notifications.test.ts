import { describe, expect, it } from 'vitest';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { withLuhnCheck } from '../../src/kernel/identifiers.ts';
import { deliverDue } from '../../src/notifications/delivery.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { recordChangeAlerts } from '../../src/members/selfService.ts';
import { changeMember } from '../../src/members/store.ts';
import { commitOnceWaitedOn } from '../support/db.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { deliveryContext, record, seedPerson, simulatorSettings, startNotifySimulator, type TestMember } from '../notifications/support.ts';
import { fujianTree, placeUnit } from '../organisations/support.ts';

/**
 * Notifications as an attacker tries them: another member's notifications and preferences, the
 * member's own unit reading them, a member retrying deliveries, the bound openid read back, a
 * notification forged through the API, oversized or malformed preferences, a bank account change
 * kept from the member (its channels chosen away first, or the phone changed with the card).
 */
const started = lazyTestGateway();
const OPENID = 'oSecretOpenid_0123456789abcd';

const memberToken = (m: TestMember) => ({ role: 'MEMBER' as const, sub: `member-${m.id}`, member: toGlobalId('Member', m.id) });

const MY_NOTIFICATIONS = `{ viewer { member { id notifications(first: 10) { totalCount edges { node { id kind text subjectId
  deliveries { id channel status lastError } } } } notificationPreferences { channels wechatBound chosen } } } }`;
const MEMBER_NOTIFICATIONS = `query($id: ID!) { node(id: $id) { ... on Member { notifications(first: 10) { edges { node { id kind } } }
  notificationPreferences { channels wechatBound } } } }`;
const SET_PREFERENCES = `mutation($input: SetMyNotificationPreferencesInput!) { setMyNotificationPreferences(input: $input) {
  preferences { channels wechatBound chosen } userErrors { field code message } } }`;
const RETRY = `mutation($input: RetryNotificationDeliveryInput!) { retryNotificationDelivery(input: $input) {
  delivery { id status } userErrors { field code message } } }`;

async function memberWithNotification() {
  const { db } = await started();
  const m = await seedPerson(db.pool);
  await record(db.pool, [{ memberId: m.id, kind: 'PAYOUT_PAID', subjectType: 'Payout', subjectId: m.id * 10, eventKey: 'attempt-1', facts: { amountFen: 4_200 } }]);
  // A delivery the channel refused for good, as the worker leaves it.
  await db.pool.query(`UPDATE notifications SET planned_at = now() WHERE member_id = $1`, [m.id]);
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO notification_deliveries (notification_id, channel, status, attempts, last_error)
     SELECT id, 'SMS', 'FAILED', 1, 'HTTP 400: refused' FROM notifications WHERE member_id = $1 RETURNING id`,
    [m.id],
  );
  return { member: m, deliveryGid: toGlobalId('NotificationDelivery', rows[0]!.id) };
}

describe('reading notifications', () => {
  it('a member reads its own, newest first, with the delivery status per channel (and no staff-only error text)', async () => {
    const { gw } = await started();
    const { member } = await memberWithNotification();
    const answer = await gw.query(memberToken(member), MY_NOTIFICATIONS);
    expect(answer.errors).toBeUndefined();
    const notifications = answer.data.viewer.member.notifications;
    expect(notifications.totalCount).toBe(1);
    expect(notifications.edges[0].node).toMatchObject({ kind: 'PAYOUT_PAID', text: expect.stringContaining('42.00 元'), deliveries: [{ channel: 'SMS', status: 'FAILED', lastError: null }] });
  });

  it('member B cannot read A\'s notifications, deliveries or preferences: by member, by node id, or by list', async () => {
    const { gw } = await started();
    const a = await memberWithNotification();
    const b = await memberWithNotification();
    const own = await gw.query(memberToken(a.member), MY_NOTIFICATIONS);
    const notificationGid = own.data.viewer.member.notifications.edges[0].node.id;

    const viaMember = await gw.query(memberToken(b.member), MEMBER_NOTIFICATIONS, { id: toGlobalId('Member', a.member.id) });
    expect(viaMember.data?.node ?? null).toBeNull();
    const viaNodes = await gw.query(memberToken(b.member), `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [notificationGid, a.deliveryGid] });
    expect(viaNodes.data.nodes).toEqual([null, null]);
    const list = await gw.query(memberToken(b.member), `{ notificationDeliveries(first: 10) { edges { node { id } } } }`);
    expect(list.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('the member\'s own unit operator sees the member but not its notifications', async () => {
    const { gw } = await started();
    const { member } = await memberWithNotification();
    const answer = await gw.query({ role: 'UNIT_OPERATOR', unit: member.unitCreditCode }, MEMBER_NOTIFICATIONS, { id: toGlobalId('Member', member.id) });
    expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(JSON.stringify(answer.data ?? {})).not.toContain('PAYOUT_PAID');
  });

  it('ADMIN and AUDITOR read (with the error text), and list FAILED deliveries', async () => {
    const { gw } = await started();
    const { member, deliveryGid } = await memberWithNotification();
    for (const role of ['ADMIN', 'AUDITOR'] as const) {
      const read = await gw.query({ role }, MEMBER_NOTIFICATIONS, { id: toGlobalId('Member', member.id) });
      expect(read.data.node.notifications.edges).toHaveLength(1);
      const listed = await gw.query({ role }, `{ notificationDeliveries(status: FAILED, first: 100) { totalCount edges { node { id lastError viewerCanRetry } } } }`);
      const mine = listed.data.notificationDeliveries.edges.find((e: { node: { id: string } }) => e.node.id === deliveryGid);
      expect(mine.node).toEqual({ id: deliveryGid, lastError: 'HTTP 400: refused', viewerCanRetry: role === 'ADMIN' });
    }
  });
});

describe('preferences', () => {
  it('a member sets only its own: there is no member argument, and B\'s stay as they were', async () => {
    const { gw } = await started();
    const { member: a } = await memberWithNotification();
    const { member: b } = await memberWithNotification();
    const forged = await gw.query(memberToken(a), SET_PREFERENCES, { input: { channels: ['SMS'], memberId: toGlobalId('Member', b.id) } });
    expect(forged.errors?.[0]?.message).toMatch(/memberId/);
    const set = await gw.query(memberToken(a), SET_PREFERENCES, { input: { channels: ['WECHAT'], wechatOpenid: OPENID } });
    expect(set.data.setMyNotificationPreferences).toEqual({ preferences: { channels: ['WECHAT'], wechatBound: true, chosen: true }, userErrors: [] });
    const bPrefs = await gw.query(memberToken(b), MY_NOTIFICATIONS);
    expect(bPrefs.data.viewer.member.notificationPreferences).toEqual({ channels: ['SMS'], wechatBound: false, chosen: false });
  });

  it('staff cannot set a member\'s preferences', async () => {
    const { gw } = await started();
    const { member } = await memberWithNotification();
    for (const role of ['ADMIN', 'UNIT_OPERATOR', 'AUDITOR', 'SERVICE'] as const) {
      const answer = await gw.query({ role, unit: role === 'UNIT_OPERATOR' ? member.unitCreditCode : undefined }, SET_PREFERENCES, { input: { channels: [] } });
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('the openid is kept encrypted and never shown again, to staff or the member', async () => {
    const { db, gw } = await started();
    const { member } = await memberWithNotification();
    await gw.query(memberToken(member), SET_PREFERENCES, { input: { channels: ['SMS', 'WECHAT'], wechatOpenid: OPENID } });
    const answers = [
      await gw.query({ role: 'ADMIN' }, MEMBER_NOTIFICATIONS, { id: toGlobalId('Member', member.id) }),
      await gw.query({ role: 'AUDITOR' }, MEMBER_NOTIFICATIONS, { id: toGlobalId('Member', member.id) }),
      await gw.query(memberToken(member), MY_NOTIFICATIONS),
    ];
    for (const answer of answers) {
      expect(answer.errors).toBeUndefined();
      expect(JSON.stringify(answer)).not.toContain(OPENID);
    }
    const { rows } = await db.pool.query<{ enc: Buffer }>(`SELECT wechat_openid_enc AS enc FROM notification_preferences WHERE member_id = $1`, [member.id]);
    expect(rows[0]!.enc.toString('latin1')).not.toContain(OPENID);
    const audit = await db.pool.query(`SELECT details::text AS d FROM audit_log WHERE action = 'notification.preferences.set' AND target_id = $1`, [String(member.id)]);
    expect(audit.rows.length).toBeGreaterThan(0);
    for (const row of audit.rows) expect(row.d).not.toContain(OPENID);
  });

  it('refuses malformed and oversized input, naming the field', async () => {
    const { gw, db } = await started();
    const { member } = await memberWithNotification();
    const noPhone = await seedPerson(db.pool, { phone: null });
    const cases: [TestMember, Record<string, unknown>, string][] = [
      [member, { channels: ['WECHAT'] }, 'input.channels'],
      [member, { channels: ['SMS', 'SMS'] }, 'input.channels'],
      [member, { channels: ['WECHAT'], wechatOpenid: 'x'.repeat(5_000) }, 'input.wechatOpenid'],
      [member, { channels: [], wechatOpenid: 'bad openid!' }, 'input.wechatOpenid'],
      [noPhone, { channels: ['SMS'] }, 'input.channels'],
    ];
    for (const [who, input, field] of cases) {
      const answer = await gw.query(memberToken(who), SET_PREFERENCES, { input });
      const errors = answer.data?.setMyNotificationPreferences?.userErrors ?? answer.errors;
      expect(JSON.stringify(errors), JSON.stringify(input).slice(0, 80)).toContain(field);
    }
    const unknownChannel = await gw.query(memberToken(member), SET_PREFERENCES, { input: { channels: ['EMAIL'] } });
    expect(unknownChannel.errors?.[0]?.message).toMatch(/EMAIL/);
  });
});

describe('deliveries and the outbox', () => {
  it('a MEMBER (even the delivery\'s own), FINANCE or AUDITOR cannot retry; ADMIN can, once', async () => {
    const { gw } = await started();
    const { member, deliveryGid } = await memberWithNotification();
    for (const who of [memberToken(member), { role: 'FINANCE' as const }, { role: 'AUDITOR' as const }]) {
      const answer = await gw.query(who, RETRY, { input: { deliveryId: deliveryGid, reason: 'try again' } });
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const retried = await gw.query({ role: 'ADMIN' }, RETRY, { input: { deliveryId: deliveryGid, reason: 'phone corrected' } });
    expect(retried.data.retryNotificationDelivery).toEqual({ delivery: { id: deliveryGid, status: 'PENDING' }, userErrors: [] });
    const replayed = await gw.query({ role: 'ADMIN' }, RETRY, { input: { deliveryId: deliveryGid, reason: 'phone corrected' } });
    expect(replayed.data.retryNotificationDelivery.userErrors).toEqual([expect.objectContaining({ field: 'input.deliveryId', code: 'CONFLICT' })]);
    const otherType = await gw.query({ role: 'ADMIN' }, RETRY, { input: { deliveryId: toGlobalId('Member', member.id), reason: 'phone corrected' } });
    expect(otherType.data.retryNotificationDelivery.userErrors).toEqual([expect.objectContaining({ field: 'input.deliveryId' })]);
  });

  it('retrying for a member whose unit ADMIN moves to another organisation: that organisation\'s ADMIN is refused once the move commits (NOT_FOUND), the delivery FAILED', async () => {
    const { db, gw } = await started();
    await fujianTree(gw);
    const { member, deliveryGid } = await memberWithNotification();
    const deliveryId = localId('id', deliveryGid, 'NotificationDelivery');
    const { rows: [{ unitId }] } = await db.pool.query('SELECT unit_id AS "unitId" FROM members WHERE id = $1', [member.id]);
    await placeUnit(db.pool, unitId, 'QZ');
    // The unit moves from QZ to XM while QZ's ADMIN waits for the delivery (held in the same
    // transaction here): the old check, a subquery of members and units under FOR UPDATE, ran again
    // after the wait on the unit as it was before the move.
    const { work: retrying } = await commitOnceWaitedOn(
      db.pool,
      async (moving) => {
        await placeUnit(moving, unitId, 'XM');
        await moving.query('SELECT 1 FROM notification_deliveries WHERE id = $1 FOR UPDATE', [deliveryId]);
      },
      () => gw.query({ role: 'ADMIN', org: 'QZ', sub: 'qz-admin' }, RETRY, { input: { deliveryId: deliveryGid, reason: 'phone corrected' } }),
    );
    const { data } = await retrying;
    expect(data.retryNotificationDelivery).toEqual({ delivery: null, userErrors: [expect.objectContaining({ field: 'input.deliveryId', code: 'NOT_FOUND' })] });
    const { rows } = await db.pool.query(
      `SELECT d.status, d.attempts, (SELECT count(*)::int FROM audit_log WHERE action = 'notification.delivery.retried' AND target_id = $2) AS audits
         FROM notification_deliveries d WHERE d.id = $1`, [deliveryId, String(deliveryId)]);
    expect(rows[0]).toEqual({ status: 'FAILED', attempts: 1, audits: 0 });
  });

  it('no mutation creates or changes a notification: the outbox is written only by the decisions themselves', async () => {
    const { gw } = await started();
    const answer = await gw.query({ role: 'ADMIN' }, `{ __schema { mutationType { fields { name args { type { ofType { name } } } } } } }`);
    const mutations = answer.data.__schema.mutationType.fields as { name: string }[];
    const touching = mutations.map((m) => m.name).filter((n) => /notif/i.test(n)).sort();
    expect(touching).toEqual(['retryNotificationDelivery', 'setMyNotificationPreferences']);
    const forged = await gw.query({ role: 'ADMIN' }, `mutation { createNotification(input: { kind: PAYOUT_PAID }) { notification { id } } }`);
    expect(forged.errors?.[0]?.message).toMatch(/createNotification/);
  });
});

describe('the bank account alert reaches the member', () => {
  const CHANGE = `mutation($input: ChangeMyBankAccountInput!) { changeMyBankAccount(input: $input) { member { id } userErrors { field code message } } }`;
  const UPDATE = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { id } userErrors { field code message } } }`;
  const BANK = '102397000011';
  const card = (n: number) => withLuhnCheck(`62220291${String(n).padStart(10, '0')}`);

  /** One worker round against a fresh simulator: what each phone or openid received, by template. */
  async function deliveredTo(...to: string[]) {
    const { db, gw } = await started();
    const sim = await startNotifySimulator();
    try {
      // The gateway's key: the openids the members bound through it.
      await deliverDue({ ...deliveryContext(db.pool, simulatorSettings(sim)), keys: gw.keys });
      return sim.messages().filter((x) => to.includes(x.to)).map((x) => ({ channel: x.channel, to: x.to, template: x.request.TemplateCode ?? x.request.template_id }));
    } finally {
      await sim.close();
    }
  }

  it('a stolen login that chose no channel, or WeChat with its own openid, before changing the card: the SMS still goes to the phone on record', async () => {
    const { db, gw } = await started();
    const silenced = await seedPerson(db.pool);
    const steered = await seedPerson(db.pool);
    const chosen = [
      await gw.query(memberToken(silenced), SET_PREFERENCES, { input: { channels: [] } }),
      await gw.query(memberToken(steered), SET_PREFERENCES, { input: { channels: ['WECHAT'], wechatOpenid: OPENID } }),
    ];
    for (const answer of chosen) expect(answer.data.setMyNotificationPreferences.userErrors).toEqual([]);
    for (const [i, m] of [silenced, steered].entries()) {
      const changed = await gw.query(memberToken(m), CHANGE, { input: { accountHolderName: m.name, cardNumber: card(100 + i), bankCode: BANK } });
      expect(changed.data.changeMyBankAccount.userErrors).toEqual([]);
    }
    const sms = { channel: 'SMS', template: 'SMS_MAH_BANK_ACCOUNT_CHANGED' };
    const delivered = await deliveredTo(silenced.phone!, steered.phone!, OPENID);
    expect(delivered).toHaveLength(3);
    expect(delivered).toEqual(expect.arrayContaining([
      { ...sms, to: silenced.phone }, { ...sms, to: steered.phone }, expect.objectContaining({ channel: 'WECHAT', to: OPENID }),
    ]));
    const { rows } = await db.pool.query(
      `SELECT n.member_id AS "memberId", d.channel, d.status FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
        WHERE n.member_id = ANY($1::bigint[]) ORDER BY n.member_id, d.channel`, [[silenced.id, steered.id]]);
    expect(rows).toEqual([
      { memberId: silenced.id, channel: 'SMS', status: 'SENT' },
      { memberId: steered.id, channel: 'SMS', status: 'SENT' }, { memberId: steered.id, channel: 'WECHAT', status: 'SENT' },
    ]);
  });

  it('the unit operator changing the member\'s phone and card in one updateMember: the alert goes to the old phone, never the new one', async () => {
    const { db, gw } = await started();
    const m = await seedPerson(db.pool);
    const operatorPhone = '13700000001';
    const operator = { role: 'UNIT_OPERATOR' as const, unit: m.unitCreditCode, sub: 'operator-insider' };
    const updated = await gw.query(operator, UPDATE, {
      input: { memberId: toGlobalId('Member', m.id), phone: operatorPhone, bankAccount: { cardNumber: card(200), bankCode: BANK } },
    });
    expect(updated.data.updateMember.userErrors).toEqual([]);
    // The phone changed again before the worker ran: the alert still goes where the member was.
    const again = await gw.query(operator, UPDATE, { input: { memberId: toGlobalId('Member', m.id), phone: '13700000002' } });
    expect(again.data.updateMember.userErrors).toEqual([]);
    // Each phone change is told on the phone it replaced: the member's, then the insider's own.
    const sms = (to: string, template: string) => ({ channel: 'SMS', to, template });
    const delivered = await deliveredTo(m.phone!, operatorPhone, '13700000002');
    expect(delivered).toEqual(expect.arrayContaining([
      sms(m.phone!, 'SMS_MAH_BANK_ACCOUNT_CHANGED'), sms(m.phone!, 'SMS_MAH_PHONE_CHANGED'), sms(operatorPhone, 'SMS_MAH_PHONE_CHANGED'),
    ]));
    expect(delivered).toHaveLength(3);
  });

  it('the unit operator changing the member\'s phone, and the card in a later request: the member hears of the phone on the phone it had', async () => {
    const { db, gw } = await started();
    const m = await seedPerson(db.pool);
    const operatorPhone = '13700000011';
    const operator = { role: 'UNIT_OPERATOR' as const, unit: m.unitCreditCode, sub: 'operator-insider' };
    const phone = await gw.query(operator, UPDATE, { input: { memberId: toGlobalId('Member', m.id), phone: operatorPhone } });
    expect(phone.data.updateMember.userErrors).toEqual([]);
    const cardChanged = await gw.query(operator, UPDATE, { input: { memberId: toGlobalId('Member', m.id), bankAccount: { cardNumber: card(300), bankCode: BANK } } });
    expect(cardChanged.data.updateMember.userErrors).toEqual([]);
    // The phone change's SMS goes to the phone it replaced, not the new one.
    const delivered = await deliveredTo(m.phone!, operatorPhone);
    expect(delivered).toEqual(expect.arrayContaining([
      { channel: 'SMS', to: operatorPhone, template: 'SMS_MAH_BANK_ACCOUNT_CHANGED' }, { channel: 'SMS', to: m.phone, template: 'SMS_MAH_PHONE_CHANGED' },
    ]));
    expect(delivered).toHaveLength(2);
    // A first phone is told to no one, and a name change to nobody's phone.
    const first = await seedPerson(db.pool, { phone: null });
    const given = await gw.query({ ...operator, unit: first.unitCreditCode }, UPDATE, { input: { memberId: toGlobalId('Member', first.id), phone: '13700000012', name: '新名字' } });
    expect(given.data.updateMember.userErrors).toEqual([]);
    expect(await deliveredTo('13700000012')).toEqual([]);
  });

  it('a member\'s card change waiting behind a unit operator\'s phone change records and tells that phone change once, as the operator\'s', async () => {
    const { db, gw } = await started();
    const m = await seedPerson(db.pool);
    const operator = { subject: 'operator-insider', role: 'UNIT_OPERATOR' as const };
    const { rows: [row] } = await db.pool.query<{ name: string; unitId: number }>(`SELECT name, unit_id AS "unitId" FROM members WHERE id = $1`, [m.id]);
    const { work } = await commitOnceWaitedOn(db.pool, async (held) => {
      // The operator's phone change (updateMember's write and alerts), not yet committed.
      const changed = await changeMember(held as unknown as Tx, m.id, row!.unitId, { phone: '13700000077' }, { actor: operator, action: 'member.update' });
      await recordChangeAlerts(held as unknown as Tx, changed!.member, changed!.changes, operator, 7);
    }, () => gw.query({ role: 'MEMBER', sub: `member-${m.id}`, member: toGlobalId('Member', m.id) }, CHANGE, {
      input: { accountHolderName: row!.name, cardNumber: card(777), bankCode: BANK },
    }));
    expect((await work).data.changeMyBankAccount.userErrors).toEqual([]);
    const { rows: recorded } = await db.pool.query<{ actor: string }>(`SELECT actor FROM member_changes WHERE member_id = $1 AND field = 'PHONE' ORDER BY id`, [m.id]);
    const { rows: told } = await db.pool.query<{ byMember: boolean }>(
      `SELECT (facts ->> 'byMember')::boolean AS "byMember" FROM notifications WHERE member_id = $1 AND kind = 'PHONE_CHANGED' ORDER BY id`, [m.id]);
    expect({ recorded: recorded.map((r) => r.actor), toldByMember: told.map((t) => t.byMember) }).toEqual({ recorded: [operator.subject], toldByMember: [false] });
  });
});
