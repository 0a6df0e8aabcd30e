import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config.ts';
import { parseCrlsPem } from './cms/crl.ts';
import { certificatesFromPem, SealKeyError, sealFromPem, sealFromPkcs12 } from './cms/keys.ts';
import type { Seal } from './cms/seal.ts';
import type { Trust } from './cms/verify.ts';

/** Passphrase of the development seal's PKCS#12 (public, like the other development secrets). */
export const DEV_SEAL_P12_PASSPHRASE = 'mutual-aid-hub-dev-seal';

/**
 * Seal configuration from environment variables, in the shape of src/config.ts's schema so it
 * can be merged there. Paths are relative to the working directory (the repository root).
 */
export const sealConfigShape = {
  /** Where `hub certs dev` writes and the defaults below read: dev CA, seal, bank certificate, CRL. */
  CERTS_DIR: z.string().default('.data/certs'),
  /** The production seal as PKCS#12; without it the development seal in CERTS_DIR signs. */
  SEAL_P12_PATH: z.string().optional(),
  SEAL_P12_PASSPHRASE: z.string().default(DEV_SEAL_P12_PASSPHRASE),
  /** PEM bundle of the CA certificates whose seals are trusted (default outside production: CERTS_DIR/ca.pem). */
  SEAL_TRUST_ANCHORS: z.string().optional(),
  /** PEM file of the CRLs those CAs publish (default outside production: CERTS_DIR/crl.pem). */
  SEAL_CRLS: z.string().optional(),
  /** Hours a seal's signingTime may lie before the hub receives the document (as in src/config.ts). */
  SEAL_SIGNING_WINDOW_HOURS: z.coerce.number().int().min(1).max(24 * 90).default(72),
};

export interface SealSettings {
  certsDir: string;
  /** The production seal; absent: the development seal in certsDir. */
  p12Path?: string;
  /** Opens p12Path, and protects the PKCS#12 `hub certs dev` writes. */
  p12Passphrase: string;
  trustAnchorsPath: string;
  crlsPath: string;
  signingWindowHours: number;
  production: boolean;
}

export function parseSealSettings(env: NodeJS.ProcessEnv = process.env): SealSettings {
  // Empty variables count as unset, as in src/config.ts.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = z.object(sealConfigShape).safeParse(present);
  if (!result.success) {
    throw new ConfigError(`Invalid configuration:\n${result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  const s = result.data;
  const production = env.NODE_ENV === 'production';
  // The development CA's key lies beside its certificate: in production it would trust anyone's seal.
  const unset = production ? (['SEAL_TRUST_ANCHORS', 'SEAL_CRLS'] as const).filter((name) => !s[name]) : [];
  if (unset.length) {
    throw new ConfigError(unset.map((name) => `${name}: must be set in production (the development CA and CRL in CERTS_DIR are not trusted there)`).join('\n'));
  }
  const certsDir = path.resolve(s.CERTS_DIR);
  return {
    certsDir,
    p12Path: s.SEAL_P12_PATH && path.resolve(s.SEAL_P12_PATH),
    p12Passphrase: s.SEAL_P12_PASSPHRASE,
    trustAnchorsPath: path.resolve(s.SEAL_TRUST_ANCHORS ?? devCertificateFiles(certsDir).ca),
    crlsPath: path.resolve(s.SEAL_CRLS ?? devCertificateFiles(certsDir).crl),
    signingWindowHours: s.SEAL_SIGNING_WINDOW_HOURS,
    production,
  };
}

/** The files `hub certs dev` writes (keys are mode 0600; the directory is ignored by git). */
export function devCertificateFiles(certsDir: string) {
  const file = (name: string) => path.join(certsDir, name);
  return {
    ca: file('ca.pem'),
    caKey: file('ca.key.pem'),
    seal: file('seal.pem'),
    sealKey: file('seal.key.pem'),
    sealP12: file('seal.p12'),
    bank: file('bank.pem'),
    bankKey: file('bank.key.pem'),
    crl: file('crl.pem'),
  };
}

// ---------------------------------------------------------------- seal and trust from the configured files

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
