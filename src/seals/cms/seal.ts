import { createHash, type X509Certificate } from 'node:crypto';
import { algorithmNode, binary, Class, derSorted, fromDer, integerNode, issuerAndSerialNumber, node, OID, oidNode, sequence, timeNode, toDer, Type, type Asn1 } from './asn1.ts';
import type { SealSigner } from './signers.ts';

/** What sealing needs: the seal certificate, the CA certificates between it and a root, and its key. */
export interface Seal {
  certificate: X509Certificate;
  /** Intermediate CA certificates to embed (not the root: verifiers bring their own trust anchors). */
  chain: X509Certificate[];
  signer: SealSigner;
}

/**
 * Seals a document: a detached CMS SignedData (RFC 5652) with SHA-256 and RSA, signed attributes
 * contentType, signingTime and messageDigest, the seal and chain certificates embedded as their
 * own bytes. Returns the DER `.p7s`; pure apart from the signer.
 *
 * The content is digested by node:crypto straight from the Buffer: node-forge's pkcs7 would copy
 * it into a binary string and hash it in JavaScript, which for a batch file of megabytes takes
 * tens of times longer than the whole native seal. node-forge only encodes the small structure
 * around the digest.
 */
export function sealDocument(content: Buffer, seal: Seal, signingTime: Date = new Date()): Buffer {
  const attributes = derSorted([
    attribute(OID.contentType, oidNode(OID.data)),
    attribute(OID.signingTime, timeNode(signingTime)),
    attribute(OID.messageDigest, node(Class.UNIVERSAL, Type.OCTETSTRING, binary(sha256(content)))),
  ]);
  // The signature covers the attributes as a SET OF (RFC 5652 5.4); the SignerInfo holds them [0] IMPLICIT.
  const signature = seal.signer.signDigest(sha256(toDer(node(Class.UNIVERSAL, Type.SET, attributes))));
  const signerInfo = sequence([
    version(1),
    issuerAndSerialNumber(seal.certificate),
    algorithmNode(OID.sha256),
    node(Class.CONTEXT_SPECIFIC, 0, attributes),
    algorithmNode(OID.rsaEncryption),
    node(Class.UNIVERSAL, Type.OCTETSTRING, binary(signature)),
  ]);
  const signedData = sequence([
    version(1),
    node(Class.UNIVERSAL, Type.SET, [algorithmNode(OID.sha256)]),
    sequence([oidNode(OID.data)]), // encapContentInfo without eContent: detached
    node(Class.CONTEXT_SPECIFIC, 0, [seal.certificate, ...seal.chain].map((certificate) => fromDer(certificate.raw))),
    node(Class.UNIVERSAL, Type.SET, [signerInfo]),
  ]);
  return toDer(sequence([oidNode(OID.signedData), node(Class.CONTEXT_SPECIFIC, 0, [signedData])]));
}

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** Attribute ::= SEQUENCE { attrType OID, attrValues SET OF value }, with one value. */
function attribute(type: string, value: Asn1): Asn1 {
  return sequence([oidNode(type), node(Class.UNIVERSAL, Type.SET, [value])]);
}

function version(number: number): Asn1 {
  return integerNode(Buffer.from([number]));
}
