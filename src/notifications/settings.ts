import type { Config } from '../config.ts';
import { HttpSmsChannel, HttpWechatChannel, type ChannelAdapter } from './channels.ts';
import { NOTIFICATION_KINDS, type NotificationChannel, type NotificationKind } from './model.ts';

/** The notification worker's settings (NOTIFY_*), taken as arguments by the delivery service. */
export interface NotificationSettings {
  /** The configured channels; a channel without one keeps its deliveries waiting. */
  channels: Partial<Record<NotificationChannel, ChannelAdapter>>;
  /** Template code (SMS) or id (WeChat) of each kind. */
  templates: Record<NotificationChannel, Record<NotificationKind, string>>;
  maxAttempts: number;
  retryBaseMs: number;
  /**
   * A SENDING delivery older than this is taken as its worker's crash and asked about. Always more
   * than a call may last (twice NOTIFY_TIMEOUT_MS at least), so a live call is never second-guessed.
   */
  staleMs: number;
  pollMs: number;
  /** Deliveries claimed at once. */
  batchSize: number;
}

type NotifyConfig = Pick<Config, 'NOTIFY_SMS_URL' | 'NOTIFY_SMS_SIGN' | 'NOTIFY_SMS_TEMPLATES' | 'NOTIFY_WECHAT_URL' | 'NOTIFY_WECHAT_TEMPLATE_ID'
  | 'NOTIFY_WECHAT_PAGE' | 'NOTIFY_TIMEOUT_MS' | 'NOTIFY_MAX_ATTEMPTS' | 'NOTIFY_RETRY_BASE_MS' | 'NOTIFY_POLL_MS'>;

/** SMS template codes: NOTIFY_SMS_TEMPLATES (JSON, kind -> code) over the default SMS_MAH_<KIND>. */
function smsTemplates(json: string | undefined): Record<NotificationKind, string> {
  // Checked as an object of codes when configuration was parsed.
  const given = (json ? JSON.parse(json) : {}) as Record<string, unknown>;
  return Object.fromEntries(NOTIFICATION_KINDS.map((kind) => {
    const code = given[kind];
    return [kind, typeof code === 'string' && code ? code : `SMS_MAH_${kind}`];
  })) as Record<NotificationKind, string>;
}

export function notificationSettings(config: NotifyConfig): NotificationSettings {
  const timeoutMs = config.NOTIFY_TIMEOUT_MS;
  const channels: NotificationSettings['channels'] = {};
  if (config.NOTIFY_SMS_URL) channels.SMS = new HttpSmsChannel({ url: config.NOTIFY_SMS_URL, timeoutMs, signName: config.NOTIFY_SMS_SIGN });
  if (config.NOTIFY_WECHAT_URL) channels.WECHAT = new HttpWechatChannel({ url: config.NOTIFY_WECHAT_URL, timeoutMs, page: config.NOTIFY_WECHAT_PAGE });
  const wechat = Object.fromEntries(NOTIFICATION_KINDS.map((k) => [k, config.NOTIFY_WECHAT_TEMPLATE_ID])) as Record<NotificationKind, string>;
  return {
    channels,
    templates: { SMS: smsTemplates(config.NOTIFY_SMS_TEMPLATES), WECHAT: wechat },
    maxAttempts: config.NOTIFY_MAX_ATTEMPTS,
    retryBaseMs: config.NOTIFY_RETRY_BASE_MS,
    staleMs: 2 * timeoutMs + 1_000,
    pollMs: config.NOTIFY_POLL_MS,
    batchSize: 50,
  };
}
