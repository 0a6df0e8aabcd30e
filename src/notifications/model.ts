import type { Transitions } from '../kernel/transitions.ts';

/**
 * Notifications (告知): what a member is told, written in the same transaction as the decision or
 * payment it tells of (a transactional outbox), delivered later by the notification worker.
 */

export const NOTIFICATION_KINDS = [
  'CLAIM_DECIDED', 'CLAIM_REDECIDED', 'APPLICATION_ACCEPTED', 'APPLICATION_RETURNED', 'APPEAL_DECIDED',
  'PAYOUT_PAID', 'PAYOUT_FAILED', 'PAYOUT_RETURNED', 'BANK_ACCOUNT_CHANGED', 'CONDOLENCE_APPROVED', 'PHONE_CHANGED',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** The object a notification tells of. */
export type NotificationSubject = 'Claim' | 'Application' | 'Appeal' | 'Payout' | 'Member' | 'Condolence';

/**
 * A notification to record. `facts` are the figures the message shows (amounts in fen, statuses,
 * reason codes, dates) — never a name, ID number, bank card or phone number: the worker adds only
 * what the channel needs when it delivers.
 */
export interface NewNotification {
  memberId: number;
  kind: NotificationKind;
  subjectType: NotificationSubject;
  subjectId: number;
  /** Tells apart two events of the same kind on the same subject (a second re-decision, a second card change); '' when there is only one. */
  eventKey?: string;
  facts: Record<string, string | number | boolean | null>;
}

// ---- channels, preferences, deliveries ----

/** How a member is told beyond the hub itself: a template SMS, or a WeChat template/subscribe message. */
export const NOTIFICATION_CHANNELS = ['SMS', 'WECHAT'] as const;
export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];

/**
 * Where one delivery (a notification on one channel) stands.
 *   PENDING  due at next_attempt_at: to be sent (again, after a definite failure)
 *   SENDING  committed before the channel is called; left so by a worker that died mid-call
 *   SENT     the channel accepted it (its message id kept): final, never sent again
 *   FAILED   refused for good, or definite failures up to NOTIFY_MAX_ATTEMPTS: staff may retry it
 *   UNKNOWN  no usable answer (timeout, connection lost after the request went): the channel is
 *            asked by the delivery's key before anything is sent again
 */
export const DELIVERY_STATUSES = ['PENDING', 'SENDING', 'SENT', 'FAILED', 'UNKNOWN'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** The moves the worker and staff make; the database refuses any move out of SENT (its trigger, 0014). */
export const DELIVERY_TRANSITIONS: Transitions<DeliveryStatus> = {
  PENDING: ['SENDING'],
  // accepted; definite failure (again later, or for good); no answer
  SENDING: ['SENT', 'PENDING', 'FAILED', 'UNKNOWN'],
  SENT: [],
  // an ADMIN's retry (audited)
  FAILED: ['PENDING'],
  // asked again (SENDING), answered "never got it" (resent from SENDING)
  UNKNOWN: ['SENDING'],
};

/** A member's choice; `wechatBound` says an openid is on record (it is never shown). */
export interface NotificationPreferencesRow {
  memberId: number;
  channels: NotificationChannel[];
  wechatBound: boolean;
  /** False: no row yet, the default applies (SMS when the member has a phone). */
  chosen: boolean;
}

export interface NotificationRow {
  id: number;
  memberId: number;
  kind: NotificationKind;
  subjectType: NotificationSubject;
  subjectId: number;
  eventKey: string;
  facts: NewNotification['facts'];
  createdAt: Date;
}

export interface DeliveryRow {
  id: number;
  notificationId: number;
  memberId: number;
  kind: NotificationKind;
  channel: NotificationChannel;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  providerMessageId: string | null;
  lastError: string | null;
  sentAt: Date | null;
  updatedAt: Date;
}

/**
 * What a worker needs to send one claimed delivery; `phone` and `openidEnc` are read only at send
 * time, except a bank account or phone change's phone: the one on record before the change, fixed with it.
 */
export interface ClaimedDelivery {
  id: number;
  channel: NotificationChannel;
  /** Its status before this claim: UNKNOWN or SENDING (a crashed worker's) is asked about before any send. */
  was: DeliveryStatus;
  attempts: number;
  notification: NotificationRow;
  phone: string | null;
  openidEnc: Buffer | null;
}

/** Who may list deliveries and retry failed ones; who may read another member's notifications (read-only). */
export const DELIVERY_READERS = ['ADMIN', 'AUDITOR'] as const;
export const DELIVERY_RETRIERS = ['ADMIN'] as const;
