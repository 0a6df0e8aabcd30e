import { createHash, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCertificateAuthority, crlToPem, issueCertificate, issueCrl } from '../../certs/devCa.ts';
import { children, Class, fromDer, isContext, isDerSetOrder, node, OID, readOid, signedDataFields, toDer, Type, type Asn1 } from '../../src/seals/cms/asn1.ts';
import { parseCrl } from '../../src/seals/cms/crl.ts';
import { sealDocument } from '../../src/seals/cms/seal.ts';
import { forgeSigner, nativeSigner, sha256DigestInfo } from '../../src/seals/cms/signers.ts';
import { verifySeal } from '../../src/seals/cms/verify.ts';
import { daysFromNow, openssl, opensslVerifiesSeal, SAMPLE_XML, sealOf, tempDir, testPki, writeFiles } from './fixtures.ts';

const pki = testPki();
const work = tempDir();
afterAll(work.remove);

/** The SignerInfo's signed attributes ([0] IMPLICIT SET OF Attribute) inside a .p7s tree. */
function signedAttributes(contentInfo: Asn1): Asn1 {
  return children(children(signedDataFields(contentInfo).at(-1), 'signerInfos')[0], 'SignerInfo')[3]!;
}

describe('sealDocument', () => {
  const p7s = sealDocument(SAMPLE_XML, sealOf(pki.seal));
  beforeAll(() => writeFiles(work.dir, { 'batch.xml': SAMPLE_XML, 'batch.xml.p7s': p7s, 'ca.pem': pki.ca.certificate.toString() }));

  it('makes a detached seal that OpenSSL verifies', () => {
    const result = opensslVerifiesSeal(work.dir, 'batch.xml', 'batch.xml.p7s', 'ca.pem');
    expect(result.output).toContain('Verification successful');
    expect(result.status).toBe(0);
  });

  it('verifies in code, naming the signer and the signing time', () => {
    const result = verifySeal(SAMPLE_XML, p7s, pki.trust);
    expect(result).toMatchObject({ valid: true, signer: 'C=CN, O=Mutual Aid Hub City Trade Union (DEV), CN=Test Union Seal' });
    if (!result.valid) return;
    expect(Math.abs(result.signingTime.getTime() - Date.now())).toBeLessThan(60_000);
    expect(result.certificate.fingerprint256).toBe(pki.seal.certificate.fingerprint256);
  });

  it('signs SHA-256 contentType, signingTime and messageDigest in DER order', () => {
    const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'batch.xml.p7s'], work.dir).output;
    expect(printed).toMatch(/digestAlgorithm:\s+algorithm: sha256/);
    expect(printed.indexOf('contentType')).toBeLessThan(printed.indexOf('signingTime'));
    expect(printed.indexOf('signingTime')).toBeLessThan(printed.indexOf('messageDigest'));
    expect(printed).toContain('eContent: <ABSENT>'); // detached
    const attributes = children(signedAttributes(fromDer(p7s)), 'signed attributes');
    expect(isDerSetOrder(attributes.map(toDer))).toBe(true);
    expect(toDer(attributes[2]!).subarray(-32)).toEqual(createHash('sha256').update(SAMPLE_XML).digest());
  });

  it('writes signing times after 2049 as GeneralizedTime, still in DER order', () => {
    const at = new Date('2051-06-01T12:00:00Z');
    const ca = createCertificateAuthority({ commonName: 'CA of 2050', key: pki.leafKey, notBefore: new Date('2050-01-01'), notAfter: new Date('2060-01-01') });
    const later = pki.leaf(ca, 'Seal of 2051', { notBefore: new Date('2051-01-01'), notAfter: new Date('2052-01-01') });
    const crl = parseCrl(issueCrl(ca, { thisUpdate: new Date('2051-05-01'), nextUpdate: new Date('2051-07-01') }));
    const sealed = sealDocument(SAMPLE_XML, sealOf(later), at);
    const signingTime = children(signedAttributes(fromDer(sealed)), 'signed attributes')[1]!;
    expect(toDer(signingTime).toString('latin1')).toContain('\x18\x0f20510601120000Z'); // GeneralizedTime, 15 characters
    expect(verifySeal(SAMPLE_XML, sealed, { anchors: [ca.certificate], crls: [crl] }, new Date('2051-06-02'))).toMatchObject({ valid: true, signingTime: at });
  });
});

/** What `work` returns, and how many bytes node-forge's JavaScript SHA-256 was given meanwhile. */
function forgeHashing<T>(work: () => T): { result: T; forgeHashedBytes: number } {
  const create = forge.md.sha256.create;
  let forgeHashedBytes = 0;
  const spy = vi.spyOn(forge.md.sha256, 'create').mockImplementation(() => {
    const md = create();
    const update = md.update.bind(md);
    md.update = (message, encoding) => {
      forgeHashedBytes += message.length;
      return update(message, encoding);
    };
    return md;
  });
  try {
    return { result: work(), forgeHashedBytes };
  } finally {
    spy.mockRestore();
  }
}

