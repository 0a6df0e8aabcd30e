import type { Queryable, Tx } from '../kernel/transaction.ts';
import type { Page } from '../kernel/page.ts';
import { byKey, keysetSql } from '../db/keyset.ts';
import { Params } from '../db/sql.ts';
import { memberRowScopeSql, memberScopeSql } from '../db/scope.ts';
import type { Scope } from '../kernel/scope.ts';
import type {
  ClaimedDelivery, DeliveryRow, DeliveryStatus, NewNotification, NotificationChannel, NotificationPreferencesRow, NotificationRow,
} from './model.ts';

/**
 * Where a BANK_ACCOUNT_CHANGED is sent by SMS whatever the member chose (`alert_phone`): the phone on
 * record before the change, read in the transaction that made it. When that transaction changed the
 * phone too (an insider giving their own phone with their own card), the old one is in its
 * member_changes row (`at` is the transaction's time); otherwise it is the member's phone as it is.
 * A PHONE_CHANGED goes to the phone its change replaced (`phoneReplacedSql`): a phone changed first
 * and a card later, in two transactions, is how the alert would otherwise miss the member.
 */
const phoneBeforeChangeSql = (memberId: string) => `(
  SELECT CASE WHEN pc.id IS NULL THEN m.phone ELSE pc.before END
    FROM members m
    LEFT JOIN LATERAL (SELECT x.id, x.before FROM member_changes x
                        WHERE x.member_id = m.id AND x.field = 'PHONE' AND x.at = now() ORDER BY x.id LIMIT 1) pc ON true
   WHERE m.id = ${memberId})`;

/** The phone a recorded PHONE change (member_changes, by its id) of the member replaced. */
const phoneReplacedSql = (changeId: string, memberId: string) =>
  `(SELECT x.before FROM member_changes x WHERE x.id = ${changeId} AND x.member_id = ${memberId} AND x.field = 'PHONE')`;

/**
 * SQL of the notifications domain. `recordNotifications` runs in the caller's transaction, so a
 * notification exists exactly when the decision it tells of commits; the same event recorded twice
 * (a retried job) is kept once.
 */
export async function recordNotifications(tx: Tx, rows: readonly NewNotification[]): Promise<void> {
  if (!rows.length) return;
  await tx.query(
    `INSERT INTO notifications (member_id, kind, subject_type, subject_id, event_key, facts, alert_phone)
     SELECT (n ->> 'memberId')::bigint, n ->> 'kind', n ->> 'subjectType', (n ->> 'subjectId')::bigint,
            coalesce(n ->> 'eventKey', ''), n -> 'facts',
            CASE n ->> 'kind' WHEN 'BANK_ACCOUNT_CHANGED' THEN ${phoneBeforeChangeSql(`(n ->> 'memberId')::bigint`)}
                              WHEN 'PHONE_CHANGED' THEN ${phoneReplacedSql(`(n ->> 'eventKey')::bigint`, `(n ->> 'memberId')::bigint`)} END
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(n, i)
      ORDER BY i
     ON CONFLICT (kind, subject_type, subject_id, event_key) DO NOTHING`,
    [JSON.stringify(rows)],
  );
}

/**
 * Payout notifications, one per payout event: `kind` for each payout, its latest attempt's amount
 * and bank reason code as the facts, the attempt's number as the event key (a retried payout's
 * second payment is another event; the same report applied twice is not). A condolence payment's
 * payout says so (`condolence: true`), so its message names 慰问金.
 */
export async function recordPayoutNotifications(tx: Tx, kind: 'PAYOUT_PAID' | 'PAYOUT_FAILED' | 'PAYOUT_RETURNED', payoutIds: readonly number[]): Promise<void> {
  if (!payoutIds.length) return;
  await tx.query(
    `INSERT INTO notifications (member_id, kind, subject_type, subject_id, event_key, facts)
     SELECT p.member_id, $1, 'Payout', p.id, 'attempt-' || a.attempt_no,
            jsonb_strip_nulls(jsonb_build_object('amountFen', a.amount_fen, 'reasonCode', a.reason_code, 'attemptNo', a.attempt_no,
              'condolence', CASE WHEN p.condolence_id IS NOT NULL THEN true END))
       FROM payouts p
       CROSS JOIN LATERAL (SELECT * FROM payout_attempts x WHERE x.payout_id = p.id ORDER BY x.attempt_no DESC LIMIT 1) a
      WHERE p.id = ANY($2::bigint[])
      ORDER BY p.id
     ON CONFLICT (kind, subject_type, subject_id, event_key) DO NOTHING`,
    [kind, payoutIds],
  );
}

// ---- deliveries (the worker) ----

