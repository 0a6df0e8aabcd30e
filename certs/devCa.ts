import { createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import forge from 'node-forge';
import {
  algorithmNode,
  binary,
  certificateNames,
  Class,
  fromDer,
  integerNode,
  node,
  oidNode,
  OID,
  sequence,
  serialOf,
  timeNode,
  toDer,
  toForgeCertificate,
  toPem,
  Type,
  type Asn1,
} from '../src/seals/cms/asn1.ts';
import { asForgeKey, nativeSigner, toForgePrivateKey } from '../src/seals/cms/signers.ts';
import { devCertificateFiles } from '../src/seals/settings.ts';

/**
 * A development certificate authority: makes the CA, seal and bank certificates and the CRL that
 * `hub certs dev` writes, and the odd certificates tests need (expired, revoked, wrong key usage,
 * from another CA). Keys come from node:crypto (forge's key generation is pure JS and slow);
 * forge only assembles the certificates. Nothing here is for production keys.
 */

export interface Credential {
  certificate: X509Certificate;
  key: KeyObject;
}

export type KeyUsage = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign';

export interface CertificateRequest {
  commonName: string;
  organization?: string;
  /** Defaults to an hour ago (tolerates clock skew between machines). */
  notBefore?: Date;
  /** Defaults to two years after notBefore. */
  notAfter?: Date;
  /** End-entity default: digitalSignature + nonRepudiation, what a seal needs. */
  keyUsage?: KeyUsage[];
  /** Reuse a key (tests issue many certificates; RSA key generation dominates their time). */
  key?: KeyObject;
  /** A CA's basicConstraints pathLenConstraint: how many CA certificates may follow it. */
  pathLength?: number;
  /** Further extensions in node-forge's form, e.g. `{ id, critical, value }` with `value` the DER as a binary string. */
  extensions?: object[];
}

const DAY_MS = 86_400_000;
// UTF8String, as RFC 5280 asks for names (@types/node-forge types valueTagClass as a Class; forge reads a Type).
const UTF8_STRING = Type.UTF8 as number as forge.asn1.Class;
const DEV_ORGANIZATION = 'Mutual Aid Hub City Trade Union (DEV)';

export function newRsaKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

/** A CA (CA:TRUE, keyCertSign + cRLSign): a self-signed root, or an intermediate when `issuer` is given. */
export function createCertificateAuthority(request: CertificateRequest, issuer?: Credential): Credential {
  const key = request.key ?? newRsaKey();
  const certificate = buildCertificate(request, key, issuer, [
    { name: 'basicConstraints', critical: true, cA: true, ...(request.pathLength === undefined ? {} : { pathLenConstraint: request.pathLength }) },
    keyUsageExtension(request.keyUsage ?? ['keyCertSign', 'cRLSign']),
  ]);
  return { certificate, key };
}

/** An end-entity certificate (CA:FALSE) issued by `ca`. */
export function issueCertificate(ca: Credential, request: CertificateRequest): Credential {
  const key = request.key ?? newRsaKey();
  const certificate = buildCertificate(request, key, ca, [
    { name: 'basicConstraints', critical: true, cA: false },
    keyUsageExtension(request.keyUsage ?? ['digitalSignature', 'nonRepudiation']),
  ]);
  return { certificate, key };
}

function keyUsageExtension(usages: KeyUsage[]) {
  return { name: 'keyUsage', critical: true, ...Object.fromEntries(usages.map((usage) => [usage, true])) };
}

function buildCertificate(request: CertificateRequest, key: KeyObject, issuer: Credential | undefined, extensions: object[]): X509Certificate {
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = newSerial();
  certificate.validity.notBefore = request.notBefore ?? new Date(Date.now() - 3_600_000);
  certificate.validity.notAfter = request.notAfter ?? new Date(certificate.validity.notBefore.getTime() + 730 * DAY_MS);
  const subject: forge.pki.CertificateField[] = [
    { name: 'countryName', value: 'CN' },
    { name: 'organizationName', value: request.organization ?? DEV_ORGANIZATION, valueTagClass: UTF8_STRING },
    { name: 'commonName', value: request.commonName, valueTagClass: UTF8_STRING },
  ];
  certificate.setSubject(subject);
  const issuerCertificate = issuer ? toForgeCertificate(issuer.certificate) : certificate;
  certificate.setIssuer(issuer ? issuerCertificate.subject.attributes : subject);
  certificate.setExtensions([
    ...extensions,
    ...(request.extensions ?? []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: issuerCertificate.generateSubjectKeyIdentifier().getBytes() },
  ]);
  certificate.sign(asForgeKey(nativeSigner(issuer?.key ?? key)), forge.md.sha256.create());
  return new X509Certificate(forge.pki.certificateToPem(certificate));
}

/** 16 random bytes, positive and without a leading zero byte, so the DER INTEGER is minimal. */
function newSerial(): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial.toString('hex');
}

export interface CrlRequest {
  revoked?: Array<{ certificate: X509Certificate; revokedAt?: Date }>;
  thisUpdate?: Date;
  /** Defaults to 30 days after thisUpdate. */
  nextUpdate?: Date;
  number?: number;
}

