import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';

/**
 * The few ASN.1/DER helpers sealing needs, on top of node-forge's parser and encoder.
 * node-forge works on "binary strings"; everything leaving this module is a Buffer.
 */

const { asn1 } = forge;
export type Asn1 = forge.asn1.Asn1;
export const { Class, Type } = asn1;

export const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  cRLNumber: '2.5.29.20',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

/** A structure that is not what the standard says; callers turn it into a verification reason. */
export class MalformedError extends Error {}

export function fromDer(der: Buffer): Asn1 {
  try {
    return asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
  } catch (error) {
    throw new MalformedError(`not DER: ${(error as Error).message}`);
  }
}

/** DER of a node; for a node parsed from DER this is the original bytes (forge keeps BIT STRING contents). */
export function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

export function binary(bytes: Buffer): string {
  return bytes.toString('binary');
}

export function node(tagClass: forge.asn1.Class, type: forge.asn1.Type, value: Asn1[] | string): Asn1 {
  return asn1.create(tagClass, type, Array.isArray(value), value);
}

export function sequence(items: Asn1[]): Asn1 {
  return node(Class.UNIVERSAL, Type.SEQUENCE, items);
}

export function oidNode(oid: string): Asn1 {
  return node(Class.UNIVERSAL, Type.OID, asn1.oidToDer(oid).getBytes());
}

/** AlgorithmIdentifier with NULL parameters, as RSA and SHA-2 identifiers are written. */
export function algorithmNode(oid: string): Asn1 {
  return sequence([oidNode(oid), node(Class.UNIVERSAL, Type.NULL, '')]);
}

export function integerNode(bytes: Buffer): Asn1 {
  return node(Class.UNIVERSAL, Type.INTEGER, binary(bytes));
}

/** RFC 5280 Time (and CMS signingTime, RFC 5652 11.3): UTCTime for 1950 through 2049, GeneralizedTime otherwise. */
export function timeNode(date: Date): Asn1 {
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? node(Class.UNIVERSAL, Type.UTCTIME, asn1.dateToUtcTime(date))
    : node(Class.UNIVERSAL, Type.GENERALIZEDTIME, asn1.dateToGeneralizedTime(date));
}

/** The two time types, each in the one form RFC 5280 (4.1.2.5) and RFC 5652 (11.3) allow. */
const TIME_FORMATS = new Map([
  [Type.UTCTIME, { name: 'UTCTime', shape: 'YYMMDDHHMMSSZ', pattern: /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/, year: (yy: number) => yy + (yy < 50 ? 2000 : 1900) }],
  [Type.GENERALIZEDTIME, { name: 'GeneralizedTime', shape: 'YYYYMMDDHHMMSSZ', pattern: /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/, year: (yyyy: number) => yyyy }],
]);

/**
 * A UTCTime or GeneralizedTime in its one allowed form, naming a real moment. forge's readers take
 * other text: some as an Invalid Date, which no window check refuses (every comparison with NaN is
 * false), some rolled over (month 13, hour 25) into another moment than the one written.
 */
export function readTime(time: Asn1 | undefined, what: string): Date {
  const format = time?.tagClass === Class.UNIVERSAL && typeof time.value === 'string' ? TIME_FORMATS.get(time.type) : undefined;
  if (!format) throw new MalformedError(`${what} is not a time`);
  const text = time!.value as string;
  const quoted = JSON.stringify(text.slice(0, 32)); // the sender's text: escaped, and its start only
  const fields = format.pattern.exec(text)?.slice(1).map(Number);
  if (!fields) throw new MalformedError(`${what} ${quoted} is not a ${format.name} of the form ${format.shape}`);
  const [year, month, day, hour, minute, second] = fields as [number, number, number, number, number, number];
  const written = [format.year(year), month, day, hour, minute, second] as const;
  const date = new Date(Date.UTC(written[0], month - 1, day, hour, minute, second));
  // Date.UTC rolls what is out of range over (and reads the years 0 to 99 as 1900 to 1999): only what reads back as written is a moment.
  const read = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()];
  if (read.some((value, i) => value !== written[i])) throw new MalformedError(`${what} ${quoted} names no real moment`);
  return date;
}

export function readOid(oid: Asn1 | undefined, what: string): string {
  if (oid?.type !== Type.OID || typeof oid.value !== 'string') throw new MalformedError(`${what} is not an object identifier`);
  return asn1.derToOid(oid.value);
}

export function readOctets(octets: Asn1 | undefined, what: string): Buffer {
  if (octets?.type !== Type.OCTETSTRING || typeof octets.value !== 'string') throw new MalformedError(`${what} is not an OCTET STRING`);
  return Buffer.from(octets.value, 'binary');
}