/**
 * Turns up to `limit` unplanned notifications into deliveries on their members' channels: the
 * chosen ones, or SMS when the member chose nothing and has a phone. A bank account or phone change goes by
 * SMS to its `alert_phone` as well, whatever was chosen: a stolen login could choose no channel
 * before it redirects the card. Locked rows are skipped, so workers plan side by side. Returns how
 * many notifications were planned.
 */
export async function planDeliveries(tx: Tx, limit: number): Promise<number> {
  const { rowCount } = await tx.query(
    `WITH due AS (
       SELECT n.id, n.member_id, n.alert_phone FROM notifications n WHERE n.planned_at IS NULL ORDER BY n.id LIMIT $1 FOR UPDATE SKIP LOCKED),
     chosen AS (
       SELECT DISTINCT d.id, ch.channel
         FROM due d JOIN members m ON m.id = d.member_id
         LEFT JOIN notification_preferences np ON np.member_id = d.member_id
        CROSS JOIN LATERAL unnest(coalesce(np.channels, CASE WHEN m.phone IS NOT NULL THEN ARRAY['SMS'] ELSE ARRAY[]::text[] END)
                                  || CASE WHEN d.alert_phone IS NOT NULL THEN ARRAY['SMS'] ELSE ARRAY[]::text[] END) AS ch(channel)),
     planned AS (
       INSERT INTO notification_deliveries (notification_id, channel) SELECT id, channel FROM chosen
       ON CONFLICT (notification_id, channel) DO NOTHING)
     UPDATE notifications n SET planned_at = now() FROM due WHERE n.id = due.id`,
    [limit],
  );
  return rowCount ?? 0;
}

const NOTIFICATION_COLUMNS = `n.id, n.member_id AS "memberId", n.kind, n.subject_type AS "subjectType", n.subject_id AS "subjectId",
  n.event_key AS "eventKey", n.facts, n.created_at AS "createdAt"`;

/**
 * Claims up to `limit` due deliveries: PENDING and UNKNOWN ones whose time has come, and SENDING
 * ones older than `staleMs` (their worker died mid-call). They become SENDING and the caller
 * commits before any channel is called. Only deliveries on `channels` (those configured). With each: its status before (`was`), the notification,
 * and the one address its channel needs: a bank account or phone change's SMS goes to the phone fixed with it
 * (`alert_phone`), any other to the member's phone now.
 */
export async function claimDueDeliveries(tx: Tx, channels: readonly NotificationChannel[], limit: number, staleMs: number): Promise<ClaimedDelivery[]> {
  const { rows } = await tx.query<Omit<ClaimedDelivery, 'notification'> & { notification: NotificationRow }>(
    `WITH picked AS (
       SELECT d.id, d.status AS was FROM notification_deliveries d
        WHERE d.channel = ANY($3::text[])
          AND ((d.status IN ('PENDING', 'UNKNOWN') AND d.next_attempt_at <= now())
            OR (d.status = 'SENDING' AND d.sending_since < now() - make_interval(secs => $2::double precision / 1000)))
        ORDER BY d.next_attempt_at, d.id LIMIT $1 FOR UPDATE SKIP LOCKED),
     claimed AS (
       UPDATE notification_deliveries d SET status = 'SENDING', sending_since = now(), updated_at = now()
         FROM picked WHERE d.id = picked.id
       RETURNING d.id, d.channel, picked.was, d.attempts, d.notification_id)
     SELECT c.id, c.channel, c.was, c.attempts, coalesce(n.alert_phone, m.phone) AS phone, np.wechat_openid_enc AS "openidEnc",
            (SELECT to_jsonb(x) FROM (SELECT ${NOTIFICATION_COLUMNS} FROM notifications n WHERE n.id = c.notification_id) x) AS notification
       FROM claimed c JOIN notifications n ON n.id = c.notification_id JOIN members m ON m.id = n.member_id
       LEFT JOIN notification_preferences np ON np.member_id = n.member_id
      ORDER BY c.id`,
    [limit, staleMs, channels],
  );
  return rows.map((r) => ({ ...r, notification: { ...r.notification, createdAt: new Date(r.notification.createdAt) } }));
}

/** What became of a claimed (SENDING) delivery. */
export type DeliveryOutcome =
  | { status: 'SENT'; messageId: string; countsAsAttempt: boolean }
  | { status: 'PENDING' | 'UNKNOWN'; error: string; retryInMs: number; countsAsAttempt: boolean }
  | { status: 'FAILED'; error: string; countsAsAttempt: boolean };

