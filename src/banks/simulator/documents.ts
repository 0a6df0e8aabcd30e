import { signedFen, type CamtEntry } from '../iso20022/camtEntry.ts';
import type { AccountStatement, Camt053Message, CamtAccount } from '../iso20022/camt.ts';
import type { GroupStatus, Pain002Report, Pain002TransactionStatus } from '../iso20022/pain002.ts';
import type { Booking, CustomerAccount, LedgerCredit } from './books.ts';
import type { Pain001Payments } from './pain001Reader.ts';

/**
 * The documents the simulated bank writes, as plain values for the ISO 20022 writers: pain.002
 * status reports, statement entries (payout debits, returns, incoming credits) and camt.053
 * statements. Pure: times, references and balances come in as arguments.
 */

const PAYOUT_CODE = { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'DMCT' } };
const RETURN_CODE = { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'RRTN' } };
const INCOMING_CODE = { domain: { code: 'PMNT', family: 'RCDT', subFamily: 'DMCT' } };

/** One transaction's outcome: credited (with the booking reference) or rejected with a reason. */
export type TransferOutcome =
  | { endToEndId: string; instructionId?: string; credited: true; bankReference: string }
  | { endToEndId: string; instructionId?: string; credited: false; reasonCode: string; additionalInfo: string };

interface ReportHeader {
  msgId: string;
  createdAt: string;
  file: Pain001Payments;
}

/** The final report: per transaction ACSC (credited) or RJCT with its reason; the group and each PmtInf ACSC, PART or RJCT. */
export function finalReport({ msgId, createdAt, file }: ReportHeader, outcomes: Map<string, TransferOutcome>): Pain002Report {
  const paymentInfoStatuses = file.paymentInfos.map((info) => {
    const transactions = info.transactions.map((tx): Pain002TransactionStatus => {
      const outcome = outcomes.get(tx.endToEndId)!;
      const ids = { originalEndToEndId: tx.endToEndId, ...(tx.instructionId === undefined ? {} : { originalInstructionId: tx.instructionId }) };
      return outcome.credited
        ? { ...ids, status: 'ACSC', acceptedAt: createdAt, accountServicerRef: outcome.bankReference }
        : { ...ids, status: 'RJCT', reasonCode: outcome.reasonCode, additionalInfo: outcome.additionalInfo };
    });
    return { originalPmtInfId: info.pmtInfId, status: summaryStatus(transactions), transactions };
  });
  return {
    ...originalGroup(msgId, createdAt, file),
    groupStatus: summaryStatus(paymentInfoStatuses.flatMap((info) => info.transactions)),
    paymentInfoStatuses,
  };
}

/** What the bank says on receipt, before processing: accepted for processing, every transaction pending. */
export function interimReport({ msgId, createdAt, file }: ReportHeader): Pain002Report {
  return {
    ...originalGroup(msgId, createdAt, file),
    groupStatus: 'ACTC',
    paymentInfoStatuses: file.paymentInfos.map((info) => ({
      originalPmtInfId: info.pmtInfId,
      status: 'ACTC',
      transactions: info.transactions.map((tx) => ({ originalEndToEndId: tx.endToEndId, status: 'PDNG' as const })),
    })),
  };
}

/** A file refused whole (its counts or sums do not add up): group RJCT with the reason, nothing per transaction. */
export function rejectedFileReport(msgId: string, createdAt: string, originalMsgId: string, reasonCode: string, additionalInfo: string): Pain002Report {
  return {
    msgId, createdAt, originalMsgId, originalMsgNameId: 'pain.001.001.03',
    groupStatus: 'RJCT', groupReason: { reasonCode, additionalInfo }, paymentInfoStatuses: [],
  };
}

function originalGroup(msgId: string, createdAt: string, file: Pain001Payments) {
  return {
    msgId, createdAt,
    originalMsgId: file.msgId, originalMsgNameId: 'pain.001.001.03', originalCreatedAt: file.createdAt,
    originalNbOfTxs: file.nbOfTxs, originalCtrlSumFen: file.ctrlSumFen,
  };
}

function summaryStatus(items: { status?: string }[]): GroupStatus {
  const rejected = items.filter((item) => item.status === 'RJCT').length;
  if (rejected === 0) return 'ACSC';
  return rejected === items.length ? 'RJCT' : 'PART';
}

// ---------------------------------------------------------------- statement entries

