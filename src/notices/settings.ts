import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import { configuredSeal, parseSealSettings } from '../seals/settings.ts';
import type { NoticeSettings } from './issue.ts';

/** The notices' settings from configuration: the union seal (as for bank files) and NOTICE_UNION_NAME. */
export function noticeSettings(config: Pick<Config, 'NOTICE_UNION_NAME' | 'APPEAL_PERIOD_DAYS'>, keys: PersonalDataKeys): NoticeSettings {
  return { keys, seal: configuredSeal(parseSealSettings()), unionName: config.NOTICE_UNION_NAME, appealPeriodDays: config.APPEAL_PERIOD_DAYS };
}

/**
 * The notice worker's settings, or null (and a warning) when the seal cannot be loaded, so the
 * other workers still run; the notices wait in the outbox until a seal is configured.
 */
export function configuredNoticeSettings(config: Pick<Config, 'NOTICE_UNION_NAME' | 'APPEAL_PERIOD_DAYS'>, keys: PersonalDataKeys, log: Logger): NoticeSettings | null {
  try {
    return noticeSettings(config, keys);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.warn({ err: error }, 'no union seal: notices are not issued (for development: `hub certs dev`)');
    return null;
  }
}
