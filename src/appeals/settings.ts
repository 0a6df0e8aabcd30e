import type { Config } from '../config.ts';
import type { AppealPeriod } from './model.ts';

/** The appeal period as configured: APPEAL_PERIOD_DAYS, and PROMISE_HOLIDAYS for a last day that is a holiday. */
export function appealPeriodOf(config: Pick<Config, 'APPEAL_PERIOD_DAYS' | 'PROMISE_HOLIDAYS'>): AppealPeriod {
  return { days: config.APPEAL_PERIOD_DAYS, holidays: config.PROMISE_HOLIDAYS };
}