/** The debit of one credited payout on our account: one entry per payout, with its references. */
export function payoutEntry(credit: LedgerCredit, date: string): CamtEntry {
  return {
    amountFen: credit.amountFen,
    creditDebit: 'DBIT',
    status: 'BOOK',
    bookingDate: date,
    valueDate: date,
    accountServicerRef: credit.bankReference,
    bankTransactionCode: PAYOUT_CODE,
    details: [{ ...payoutReferences(credit), accountServicerRef: credit.bankReference, remittanceInfo: credit.remittanceInfo }],
  };
}

/** A payout sent back by the payee's bank (退票): a credit on our account with the return reason. */
export function returnEntry(credit: LedgerCredit, returned: NonNullable<LedgerCredit['returned']>, date: string): CamtEntry {
  return {
    amountFen: credit.amountFen,
    creditDebit: 'CRDT',
    reversal: false,
    status: 'BOOK',
    bookingDate: date,
    valueDate: date,
    accountServicerRef: returned.bankReference,
    bankTransactionCode: RETURN_CODE,
    details: [{
      ...payoutReferences(credit),
      accountServicerRef: returned.bankReference,
      remittanceInfo: credit.remittanceInfo,
      returnInfo: { reasonCode: returned.reasonCode, ...(returned.additionalInfo === undefined ? {} : { additionalInfo: returned.additionalInfo }) },
    }],
    additionalInfo: '退票',
  };
}

function payoutReferences(credit: LedgerCredit) {
  return {
    msgId: credit.msgId,
    pmtInfId: credit.pmtInfId,
    ...(credit.instructionId === undefined ? {} : { instructionId: credit.instructionId }),
    endToEndId: credit.endToEndId,
    creditor: { name: credit.creditorName, account: credit.account, ...(credit.creditorAgent === undefined ? {} : { agent: credit.creditorAgent }) },
  };
}

export interface IncomingCredit {
  payerName: string;
  payerAccount: string;
  payerAgent?: string;
  amountFen: number;
  /** What the payer wrote (附言): for a unit's contribution, the reference the unit was told to use. */
  reference: string;
}

/** Money arriving on our account from someone else (a unit paying its contributions). */
export function incomingEntry(credit: IncomingCredit, bankReference: string, date: string): CamtEntry {
  return {
    amountFen: credit.amountFen,
    creditDebit: 'CRDT',
    status: 'BOOK',
    bookingDate: date,
    valueDate: date,
    accountServicerRef: bankReference,
    bankTransactionCode: INCOMING_CODE,
    details: [{
      accountServicerRef: bankReference,
      debtor: { name: credit.payerName, account: credit.payerAccount, ...(credit.payerAgent === undefined ? {} : { agent: credit.payerAgent }) },
      remittanceInfo: [credit.reference],
    }],
  };
}

// ---------------------------------------------------------------- statements

export function camtAccount(account: CustomerAccount): CamtAccount {
  return {
    id: account.id,
    currency: 'CNY',
    ...(account.ownerName === undefined ? {} : { ownerName: account.ownerName }),
    ...(account.servicer === undefined ? {} : { servicer: account.servicer }),
  };
}

/**
 * The day's statement of one account: opening booked balance (the initial balance plus every
 * earlier booking), the day's entries in booking order, closing booked and available balances.
 */
export function dailyStatement(
  header: { msgId: string; createdAt: string; statementId: string; open: boolean },
  account: CustomerAccount,
  date: string,
  bookings: Booking[],
): Camt053Message {
  const mine = bookings.filter((b) => b.account === account.id);
  const before = mine.filter((b) => b.date < date).reduce((sum, b) => sum + signedFen(b.entry), account.initialFen);
  const entries = mine.filter((b) => b.date === date).map((b) => b.entry);
  const after = entries.reduce((sum, e) => sum + signedFen(e), before);
  const balance = (type: string, fen: number) => ({ type, amountFen: Math.abs(fen), creditDebit: fen < 0 ? 'DBIT' as const : 'CRDT' as const, date });
  const statement: AccountStatement = {
    id: header.statementId,
    createdAt: header.createdAt,
    fromToDate: { from: `${date}T00:00:00+08:00`, to: `${date}T23:59:59+08:00` },
    account: camtAccount(account),
    balances: [balance('OPBD', before), balance('CLBD', after), balance('CLAV', after)],
    entries,
    ...(header.open ? { additionalInfo: 'The day is not over: later bookings of this day are not included yet.' } : {}),
  };
  return { msgId: header.msgId, createdAt: header.createdAt, pagination: { page: 1, last: true }, statements: [statement] };
}