/** The bits of a BIT STRING with no unused bits (a signature). forge may have parsed them as ASN.1, so read the raw contents it keeps. */
export function readBitString(bits: Asn1 | undefined, what: string): Buffer {
  const contents = (bits as (Asn1 & { bitStringContents?: string }) | undefined)?.bitStringContents;
  if (bits?.type !== Type.BITSTRING || contents === undefined || contents.charCodeAt(0) !== 0) {
    throw new MalformedError(`${what} is not a whole-byte BIT STRING`);
  }
  return Buffer.from(contents.slice(1), 'binary');
}

/** An INTEGER (a serial number) as lower-case hex without leading zeros, the form serials are compared in. */
export function readSerial(integer: Asn1 | undefined, what: string): string {
  if (integer?.type !== Type.INTEGER || typeof integer.value !== 'string') throw new MalformedError(`${what} is not an INTEGER`);
  return normalSerial(forge.util.bytesToHex(integer.value));
}

export function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

export function children(constructed: Asn1 | undefined, what: string): Asn1[] {
  if (!constructed || !Array.isArray(constructed.value)) throw new MalformedError(`${what} is missing or not constructed`);
  return constructed.value;
}

export function isContext(item: Asn1 | undefined, tag: number): item is Asn1 {
  return item?.tagClass === Class.CONTEXT_SPECIFIC && item.type === tag;
}

/** The fields of the SignedData in a CMS ContentInfo (RFC 5652 5.1): version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos. */
export function signedDataFields(contentInfo: Asn1): Asn1[] {
  const [type, content] = children(contentInfo, 'ContentInfo');
  if (readOid(type, 'content type') !== OID.signedData) throw new MalformedError('not a CMS SignedData');
  return children(children(content, 'SignedData content')[0], 'SignedData');
}

/** DER requires the elements of a SET OF in ascending order of their encodings (X.690 11.6). */
export function isDerSetOrder(encodings: Buffer[]): boolean {
  return encodings.every((encoding, i) => i === 0 || Buffer.compare(encodings[i - 1]!, encoding) <= 0);
}

/** `items` as the elements of a DER SET OF: sorted by their encodings. */
export function derSorted(items: Asn1[]): Asn1[] {
  return items
    .map((item) => ({ item, der: toDer(item) }))
    .sort((a, b) => Buffer.compare(a.der, b.der))
    .map(({ item }) => item);
}

/** The exact DER of a certificate's issuer and subject Names, which is how CMS and CRLs name CAs. */
export function certificateNames(certificate: X509Certificate): { issuer: Buffer; subject: Buffer } {
  const { issuer, subject } = tbsFields(certificate);
  return { issuer: toDer(issuer), subject: toDer(subject) };
}

/** CMS IssuerAndSerialNumber (RFC 5652 10.2.4) of a certificate, both taken as its own bytes. */
export function issuerAndSerialNumber(certificate: X509Certificate): Asn1 {
  const { issuer, serialNumber } = tbsFields(certificate);
  return sequence([issuer, serialNumber]);
}

function tbsFields(certificate: X509Certificate): { serialNumber: Asn1; issuer: Asn1; subject: Asn1 } {
  const tbs = children(children(fromDer(certificate.raw), 'certificate')[0], 'tbsCertificate');
  const first = isContext(tbs[0], 0) ? 1 : 0; // [0] version is absent in v1 certificates
  const [serialNumber, , issuer, , subject] = tbs.slice(first);
  if (!serialNumber || !issuer || !subject) throw new MalformedError('certificate has no serial number, issuer or subject');
  return { serialNumber, issuer, subject };
}

export function toForgeCertificate(certificate: X509Certificate): forge.pki.Certificate {
  return forge.pki.certificateFromAsn1(fromDer(certificate.raw));
}

/** The subject on one line, most specific last as OpenSSL prints it: `C=CN, O=..., CN=...`. */
export function subjectLine(certificate: X509Certificate): string {
  return oneLine(certificate.subject);
}

/** node:crypto prints names one attribute a line. */
export function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

export function serialOf(certificate: X509Certificate): string {
  return normalSerial(certificate.serialNumber);
}

/** All blocks of one PEM type in a text that may hold several (a CA bundle, a CRL file). */
export function pemBlocks(text: string, type: string): Buffer[] {
  return forge.pem
    .decode(text)
    .filter((block) => block.type === type)
    .map((block) => Buffer.from(block.body, 'binary'));
}

export function toPem(der: Buffer, type: string): string {
  return forge.pem.encode({ type, body: binary(der) });
}
