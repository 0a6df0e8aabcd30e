import { readFileSync } from 'node:fs';
import { ConfigError } from '../config.ts';
import { parseCrlsPem } from './crl.ts';
import { certificatesFromPem, SealKeyError, sealFromPem, sealFromPkcs12 } from './keys.ts';
import type { Seal } from './seal.ts';
import { DEV_SEAL_P12_PASSPHRASE, devCertificateFiles, type SealSettings } from './settings.ts';
import type { Trust } from './verify.ts';

/**
 * The seal and the trust the configuration names, read from disk: what `hub seal`, the payout
 * batch writer and the bank adapter use. Missing or unusable files are configuration errors.
 */

const RUN_CERTS_DEV = 'run `hub certs dev` for development certificates';

/** The production seal from SEAL_P12_PATH, or else (outside production) the development seal. */
export function configuredSeal(settings: SealSettings): Seal {
  try {
    return openSeal(settings);
  } catch (error) {
    if (error instanceof SealKeyError) throw new ConfigError(`${settings.p12Path ? 'SEAL_P12_PATH' : settings.certsDir}: ${error.message}`);
    throw error;
  }
}

function openSeal(settings: SealSettings): Seal {
  if (settings.p12Path) {
    if (settings.production && settings.p12Passphrase === DEV_SEAL_P12_PASSPHRASE) {
      throw new ConfigError('SEAL_P12_PASSPHRASE: the development passphrase cannot be used in production');
    }
    return sealFromPkcs12(readConfigured(settings.p12Path, 'SEAL_P12_PATH'), settings.p12Passphrase);
  }
  if (settings.production) throw new ConfigError('SEAL_P12_PATH: production seals come from a PKCS#12, not the development seal');
  const files = devCertificateFiles(settings.certsDir);
  return sealFromPem(readText(files.seal, RUN_CERTS_DEV), readText(files.sealKey, RUN_CERTS_DEV));
}

export function configuredTrust(settings: SealSettings): Trust {
  const anchors = certificatesFromPem(readText(settings.trustAnchorsPath, `set SEAL_TRUST_ANCHORS or ${RUN_CERTS_DEV}`));
  if (anchors.length === 0) throw new ConfigError(`SEAL_TRUST_ANCHORS: no certificate in ${settings.trustAnchorsPath}`);
  const crls = parseCrlsPem(readText(settings.crlsPath, `set SEAL_CRLS or ${RUN_CERTS_DEV}`));
  return { anchors, crls, signingWindowHours: settings.signingWindowHours };
}

function readText(file: string, hint: string): string {
  return readConfigured(file, hint).toString('utf8');
}

function readConfigured(file: string, hint: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (${hint})`);
  }
}
