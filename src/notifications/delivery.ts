import type { Logger } from 'pino';
import { inTransaction } from '../db/pool.ts';
import type { Db } from '../kernel/transaction.ts';
import { decrypt, type PersonalDataKeys } from '../privacy/personalData.ts';
import type { ChannelAdapter } from './channels.ts';
import { renderMessage } from './messages.ts';
import type { ClaimedDelivery, NotificationChannel } from './model.ts';
import type { NotificationSettings } from './settings.ts';
import { claimDueDeliveries, planDeliveries, recordDeliveryOutcome, type DeliveryOutcome } from './store.ts';

/**
 * Delivering the outbox. The guarantee, exactly: a member is sent a notification on a channel at
 * most once — as far as the provider honours the idempotency key every send carries (the delivery
 * id) — and at least once unless it ends FAILED or stays UNKNOWN, both visible to staff.
 *   1. A delivery is claimed (FOR UPDATE SKIP LOCKED) and marked SENDING, and that commits before
 *      the channel is called: a worker that dies mid-call leaves SENDING behind.
 *   2. An answer is recorded only on a delivery still SENDING. Accepted: SENT, final (the database
 *      refuses any move out of SENT). Certainly not taken (refused connection, 5xx, 429): PENDING
 *      again after a doubling wait, FAILED after NOTIFY_MAX_ATTEMPTS. Refused for good (4xx, no
 *      phone or openid): FAILED at once. No usable answer (timeout, cut connection, 504): UNKNOWN.
 *   3. An UNKNOWN delivery, and a SENDING one older than twice the call timeout (its worker died),
 *      is never resent blindly: the provider is asked about its key first, and it is sent again
 *      only when the provider says it never got it. While the provider cannot say, it stays
 *      UNKNOWN and is asked again later (never FAILED by itself: it may have reached the member).
 */

export interface DeliveryContext {
  db: Db;
  keys: PersonalDataKeys;
  settings: NotificationSettings;
  log: Logger;
}

export interface DeliveryRound {
  /** Notifications turned into deliveries. */
  planned: number;
  /** Deliveries claimed this round. */
  claimed: number;
  sent: number;
}

const PLAN_PAGE = 500;
const MAX_WAIT_MS = 3_600_000;

/** The key the provider dedupes on: the delivery, never the notification (one per channel). */
export const idempotencyKey = (deliveryId: number) => `mah-delivery-${deliveryId}`;

/** One round: plans new notifications, then claims up to `batchSize` due deliveries and sends them. */
export async function deliverDue(ctx: DeliveryContext): Promise<DeliveryRound> {
  let planned = 0;
  for (let n = PLAN_PAGE; n === PLAN_PAGE;) {
    n = await inTransaction(ctx.db, (tx) => planDeliveries(tx, PLAN_PAGE));
    planned += n;
  }
  const configured = Object.keys(ctx.settings.channels) as NotificationChannel[];
  if (!configured.length) return { planned, claimed: 0, sent: 0 };
  const claimed = await inTransaction(ctx.db, (tx) => claimDueDeliveries(tx, configured, ctx.settings.batchSize, ctx.settings.staleMs));
  const outcomes = await Promise.all(claimed.map((d) => deliverOne(ctx, ctx.settings.channels[d.channel]!, d)));
  return { planned, claimed: claimed.length, sent: outcomes.filter((o) => o === 'SENT').length };
}

const waitAfter = (ctx: DeliveryContext, attempts: number) => Math.min(ctx.settings.retryBaseMs * 2 ** Math.max(0, attempts - 1), MAX_WAIT_MS);

async function deliverOne(ctx: DeliveryContext, channel: ChannelAdapter, d: ClaimedDelivery): Promise<DeliveryOutcome['status']> {
  const key = idempotencyKey(d.id);
  let outcome: DeliveryOutcome;
  try {
    outcome = await decide(ctx, channel, d, key);
  } catch (error) {
    // Our own fault (an openid that does not decrypt): unknown whether anything went, so asked later.
    outcome = { status: 'UNKNOWN', error: `delivery failed in the hub: ${(error as Error).message}`, retryInMs: waitAfter(ctx, d.attempts + 1), countsAsAttempt: true };
  }
  const recorded = await recordDeliveryOutcome(ctx.db, d.id, outcome);
  if (!recorded) ctx.log.warn({ deliveryId: d.id }, 'the delivery was no longer SENDING; its outcome was not recorded');
  else if (outcome.status !== 'SENT') ctx.log.warn({ deliveryId: d.id, channel: d.channel, status: outcome.status, error: outcome.error }, 'notification not delivered');
  return outcome.status;
}

async function decide(ctx: DeliveryContext, channel: ChannelAdapter, d: ClaimedDelivery, key: string): Promise<DeliveryOutcome> {
  const attempts = d.attempts + 1;
  if (d.was === 'UNKNOWN' || d.was === 'SENDING') {
    const asked = await channel.query(key);
    if (asked.kind === 'ACCEPTED') return { status: 'SENT', messageId: asked.messageId, countsAsAttempt: false };
    if (asked.kind === 'UNKNOWN') return { status: 'UNKNOWN', error: asked.error, retryInMs: waitAfter(ctx, attempts), countsAsAttempt: true };
    // NOT_RECEIVED: the provider never got it, so sending now is the first send it sees.
  }
  const to = d.channel === 'SMS' ? d.phone : d.openidEnc && decrypt(ctx.keys, d.openidEnc);
  if (!to) return { status: 'FAILED', error: d.channel === 'SMS' ? 'the member has no phone number on record' : 'the member has no WeChat openid bound', countsAsAttempt: false };
  const sent = await channel.send(key, { to, templateCode: ctx.settings.templates[d.channel][d.notification.kind], message: renderMessage(d.notification) });
  switch (sent.kind) {
    case 'ACCEPTED': return { status: 'SENT', messageId: sent.messageId, countsAsAttempt: true };
    case 'REFUSED': return { status: 'FAILED', error: sent.error, countsAsAttempt: true };
    case 'RETRY': return attempts >= ctx.settings.maxAttempts
      ? { status: 'FAILED', error: `${sent.error} (after ${attempts} attempts)`, countsAsAttempt: true }
      : { status: 'PENDING', error: sent.error, retryInMs: waitAfter(ctx, attempts), countsAsAttempt: true };
    case 'UNKNOWN': return { status: 'UNKNOWN', error: sent.error, retryInMs: waitAfter(ctx, attempts), countsAsAttempt: true };
  }
}
