import { spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCertificateAuthority, issueCertificate, issueCrl, newRsaKey, type CertificateRequest, type Credential } from '../../certs/devCa.ts';
import { parseCrl } from '../../src/seals/cms/crl.ts';
import type { Seal } from '../../src/seals/cms/seal.ts';
import { nativeSigner, type SealSigner } from '../../src/seals/cms/signers.ts';
import type { Trust } from '../../src/seals/cms/verify.ts';

export const DAY_MS = 86_400_000;
export const now = new Date();
export const daysFromNow = (days: number) => new Date(now.getTime() + days * DAY_MS);

export const SAMPLE_XML = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">' +
    '<CstmrCdtTrfInitn><GrpHdr><MsgId>B20250601-0001</MsgId><NbOfTxs>1</NbOfTxs><CtrlSum>16800.00</CtrlSum>' +
    '<InitgPty><Nm>泉州市总工会</Nm></InitgPty></GrpHdr></CstmrCdtTrfInitn></Document>\n',
);

/**
 * A CA with the certificates the failure cases need. Leaf certificates share one key (RSA key
 * generation dominates the time); the seal lookup goes by issuer and serial, so they stay apart.
 */
export function testPki() {
  const ca = createCertificateAuthority({ commonName: 'Test Union CA', notBefore: daysFromNow(-5 * 365), notAfter: daysFromNow(10 * 365) });
  const otherCa = createCertificateAuthority({ commonName: 'Some Other CA' });
  const leafKey = newRsaKey();
  const leaf = (issuer: Credential, commonName: string, extra: Partial<CertificateRequest> = {}) =>
    issueCertificate(issuer, { commonName, key: leafKey, ...extra });
  const seal = leaf(ca, 'Test Union Seal');
  const expired = leaf(ca, 'Expired Seal', { notBefore: daysFromNow(-730), notAfter: daysFromNow(-365) });
  const revoked = leaf(ca, 'Revoked Seal');
  const encryptionOnly = leaf(ca, 'Encryption Only', { keyUsage: ['keyEncipherment'] });
  const foreign = leaf(otherCa, 'Foreign Seal');
  const crl = issueCrl(ca, { revoked: [{ certificate: revoked.certificate, revokedAt: daysFromNow(-1) }] });
  const trust: Trust = { anchors: [ca.certificate], crls: [parseCrl(crl)] };
  return { ca, otherCa, leafKey, seal, expired, revoked, encryptionOnly, foreign, crl, trust, leaf };
}

export function sealOf(credential: Credential, signerFor: (key: KeyObject) => SealSigner = nativeSigner): Seal {
  return { certificate: credential.certificate, chain: [], signer: signerFor(credential.key) };
}

/** A temporary directory, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'hub-seals-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFiles(dir: string, files: Record<string, string | Buffer>): void {
  for (const [name, data] of Object.entries(files)) writeFileSync(path.join(dir, name), data);
}

/** The real OpenSSL, as an outside party checks our seals. */
export function openssl(args: string[], cwd: string): { status: number | null; output: string } {
  const result = spawnSync('/usr/bin/openssl', args, { cwd, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

export function opensslVerifiesSeal(cwd: string, content: string, p7s: string, caFile: string) {
  return openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7s, '-content', content, '-CAfile', caFile, '-purpose', 'any', '-out', '/dev/null'], cwd);
}
