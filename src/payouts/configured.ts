import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { BankAdapter } from '../banks/adapter.ts';
import { configuredBankAdapter } from '../banks/settings.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import { configuredSeal, parseSealSettings } from '../seals/settings.ts';
import type { SealingContext } from './batches.ts';

/** What the payout worker needs beyond the database: the bank channel and the seal. */
export interface PayoutServices {
  adapter: BankAdapter;
  sealing: SealingContext;
  pollMs: number;
  planEveryMs: number;
  lockMs: number;
}

/** The union as initiating party of its payment files. */
export const UNION_PARTY = { name: '市总工会职工医疗互助' } as const;

/**
 * From configuration: null (and a warning) when no bank channel is configured, so the other
 * workers still run; a configured channel with missing certificates is an error.
 */
export function configuredPayoutServices(config: Config, keys: PersonalDataKeys, log: Logger): PayoutServices | null {
  if (!config.BANK_URL) {
    log.warn('BANK_URL is not set: payout batches are not sealed or sent (for the simulator: `hub sim bank`, BANK_URL=http://127.0.0.1:4800)');
    return null;
  }
  const seals = parseSealSettings();
  return {
    adapter: configuredBankAdapter(config, seals),
    sealing: { keys, seal: configuredSeal(seals), outDir: config.PAYOUT_OUT_DIR, initiatingParty: UNION_PARTY },
    pollMs: config.PAYOUT_POLL_MS,
    planEveryMs: config.PAYOUT_PLAN_SECONDS * 1000,
    lockMs: config.PAYOUT_JOB_LOCK_MS,
  };
}
