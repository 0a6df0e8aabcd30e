import type { Actor } from '../audit/audit.ts';
import { recordAudit } from '../audit/audit.ts';
import { inTransaction } from '../db/pool.ts';
import { checkAll, conflict, notFound } from '../kernel/errors.ts';
import type { Db } from '../kernel/transaction.ts';
import { UNSCOPED, type Scope } from '../kernel/scope.ts';
import { encrypt, type PersonalDataKeys } from '../privacy/personalData.ts';
import { NOTIFICATION_CHANNELS, type NotificationChannel, type NotificationPreferencesRow } from './model.ts';
import { lockDelivery, memberHasPhone, readPreferences, reopenDelivery, savePreferences, wechatBound } from './store.ts';

/** An openid as WeChat issues them (28 characters today): letters, digits, `-` and `_`. */
const OPENID = /^[A-Za-z0-9_-]{16,64}$/;

export interface PreferencesInput {
  channels: readonly string[];
  /** A new openid to bind; null unbinds it; absent keeps the bound one. */
  wechatOpenid?: string | null;
}

/**
 * A member's channels (the member's own decision: `memberId` comes from the token). SMS needs a
 * phone on record, WECHAT a bound openid (given now, or before); an empty list means told in the
 * hub only, but for a bank account change, sent by SMS whatever is chosen here (planDeliveries): a
 * stolen login cannot silence it. The openid is encrypted at rest and never shown again; the audit
 * names no openid.
 */
export async function setPreferences(db: Db, keys: PersonalDataKeys, actor: Actor, memberId: number, input: PreferencesInput): Promise<NotificationPreferencesRow> {
  const channels = [...new Set(input.channels)];
  const unknown = channels.filter((c) => !(NOTIFICATION_CHANNELS as readonly string[]).includes(c));
  const openid = input.wechatOpenid === undefined || input.wechatOpenid === null ? input.wechatOpenid : input.wechatOpenid.trim();
  const bound = openid === undefined ? await wechatBound(db, memberId) : openid !== null;
  checkAll({
    'input.channels': unknown.length ? `unknown channel(s) ${unknown.join(', ')}: SMS or WECHAT`
      : channels.length < input.channels.length ? 'names a channel twice'
      : channels.includes('SMS') && !await memberHasPhone(db, memberId) ? 'SMS needs a phone number on record; ask your unit to add it'
      : channels.includes('WECHAT') && !bound ? 'WECHAT needs a bound openid: give wechatOpenid' : null,
    'input.wechatOpenid': typeof openid === 'string' && !OPENID.test(openid) ? 'is not a WeChat openid (16 to 64 letters, digits, - or _)' : null,
  });
  const chosen = channels as NotificationChannel[];
  await inTransaction(db, async (tx) => {
    await savePreferences(tx, memberId, chosen, typeof openid === 'string' ? encrypt(keys, openid) : openid);
    await recordAudit(tx, actor, {
      action: 'notification.preferences.set', targetType: 'Member', targetId: String(memberId),
      details: { channels: chosen, wechatOpenid: openid === undefined ? 'kept' : openid === null ? 'removed' : 'bound' },
    });
  });
  return readPreferences(db, memberId);
}

/** An ADMIN's retry of a FAILED delivery: due again at once, its attempts counted afresh; audited. Never a SENT one. */
export async function retryDelivery(db: Db, actor: Actor, deliveryId: number, reason: string, scope: Scope = UNSCOPED): Promise<void> {
  await inTransaction(db, async (tx) => {
    const delivery = await lockDelivery(tx, deliveryId, scope);
    if (!delivery) throw notFound('notification delivery', 'input.deliveryId');
    if (delivery.status !== 'FAILED') throw conflict(`delivery ${deliveryId} is ${delivery.status}: only a FAILED delivery can be retried`, 'input.deliveryId');
    await reopenDelivery(tx, deliveryId);
    await recordAudit(tx, actor, {
      action: 'notification.delivery.retried', targetType: 'NotificationDelivery', targetId: String(deliveryId), reason,
      details: { notificationId: delivery.notificationId, channel: delivery.channel, attempts: delivery.attempts, lastError: delivery.lastError },
    });
  });
}
