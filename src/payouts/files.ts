import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { writePain001, type Pain001Batch } from '../banks/iso20022/pain001.ts';
import type { Programme } from '../benefits/rules/ruleSet.ts';
import { CONDOLENCE_REASON_NAMES, type CondolenceReason } from '../condolences/model.ts';
import { inTransaction } from '../db/pool.ts';
import { conflict } from '../kernel/errors.ts';
import { chinaDateTime } from '../kernel/time.ts';
import type { Db, Queryable } from '../kernel/transaction.ts';
import { decrypt, encrypt, maskBankCard, type PersonalDataKeys } from '../privacy/personalData.ts';
import type { BatchRow, StoredBatchFile } from './model.ts';
import { batchFiles, nextClearBatchFile, replaceClearBatchFile } from './store/batches.ts';

/**
 * A payout batch's file: the pain.001 as the bank receives it (one payment information from the
 * union's paying account, one credit transfer per payout attempt), where it is written, how it is
 * kept (encrypted in the row: it names every creditor's card in clear), masked for readers and
 * revealed, audited, to FINANCE.
 */

export interface BatchForFile {
  msgId: string;
  pmtInfId: string;
  requestedExecutionDate: string;
  debtor: { name: string; account: string; agent: string };
  /** The union as initiating party (name, and its Unified Social Credit Code when known). */
  initiatingParty: { name: string; id?: string };
  attempts: AttemptForFile[];
}

export interface AttemptForFile {
  endToEndId: string;
  amountFen: number;
  creditorName: string;
  /** The card number in clear: decrypted just for writing the file. */
  creditorAccount: string;
  creditorAgent: string;
  remittanceInfo: string;
}

export function batchDocument(batch: BatchForFile, createdAt: Date): string {
  const document: Pain001Batch = {
    msgId: batch.msgId,
    createdAt: chinaDateTime(createdAt),
    initiatingParty: batch.initiatingParty,
    paymentInfo: {
      pmtInfId: batch.pmtInfId,
      requestedExecutionDate: batch.requestedExecutionDate,
      debtor: batch.debtor,
      // The union bears the charges: the member receives the whole benefit.
      chargeBearer: 'DEBT',
      // One debit per payment, so each payout can be matched on the statement by itself.
      batchBooking: false,
    },
    transactions: batch.attempts.map((a) => ({
      endToEndId: a.endToEndId,
      amountFen: a.amountFen,
      creditor: { name: a.creditorName, account: a.creditorAccount },
      creditorAgent: a.creditorAgent,
      remittanceInfo: a.remittanceInfo,
    })),
  };
  return writePain001(document);
}

const PROGRAMME_NAMES: Record<Programme, string> = {
  INPATIENT: '住院医疗互助',
  CRITICAL: '大病补助',
  MAJOR_DISEASE: '重大疾病补助',
  PROVINCIAL_SUBSIDY: '省总工会大病补助',
};

/** The 附言 the member sees on the credit: the programme(s) and the claim number to ask about. */
export function remittanceInfo(claimId: number, programmes: readonly Programme[]): string {
  return `职工医疗互助 ${programmes.map((p) => PROGRAMME_NAMES[p]).join('+')} 理赔号${claimId}`;
}

/** The 附言 of a condolence payment (慰问金): its reason and the number to ask about. */
export function condolenceRemittanceInfo(condolenceId: number, reason: CondolenceReason): string {
  return `工会慰问金 ${CONDOLENCE_REASON_NAMES[reason]} 慰问号${condolenceId}`;
}

/**
 * The file with each creditor's account masked as everywhere else in the API (`6222 **** **** 0123`):
 * for reading by those who may not see card numbers. Not the bytes the seal covers.
 */
export function maskCreditorAccounts(xml: string): string {
  return xml.replace(/(<CdtrAcct>\s*<Id>\s*<Othr>\s*<Id>)([^<]+)(<\/Id>)/g, (_all, open: string, account: string, close: string) => open + maskBankCard(account) + close);
}

/** The clear pain.001 of a sealed batch, exactly as sealed. */
export function clearBatchFile(keys: PersonalDataKeys, stored: StoredBatchFile): string | null {
  return stored.fileEnc ? decrypt(keys, stored.fileEnc) : stored.fileXml;
}

/** The name of a batch's file (docs/design.md contract); its seal is the same name with `.p7s`. */
export const batchFileName = (msgId: string) => `${msgId}.xml`;

