import { createHash, verify, X509Certificate } from 'node:crypto';
import {
  certificateNames,
  children,
  Class,
  fromDer,
  isContext,
  isDerSetOrder,
  MalformedError,
  node,
  OID,
  readOctets,
  readOid,
  readSerial,
  readTime,
  serialOf,
  signedDataFields,
  subjectLine,
  toDer,
  toForgeCertificate,
  Type,
  type Asn1,
} from './asn1.ts';
import { crlSignatureValid, type RevocationList } from './crl.ts';
import { certificationPath, describe, iso, pathProblem } from './path.ts';

/** Whom a verifier trusts: CA certificates, the CRLs they publish, and how old a seal may arrive. */
export interface Trust {
  anchors: X509Certificate[];
  crls: RevocationList[];
  /** How many hours a seal's signingTime may lie before its receipt (SEAL_SIGNING_WINDOW_HOURS; default 72). */
  signingWindowHours?: number;
}

const DEFAULT_SIGNING_WINDOW_HOURS = 72;

export type SealVerification =
  | { valid: true; signer: string; signingTime: Date; certificate: X509Certificate }
  | { valid: false; reason: string };

// Signers' clocks are not ours; a seal a few minutes "from the future" is still plausible.
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Verifies a detached CMS seal over `content` the way a careful relying party does (node-forge
 * cannot verify CMS; this reads the ASN.1 with forge and checks with node:crypto): the content
 * digest, the signature over the DER signed attributes, a signing time within the window before
 * `receivedAt`, the signer certificate's key usage, its chain to a trust anchor (path.ts), and
 * revocation in a current CRL signed by each issuing CA. The first failed check is the reason.
 *
 * Everything is judged at `receivedAt`, when the hub received the document (default: now, as
 * documents are verified on arrival), never at the signing time the signer wrote: a leaked key
 * of an expired certificate could write any signing time.
 *
 * `certificate` in the result is the signer's: callers that expect a particular sealer (a bank)
 * check it is that one.
 */
export function verifySeal(content: Buffer, p7s: Buffer, trust: Trust, receivedAt: Date = new Date()): SealVerification {
  let seal: ParsedSeal;
  try {
    seal = parseSeal(p7s);
  } catch (error) {
    return invalid(`malformed seal: ${(error as Error).message}`);
  }
  const { signer, signingTime } = seal;
  const reason =
    contentProblem(content, seal) ??
    signatureProblem(seal) ??
    signingTimeProblem(signingTime, receivedAt, trust.signingWindowHours ?? DEFAULT_SIGNING_WINDOW_HOURS) ??
    usageProblem(signer) ??
    trustProblem(seal, trust, receivedAt);
  return reason ? invalid(reason) : { valid: true, signer: subjectLine(signer), signingTime, certificate: signer };
}

function invalid(reason: string): SealVerification {
  return { valid: false, reason };
}

interface ParsedSeal {
  eContentType: string;
  /** Certificates embedded in the seal (the signer's and perhaps intermediates). */
  certificates: X509Certificate[];
  signer: X509Certificate;
  digestAlgorithm: string;
  signatureAlgorithm: string;
  contentType: string;
  messageDigest: Buffer;
  signingTime: Date;
  /** The signed attributes as DER SET OF: what the signature covers (RFC 5652 5.4). */
  signedAttributes: Buffer;
  attributesInDerOrder: boolean;
  signature: Buffer;
}

function parseSeal(p7s: Buffer): ParsedSeal {
  const signedData = signedDataFields(fromDer(p7s));
  const [eContentType, eContent] = children(signedData[2], 'encapContentInfo');
  if (eContent) throw new MalformedError('the seal embeds its content; a detached seal is expected');
  const certificates = children(signedData.slice(3).find((item) => isContext(item, 0)), 'certificates')
    .filter((item) => item.type === Type.SEQUENCE) // other CertificateChoices (attribute certificates) are not ours
    .map((certificate) => new X509Certificate(toDer(certificate)));
  const signerInfos = children(signedData.at(-1), 'signerInfos');
  if (signerInfos.length !== 1) throw new MalformedError(`expected one signer, found ${signerInfos.length}`);
  const [, sid, digestAlgorithm, signedAttrs, signatureAlgorithm, signature] = children(signerInfos[0], 'SignerInfo');
  if (isContext(sid, 0)) throw new MalformedError('signer named by subject key identifier; issuer and serial number expected');
  if (!isContext(signedAttrs, 0)) throw new MalformedError('no signed attributes');

  const attributes = children(signedAttrs, 'signed attributes');
  const value = signedAttributeValues(attributes);
  return {
    eContentType: readOid(eContentType, 'eContentType'),
    certificates,
    signer: signerCertificate(sid, certificates),
    digestAlgorithm: readOid(children(digestAlgorithm, 'digestAlgorithm')[0], 'digest algorithm'),
    signatureAlgorithm: readOid(children(signatureAlgorithm, 'signatureAlgorithm')[0], 'signature algorithm'),
    contentType: readOid(value(OID.contentType, 'contentType'), 'contentType attribute'),
    messageDigest: readOctets(value(OID.messageDigest, 'messageDigest'), 'messageDigest attribute'),
    signingTime: readTime(value(OID.signingTime, 'signingTime'), 'signingTime attribute'),
    // The [0] IMPLICIT tag is replaced by the SET OF tag it stands for.
    signedAttributes: toDer(node(Class.UNIVERSAL, Type.SET, attributes)),
    attributesInDerOrder: isDerSetOrder(attributes.map(toDer)),
    signature: readOctets(signature, 'signature'),
  };
}

