import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config.ts';

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