describe('a 20 MB document', () => {
  const content = randomBytes(20_000_000);
  // Certificates and signed attributes are a few kilobytes; the content must never pass through JavaScript hashing.
  const FORGE_HASHED_BYTES_BOUND = 64 * 1024;

  it('is sealed and verified without node-forge hashing the content, and OpenSSL verifies the seal', () => {
    const sealed = forgeHashing(() => sealDocument(content, sealOf(pki.seal)));
    expect(sealed.forgeHashedBytes).toBeLessThan(FORGE_HASHED_BYTES_BOUND);
    const verified = forgeHashing(() => verifySeal(content, sealed.result, pki.trust));
    expect(verified.forgeHashedBytes).toBeLessThan(FORGE_HASHED_BYTES_BOUND);
    expect(verified.result).toMatchObject({ valid: true });
    writeFiles(work.dir, { 'large.bin': content, 'large.bin.p7s': sealed.result, 'ca.pem': pki.ca.certificate.toString() });
    expect(opensslVerifiesSeal(work.dir, 'large.bin', 'large.bin.p7s', 'ca.pem').status).toBe(0);
  });

  it('whose last byte changed fails in OpenSSL and in code', () => {
    const p7s = sealDocument(content, sealOf(pki.seal));
    const tampered = Buffer.from(content);
    tampered[tampered.length - 1]! ^= 0x01;
    writeFiles(work.dir, { 'large-tampered.bin': tampered, 'large-tampered.bin.p7s': p7s, 'ca.pem': pki.ca.certificate.toString() });
    expect(opensslVerifiesSeal(work.dir, 'large-tampered.bin', 'large-tampered.bin.p7s', 'ca.pem').status).not.toBe(0);
    expect(verifySeal(tampered, p7s, pki.trust)).toEqual({ valid: false, reason: 'the content does not match the seal (message digest differs)' });
  });
});

it('embeds the seal certificate and its chain as their own DER bytes, in that order', () => {
  const intermediate = createCertificateAuthority({ commonName: 'Test Intermediate', key: pki.leafKey }, pki.ca);
  const sealer = issueCertificate(intermediate, { commonName: 'Chained Test Seal', key: pki.leafKey });
  const p7s = sealDocument(SAMPLE_XML, { ...sealOf(sealer), chain: [intermediate.certificate] });
  const certificates = signedDataFields(fromDer(p7s)).find((field) => isContext(field, 0));
  expect(children(certificates, 'certificates').map(toDer)).toEqual([sealer.certificate.raw, intermediate.certificate.raw]);
  expect(verifySeal(SAMPLE_XML, p7s, { anchors: [pki.ca.certificate], crls: [pki.trust.crls[0]!, parseCrl(issueCrl(intermediate))] }).valid).toBe(true);
});

