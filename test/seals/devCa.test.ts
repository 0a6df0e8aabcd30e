import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeDevCertificates } from '../../certs/devCa.ts';
import { sealFromPem, sealFromPkcs12 } from '../../src/seals/cms/keys.ts';
import { sealDocument } from '../../src/seals/cms/seal.ts';
import { verifySeal } from '../../src/seals/cms/verify.ts';
import { configuredSeal, configuredTrust, DEV_SEAL_P12_PASSPHRASE, devCertificateFiles, parseSealSettings } from '../../src/seals/settings.ts';
import { openssl, SAMPLE_XML, tempDir } from './fixtures.ts';

const work = tempDir();
afterAll(work.remove);
const certsDir = path.join(work.dir, 'certs');
const files = devCertificateFiles(certsDir);
const first = writeDevCertificates(certsDir, { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
const settings = parseSealSettings({ CERTS_DIR: certsDir });

describe('writeDevCertificates', () => {
  it('writes CA, seal (PEM and PKCS#12), bank seal and CRL; keys readable by the owner only', () => {
    expect(first.created).toBe(true);
    expect(first.files.map((f) => path.basename(f)).sort()).toEqual(
      ['bank.key.pem', 'bank.pem', 'ca.key.pem', 'ca.pem', 'crl.pem', 'seal.key.pem', 'seal.p12', 'seal.pem'],
    );
    for (const key of [files.caKey, files.sealKey, files.bankKey, files.sealP12]) expect(statSync(key).mode & 0o777).toBe(0o600);
  });

  it('makes a seal certificate for signatures only, chained to the CA', () => {
    const text = openssl(['x509', '-in', files.seal, '-noout', '-text'], work.dir).output;
    expect(text).toMatch(/Subject: C\s?=\s?CN, O\s?=\s?Mutual Aid Hub City Trade Union \(DEV\), CN\s?=\s?Mutual Aid Hub Union Seal \(DEV\)/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Non Repudiation\n/);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(openssl(['verify', '-CAfile', files.ca, files.seal, files.bank], work.dir).status).toBe(0);
  });

  it('signs a CRL that OpenSSL verifies', () => {
    const checked = openssl(['crl', '-in', files.crl, '-CAfile', files.ca, '-noout'], work.dir);
    expect(checked.output).toContain('verify OK');
  });

  it('gives seals (PEM, PKCS#12 with the passphrase, the bank one) that verify against the dev trust', () => {
    const trust = configuredTrust(settings);
    const pemSeal = configuredSeal(settings);
    const p12Seal = sealFromPkcs12(readFileSync(files.sealP12), DEV_SEAL_P12_PASSPHRASE);
    const bankSeal = sealFromPem(readFileSync(files.bank, 'utf8'), readFileSync(files.bankKey, 'utf8'));
    expect(p12Seal.certificate.fingerprint256).toBe(pemSeal.certificate.fingerprint256);
    expect(p12Seal.chain).toEqual([]); // the root CA in the PKCS#12 is not embedded
    for (const seal of [pemSeal, p12Seal, bankSeal]) expect(verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, seal), trust).valid).toBe(true);
    expect(verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, bankSeal), trust)).toMatchObject({ signer: expect.stringContaining('CN=Bank Simulator Seal (DEV)') });
  });

  it('leaves a complete set alone, and replaces it with force', () => {
    const ca = readFileSync(files.ca, 'utf8');
    expect(writeDevCertificates(certsDir, { p12Passphrase: DEV_SEAL_P12_PASSPHRASE }).created).toBe(false);
    expect(readFileSync(files.ca, 'utf8')).toBe(ca);
    expect(writeDevCertificates(certsDir, { p12Passphrase: DEV_SEAL_P12_PASSPHRASE, force: true }).created).toBe(true);
    expect(readFileSync(files.ca, 'utf8')).not.toBe(ca);
  });
});
