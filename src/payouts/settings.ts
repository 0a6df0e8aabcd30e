import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { BankAdapter } from '../banks/adapter.ts';
import { configuredBankAdapter } from '../banks/settings.ts';
import type { PersonalDataKeys } from '../privacy/personalData.ts';
import { configuredSeal, parseSealSettings } from '../seals/settings.ts';
import type { PayingAccount, PayoutSettings } from './model.ts';
import type { SealingContext } from './sealing.ts';

/**
 * The payouts' settings from configuration. Decisions take them as arguments (the composition
 * root, or the gateway's configuration, passes them in); nothing in the domain reads `config()`.
 */

function payingAccount(config: Pick<Config, 'PAYOUT_CHANNEL' | 'PAYOUT_ACCOUNT' | 'PAYOUT_ACCOUNT_NAME' | 'PAYOUT_AGENT'>): PayingAccount {
  return { channel: config.PAYOUT_CHANNEL, account: config.PAYOUT_ACCOUNT, name: config.PAYOUT_ACCOUNT_NAME, agent: config.PAYOUT_AGENT };
}

export function payoutSettings(
  config: Pick<Config, 'PAYOUT_CHANNEL' | 'PAYOUT_ACCOUNT' | 'PAYOUT_ACCOUNT_NAME' | 'PAYOUT_AGENT' | 'BANK_CARD_COOLING_OFF_DAYS' | 'PAYOUT_BATCH_MAX' | 'PAYOUT_RELEASE_BATCH_MAX'>,
): PayoutSettings {
  return {
    account: payingAccount(config), coolingOffDays: config.BANK_CARD_COOLING_OFF_DAYS, batchMax: config.PAYOUT_BATCH_MAX, releaseBatchMax: config.PAYOUT_RELEASE_BATCH_MAX,
  };
}

/** What the payout worker needs beyond the database: the bank channel and the seal, and the payout settings. */
export interface PayoutServices {
  adapter: BankAdapter;
  sealing: SealingContext;
  settings: PayoutSettings;
  pollMs: number;
  planEveryMs: number;
  /** PAYOUT_RELEASE_SECONDS in ms: how often payouts are released under payment policies. */
  releaseEveryMs: number;
  lockMs: number;
}

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
    sealing: { keys, seal: configuredSeal(seals), outDir: config.PAYOUT_OUT_DIR, initiatingParty: initiatingParty(config) },
    settings: payoutSettings(config),
    pollMs: config.PAYOUT_POLL_MS,
    planEveryMs: config.PAYOUT_PLAN_SECONDS * 1000,
    releaseEveryMs: config.PAYOUT_RELEASE_SECONDS * 1000,
    lockMs: config.PAYOUT_JOB_LOCK_MS,
  };
}

/** The union as initiating party of its payment files (InitgPty), with its credit code when set. */
export function initiatingParty(config: Pick<Config, 'PAYOUT_INITIATING_PARTY_NAME' | 'PAYOUT_INITIATING_PARTY_ID'>): { name: string; id?: string } {
  const party = { name: config.PAYOUT_INITIATING_PARTY_NAME };
  return config.PAYOUT_INITIATING_PARTY_ID === undefined ? party : { ...party, id: config.PAYOUT_INITIATING_PARTY_ID };
}
