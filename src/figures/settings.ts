import type { Config } from '../config.ts';
import { configuredSeal, parseSealSettings } from '../seals/settings.ts';
import type { ReportSettings } from './download.ts';

/** The yearly report's settings: the union's seal (as for notices and bank files), its name, the promise's holidays, the smallest cell it shows. */
export function reportSettings(config: Pick<Config, 'NOTICE_UNION_NAME' | 'PROMISE_HOLIDAYS' | 'FIGURES_MIN_CELL'>): ReportSettings {
  return { seal: () => configuredSeal(parseSealSettings()), unionName: config.NOTICE_UNION_NAME, holidays: config.PROMISE_HOLIDAYS, minCell: config.FIGURES_MIN_CELL };
}