/** Looks up a signed attribute's single value; each attribute type may occur once (RFC 5652 11). */
function signedAttributeValues(attributes: Asn1[]): (oid: string, name: string) => Asn1 {
  const values = new Map<string, Asn1>();
  for (const attribute of attributes) {
    const [type, set] = children(attribute, 'attribute');
    const oid = readOid(type, 'attribute type');
    const oneValue = children(set, `attribute ${oid} values`);
    if (values.has(oid) || oneValue.length !== 1) throw new MalformedError(`signed attribute ${oid} must occur once with one value`);
    values.set(oid, oneValue[0]!);
  }
  return (oid, name) => {
    const value = values.get(oid);
    if (!value) throw new MalformedError(`no ${name} signed attribute`);
    return value;
  };
}

function signerCertificate(sid: Asn1 | undefined, certificates: X509Certificate[]): X509Certificate {
  const [issuer, serialNumber] = children(sid, 'issuerAndSerialNumber');
  if (!issuer) throw new MalformedError('signer identifier has no issuer');
  const issuerDer = toDer(issuer);
  const serial = readSerial(serialNumber, 'signer serial number');
  const found = certificates.find((c) => serialOf(c) === serial && certificateNames(c).issuer.equals(issuerDer));
  if (!found) throw new MalformedError(`the signer's certificate (serial ${serial}) is not in the seal`);
  return found;
}

function contentProblem(content: Buffer, seal: ParsedSeal): string | undefined {
  if (seal.digestAlgorithm !== OID.sha256) return `digest algorithm ${seal.digestAlgorithm} is not SHA-256`;
  if (seal.eContentType !== OID.data || seal.contentType !== OID.data) return 'content type is not id-data';
  if (!seal.messageDigest.equals(createHash('sha256').update(content).digest())) {
    return 'the content does not match the seal (message digest differs)';
  }
  return undefined;
}

function signatureProblem(seal: ParsedSeal): string | undefined {
  if (seal.signatureAlgorithm !== OID.rsaEncryption && seal.signatureAlgorithm !== OID.sha256WithRSAEncryption) {
    return `signature algorithm ${seal.signatureAlgorithm} is not RSA`;
  }
  // Verifiers (OpenSSL among them) re-encode the attributes in DER order before checking.
  if (!seal.attributesInDerOrder) return 'signed attributes are not in DER order';
  let ok: boolean;
  try {
    ok = verify('sha256', seal.signedAttributes, seal.signer.publicKey, seal.signature);
  } catch {
    ok = false;
  }
  return ok ? undefined : 'the signature does not verify with the signer certificate';
}

function signingTimeProblem(signingTime: Date, receivedAt: Date, windowHours: number): string | undefined {
  if (signingTime.getTime() > receivedAt.getTime() + CLOCK_SKEW_MS) return `signing time ${iso(signingTime)} is in the future (received ${iso(receivedAt)})`;
  if (receivedAt.getTime() - signingTime.getTime() > windowHours * 3_600_000) {
    return `signing time ${iso(signingTime)} is more than ${windowHours} hours before receipt (${iso(receivedAt)}, SEAL_SIGNING_WINDOW_HOURS)`;
  }
  return undefined;
}

/** A seal certificate is an end-entity certificate meant for signatures (docs/design.md, Seals). */
function usageProblem(signer: X509Certificate): string | undefined {
  if (signer.ca) return 'signer certificate is a CA certificate';
  let keyUsage: Record<string, unknown> | undefined;
  try {
    keyUsage = toForgeCertificate(signer).getExtension('keyUsage') as Record<string, unknown> | undefined;
  } catch (error) {
    return `signer certificate cannot be read: ${(error as Error).message}`;
  }
  if (!keyUsage) return 'signer certificate has no key usage extension';
  if (!keyUsage.digitalSignature && !keyUsage.nonRepudiation) {
    const allowed = KEY_USAGES.filter((usage) => keyUsage[usage]).join(', ') || 'none';
    return `signer certificate key usage (${allowed}) allows neither digitalSignature nor nonRepudiation`;
  }
  return undefined;
}

const KEY_USAGES = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

function trustProblem(seal: ParsedSeal, trust: Trust, receivedAt: Date): string | undefined {
  const path = certificationPath(seal.signer, seal.certificates, trust.anchors);
  if (typeof path === 'string') return path;
  const problem = pathProblem(path, receivedAt);
  if (problem) return problem;
  // Trust anchors are trusted as configured; everything below them must be unrevoked.
  for (let i = 0; i < path.length - 1; i++) {
    const problem = revocationProblem(path[i]!, path[i + 1]!, trust.crls, receivedAt, describe(path[i]!, seal.signer));
    if (problem) return problem;
  }
  return undefined;
}

function revocationProblem(certificate: X509Certificate, issuer: X509Certificate, crls: RevocationList[], receivedAt: Date, label: string): string | undefined {
  const ca = subjectLine(issuer);
  const fromIssuer = crls.filter((crl) => crl.issuer.equals(certificateNames(issuer).subject));
  if (fromIssuer.length === 0) return `no CRL from ${ca} to check whether the ${label} is revoked`;
  const signed = fromIssuer.filter((crl) => crlSignatureValid(crl, issuer));
  if (signed.length === 0) return `the CRL from ${ca} does not verify with the CA's key`;
  const latest = signed.reduce((a, b) => (b.thisUpdate > a.thisUpdate ? b : a));
  if (!latest.nextUpdate || latest.nextUpdate < receivedAt) {
    return `the CRL from ${ca} is out of date (next update ${latest.nextUpdate ? iso(latest.nextUpdate) : 'not given'})`;
  }
  const revokedOn = latest.revoked.get(serialOf(certificate));
  return revokedOn ? `${label} (serial ${serialOf(certificate)}) was revoked on ${iso(revokedOn)}` : undefined;
}
