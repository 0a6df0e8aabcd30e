import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Config } from '../config.ts';
import { certificatesFromPem } from '../seals/cms/keys.ts';
import { configuredTrust, devCertificateFiles, parseSealSettings, type SealSettings } from '../seals/settings.ts';
import type { SealedBy } from './adapter.ts';
import { HttpBankAdapter } from './httpAdapter.ts';

/** The bank channel from configuration (BANK_URL, BANK_CERT, BANK_TIMEOUT_MS) and the seal settings. */

export type BankSettings = Pick<Config, 'BANK_URL' | 'BANK_CERT' | 'BANK_TIMEOUT_MS'>;

/**
 * The bank's seal as BANK_CERT names its certificate(s), trusting what SEAL_TRUST_ANCHORS and
 * SEAL_CRLS name: for the channel adapter, and for documents a person hands in with the bank's seal.
 */
export function configuredBankSeal(settings: Pick<Config, 'BANK_CERT'>, seals: SealSettings = parseSealSettings()): SealedBy {
  const certificateFile = path.resolve(settings.BANK_CERT ?? devCertificateFiles(seals.certsDir).bank);
  let certificates;
  try {
    certificates = certificatesFromPem(readFileSync(certificateFile, 'utf8'));
  } catch (error) {
    throw new ConfigError(`BANK_CERT: cannot read ${certificateFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (certificates.length === 0) throw new ConfigError(`BANK_CERT: no certificate in ${certificateFile}`);
  return { trust: configuredTrust(seals), certificates };
}

/** The adapter BANK_URL, BANK_CERT and BANK_TIMEOUT_MS describe. */
export function configuredBankAdapter(settings: BankSettings, seals: SealSettings = parseSealSettings()): HttpBankAdapter {
  if (!settings.BANK_URL) throw new ConfigError('BANK_URL: the bank channel is not configured (for the simulator: `hub sim bank`, then BANK_URL=http://127.0.0.1:4800)');
  return new HttpBankAdapter({ url: settings.BANK_URL, bank: configuredBankSeal(settings, seals), timeoutMs: settings.BANK_TIMEOUT_MS });
}
