import type { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { binary, certificateNames, children, fromDer, isContext, isDerSetOrder, OID, signedDataFields, toDer, toForgeCertificate, type Asn1 } from './asn1.ts';
import { asForgeKey, type SealSigner } from './signers.ts';

/** What sealing needs: the seal certificate, the CA certificates between it and a root, and its key. */
export interface Seal {
  certificate: X509Certificate;
  /** Intermediate CA certificates to embed (not the root: verifiers bring their own trust anchors). */
  chain: X509Certificate[];
  signer: SealSigner;
}

/**
 * Seals a document: a detached CMS SignedData (RFC 5652) with SHA-256 and RSA, signed attributes
 * contentType, signingTime and messageDigest, the seal and chain certificates embedded.
 * Returns the DER `.p7s`; pure apart from the signer.
 */
export function sealDocument(content: Buffer, seal: Seal, signingTime: Date = new Date()): Buffer {
  const certificate = toForgeCertificate(seal.certificate);
  const signedData = forge.pkcs7.createSignedData();
  // A binary ByteBuffer: a string would be UTF-8 encoded by forge, changing the digested bytes.
  signedData.content = forge.util.createBuffer(binary(content));
  signedData.addCertificate(certificate);
  for (const ca of seal.chain) signedData.addCertificate(toForgeCertificate(ca));
  signedData.addSigner({
    key: asForgeKey(seal.signer),
    certificate,
    digestAlgorithm: OID.sha256, // forge's default is SHA-1
    // forge encodes the attributes in the order given; with SHA-256 this order is the DER order
    // (the encodings differ first in their length byte: 0x18 < 0x1c/0x1e < 0x2f). Checked below.
    authenticatedAttributes: [
      { type: OID.contentType, value: OID.data },
      { type: OID.signingTime, value: signingTime.toISOString() },
      { type: OID.messageDigest }, // forge fills in the content digest
    ],
  });
  signedData.sign({ detached: true });

  const contentInfo = signedData.toAsn1();
  const signerInfo = onlySignerInfo(contentInfo);
  const attributes = children(signerInfo[3], 'signed attributes');
  if (!isDerSetOrder(attributes.map(toDer))) throw new Error('signed attributes are not in DER order');
  // forge rebuilds the issuer Name from parsed attributes, which can differ from the certificate's
  // own bytes (multi-valued RDNs, string types); CMS finds the certificate by the exact bytes.
  // The signature covers only the signed attributes, so replacing it afterwards is safe.
  children(signerInfo[1], 'issuerAndSerialNumber')[0] = fromDer(certificateNames(seal.certificate).issuer);
  return toDer(contentInfo);
}

/** SignerInfo fields of the one signer: [version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature]. */
function onlySignerInfo(contentInfo: Asn1): Asn1[] {
  const signerInfo = children(children(signedDataFields(contentInfo).at(-1), 'signerInfos')[0], 'SignerInfo');
  if (!isContext(signerInfo[3], 0)) throw new Error('forge wrote no signed attributes');
  return signerInfo;
}
