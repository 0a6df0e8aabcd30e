import { constants, privateEncrypt, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/**
 * The private-key operation of a seal, kept behind one method so the key can live anywhere.
 *
 * `signDigest` receives the SHA-256 digest (32 bytes) of the DER signed attributes and returns
 * the RSASSA-PKCS1-v1_5 signature (as long as the key's modulus). Implementations:
 * - `nativeSigner`: a node:crypto key (the default; OpenSSL speed).
 * - `forgeSigner`: node-forge's pure-JS RSA, kept for comparison and benchmarks.
 * - an HSM through PKCS#11: `C_SignInit` with `CKM_RSA_PKCS` on the seal key's handle, then
 *   `C_Sign(sha256DigestInfo(digest))` (the token adds the PKCS#1 padding, the key never leaves it).
 *   A cloud KMS that signs digests (RSASSA_PKCS1_V1_5_SHA_256, message type DIGEST) fits the same way.
 * The call is synchronous, as sealDocument is; sealDocument builds the signed attributes first and
 * asks for the signature last, so a network signer needs only an asynchronous variant of it.
 */
export interface SealSigner {
  signDigest(sha256: Buffer): Buffer;
}

// DER of DigestInfo { AlgorithmIdentifier { sha256, NULL }, OCTET STRING (32 bytes) } up to the digest.
const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** The DigestInfo that PKCS#1 v1.5 signs (RFC 8017 9.2); what a raw `CKM_RSA_PKCS` token is given. */
export function sha256DigestInfo(digest: Buffer): Buffer {
  if (digest.length !== 32) throw new Error(`a SHA-256 digest has 32 bytes, not ${digest.length}`);
  return Buffer.concat([SHA256_DIGEST_INFO_PREFIX, digest]);
}

/** Signs with node:crypto: private-key "encryption" with PKCS#1 type-1 padding is exactly the v1.5 signature of a DigestInfo. */
export function nativeSigner(key: KeyObject): SealSigner {
  requireRsaPrivateKey(key);
  return {
    signDigest: (digest) => privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sha256DigestInfo(digest)),
  };
}

/** Signs with node-forge's JavaScript RSA (about 20x slower than `nativeSigner`, same bytes). */
export function forgeSigner(key: KeyObject): SealSigner {
  requireRsaPrivateKey(key);
  const forgeKey = toForgePrivateKey(key);
  return {
    // Scheme 'NONE': forge pads (block type 1) what it is given, here the DigestInfo.
    signDigest: (digest) => Buffer.from(forgeKey.sign(sha256DigestInfo(digest).toString('binary'), 'NONE'), 'binary'),
  };
}

/**
 * node-forge signs (certificates, its own CMS signer infos) through `key.sign(md)` with the SHA-256
 * state of what is signed, and uses nothing else of the key; this routes that call to a SealSigner.
 */
export function asForgeKey(signer: SealSigner): forge.pki.rsa.PrivateKey {
  const key = {
    sign(md: forge.md.MessageDigest): string {
      if (md.algorithm !== 'sha256') throw new Error(`forge asked to sign a ${md.algorithm} digest; SHA-256 expected`);
      return signer.signDigest(Buffer.from(md.digest().getBytes(), 'binary')).toString('binary');
    },
  };
  return key as unknown as forge.pki.rsa.PrivateKey;
}

export function toForgePrivateKey(key: KeyObject): forge.pki.rsa.PrivateKey {
  return forge.pki.privateKeyFromPem(key.export({ type: 'pkcs1', format: 'pem' }).toString());
}

function requireRsaPrivateKey(key: KeyObject): void {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') {
    throw new Error(`a seal key must be an RSA private key, not ${key.type} ${key.asymmetricKeyType ?? ''}`.trim());
  }
}
