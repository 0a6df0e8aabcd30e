import { accountIdTree, amountTree, cnapsAgentTree, dateChoiceTree, readAccountId, readAgent } from './components.ts';
import { CREDIT_DEBIT, entryTree, readDateOrDateTime, readEntry, signedFen, type CamtEntry, type CreditDebit } from './camtEntry.ts';
import { dateTimeProblem, FieldChecks } from './fields.ts';
import { buildDocument, CURRENCY, NAMESPACES, optional, readDocument, type XmlElement, type XmlTree } from './xml.ts';
import { fenToCny } from '../../kernel/money.ts';

/**
 * camt.053.001.02 statements and camt.054.001.02 debit/credit notifications. Both are a group
 * header and account reports with entries; a statement also has balances. Written for the bank
 * simulator, read for reconciliation.
 */

export interface CamtAccount {
  /** The account number (`Id/Othr/Id`, or the IBAN where a bank gives one). */
  id: string;
  currency?: string;
  name?: string;
  ownerName?: string;
  /** The account's bank: CNAPS code (or BIC). */
  servicer?: string;
}

export interface CamtReport {
  id: string;
  createdAt: string;
  electronicSeqNb?: number;
  legalSeqNb?: number;
  fromToDate?: { from: string; to: string };
  account: CamtAccount;
  entries: CamtEntry[];
  additionalInfo?: string;
}

/** BalanceType12Code; any other balance type is written as the bank's own (`Prtry`). */
const BALANCE_CODES = ['XPCD', 'OPAV', 'ITAV', 'CLAV', 'FWAV', 'CLBD', 'ITBD', 'OPBD', 'PRCD', 'INFO'] as const;

/** `type` is the ISO code (OPBD opening booked, CLBD closing booked, CLAV closing available, ...) or the bank's own. */
export interface Balance {
  type: string;
  /** Not negative; an overdrawn balance is `DBIT`. */
  amountFen: number;
  creditDebit: CreditDebit;
  date: string;
}

export interface AccountStatement extends CamtReport {
  balances: Balance[];
}

export type AccountNotification = CamtReport;

interface CamtHeader {
  msgId: string;
  createdAt: string;
  /** Page of a statement the bank splits in several messages. */
  pagination?: { page: number; last: boolean };
}

export interface Camt053Message extends CamtHeader {
  statements: AccountStatement[];
}

export interface Camt054Message extends CamtHeader {
  notifications: AccountNotification[];
}

/** What differs between the two messages. */
interface CamtKind {
  name: string;
  namespace: string;
  root: string;
  report: string;
  reportInfo: string;
}

const CAMT053: CamtKind = { name: 'camt.053', namespace: NAMESPACES.camt053, root: 'BkToCstmrStmt', report: 'Stmt', reportInfo: 'AddtlStmtInf' };
const CAMT054: CamtKind = { name: 'camt.054', namespace: NAMESPACES.camt054, root: 'BkToCstmrDbtCdtNtfctn', report: 'Ntfctn', reportInfo: 'AddtlNtfctnInf' };

export function writeCamt053(message: Camt053Message): string {
  return writeCamt(CAMT053, message, message.statements, 'statements');
}

export function writeCamt054(message: Camt054Message): string {
  return writeCamt(CAMT054, message, message.notifications, 'notifications');
}

export function parseCamt053(xml: string): Camt053Message {
  const { header, reports } = readCamt(CAMT053, xml);
  return { ...header, statements: reports.map(({ element, report }) => ({ ...report, balances: element.all('Bal').map(readBalance) })) };
}

export function parseCamt054(xml: string): Camt054Message {
  const { header, reports } = readCamt(CAMT054, xml);
  return { ...header, notifications: reports.map(({ report }) => report) };
}

/**
 * Why a statement does not add up, or null: the closing booked balance must be the opening one
 * plus the booked entries. Null too when the statement lacks either balance.
 */
