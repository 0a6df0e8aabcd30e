import {
  accountIdTree, amountTree, cnapsAgentTree, dateChoiceTree, readAccountId, readAgent, readReason, reasonTree,
  type StatusReason,
} from './components.ts';
import { dateProblem, dateTimeProblem, type FieldChecks } from './fields.ts';
import { optional, type XmlElement, type XmlTree } from './xml.ts';

/**
 * The entry (`Ntry`, ReportEntry2) of camt.053 statements and camt.054 notifications: one booking
 * on the account, with the transactions it carries (a batch booking carries many).
 */

export const CREDIT_DEBIT = ['CRDT', 'DBIT'] as const;
export const ENTRY_STATUSES = ['BOOK', 'PDNG', 'INFO'] as const;
export type CreditDebit = (typeof CREDIT_DEBIT)[number];
export type EntryStatus = (typeof ENTRY_STATUSES)[number];

/** ISO bank transaction code (e.g. PMNT/ICDT/DMCT a payout, PMNT/ICDT/RRTN its return) and/or the bank's own. */
export interface BankTransactionCode {
  domain?: { code: string; family: string; subFamily: string };
  proprietary?: { code: string; issuer?: string };
}

/** A party of the transaction as the bank reports it; `agent` is its bank's CNAPS code (or BIC). */
export interface EntryParty {
  name?: string;
  account?: string;
  agent?: string;
}

export interface EntryDetails {
  msgId?: string;
  accountServicerRef?: string;
  pmtInfId?: string;
  instructionId?: string;
  endToEndId?: string;
  txId?: string;
  /** This transaction's amount, where the entry books several (`AmtDtls/TxAmt`). */
  amountFen?: number;
  debtor?: EntryParty;
  creditor?: EntryParty;
  /** `RmtInf/Ustrd` lines (附言). */
  remittanceInfo: string[];
  /** Why a payout came back (退票): e.g. AC04 closed account. */
  returnInfo?: StatusReason;
  additionalInfo?: string;
}

export interface EntryBatch {
  msgId?: string;
  pmtInfId?: string;
  nbOfTxs?: number;
  totalFen?: number;
  creditDebit?: CreditDebit;
}

export interface CamtEntry {
  entryRef?: string;
  /** Always positive; the direction is `creditDebit`. */
  amountFen: number;
  creditDebit: CreditDebit;
  /** True when this entry reverses an earlier one. */
  reversal?: boolean;
  status: EntryStatus;
  /** yyyy-MM-dd, or a date and time when the bank gives one. */
  bookingDate?: string;
  valueDate?: string;
  accountServicerRef?: string;
  bankTransactionCode: BankTransactionCode;
  batch?: EntryBatch;
  details: EntryDetails[];
  additionalInfo?: string;
}

/** An amount with its direction as a signed number of fen: credits add, debits subtract. */
export function signedFen(amount: { amountFen: number; creditDebit: CreditDebit }): number {
  return amount.creditDebit === 'CRDT' ? amount.amountFen : -amount.amountFen;
}

// ---------------------------------------------------------------- writing

export function entryTree(checks: FieldChecks, at: string, entry: CamtEntry): XmlTree {
  const { batch, details } = entry;
  return {
    NtryRef: checks.optionalText(`${at}.entryRef`, entry.entryRef, 35),
    Amt: amountTree(checks.fen(`${at}.amountFen`, entry.amountFen)),
    CdtDbtInd: checks.oneOf(`${at}.creditDebit`, entry.creditDebit, CREDIT_DEBIT),
    RvslInd: entry.reversal === undefined ? undefined : String(entry.reversal),
    Sts: checks.oneOf(`${at}.status`, entry.status, ENTRY_STATUSES),
    BookgDt: entry.bookingDate === undefined ? undefined : dateChoiceTree(checks.dateOrDateTime(`${at}.bookingDate`, entry.bookingDate)),
    ValDt: entry.valueDate === undefined ? undefined : dateChoiceTree(checks.dateOrDateTime(`${at}.valueDate`, entry.valueDate)),
    AcctSvcrRef: checks.optionalText(`${at}.accountServicerRef`, entry.accountServicerRef, 35),
    BkTxCd: bankTransactionCodeTree(checks, `${at}.bankTransactionCode`, entry.bankTransactionCode),
    NtryDtls: batch === undefined && details.length === 0 ? undefined : {
      Btch: batch && {
        MsgId: checks.optionalText(`${at}.batch.msgId`, batch.msgId, 35),
        PmtInfId: checks.optionalText(`${at}.batch.pmtInfId`, batch.pmtInfId, 35),
        NbOfTxs: batch.nbOfTxs === undefined ? undefined : checks.count(`${at}.batch.nbOfTxs`, batch.nbOfTxs),
        TtlAmt: batch.totalFen === undefined ? undefined : amountTree(checks.fen(`${at}.batch.totalFen`, batch.totalFen)),
        CdtDbtInd: batch.creditDebit === undefined ? undefined : checks.oneOf(`${at}.batch.creditDebit`, batch.creditDebit, CREDIT_DEBIT),
      },
      TxDtls: details.map((tx, i) => detailsTree(checks, `${at}.details[${i}]`, tx)),
    },
    AddtlNtryInf: checks.optionalText(`${at}.additionalInfo`, entry.additionalInfo, 500),
  };
}

