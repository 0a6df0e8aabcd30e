import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Application-level protection of ID numbers and bank card numbers (docs/design.md, Rules of the house: personal data):
 * AES-256-GCM at rest (12-byte random IV || ciphertext || 16-byte tag, one version byte first),
 * and an HMAC-SHA256 keyed hash for exact lookup without decrypting.
 */
const VERSION = 1;

export interface PersonalDataKeys {
  encryptionKey: Buffer;
  hashKey: Buffer;
}

export function personalDataKeys(piiKeyBase64: string, hashKeyBase64?: string): PersonalDataKeys {
  const encryptionKey = Buffer.from(piiKeyBase64, 'base64');
  if (encryptionKey.length !== 32) throw new Error('PII_KEY must be 32 bytes');
  // A separate lookup key limits what one leaked key reveals; derived when not configured.
  const hashKey = hashKeyBase64
    ? Buffer.from(hashKeyBase64, 'base64')
    : Buffer.from(hkdfSync('sha256', encryptionKey, Buffer.alloc(0), 'mutual-aid-hub lookup hash', 32));
  return { encryptionKey, hashKey };
}

// IVs come from a pool of CSPRNG bytes refilled in blocks: one randomBytes call per 4,096 IVs
// instead of one per value (bulk imports encrypt two values per row).
const IV_POOL_SIZE = 12 * 4096;
let ivPool = Buffer.alloc(0);
let ivOffset = IV_POOL_SIZE;

function nextIv(): Buffer {
  if (ivOffset >= ivPool.length) {
    ivPool = randomBytes(IV_POOL_SIZE);
    ivOffset = 0;
  }
  ivOffset += 12;
  return ivPool.subarray(ivOffset - 12, ivOffset);
}

export function encrypt(keys: PersonalDataKeys, plain: string): Buffer {
  return encryptBytes(keys, Buffer.from(plain, 'utf8'));
}

export function decrypt(keys: PersonalDataKeys, sealed: Buffer): string {
  return decryptBytes(keys, sealed).toString('utf8');
}

/** `encrypt` for bytes (a member's documents): the same envelope. */
export function encryptBytes(keys: PersonalDataKeys, plain: Buffer): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', keys.encryptionKey, iv);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]);
}

export function decryptBytes(keys: PersonalDataKeys, sealed: Buffer): Buffer {
  if (sealed[0] !== VERSION) throw new Error(`unknown personal-data envelope version ${sealed[0]}`);
  const iv = sealed.subarray(1, 13);
  const tag = sealed.subarray(sealed.length - 16);
  const decipher = createDecipheriv('aes-256-gcm', keys.encryptionKey, iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(13, sealed.length - 16)), decipher.final()]);
}

/** Keyed hash for exact lookup; the value is normalised first so `x` and `X` check digits agree. */
export function lookupHash(keys: PersonalDataKeys, value: string): Buffer {
  return createHmac('sha256', keys.hashKey).update(value.trim().toUpperCase()).digest();
}

/** A bank card's keyed hash, as a member's card is kept and a statement's payee account compared with it (spaces dropped). */
export function bankCardHash(keys: PersonalDataKeys, card: string): Buffer {
  return lookupHash(keys, card.replace(/\s+/g, ''));
}

/** `350521199001011234` -> `3505**********1234` (first 4, last 4 shown). */
export function maskIdNumber(idNumber: string): string {
  return idNumber.slice(0, 4) + '*'.repeat(Math.max(0, idNumber.length - 8)) + idNumber.slice(-4);
}

// Masked as a card is everywhere, the matcher's evidence and a payment's stored mask included.
export { maskBankCard } from '../kernel/identifiers.ts';