export function statementBalanceProblem(statement: AccountStatement): string | null {
  const find = (...types: string[]) => statement.balances.find((b) => types.includes(b.type));
  const opening = find('OPBD', 'PRCD');
  const closing = find('CLBD');
  if (!opening || !closing) return null;
  const booked = statement.entries.filter((e) => e.status === 'BOOK').reduce((sum, e) => sum + signedFen(e), 0);
  const expected = signedFen(opening) + booked;
  if (expected === signedFen(closing)) return null;
  return `closing balance ${fenToCny(signedFen(closing))} is not opening ${fenToCny(signedFen(opening))} plus booked entries ${fenToCny(booked)}`;
}

// ---------------------------------------------------------------- shared by both messages

function writeCamt(kind: CamtKind, header: CamtHeader, reports: (CamtReport & { balances?: Balance[] })[], field: string): string {
  const checks = new FieldChecks();
  if (reports.length === 0) checks.add(field, 'must list at least one account report');
  const body = {
    GrpHdr: {
      MsgId: checks.text('msgId', header.msgId, 35),
      CreDtTm: checks.dateTime('createdAt', header.createdAt),
      MsgPgntn: header.pagination && {
        PgNb: checks.count('pagination.page', header.pagination.page),
        LastPgInd: String(header.pagination.last),
      },
    },
    [kind.report]: reports.map((report, i) => reportTree(checks, kind, `${field}[${i}]`, report)),
  };
  checks.throwIfAny(`${kind.name} ${header.msgId}`);
  return buildDocument(kind.namespace, kind.root, body);
}

function reportTree(checks: FieldChecks, kind: CamtKind, at: string, report: CamtReport & { balances?: Balance[] }): XmlTree {
  const { account, fromToDate, entries } = report;
  const sequence = (key: 'electronicSeqNb' | 'legalSeqNb') => {
    const value = report[key];
    return value === undefined ? undefined : checks.count(`${at}.${key}`, value);
  };
  return {
    Id: checks.text(`${at}.id`, report.id, 35),
    ElctrncSeqNb: sequence('electronicSeqNb'),
    LglSeqNb: sequence('legalSeqNb'),
    CreDtTm: checks.dateTime(`${at}.createdAt`, report.createdAt),
    FrToDt: fromToDate && {
      FrDtTm: checks.dateTime(`${at}.fromToDate.from`, fromToDate.from),
      ToDtTm: checks.dateTime(`${at}.fromToDate.to`, fromToDate.to),
    },
    Acct: {
      Id: accountIdTree(checks.account(`${at}.account.id`, account.id)),
      Ccy: account.currency === undefined ? undefined : checks.oneOf(`${at}.account.currency`, account.currency, [CURRENCY]),
      Nm: checks.optionalText(`${at}.account.name`, account.name, 70),
      Ownr: account.ownerName === undefined ? undefined : { Nm: checks.text(`${at}.account.ownerName`, account.ownerName, 140) },
      Svcr: account.servicer === undefined ? undefined : cnapsAgentTree(checks.cnaps(`${at}.account.servicer`, account.servicer)),
    },
    Bal: report.balances?.map((balance, i) => {
      const balanceAt = `${at}.balances[${i}]`;
      const { type } = balance;
      return {
        Tp: { CdOrPrtry: (BALANCE_CODES as readonly string[]).includes(type) ? { Cd: type } : { Prtry: checks.text(`${balanceAt}.type`, type, 35) } },
        Amt: amountTree(checks.fen(`${balanceAt}.amountFen`, balance.amountFen, { positive: false })),
        CdtDbtInd: checks.oneOf(`${balanceAt}.creditDebit`, balance.creditDebit, CREDIT_DEBIT),
        Dt: dateChoiceTree(checks.dateOrDateTime(`${balanceAt}.date`, balance.date)),
      };
    }),
    TxsSummry: summaryTree(entries),
    Ntry: entries.map((entry, i) => entryTree(checks, `${at}.entries[${i}]`, entry)),
    [kind.reportInfo]: checks.optionalText(`${at}.additionalInfo`, report.additionalInfo, 500),
  };
}

