import type { X509Certificate } from 'node:crypto';
import type { Camt053Message, Camt054Message } from './iso20022/camt.ts';
import type { Pain002Parsed } from './iso20022/pain002.ts';
import { subjectLine } from '../seals/cms/asn1.ts';
import { verifySeal, type Trust } from '../seals/cms/verify.ts';

/**
 * One interface to a bank's host-to-host channel (银企直连), whatever carries it: the HTTP adapter
 * (httpAdapter.ts) speaks to the bank simulator and to a real bank's front end alike.
 *
 * Exactly-once rules for callers (docs/design.md, Rules of the house):
 * - Store the MsgId and every EndToEndId before `submitBatch`.
 * - `submitBatch` resolving `{ accepted: false }` is the bank's sealed evidence that it refused the
 *   file (nothing of it will be paid): only then may a new attempt be made.
 * - Anything it throws (`BankError`: timeout, reset connection, a server error, an answer whose seal
 *   does not verify) means the outcome is UNKNOWN: mark the attempt so and ask `paymentStatus(msgId)`
 *   later. `null` there means the bank never received the file: submit the same file again (the
 *   bank is idempotent per MsgId); a report means it did, and says per EndToEndId what happened.
 * - Status reports may come twice and out of order (`statusReports`): apply them idempotently and
 *   never move a transaction back from a final status (ACSC, RJCT) to an interim one.
 *
 * Every answer is sealed by the bank (detached CMS, like our files); adapters verify the seal
 * against the trust anchors and that the signer is the configured bank certificate, and check that
 * the answer is about what was asked (a genuine answer replayed for another request is refused).
 */
export interface BankAdapter {
  /** Hands a sealed pain.001 to the bank; resolves with its acknowledgement of receipt. */
  submitBatch(submission: BatchSubmission): Promise<BatchAcknowledgement>;
  /** The bank's latest pain.002 for the file with this MsgId, or null when the bank never received it. Safe to repeat. */
  paymentStatus(msgId: string): Promise<BankDocument<Pain002Parsed> | null>;
  /** Every pain.002 the bank issued after `since` (null: from the start), in the bank's order, with the cursor to continue from. */
  statusReports(since: string | null): Promise<BankDocumentPage<Pain002Parsed>>;
  /** The camt.053 statement of one of our accounts for a day (yyyy-MM-dd), or null when the bank has none. */
  statement(accountId: string, date: string): Promise<BankDocument<Camt053Message> | null>;
  /** camt.054 debit/credit notifications issued after `since` (null: from the start), with the cursor to continue from. */
  notifications(since: string | null): Promise<BankDocumentPage<Camt054Message>>;
}

export interface BatchSubmission {
  /** The file's GrpHdr/MsgId (checked by the bank against the file). */
  msgId: string;
  /** The pain.001.001.03 exactly as sealed (UTF-8). */
  xml: string;
  /** Its detached CMS seal, DER (`.p7s`). */
  seal: Buffer;
}

export interface BatchAcknowledgement {
  /** True: the bank took the file (per-payment results in its pain.002). False: it refused the whole file. */
  accepted: boolean;
  msgId: string;
  /** The bank's reference for the file, when accepted. */
  bankReference?: string;
  receivedAt?: string;
  /**
   * Why the file was refused: an ISO code where one fits (DS0A unsealed, DS0B seal refused, FF01
   * unreadable, AM18 NbOfTxs, AM10 CtrlSum) ... DU01: the bank already has another file under this
   * MsgId; that earlier file stands (ask `paymentStatus`), only this copy is refused: no payment of
   * it failed by this answer (the batch is UNKNOWN until the status says).
   */
  code?: string;
  /** ... and the bank's words. */
  reason?: string;
}

/** A document from the bank with the seal it came with (keep both: they are the evidence). */
export interface BankDocument<T> {
  xml: string;
  seal: Buffer;
  parsed: T;
  /** Subject of the bank certificate that sealed it, and when. */
  sealedBy: string;
  sealedAt: Date;
}

export interface BankDocumentPage<T> {
  documents: BankDocument<T>[];
  /**
   * Documents of the page whose seal is refused (not the bank's, or signed longer ago than the
   * signing window): never read as the bank's word, and set aside rather than failing the page, so
   * that one of them does not stop every later document of the feed.
   */
  refused: RefusedDocument[];
  /** Pass as `since` next time; the same cursor when nothing was new. */
  nextCursor: string;
}

/** A listed document whose seal did not verify as the bank's, with why. */
export interface RefusedDocument {
  /** Its place in the page, from 1. */
  position: number;
  xml: string;
  seal: Buffer;
  reason: string;
}

/** The bank gave no answer that can be acted on: the outcome of the request is unknown. */
export class BankError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * No answer in time: a timeout, a refused or reset connection, a server error (5xx). The bank may
 * have acted on the request (a submitted file may be accepted and paid): the attempt is UNKNOWN.
 */
export class BankTimeoutError extends BankError {}

/** An answer that is not provably the bank's: missing or invalid seal, or sealed by another certificate. */
export class BankSealError extends BankError {}

/** A sealed answer that is not what was asked or cannot be read (a replayed answer, a broken document). */
export class BankProtocolError extends BankError {}

/** Whom to believe: the CAs and CRLs (SEAL_TRUST_ANCHORS, SEAL_CRLS) and the sealer's own certificates. */
export interface SealedBy {
  trust: Trust;
  /** Accepted signer certificates (several while a certificate is being replaced). */
  certificates: X509Certificate[];
}

export type SealCheck = { valid: true; signer: string; signingTime: Date } | { valid: false; reason: string };

/**
 * Verifies a detached seal over `content` and that its signer is one of `expected.certificates`:
 * a valid seal from another holder of a certificate of the same CA is not the bank's (or not our
 * customer's) seal. Used by the adapter on the bank's answers and by the simulator on our files.
 */
export function checkSealedBy(content: Buffer, seal: Buffer | undefined, expected: SealedBy): SealCheck {
  if (!seal || seal.length === 0) return { valid: false, reason: 'no seal' };
  const result = verifySeal(content, seal, expected.trust);
  if (!result.valid) return result;
  if (!expected.certificates.some((c) => c.raw.equals(result.certificate.raw))) {
    const names = expected.certificates.map(subjectLine).join('; ') || 'none configured';
    return { valid: false, reason: `sealed by "${result.signer}", not by the expected certificate (${names})` };
  }
  return { valid: true, signer: result.signer, signingTime: result.signingTime };
}

/** The HTTP header carrying a detached seal (base64 DER) over the body, in requests and answers. */
export const SEAL_HEADER = 'x-seal';
