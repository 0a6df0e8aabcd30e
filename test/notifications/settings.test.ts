import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { notificationSettings } from '../../src/notifications/settings.ts';

describe('notification settings', () => {
  it('takes SMS template codes by kind, the rest by default; no channel without its URL', () => {
    const settings = notificationSettings(parseConfig({ NODE_ENV: 'test', NOTIFY_SMS_TEMPLATES: '{"PAYOUT_PAID":"SMS_000123"}', NOTIFY_SMS_URL: 'http://127.0.0.1:9' }));
    expect(settings.templates.SMS.PAYOUT_PAID).toBe('SMS_000123');
    expect(settings.templates.SMS.CLAIM_DECIDED).toBe('SMS_MAH_CLAIM_DECIDED');
    expect(Object.keys(settings.channels)).toEqual(['SMS']);
  });

  it('waits for a SENDING delivery longer than a call can last before asking about it', () => {
    const settings = notificationSettings(parseConfig({ NODE_ENV: 'test', NOTIFY_TIMEOUT_MS: '4000' }));
    expect(settings.staleMs).toBeGreaterThan(2 * 4000);
  });

  it('refuses template codes that are not a JSON object of codes', () => {
    for (const bad of ['[1]', 'SMS_1', '{"PAYOUT_PAID": 5}']) {
      expect(() => parseConfig({ NODE_ENV: 'test', NOTIFY_SMS_TEMPLATES: bad })).toThrow(ConfigError);
    }
  });
});
