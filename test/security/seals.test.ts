import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import forge from 'node-forge';
import { createCertificateAuthority, issueCertificate, issueCrl, newRsaKey, type CertificateRequest, type Credential } from '../../certs/devCa.ts';
import { binary, Class, node, oidNode, sequence, toDer, Type } from '../../src/seals/cms/asn1.ts';
import { parseCrl } from '../../src/seals/cms/crl.ts';
import { sealDocument } from '../../src/seals/cms/seal.ts';
import { parseSealSettings } from '../../src/seals/settings.ts';
import { verifySeal, type Trust } from '../../src/seals/cms/verify.ts';
import { daysFromNow, now, opensslVerifiesSeal, SAMPLE_XML, sealOf, tempDir, testPki, writeFiles } from '../seals/fixtures.ts';

/**
 * Attack 9: a leaked key of an EXPIRED seal certificate back-dates signingTime into the
 * certificate's validity. Seals are judged when the hub receives them, and chains by RFC 5280's
 * constraints; OpenSSL (`openssl cms -verify`) is the outside party that must agree.
 */

const pki = testPki();
const work = tempDir();
afterAll(work.remove);

const HOUR_MS = 3_600_000;
const received = now;
const hoursBefore = (hours: number) => new Date(received.getTime() - hours * HOUR_MS);

/** Seals `SAMPLE_XML` and asks OpenSSL, given only the root, whether the seal verifies. */
function opensslAccepts(name: string, p7s: Buffer, root: Credential): boolean {
  writeFiles(work.dir, { [`${name}.xml`]: SAMPLE_XML, [`${name}.xml.p7s`]: p7s, [`${name}.ca.pem`]: root.certificate.toString() });
  return opensslVerifiesSeal(work.dir, `${name}.xml`, `${name}.xml.p7s`, `${name}.ca.pem`).status === 0;
}

describe('attack 9: seals are judged at receipt', () => {
  const backDated = sealDocument(SAMPLE_XML, sealOf(pki.expired), daysFromNow(-400));

  it('refuses a seal made with an expired certificate and a signingTime back-dated into its validity', () => {
    expect(verifySeal(SAMPLE_XML, backDated, pki.trust, received)).toEqual({
      valid: false,
      reason: expect.stringMatching(/^signing time \S+ is more than 72 hours before receipt \(\S+, SEAL_SIGNING_WINDOW_HOURS\)$/),
    });
    // However wide the window, the certificate must be valid when the hub receives the seal.
    const wide: Trust = { ...pki.trust, signingWindowHours: 24 * 500 };
    expect(verifySeal(SAMPLE_XML, backDated, wide, received)).toEqual({
      valid: false,
      reason: expect.stringMatching(/^signer certificate expired on \S+ \(received \S+\)$/),
    });
    expect(opensslAccepts('backdated', backDated, pki.ca)).toBe(false);
  });

  it('refuses a signingTime outside SEAL_SIGNING_WINDOW_HOURS of receipt, accepts one inside', () => {
    const seal = sealOf(pki.seal);
    expect(verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, seal, hoursBefore(73)), pki.trust, received)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/more than 72 hours before receipt/),
    });
    expect(verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, seal, hoursBefore(71)), pki.trust, received).valid).toBe(true);
    const day: Trust = { ...pki.trust, signingWindowHours: 24 };
    expect(verifySeal(SAMPLE_XML, sealDocument(SAMPLE_XML, seal, hoursBefore(25)), day, received)).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/more than 24 hours before receipt/),
    });
  });

  it('a good seal verifies, and OpenSSL agrees', () => {
    const p7s = sealDocument(SAMPLE_XML, sealOf(pki.seal));
    expect(verifySeal(SAMPLE_XML, p7s, pki.trust)).toMatchObject({ valid: true, signer: expect.stringContaining('CN=Test Union Seal') });
    expect(opensslAccepts('good', p7s, pki.ca)).toBe(true);
  });
});