/** Records a claimed delivery's outcome; false when it is no longer SENDING (another worker's). */
export async function recordDeliveryOutcome(db: Queryable, id: number, outcome: DeliveryOutcome): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE notification_deliveries
        SET status = $2, attempts = attempts + CASE WHEN $3 THEN 1 ELSE 0 END,
            provider_message_id = coalesce($4, provider_message_id), last_error = CASE WHEN $2 = 'SENT' THEN last_error ELSE $5 END,
            next_attempt_at = now() + make_interval(secs => $6::double precision / 1000),
            sent_at = CASE WHEN $2 = 'SENT' THEN now() END, sending_since = NULL, updated_at = now()
      WHERE id = $1 AND status = 'SENDING'`,
    [id, outcome.status, outcome.countsAsAttempt, outcome.status === 'SENT' ? outcome.messageId : null,
      outcome.status === 'SENT' ? null : outcome.error, 'retryInMs' in outcome ? outcome.retryInMs : 0],
  );
  return rowCount === 1;
}

/** The earliest time a delivery is due (for the worker's next look), or null when none waits. */
export async function nextDueAt(db: Queryable): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>(
    `SELECT min(next_attempt_at) AS at FROM notification_deliveries WHERE status IN ('PENDING', 'UNKNOWN')`,
  );
  return rows[0]?.at ?? null;
}

// ---- preferences ----

export async function readPreferences(db: Queryable, memberId: number): Promise<NotificationPreferencesRow> {
  const { rows } = await db.query<{ channels: NotificationChannel[]; wechatBound: boolean; hasPhone: boolean; chosen: boolean }>(
    `SELECT coalesce(np.channels, CASE WHEN m.phone IS NOT NULL THEN ARRAY['SMS'] ELSE ARRAY[]::text[] END) AS channels,
            np.wechat_openid_enc IS NOT NULL AS "wechatBound", np.member_id IS NOT NULL AS chosen
       FROM members m LEFT JOIN notification_preferences np ON np.member_id = m.id WHERE m.id = $1`,
    [memberId],
  );
  const row = rows[0];
  return { memberId, channels: row?.channels ?? [], wechatBound: row?.wechatBound ?? false, chosen: row?.chosen ?? false };
}

/** Whether the member has a phone on record (SMS needs one). */
export async function memberHasPhone(db: Queryable, memberId: number): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM members WHERE id = $1 AND phone IS NOT NULL`, [memberId]);
  return rows.length === 1;
}

/**
 * Saves a member's channels; `openidEnc` replaces the bound openid, null removes it, undefined
 * keeps it. Returns the preferences as saved.
 */
export async function savePreferences(tx: Tx, memberId: number, channels: readonly NotificationChannel[], openidEnc: Buffer | null | undefined): Promise<void> {
  await tx.query(
    `INSERT INTO notification_preferences (member_id, channels, wechat_openid_enc) VALUES ($1, $2::text[], $3)
     ON CONFLICT (member_id) DO UPDATE
        SET channels = excluded.channels, updated_at = now(),
            wechat_openid_enc = CASE WHEN $4 THEN notification_preferences.wechat_openid_enc ELSE excluded.wechat_openid_enc END`,
    [memberId, channels, openidEnc ?? null, openidEnc === undefined],
  );
}

/** Whether the member has an openid bound. */
export async function wechatBound(db: Queryable, memberId: number): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM notification_preferences WHERE member_id = $1 AND wechat_openid_enc IS NOT NULL`, [memberId]);
  return rows.length === 1;
}

// ---- reads ----

export const NOTIFICATION_ORDER = byKey('n.id', 'DESC');
export const DELIVERY_ORDER = byKey('d.id', 'DESC');

/** A member's notifications, newest first. */
export async function listMemberNotifications(db: Queryable, memberId: number, page: Page): Promise<NotificationRow[]> {
  const p = new Params();
  const member = p.add(memberId);
  const keyset = keysetSql(p, NOTIFICATION_ORDER, page);
  const { rows } = await db.query<NotificationRow>(
    `SELECT ${NOTIFICATION_COLUMNS} FROM notifications n WHERE n.member_id = ${member} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countMemberNotifications(db: Queryable, memberId: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications WHERE member_id = $1`, [memberId]);
  return rows[0]!.n;
}

const DELIVERY_COLUMNS = `d.id, d.notification_id AS "notificationId", n.member_id AS "memberId", n.kind, d.channel, d.status, d.attempts,
  d.next_attempt_at AS "nextAttemptAt", d.provider_message_id AS "providerMessageId", d.last_error AS "lastError",
  d.sent_at AS "sentAt", d.updated_at AS "updatedAt"`;

/** The deliveries of these notifications, in channel order. */
export async function deliveriesOfNotifications(db: Queryable, notificationIds: readonly number[]): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
      WHERE d.notification_id = ANY($1::bigint[]) ORDER BY d.notification_id, d.channel`,
    [notificationIds],
  );
  return rows;
}