function bankTransactionCodeTree(checks: FieldChecks, at: string, code: BankTransactionCode): XmlTree {
  const { domain, proprietary } = code;
  return {
    Domn: domain && {
      Cd: checks.text(`${at}.domain.code`, domain.code, 4),
      Fmly: { Cd: checks.text(`${at}.domain.family`, domain.family, 4), SubFmlyCd: checks.text(`${at}.domain.subFamily`, domain.subFamily, 4) },
    },
    Prtry: proprietary && {
      Cd: checks.text(`${at}.proprietary.code`, proprietary.code, 35),
      Issr: checks.optionalText(`${at}.proprietary.issuer`, proprietary.issuer, 35),
    },
  };
}

function detailsTree(checks: FieldChecks, at: string, tx: EntryDetails): XmlTree {
  const ref = (key: keyof EntryDetails & string, value: string | undefined) => checks.optionalText(`${at}.${key}`, value, 35);
  const party = (key: 'debtor' | 'creditor', which: EntryParty | undefined) => ({
    name: which?.name === undefined ? undefined : { Nm: checks.text(`${at}.${key}.name`, which.name, 140) },
    account: which?.account === undefined ? undefined : { Id: accountIdTree(checks.account(`${at}.${key}.account`, which.account)) },
    agent: which?.agent === undefined ? undefined : cnapsAgentTree(checks.cnaps(`${at}.${key}.agent`, which.agent)),
  });
  const debtor = party('debtor', tx.debtor);
  const creditor = party('creditor', tx.creditor);
  const parties = { Dbtr: debtor.name, DbtrAcct: debtor.account, Cdtr: creditor.name, CdtrAcct: creditor.account };
  const agents = { DbtrAgt: debtor.agent, CdtrAgt: creditor.agent };
  const present = (tree: XmlTree) => (Object.values(tree).some((v) => v !== undefined) ? tree : undefined);
  return {
    Refs: present({
      MsgId: ref('msgId', tx.msgId),
      AcctSvcrRef: ref('accountServicerRef', tx.accountServicerRef),
      PmtInfId: ref('pmtInfId', tx.pmtInfId),
      InstrId: ref('instructionId', tx.instructionId),
      EndToEndId: ref('endToEndId', tx.endToEndId),
      TxId: ref('txId', tx.txId),
    }),
    AmtDtls: tx.amountFen === undefined ? undefined : { TxAmt: { Amt: amountTree(checks.fen(`${at}.amountFen`, tx.amountFen)) } },
    RltdPties: present(parties),
    RltdAgts: present(agents),
    RmtInf: tx.remittanceInfo.length === 0 ? undefined
      : { Ustrd: tx.remittanceInfo.map((line, i) => checks.text(`${at}.remittanceInfo[${i}]`, line, 140)) },
    RtrInf: tx.returnInfo && reasonTree(checks, `${at}.returnInfo`, tx.returnInfo),
    AddtlTxInf: checks.optionalText(`${at}.additionalInfo`, tx.additionalInfo, 500),
  };
}

// ---------------------------------------------------------------- reading

