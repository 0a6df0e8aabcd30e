import type { Config } from '../config.ts';
import type { BankAdapter } from '../banks/adapter.ts';
import { configuredBankAdapter } from '../banks/settings.ts';
import type { IngestOptions } from './ingest.ts';

/** What reconciliation's workers and commands need beyond the database. */
export interface ReconciliationSettings {
  /** The bank channel statements are fetched from; null: only uploaded and imported files. */
  adapter: BankAdapter | null;
  /** Our accounts (RECONCILIATION_ACCOUNTS, default the configured paying account), besides every funder's and those payouts are paid from. */
  accounts: string[];
  fetchEverySeconds: number;
  lookbackDays: number;
  /** T+N: business days the bank has to show a credited payout's debit. */
  debitDays: number;
  holidays: Set<string>;
  /** ISO20022_XSD_DIR; undefined: the XSDs vendored in src/banks/iso20022/xsd/. */
  xsdDir: string | undefined;
}

/**
 * The hub's accounts as configured: RECONCILIATION_ACCOUNTS, default the paying account
 * (PAYOUT_ACCOUNT). With every funder's and those payouts are paid from, the only accounts a bank
 * document may be about (IngestOptions.accounts).
 */
export function configuredAccounts(config: Pick<Config, 'RECONCILIATION_ACCOUNTS' | 'PAYOUT_ACCOUNT'>): string[] {
  return config.RECONCILIATION_ACCOUNTS ?? [config.PAYOUT_ACCOUNT];
}

export function reconciliationSettings(config: Config, adapter: BankAdapter | null = config.BANK_URL ? configuredBankAdapter(config) : null): ReconciliationSettings {
  return {
    adapter,
    accounts: configuredAccounts(config),
    fetchEverySeconds: config.RECONCILIATION_FETCH_SECONDS,
    lookbackDays: config.RECONCILIATION_LOOKBACK_DAYS,
    debitDays: config.RECONCILIATION_DEBIT_DAYS,
    holidays: new Set(config.BANK_HOLIDAYS),
    xsdDir: config.ISO20022_XSD_DIR,
  };
}

/** What every document is received with: the hub's configured accounts (one about another account is refused) and the XSDs. */
export const ingestOptions = (settings: Pick<ReconciliationSettings, 'accounts' | 'xsdDir'>): IngestOptions => ({ accounts: settings.accounts, xsdDir: settings.xsdDir });