describe('verifySeal failures', () => {
  it('a changed byte of content fails in OpenSSL and in code', () => {
    const p7s = sealDocument(SAMPLE_XML, sealOf(pki.seal));
    const tampered = Buffer.from(SAMPLE_XML);
    tampered[tampered.indexOf('16800.00')] = '9'.charCodeAt(0);
    writeFiles(work.dir, { 'tampered.xml': tampered, 'tampered.xml.p7s': p7s, 'ca.pem': pki.ca.certificate.toString() });
    expect(opensslVerifiesSeal(work.dir, 'tampered.xml', 'tampered.xml.p7s', 'ca.pem').status).not.toBe(0);
    expect(verifySeal(tampered, p7s, pki.trust)).toEqual({ valid: false, reason: 'the content does not match the seal (message digest differs)' });
  });

  it('an expired signer certificate', () => {
    const result = verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, sealOf(pki.expired)), pki.trust);
    expect(result).toEqual({ valid: false, reason: expect.stringMatching(/^signer certificate expired on \d{4}-\d\d-\d\dT[\d:]+Z \(received /) });
  });

  it('but a seal received while the certificate was valid verifies at that receipt time', () => {
    const sealedAt = daysFromNow(-400);
    const result = verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, sealOf(pki.expired), sealedAt), pki.trust, new Date(sealedAt.getTime() + 3_600_000));
    expect(result.valid).toBe(true);
  });

  it('a revoked signer certificate listed in the CRL', () => {
    const result = verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, sealOf(pki.revoked)), pki.trust);
    expect(result).toEqual({ valid: false, reason: expect.stringMatching(/^signer certificate \(serial [0-9a-f]+\) was revoked on /) });
  });

  it('a certificate whose key usage is not for signatures', () => {
    const result = verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, sealOf(pki.encryptionOnly)), pki.trust);
    expect(result).toEqual({
      valid: false,
      reason: 'signer certificate key usage (keyEncipherment) allows neither digitalSignature nor nonRepudiation',
    });
  });

  it('a CA certificate used as a seal', () => {
    const result = verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, sealOf(pki.otherCa)), { ...pki.trust, anchors: [pki.otherCa.certificate] });
    expect(result).toEqual({ valid: false, reason: 'signer certificate is a CA certificate' });
  });

  it('a signer from an untrusted CA', () => {
    const p7s = sealDocument(SAMPLE_XML, sealOf(pki.foreign));
    expect(verifySeal(SAMPLE_XML, p7s, pki.trust)).toEqual({
      valid: false,
      reason: 'signer certificate is not issued by a trusted CA (issuer: C=CN, O=Mutual Aid Hub City Trade Union (DEV), CN=Some Other CA)',
    });
    writeFiles(work.dir, { 'foreign.xml.p7s': p7s, 'foreign.xml': SAMPLE_XML, 'ca.pem': pki.ca.certificate.toString() });
    expect(opensslVerifiesSeal(work.dir, 'foreign.xml', 'foreign.xml.p7s', 'ca.pem').status).not.toBe(0);
  });

  describe('revocation information', () => {
    const p7s = sealDocument(SAMPLE_XML, sealOf(pki.seal));

    it('requires a CRL from the issuing CA', () => {
      expect(verifySeal(SAMPLE_XML, p7s, { ...pki.trust, crls: [] })).toEqual({
        valid: false,
        reason: expect.stringMatching(/^no CRL from C=CN, .*CN=Test Union CA to check whether the signer certificate is revoked$/),
      });
    });

    it('refuses a CRL that is out of date', () => {
      const stale = parseCrl(issueCrl(pki.ca, { thisUpdate: daysFromNow(-40), nextUpdate: daysFromNow(-10) }));
      expect(verifySeal(SAMPLE_XML, p7s, { ...pki.trust, crls: [stale] })).toEqual({
        valid: false,
        reason: expect.stringMatching(/^the CRL from .*CN=Test Union CA is out of date \(next update /),
      });
    });

    it("refuses a CRL in the CA's name not signed with the CA's key", () => {
      const forged = parseCrl(issueCrl({ certificate: pki.ca.certificate, key: pki.otherCa.key }));
      expect(verifySeal(SAMPLE_XML, p7s, { ...pki.trust, crls: [forged] })).toEqual({
        valid: false,
        reason: expect.stringMatching(/^the CRL from .*CN=Test Union CA does not verify with the CA's key$/),
      });
    });

    it('uses the latest of several CRLs', () => {
      const older = parseCrl(issueCrl(pki.ca, { thisUpdate: daysFromNow(-3), nextUpdate: daysFromNow(-2) }));
      expect(verifySeal(SAMPLE_XML, p7s, { ...pki.trust, crls: [older, ...pki.trust.crls] }).valid).toBe(true);
    });
  });

  it('a signing time in the future', () => {
    const result = verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, sealOf(pki.seal), daysFromNow(1)), pki.trust);
    expect(result).toEqual({ valid: false, reason: expect.stringMatching(/^signing time .* is in the future \(received /) });
  });

  it('signed attributes out of DER order (which OpenSSL re-sorts before checking)', () => {
    const contentInfo = fromDer(sealDocument(SAMPLE_XML, sealOf(pki.seal)));
    children(signedAttributes(contentInfo), 'signed attributes').reverse();
    expect(verifySeal(SAMPLE_XML, toDer(contentInfo), pki.trust)).toEqual({ valid: false, reason: 'signed attributes are not in DER order' });
  });

  it('a signature that does not match', () => {
    const p7s = sealDocument(SAMPLE_XML, sealOf(pki.seal));
    const signature = p7s.subarray(-256);
    signature[10]! ^= 0x01;
    expect(verifySeal(SAMPLE_XML, p7s, pki.trust)).toEqual({ valid: false, reason: 'the signature does not verify with the signer certificate' });
  });

  describe('a time written as no moment (forge read it as an Invalid Date, which passed every window check, or rolled it over)', () => {
    /** Day D-2 at hour 25: forge read it as D-1 01:00, inside the signing window. */
    const hour25 = `${daysFromNow(-2).toISOString().slice(2, 10).replaceAll('-', '')}250000Z`;

    /** A seal whose signingTime is the UTCTime `text`, signed again with the seal's key, as whoever holds it may write. */
    function sealSignedAt(text: string): Buffer {
      const contentInfo = fromDer(sealDocument(SAMPLE_XML, sealOf(pki.seal)));
      const signerInfo = children(children(signedDataFields(contentInfo).at(-1), 'signerInfos')[0], 'SignerInfo');
      const attributes = children(signedAttributes(contentInfo), 'signed attributes');
      const signingTime = attributes.find((a) => readOid(children(a, 'attribute')[0], 'type') === OID.signingTime)!;
      children(children(signingTime, 'attribute')[1], 'values')[0]!.value = text;
      signerInfo[5]!.value = sign('sha256', toDer(node(Class.UNIVERSAL, Type.SET, attributes)), pki.leafKey).toString('binary');
      return toDer(contentInfo);
    }

    /** The CA's CRL with its nextUpdate written as `text`, signed again with the CA's key. */
    function crlUpdatedNext(text: string): Buffer {
      const list = children(fromDer(issueCrl(pki.ca)), 'CertificateList');
      children(list[0], 'tbsCertList')[4]!.value = text;
      list[2] = node(Class.UNIVERSAL, Type.BITSTRING, `\0${sign('sha256', toDer(list[0]!), pki.ca.key).toString('binary')}`);
      return toDer(node(Class.UNIVERSAL, Type.SEQUENCE, list));
    }

    it('a signingTime is refused with the reason', () => {
      expect(verifySeal(SAMPLE_XML, sealSignedAt('2501010000ZZZZ'), pki.trust)).toEqual({
        valid: false, reason: 'malformed seal: signingTime attribute "2501010000ZZZZ" is not a UTCTime of the form YYMMDDHHMMSSZ',
      });
      expect(verifySeal(SAMPLE_XML, sealSignedAt(hour25), pki.trust)).toEqual({ valid: false, reason: `malformed seal: signingTime attribute "${hour25}" names no real moment` });
    });

    it('a CRL\'s nextUpdate is refused with the reason', () => {
      expect(() => parseCrl(crlUpdatedNext('2501010000ZZZZ'))).toThrow('CRL nextUpdate "2501010000ZZZZ" is not a UTCTime of the form YYMMDDHHMMSSZ');
      expect(() => parseCrl(crlUpdatedNext('491301000000Z'))).toThrow('CRL nextUpdate "491301000000Z" names no real moment');
    });
  });

  it('bytes that are not a seal', () => {
    expect(verifySeal(SAMPLE_XML, randomBytes(200), pki.trust)).toEqual({ valid: false, reason: expect.stringMatching(/^malformed seal: /) });
    expect(verifySeal(SAMPLE_XML, SAMPLE_XML, pki.trust)).toEqual({ valid: false, reason: expect.stringMatching(/^malformed seal: /) });
  });
});

