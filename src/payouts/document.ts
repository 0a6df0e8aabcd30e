import { writePain001, type Pain001Batch } from '../banks/iso20022/pain001.ts';
import type { Programme } from '../benefits/rules/ruleSet.ts';
import { decrypt, maskBankCard, type PersonalDataKeys } from '../privacy/personalData.ts';
import { chinaDateTime } from '../kernel/time.ts';

/**
 * A payout batch as the bank receives it (pure): one pain.001.001.03 with one payment
 * information from the union's paying account, one credit transfer per payout attempt.
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
};

/** The 附言 the member sees on the credit: the programme(s) and the claim number to ask about. */
export function remittanceInfo(claimId: number, programmes: readonly Programme[]): string {
  return `职工医疗互助 ${programmes.map((p) => PROGRAMME_NAMES[p]).join('+')} 理赔号${claimId}`;
}

/**
 * The file with each creditor's account masked as everywhere else in the API (`6222 **** **** 0123`):
 * for reading by those who may not see card numbers. Not the bytes the seal covers.
 */
export function maskCreditorAccounts(xml: string): string {
  return xml.replace(/(<CdtrAcct>\s*<Id>\s*<Othr>\s*<Id>)([^<]+)(<\/Id>)/g, (_all, open: string, account: string, close: string) => open + maskBankCard(account) + close);
}

/** A sealed batch's file as stored: encrypted (file_enc), or in clear when sealed before migration 0010 (file_xml). */
export interface StoredBatchFile {
  fileEnc: Buffer | null;
  fileXml: string | null;
}

/** The clear pain.001 of a sealed batch, exactly as sealed. */
export function clearBatchFile(keys: PersonalDataKeys, stored: StoredBatchFile): string | null {
  return stored.fileEnc ? decrypt(keys, stored.fileEnc) : stored.fileXml;
}