describe('chain constraints', () => {
  const keys = [newRsaKey(), newRsaKey()];

  /** root (pki.ca) -> CA certificates made by `cas` in turn -> seal; the intermediates embedded, a CRL from every CA. */
  function chain(cas: Array<Partial<CertificateRequest>>, leaf: Partial<CertificateRequest> = {}) {
    const issuers = [pki.ca];
    cas.forEach((request, i) => issuers.push(createCertificateAuthority({ commonName: `Intermediate ${i + 1}`, key: keys[i], ...request }, issuers.at(-1))));
    const sealer = issueCertificate(issuers.at(-1)!, { commonName: 'Chained Seal', key: pki.leafKey, ...leaf });
    const p7s = sealDocument(SAMPLE_XML, { certificate: sealer.certificate, chain: issuers.slice(1).reverse().map((ca) => ca.certificate), signer: sealOf(sealer).signer });
    const trust: Trust = { anchors: [pki.ca.certificate], crls: issuers.map((ca) => parseCrl(issueCrl(ca))) };
    return { p7s, verification: verifySeal(SAMPLE_XML, p7s, trust) };
  }

  it('refuses an intermediate below a CA whose pathLenConstraint forbids it', () => {
    const tooLong = chain([{ pathLength: 0 }, {}]);
    expect(tooLong.verification).toEqual({
      valid: false,
      reason: 'CA certificate "C=CN, O=Mutual Aid Hub City Trade Union (DEV), CN=Intermediate 1" allows 0 CA certificate(s) below it (pathLenConstraint), the chain has 1',
    });
    expect(opensslAccepts('pathlen', tooLong.p7s, pki.ca)).toBe(false);
    expect(chain([{ pathLength: 1 }, {}]).verification.valid).toBe(true);
  });

  it('refuses a seal whose subject lies outside an intermediate’s name constraints', () => {
    // NameConstraints { permittedSubtrees [0] { GeneralSubtree { directoryName [4] "C=CN, O=Bank A" } } }
    const rdn = (oid: string, type: forge.asn1.Type, value: string) => node(Class.UNIVERSAL, Type.SET, [sequence([oidNode(oid), node(Class.UNIVERSAL, type, value)])]);
    const bankA = sequence([rdn('2.5.4.6', Type.PRINTABLESTRING, 'CN'), rdn('2.5.4.10', Type.UTF8, 'Bank A')]);
    const permitted = sequence([node(Class.CONTEXT_SPECIFIC, 0, [sequence([node(Class.CONTEXT_SPECIFIC, 4, [bankA])])])]);
    const nameConstraints = { id: '2.5.29.30', critical: true, value: binary(toDer(permitted)) };

    const outside = chain([{ extensions: [nameConstraints] }]);
    expect(outside.verification).toEqual({
      valid: false,
      reason:
        'signer certificate directoryName "C=CN, O=Mutual Aid Hub City Trade Union (DEV), CN=Chained Seal" is outside the names ' +
        'CA certificate "C=CN, O=Mutual Aid Hub City Trade Union (DEV), CN=Intermediate 1" permits (name constraints)',
    });
    expect(opensslAccepts('names', outside.p7s, pki.ca)).toBe(false);
    expect(chain([{ extensions: [nameConstraints] }], { organization: 'Bank A' }).verification.valid).toBe(true);
  });

  it('refuses an intermediate with an unknown critical extension', () => {
    const unknown = { id: '1.3.6.1.4.1.55555.1', critical: true, value: '\x05\x00' }; // NULL
    const refused = chain([{ extensions: [unknown] }]);
    expect(refused.verification).toEqual({
      valid: false,
      reason: 'CA certificate "C=CN, O=Mutual Aid Hub City Trade Union (DEV), CN=Intermediate 1" has an unknown critical extension 1.3.6.1.4.1.55555.1',
    });
    expect(opensslAccepts('critical', refused.p7s, pki.ca)).toBe(false);
    expect(chain([{ extensions: [{ ...unknown, critical: false }] }]).verification.valid).toBe(true);
  });
});

describe('production trust configuration', () => {
  const HUB = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
  const anchors = `${work.dir}/ca.pem`;

  it('refuses to start without SEAL_TRUST_ANCHORS and SEAL_CRLS, naming the variable', () => {
    expect(() => parseSealSettings({ NODE_ENV: 'production' })).toThrow(/^SEAL_TRUST_ANCHORS: must be set in production .*\nSEAL_CRLS: must be set in production/);
    expect(() => parseSealSettings({ NODE_ENV: 'production', SEAL_TRUST_ANCHORS: anchors })).toThrow(
      /^SEAL_CRLS: must be set in production \(the development CA and CRL in CERTS_DIR are not trusted there\)$/,
    );
    expect(parseSealSettings({ NODE_ENV: 'production', SEAL_TRUST_ANCHORS: anchors, SEAL_CRLS: `${work.dir}/crl.pem` }).trustAnchorsPath).toBe(anchors);
    expect(parseSealSettings({ NODE_ENV: 'development' }).trustAnchorsPath).toMatch(/\.data\/certs\/ca\.pem$/);
  });

  it('`hub seal verify` in production stops with that line', async () => {
    writeFiles(work.dir, { 'a.xml': SAMPLE_XML, 'a.xml.p7s': sealDocument(SAMPLE_XML, sealOf(pki.seal)) });
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(SEAL_|CERTS_DIR$)/.test(name)));
    const run = promisify(execFile)(process.execPath, [HUB, 'seal', 'verify', 'a.xml', 'a.xml.p7s'], {
      cwd: work.dir,
      env: { ...env, NODE_ENV: 'production', SEAL_CRLS: `${work.dir}/crl.pem`, LOG_LEVEL: 'silent' },
    });
    await expect(run).rejects.toMatchObject({ stderr: expect.stringContaining('SEAL_TRUST_ANCHORS: must be set in production') });
  });
});