describe('signers', () => {
  const digest = createHash('sha256').update('signed attributes').digest();

  it('native (node:crypto) and forge RSA produce the same PKCS#1 v1.5 signature', () => {
    const native = nativeSigner(pki.leafKey).signDigest(digest);
    const forge = forgeSigner(pki.leafKey).signDigest(digest);
    expect(forge).toEqual(native);
    expect(verify('sha256', Buffer.from('signed attributes'), createPublicKey(pki.leafKey), native)).toBe(true);
  });

  it('seals made with either verify, byte for byte the same', () => {
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000); // whole seconds, as UTCTime keeps
    const native = sealDocument(SAMPLE_XML, sealOf(pki.seal, nativeSigner), at);
    const forge = sealDocument(SAMPLE_XML, sealOf(pki.seal, forgeSigner), at);
    expect(forge).toEqual(native);
    expect(verifySeal(SAMPLE_XML, forge, pki.trust)).toMatchObject({ valid: true, signingTime: at });
  });

  it('sign the DigestInfo a PKCS#11 CKM_RSA_PKCS token would be given', () => {
    expect(sha256DigestInfo(digest).toString('hex')).toBe(`3031300d060960864801650304020105000420${digest.toString('hex')}`);
    expect(() => sha256DigestInfo(digest.subarray(1))).toThrow(/32 bytes/);
  });

  it('refuse keys that are not RSA private keys', () => {
    expect(() => nativeSigner(createPublicKey(pki.leafKey))).toThrow(/RSA private key/);
  });
});

describe('OpenSSL reads the CRL', () => {
  it('verifies its signature against the CA and lists the revoked serial', () => {
    writeFiles(work.dir, { 'crl.pem': crlToPem(pki.crl), 'ca.pem': pki.ca.certificate.toString() });
    const checked = openssl(['crl', '-in', 'crl.pem', '-CAfile', 'ca.pem', '-noout'], work.dir);
    expect(checked.output).toContain('verify OK');
    expect(checked.status).toBe(0);
    const text = openssl(['crl', '-in', 'crl.pem', '-noout', '-text'], work.dir).output;
    expect(text).toContain(`Serial Number: ${pki.revoked.certificate.serialNumber}`);
    expect(text).toMatch(/Version 2/);
  });
});