/** Totals banks put before the entries: all, credits, debits (amounts already checked per entry). */
function summaryTree(entries: CamtEntry[]): XmlTree {
  const total = (list: CamtEntry[]) => ({
    NbOfNtries: String(list.length),
    Sum: fenToCny(list.reduce((sum, e) => sum + (Number.isSafeInteger(e.amountFen) ? e.amountFen : 0), 0)),
  });
  const net = entries.reduce((sum, e) => sum + (Number.isSafeInteger(e.amountFen) ? signedFen(e) : 0), 0);
  return {
    TtlNtries: { ...total(entries), TtlNetNtryAmt: fenToCny(Math.abs(net)), CdtDbtInd: net < 0 ? 'DBIT' : 'CRDT' },
    TtlCdtNtries: total(entries.filter((e) => e.creditDebit === 'CRDT')),
    TtlDbtNtries: total(entries.filter((e) => e.creditDebit === 'DBIT')),
  };
}

function readCamt(kind: CamtKind, xml: string): { header: CamtHeader; reports: { element: XmlElement; report: CamtReport }[] } {
  const root = readDocument(xml, kind.namespace, kind.root, { name: 'Ntry', read: readEntry });
  const header = root.need('GrpHdr');
  const pagination = header.child('MsgPgntn');
  const headerRead: CamtHeader = {
    msgId: header.needText('MsgId'),
    createdAt: header.need('CreDtTm').checkedText(dateTimeProblem),
    ...optional('pagination', pagination && { page: pagination.need('PgNb').count(), last: pagination.need('LastPgInd').boolean() }),
  };
  // The XSD requires at least one report (minOccurs 1), as writeCamt does.
  const elements = root.all(kind.report);
  if (elements.length === 0) root.fail('is required', `${root.path}/${kind.report}`);
  return { header: headerRead, reports: elements.map((element) => ({ element, report: readReport(kind, element) })) };
}

function readReport(kind: CamtKind, report: XmlElement): CamtReport {
  const account = report.need('Acct');
  const period = report.child('FrToDt');
  const servicer = account.child('Svcr');
  return {
    id: report.needText('Id'),
    ...optional('electronicSeqNb', report.child('ElctrncSeqNb')?.wholeNumber()),
    ...optional('legalSeqNb', report.child('LglSeqNb')?.wholeNumber()),
    createdAt: report.need('CreDtTm').checkedText(dateTimeProblem),
    ...optional('fromToDate', period && { from: period.need('FrDtTm').checkedText(dateTimeProblem), to: period.need('ToDtTm').checkedText(dateTimeProblem) }),
    account: {
      id: readAccountId(account),
      ...optional('currency', account.child('Ccy')?.checkedText(accountCurrencyProblem)),
      ...optional('name', account.textOf('Nm')),
      ...optional('ownerName', account.child('Ownr')?.textOf('Nm')),
      ...optional('servicer', servicer && readAgent(servicer)),
    },
    entries: report.streamed<CamtEntry>('Ntry'),
    ...optional('additionalInfo', report.textOf(kind.reportInfo)),
  };
}

/** The hub's accounts are kept in CNY: a statement of an account in another currency is not one of them. */
function accountCurrencyProblem(currency: string): string | null {
  return currency === CURRENCY ? null : `is ${currency}: the hub's accounts are kept in ${CURRENCY}, another currency cannot be reconciled`;
}

function readBalance(balance: XmlElement): Balance {
  const type = balance.need('Tp').need('CdOrPrtry');
  return {
    type: type.textOf('Cd') ?? type.needText('Prtry'),
    amountFen: balance.need('Amt').amountFen(),
    creditDebit: balance.need('CdtDbtInd').code(CREDIT_DEBIT),
    date: readDateOrDateTime(balance.need('Dt')),
  };
}