const sha256Of = (content: Buffer | string) => createHash('sha256').update(content).digest();

/**
 * `<MsgId>.xml` and `<MsgId>.xml.p7s` (docs/design.md contract), each written whole or not at all, and
 * readable by the worker's user only: the file holds every creditor's card number in clear.
 * Returns the file's path.
 */
export function writeBatchFiles(outDir: string, msgId: string, content: Buffer, seal: Buffer): string {
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  chmodSync(outDir, 0o700);
  const file = path.join(outDir, batchFileName(msgId));
  for (const [target, data] of [[file, content], [`${file}.p7s`, seal]] as const) {
    // A leftover from a crash may have other permissions: start afresh, created 0600.
    rmSync(`${target}.tmp`, { force: true });
    writeFileSync(`${target}.tmp`, data, { mode: 0o600, flag: 'wx' });
    renameSync(`${target}.tmp`, target);
  }
  return file;
}

/**
 * Removes the files of batches cancelled after sealing: they would wait in PAYOUT_OUT_DIR under a
 * MsgId the bank never receives, card numbers in clear. Called after the cancellation commits (a
 * rollback keeps the batch and needs its files); best effort, as the row keeps the file encrypted:
 * a file that cannot be removed is logged, never an error.
 */
export function removeBatchFiles(outDir: string, msgIds: readonly string[], log: Pick<Logger, 'warn'>): void {
  for (const msgId of msgIds) {
    const file = path.join(outDir, batchFileName(msgId));
    for (const target of [file, `${file}.p7s`]) {
      try {
        rmSync(target, { force: true });
      } catch (error) {
        log.warn({ msgId, file: target, error: (error as Error).message }, 'a cancelled batch\'s sealed file could not be removed from PAYOUT_OUT_DIR');
      }
    }
  }
}

/** The file as the row keeps it (encrypted) and the SHA-256 the seal covers. */
export function fileToKeep(keys: PersonalDataKeys, xml: string, content: Buffer): { fileEnc: Buffer; sha256: Buffer } {
  return { fileEnc: encrypt(keys, xml), sha256: sha256Of(content) };
}

/**
 * Files sealed before migration 0010 were kept in clear (file_xml): each is replaced by its
 * encryption, checked against the sealed hash first. Run when the payout worker starts; returns
 * how many were encrypted.
 */
export async function encryptClearBatchFiles(db: Queryable, keys: PersonalDataKeys): Promise<number> {
  let encrypted = 0;
  // One file at a time: a batch file can be megabytes.
  for (let after = 0; ; encrypted += 1) {
    const row = await nextClearBatchFile(db, after);
    if (!row) return encrypted;
    if (!sha256Of(Buffer.from(row.xml, 'utf8')).equals(row.sha256)) {
      throw new Error(`payout batch ${row.msgId}: its stored file does not match its sealed hash; it is left in clear for a person to look at`);
    }
    await replaceClearBatchFile(db, row.id, encrypt(keys, row.xml));
    after = row.id;
  }
}

export interface RevealedFile {
  fileName: string;
  /** The file in clear, exactly as sealed. */
  file: string;
  sealBase64: string;
  sha256: string;
}

/**
 * A sealed batch's file in clear, for FINANCE (the resolver checks the role), with the reason
 * audited in the same transaction. What is handed out is what the seal covers, or nothing.
 */
export async function revealBatchFile(
  db: Db, keys: PersonalDataKeys, actor: Actor, batch: Pick<BatchRow, 'id' | 'msgId' | 'status'>, reason: string,
): Promise<RevealedFile> {
  return inTransaction(db, async (tx) => {
    const [stored] = await batchFiles(tx, [batch.id]);
    if (!stored) throw conflict(`batch ${batch.msgId} is ${batch.status}: it has no sealed file`, 'input.batchId');
    const file = clearBatchFile(keys, stored)!;
    if (!sha256Of(Buffer.from(file, 'utf8')).equals(stored.sha256)) {
      throw new Error(`payout batch ${batch.msgId}: its stored file does not match its sealed hash`);
    }
    await recordAudit(tx, actor, {
      action: 'payout.batch.reveal', targetType: 'PayoutBatch', targetId: batch.msgId, reason,
      details: { batchId: batch.id, sha256: stored.sha256.toString('hex') },
    });
    return { fileName: batchFileName(batch.msgId), file, sealBase64: stored.seal.toString('base64'), sha256: stored.sha256.toString('hex') };
  });
}
