import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { fromDer, pemBlocks } from './asn1.ts';
import type { Seal } from './seal.ts';
import { nativeSigner, type SealSigner } from './signers.ts';

/** A seal's key material that cannot be used: wrong passphrase, no key, key and certificate apart. */
export class SealKeyError extends Error {}

/**
 * Opens a seal delivered as PKCS#12 (what CAs hand out and HSM-less deployments keep): the one
 * private key, the certificate for that key, and the other CA certificates as the chain to embed.
 * `signerFor` chooses how the key signs (node:crypto unless told otherwise).
 */
export function sealFromPkcs12(p12: Buffer, passphrase: string, signerFor: (key: KeyObject) => SealSigner = nativeSigner): Seal {
  let pfx: forge.pkcs12.Pkcs12Pfx;
  try {
    pfx = forge.pkcs12.pkcs12FromAsn1(fromDer(p12), false, passphrase);
  } catch (error) {
    throw new SealKeyError(`cannot open the PKCS#12 (wrong passphrase?): ${(error as Error).message}`);
  }
  const bagsOf = (bagType: string) => pfx.getBags({ bagType })[bagType] ?? [];
  const keys = [...bagsOf(forge.pki.oids.pkcs8ShroudedKeyBag!), ...bagsOf(forge.pki.oids.keyBag!)];
  if (keys.length !== 1) throw new SealKeyError(`the PKCS#12 must hold one private key, it holds ${keys.length}`);
  if (!keys[0]!.key) throw new SealKeyError('the PKCS#12 key is not an RSA key');
  const key = createPrivateKey(forge.pki.privateKeyToPem(keys[0]!.key));
  const certificates = bagsOf(forge.pki.oids.certBag!).flatMap((bag) => (bag.cert ? [new X509Certificate(forge.pki.certificateToPem(bag.cert))] : []));
  return sealFromParts(key, certificates, signerFor);
}

/** A seal from PEM files: the certificate (optionally followed by its CA chain) and the private key. */
export function sealFromPem(certificatesPem: string, keyPem: string, signerFor: (key: KeyObject) => SealSigner = nativeSigner): Seal {
  return sealFromParts(createPrivateKey(keyPem), certificatesFromPem(certificatesPem), signerFor);
}

function sealFromParts(key: KeyObject, certificates: X509Certificate[], signerFor: (key: KeyObject) => SealSigner): Seal {
  const certificate = certificates.find((c) => c.checkPrivateKey(key));
  if (!certificate) throw new SealKeyError('no certificate matches the seal private key');
  // Roots are the verifier's trust anchors; embedding them would add bytes and no trust.
  const chain = certificates.filter((c) => c !== certificate && !isSelfSigned(c));
  return { certificate, chain, signer: signerFor(key) };
}

function isSelfSigned(certificate: X509Certificate): boolean {
  return certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey);
}

export function certificatesFromPem(pem: string): X509Certificate[] {
  return pemBlocks(pem, 'CERTIFICATE').map((der) => new X509Certificate(der));
}
