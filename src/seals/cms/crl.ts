import { verify, type X509Certificate } from 'node:crypto';
import { children, fromDer, isContext, MalformedError, OID, pemBlocks, readBitString, readOid, readSerial, readTime, toDer, Type } from './asn1.ts';

/** A parsed X.509 v2 CRL (RFC 5280 5.1): who issued it, how fresh it is, which serials it revokes. */
export interface RevocationList {
  /** DER of the issuer Name, compared with the CA certificate's subject. */
  issuer: Buffer;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** Revoked serial (lower-case hex, no leading zeros) -> revocation date. */
  revoked: Map<string, Date>;
  /** What the signature covers, and the signature itself. */
  tbsCertList: Buffer;
  signatureAlgorithm: string;
  signature: Buffer;
}

export function parseCrl(der: Buffer): RevocationList {
  const [tbsNode, algorithm, signatureBits] = children(fromDer(der), 'CertificateList');
  const tbs = children(tbsNode, 'tbsCertList');
  let i = tbs[0]?.type === Type.INTEGER ? 1 : 0; // version is present in v2 CRLs only
  const issuer = tbs[i + 1];
  if (!issuer) throw new MalformedError('CRL has no issuer');
  const thisUpdate = readTime(tbs[i + 2], 'CRL thisUpdate');
  i += 3;
  let nextUpdate: Date | undefined;
  if (tbs[i]?.type === Type.UTCTIME || tbs[i]?.type === Type.GENERALIZEDTIME) nextUpdate = readTime(tbs[i++], 'CRL nextUpdate');
  const revoked = new Map<string, Date>();
  if (tbs[i]?.type === Type.SEQUENCE && !isContext(tbs[i], 0)) {
    for (const entry of children(tbs[i], 'revokedCertificates')) {
      const [serial, date] = children(entry, 'CRL entry');
      revoked.set(readSerial(serial, 'revoked serial'), readTime(date, 'revocationDate'));
    }
  }
  return {
    issuer: toDer(issuer),
    thisUpdate,
    nextUpdate,
    revoked,
    tbsCertList: toDer(tbsNode!),
    signatureAlgorithm: readOid(children(algorithm, 'CRL signatureAlgorithm')[0], 'CRL signature algorithm'),
    signature: readBitString(signatureBits, 'CRL signature'),
  };
}

/** Every CRL in a PEM text (`-----BEGIN X509 CRL-----` blocks). */
export function parseCrlsPem(pem: string): RevocationList[] {
  return pemBlocks(pem, 'X509 CRL').map(parseCrl);
}

/** Whether `ca`'s key signed this CRL (SHA-256 with RSA, as our CA and the banks' sign). Compare `issuer` separately. */
export function crlSignatureValid(crl: RevocationList, ca: X509Certificate): boolean {
  return crl.signatureAlgorithm === OID.sha256WithRSAEncryption && verify('sha256', crl.tbsCertList, ca.publicKey, crl.signature);
}