/** Deliveries (in `status`, or all), newest first. */
export async function listDeliveries(db: Queryable, scope: Scope, status: DeliveryStatus | null, page: Page): Promise<DeliveryRow[]> {
  const p = new Params();
  const where = `${status ? `d.status = ${p.add(status)}` : 'true'} AND ${memberRowScopeSql(p, scope, 'n')}`;
  const keyset = keysetSql(p, DELIVERY_ORDER, page);
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
      WHERE ${where} AND ${keyset.where} ORDER BY ${keyset.orderBy} LIMIT ${p.add(page.limit)}`,
    p.values,
  );
  return rows;
}

export async function countDeliveries(db: Queryable, scope: Scope, status: DeliveryStatus | null): Promise<number> {
  const p = new Params();
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
      WHERE (${p.add(status)}::text IS NULL OR d.status = ${p.add(status)}) AND ${memberRowScopeSql(p, scope, 'n')}`,
    p.values,
  );
  return rows[0]!.n;
}

/**
 * One delivery in `scope`, locked for a staff decision. The member and its unit are locked too (FOR
 * SHARE) and the scope checked on them: after waiting for the delivery, the check runs again on the
 * member and unit as a move committed meanwhile left them.
 */
export async function lockDelivery(tx: Tx, id: number, scope: Scope): Promise<DeliveryRow | null> {
  const p = new Params();
  const { rows } = await tx.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
       JOIN members m ON m.id = n.member_id JOIN units u ON u.id = m.unit_id
      WHERE d.id = ${p.add(id)} AND ${memberScopeSql(p, scope, 'm', 'u')} FOR UPDATE OF d FOR SHARE OF m, u`,
    p.values,
  );
  return rows[0] ?? null;
}

/** A FAILED delivery made due again, its attempts counted afresh. */
export async function reopenDelivery(tx: Tx, id: number): Promise<void> {
  await tx.query(
    `UPDATE notification_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = now(), updated_at = now() WHERE id = $1 AND status = 'FAILED'`,
    [id],
  );
}

/** Notifications by id (any member's: the caller checks who may see them). */
export async function notificationsByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<NotificationRow[]> {
  const p = new Params();
  const { rows } = await db.query<NotificationRow>(
    `SELECT ${NOTIFICATION_COLUMNS} FROM notifications n WHERE n.id = ANY(${p.add(ids)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'n')}`, p.values);
  return rows;
}

/** Deliveries by id, of members in `scope` (the caller checks who may see them). */
export async function deliveriesByIds(db: Queryable, ids: readonly number[], scope: Scope): Promise<DeliveryRow[]> {
  const p = new Params();
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
      WHERE d.id = ANY(${p.add(ids)}::bigint[]) AND ${memberRowScopeSql(p, scope, 'n')}`,
    p.values,
  );
  return rows;
}

/**
 * A roster import that replaced members' bank accounts or phones tells each of them, in the
 * import's transaction: one BANK_ACCOUNT_CHANGED or PHONE_CHANGED per recorded change
 * (member_changes, keyed by its id, as `updateMember` and the member's own change record them),
 * sent to the phone the member had before the import. A change the member did not make is what it
 * must hear of: an import is how a unit's insider could redirect a payout. A first phone tells no
 * one (there was none before to tell). Returns how many were recorded.
 */
export async function recordRosterChangeAlerts(tx: Tx, importId: number): Promise<number> {
  const { rowCount } = await tx.query(
    `INSERT INTO notifications (member_id, kind, subject_type, subject_id, event_key, facts, alert_phone)
     SELECT c.member_id, CASE c.field WHEN 'BANK_ACCOUNT' THEN 'BANK_ACCOUNT_CHANGED' ELSE 'PHONE_CHANGED' END, 'Member', c.member_id, c.id::text,
            jsonb_build_object('changedAt', to_char(c.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                               'byMember', false, 'actorRole', c.role)
              || CASE c.field WHEN 'BANK_ACCOUNT' THEN jsonb_build_object('firstAccount', c.before IS NULL) ELSE '{}'::jsonb END,
            CASE c.field WHEN 'BANK_ACCOUNT' THEN ${phoneBeforeChangeSql('c.member_id')} ELSE c.before END
       FROM member_changes c
      WHERE c.import_id = $1 AND (c.field = 'BANK_ACCOUNT' OR (c.field = 'PHONE' AND c.before IS NOT NULL))
      ORDER BY c.id
     ON CONFLICT (kind, subject_type, subject_id, event_key) DO NOTHING`,
    [importId],
  );
  return rowCount ?? 0;
}