export function readEntry(entry: XmlElement): CamtEntry {
  const entryDetails = entry.all('NtryDtls');
  const batch = entryDetails.map((d) => d.child('Btch')).find((b) => b !== undefined);
  const booking = entry.child('BookgDt');
  const value = entry.child('ValDt');
  return {
    ...optional('entryRef', entry.textOf('NtryRef')),
    amountFen: entry.need('Amt').amountFen(),
    creditDebit: entry.need('CdtDbtInd').code(CREDIT_DEBIT),
    ...optional('reversal', entry.child('RvslInd')?.boolean()),
    status: entry.need('Sts').code(ENTRY_STATUSES),
    ...optional('bookingDate', booking && readDateOrDateTime(booking)),
    ...optional('valueDate', value && readDateOrDateTime(value)),
    ...optional('accountServicerRef', entry.textOf('AcctSvcrRef')),
    bankTransactionCode: readBankTransactionCode(entry.need('BkTxCd')),
    ...optional('batch', batch && readBatch(batch)),
    details: entryDetails.flatMap((d) => d.all('TxDtls')).map(readDetails),
    ...optional('additionalInfo', entry.textOf('AddtlNtryInf')),
  };
}

/** A `DateAndDateTimeChoice` (BookgDt, ValDt, Bal/Dt): `Dt` an ISODate or `DtTm` an ISODateTime, checked as the writers check them. */
export function readDateOrDateTime(choice: XmlElement): string {
  const date = choice.child('Dt');
  return date ? date.checkedText(dateProblem) : choice.need('DtTm').checkedText(dateTimeProblem);
}

function readBankTransactionCode(code: XmlElement): BankTransactionCode {
  const domain = code.child('Domn');
  const family = domain?.need('Fmly');
  const proprietary = code.child('Prtry');
  return {
    ...optional('domain', domain && { code: domain.needText('Cd'), family: family!.needText('Cd'), subFamily: family!.needText('SubFmlyCd') }),
    ...optional('proprietary', proprietary && { code: proprietary.needText('Cd'), ...optional('issuer', proprietary.textOf('Issr')) }),
  };
}

function readBatch(batch: XmlElement): EntryBatch {
  return {
    ...optional('msgId', batch.textOf('MsgId')),
    ...optional('pmtInfId', batch.textOf('PmtInfId')),
    ...optional('nbOfTxs', batch.child('NbOfTxs')?.count()),
    ...optional('totalFen', batch.child('TtlAmt')?.amountFen()),
    ...optional('creditDebit', batch.child('CdtDbtInd')?.code(CREDIT_DEBIT)),
  };
}

function readDetails(tx: XmlElement): EntryDetails {
  const refs = tx.child('Refs');
  const parties = tx.child('RltdPties');
  const agents = tx.child('RltdAgts');
  const party = (name: 'Dbtr' | 'Cdtr'): EntryParty | undefined => {
    const account = parties?.child(`${name}Acct`);
    const agent = agents?.child(`${name}Agt`);
    const found: EntryParty = {
      ...optional('name', parties?.child(name)?.textOf('Nm')),
      ...optional('account', account && readAccountId(account)),
      ...optional('agent', agent && readAgent(agent)),
    };
    return Object.keys(found).length > 0 ? found : undefined;
  };
  const returnInfo = tx.child('RtrInf');
  return {
    ...optional('msgId', refs?.textOf('MsgId')),
    ...optional('accountServicerRef', refs?.textOf('AcctSvcrRef')),
    ...optional('pmtInfId', refs?.textOf('PmtInfId')),
    ...optional('instructionId', refs?.textOf('InstrId')),
    ...optional('endToEndId', refs?.textOf('EndToEndId')),
    ...optional('txId', refs?.textOf('TxId')),
    ...optional('amountFen', tx.child('AmtDtls')?.child('TxAmt')?.need('Amt').amountFen()),
    ...optional('debtor', party('Dbtr')),
    ...optional('creditor', party('Cdtr')),
    remittanceInfo: tx.child('RmtInf')?.all('Ustrd').map((line) => line.text()) ?? [],
    ...optional('returnInfo', returnInfo && readReason(returnInfo)),
    ...optional('additionalInfo', tx.textOf('AddtlTxInf')),
  };
}