/**
 * An X.509 v2 CRL (RFC 5280 5.1) signed with SHA-256/RSA by `ca`, as DER. node-forge has no CRL
 * builder, so the ASN.1 is assembled here; `openssl crl -CAfile ca.pem` verifies the result.
 */
export function issueCrl(ca: Credential, request: CrlRequest = {}): Buffer {
  const thisUpdate = request.thisUpdate ?? new Date();
  const nextUpdate = request.nextUpdate ?? new Date(thisUpdate.getTime() + 30 * DAY_MS);
  const revoked = (request.revoked ?? []).map(({ certificate, revokedAt }) =>
    sequence([integerNode(serialInteger(certificate)), timeNode(revokedAt ?? thisUpdate)]),
  );
  const keyIdentifier = toForgeCertificate(ca.certificate).generateSubjectKeyIdentifier().getBytes();
  const tbsCertList = sequence([
    integerNode(Buffer.from([1])), // v2
    algorithmNode(OID.sha256WithRSAEncryption),
    fromDer(certificateNames(ca.certificate).subject),
    timeNode(thisUpdate),
    timeNode(nextUpdate),
    // An empty list is left out, not written empty (RFC 5280 5.1.2.6).
    ...(revoked.length ? [sequence(revoked)] : []),
    node(Class.CONTEXT_SPECIFIC, 0, [
      sequence([
        extension(OID.authorityKeyIdentifier, sequence([node(Class.CONTEXT_SPECIFIC, 0, keyIdentifier)])),
        extension(OID.cRLNumber, node(Class.UNIVERSAL, Type.INTEGER, forge.asn1.integerToDer(request.number ?? 1).getBytes())),
      ]),
    ]),
  ]);
  const signature = sign('sha256', toDer(tbsCertList), ca.key);
  return toDer(
    sequence([
      tbsCertList,
      algorithmNode(OID.sha256WithRSAEncryption),
      node(Class.UNIVERSAL, Type.BITSTRING, `\0${binary(signature)}`), // leading byte: no unused bits
    ]),
  );
}

/** Extension ::= SEQUENCE { extnID, extnValue OCTET STRING (DER of the value) }, not critical. */
function extension(oid: string, value: Asn1): Asn1 {
  return sequence([oidNode(oid), node(Class.UNIVERSAL, Type.OCTETSTRING, binary(toDer(value)))]);
}

/** A certificate's serial as DER INTEGER contents (a 0x00 in front keeps a high first bit positive). */
function serialInteger(certificate: X509Certificate): Buffer {
  const hex = serialOf(certificate);
  const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

export function crlToPem(der: Buffer): string {
  return toPem(der, 'X509 CRL');
}

/**
 * Writes the development PKI to `certsDir` (see devCertificateFiles): CA, union seal (PEM and
 * PKCS#12 with `p12Passphrase`), bank simulator seal, and an empty CRL. Leaves a complete set
 * alone unless `force`; a partial set is replaced, as its parts would not belong together.
 */
export function writeDevCertificates(certsDir: string, options: { force?: boolean; p12Passphrase: string }): { created: boolean; files: string[] } {
  const files = devCertificateFiles(certsDir);
  if (!options.force && Object.values(files).every((file) => existsSync(file))) return { created: false, files: Object.values(files) };

  const notBefore = new Date(Date.now() - 3_600_000);
  const years = (n: number) => new Date(notBefore.getTime() + n * 365 * DAY_MS);
  const ca = createCertificateAuthority({ commonName: 'Mutual Aid Hub Development CA', notBefore, notAfter: years(10) });
  const seal = issueCertificate(ca, { commonName: 'Mutual Aid Hub Union Seal (DEV)', notBefore, notAfter: years(2) });
  const bank = issueCertificate(ca, { commonName: 'Bank Simulator Seal (DEV)', organization: 'Bank Simulator (DEV)', notBefore, notAfter: years(2) });
  // A year, so development seals keep verifying; `--force` makes a fresh set.
  const crl = issueCrl(ca, { thisUpdate: notBefore, nextUpdate: years(1) });
  const p12 = forge.pkcs12.toPkcs12Asn1(
    toForgePrivateKey(seal.key),
    [toForgeCertificate(seal.certificate), toForgeCertificate(ca.certificate)],
    options.p12Passphrase,
    { algorithm: 'aes256', friendlyName: 'Mutual Aid Hub Union Seal (DEV)' },
  );

  mkdirSync(certsDir, { recursive: true });
  const secretFile = (file: string, data: string | Buffer) => {
    writeFileSync(file, data, { mode: 0o600 });
    chmodSync(file, 0o600); // an existing file keeps its old mode on overwrite
  };
  const keyPem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(files.ca, ca.certificate.toString());
  secretFile(files.caKey, keyPem(ca.key));
  writeFileSync(files.seal, seal.certificate.toString());
  secretFile(files.sealKey, keyPem(seal.key));
  secretFile(files.sealP12, toDer(p12));
  writeFileSync(files.bank, bank.certificate.toString());
  secretFile(files.bankKey, keyPem(bank.key));
  writeFileSync(files.crl, crlToPem(crl));
  return { created: true, files: Object.values(files) };
}
