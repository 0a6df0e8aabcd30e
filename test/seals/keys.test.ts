import { afterAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate, issueCrl } from '../../certs/devCa.ts';
import { ConfigError } from '../../src/config.ts';
import { parseCrl } from '../../src/seals/cms/crl.ts';
import { SealKeyError, sealFromPem, sealFromPkcs12 } from '../../src/seals/cms/keys.ts';
import { sealDocument } from '../../src/seals/cms/seal.ts';
import { verifySeal } from '../../src/seals/cms/verify.ts';
import { configuredSeal, configuredTrust, parseSealSettings } from '../../src/seals/settings.ts';
import { openssl, opensslVerifiesSeal, SAMPLE_XML, tempDir, testPki, writeFiles } from './fixtures.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const pki = testPki();
const work = tempDir();
afterAll(work.remove);

/** Root -> intermediate -> seal, as a commercial CA issues production seals. */
const intermediate = createCertificateAuthority({ commonName: 'Test Issuing CA', key: pki.otherCa.key }, pki.ca);
const issued = issueCertificate(intermediate, { commonName: 'Production-like Seal', key: pki.leafKey });
const intermediateCrl = parseCrl(issueCrl(intermediate));

describe('sealFromPkcs12', () => {
  // OpenSSL 3's defaults: PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC, SHA-256 MAC.
  writeFiles(work.dir, {
    'seal.pem': issued.certificate.toString(),
    'seal.key.pem': issued.key.export({ type: 'pkcs8', format: 'pem' }),
    'chain.pem': intermediate.certificate.toString() + pki.ca.certificate.toString(),
    'ca.pem': pki.ca.certificate.toString(),
  });
  const exported = openssl(
    ['pkcs12', '-export', '-in', 'seal.pem', '-inkey', 'seal.key.pem', '-certfile', 'chain.pem', '-out', 'seal.p12', '-passout', 'pass:s3cret'],
    work.dir,
  );

  it('opens an OpenSSL PKCS#12 and embeds the intermediate, not the root', () => {
    expect(exported.status).toBe(0);
    const seal = sealFromPkcs12(readFileSync(path.join(work.dir, 'seal.p12')), 's3cret');
    expect(seal.certificate.fingerprint256).toBe(issued.certificate.fingerprint256);
    expect(seal.chain.map((c) => c.fingerprint256)).toEqual([intermediate.certificate.fingerprint256]);

    const p7s = sealDocument(SAMPLE_XML, seal);
    expect(verifySeal(SAMPLE_XML, p7s, { anchors: [pki.ca.certificate], crls: [...pki.trust.crls, intermediateCrl] })).toMatchObject({ valid: true });
    writeFiles(work.dir, { 'batch.xml': SAMPLE_XML, 'batch.xml.p7s': p7s });
    expect(opensslVerifiesSeal(work.dir, 'batch.xml', 'batch.xml.p7s', 'ca.pem').status).toBe(0);
  });

  it('checks revocation of every certificate below the anchor', () => {
    const seal = sealFromPkcs12(readFileSync(path.join(work.dir, 'seal.p12')), 's3cret');
    const p7s = sealDocument(SAMPLE_XML, seal);
    expect(verifySeal(SAMPLE_XML, p7s, { anchors: [pki.ca.certificate], crls: [intermediateCrl] })).toEqual({
      valid: false,
      reason: expect.stringMatching(/^no CRL from .*CN=Test Union CA to check whether the CA certificate ".*CN=Test Issuing CA" is revoked$/),
    });
    const revokedIntermediate = parseCrl(issueCrl(pki.ca, { revoked: [{ certificate: intermediate.certificate }] }));
    expect(verifySeal(SAMPLE_XML, p7s, { anchors: [pki.ca.certificate], crls: [revokedIntermediate, intermediateCrl] })).toEqual({
      valid: false,
      reason: expect.stringMatching(/^CA certificate ".*CN=Test Issuing CA" \(serial [0-9a-f]+\) was revoked on /),
    });
  });

  it('names a wrong passphrase', () => {
    expect(() => sealFromPkcs12(readFileSync(path.join(work.dir, 'seal.p12')), 'wrong')).toThrow(SealKeyError);
    expect(() => sealFromPkcs12(readFileSync(path.join(work.dir, 'seal.p12')), 'wrong')).toThrow(/wrong passphrase/);
  });
});

describe('sealFromPem', () => {
  it('refuses a key that belongs to none of the certificates', () => {
    const keyPem = pki.otherCa.key.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => sealFromPem(pki.seal.certificate.toString(), keyPem)).toThrow('no certificate matches the seal private key');
  });
});

describe('seal settings', () => {
  it('default to the development files under .data/certs of the working directory', () => {
    const settings = parseSealSettings({ SEAL_CRLS: '' });
    expect(settings.certsDir).toBe(path.resolve('.data/certs'));
    expect(settings.trustAnchorsPath).toBe(path.resolve('.data/certs/ca.pem'));
    expect(settings.crlsPath).toBe(path.resolve('.data/certs/crl.pem'));
    expect(settings.p12Path).toBeUndefined();
  });

  it('read the trust and CRL files named, or say how to make them', () => {
    const settings = parseSealSettings({ SEAL_TRUST_ANCHORS: path.join(work.dir, 'chain.pem'), SEAL_CRLS: path.join(work.dir, 'none.pem') });
    expect(() => configuredTrust(settings)).toThrow(/cannot read .*none\.pem: ENOENT \(set SEAL_CRLS or run `hub certs dev`/);
  });

  it('take the seal from SEAL_P12_PATH, and require it in production', () => {
    const p12 = path.join(work.dir, 'seal.p12');
    expect(configuredSeal(parseSealSettings({ SEAL_P12_PATH: p12, SEAL_P12_PASSPHRASE: 's3cret' })).certificate.subject).toContain('Production-like Seal');
    expect(() => configuredSeal(parseSealSettings({ SEAL_P12_PATH: p12, SEAL_P12_PASSPHRASE: 'nope' }))).toThrow(ConfigError);
    const productionTrust = { NODE_ENV: 'production', SEAL_TRUST_ANCHORS: path.join(work.dir, 'ca.pem'), SEAL_CRLS: path.join(work.dir, 'crl.pem') };
    expect(() => configuredSeal(parseSealSettings({ ...productionTrust, CERTS_DIR: work.dir }))).toThrow(/SEAL_P12_PATH: production seals/);
    expect(() => configuredSeal(parseSealSettings({ ...productionTrust, SEAL_P12_PATH: p12 }))).toThrow(/development passphrase/);
  });
});
