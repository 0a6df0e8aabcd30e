import { readReason, reasonTree, type StatusReason } from './components.ts';
import { dateTimeProblem, FieldChecks } from './fields.ts';
import { buildDocument, NAMESPACES, optional, readDocument, type XmlElement, type XmlTree } from './xml.ts';

/**
 * pain.002.001.03 customer payment status report: the bank's answer to a pain.001, per group,
 * per payment information and per transaction (keyed by our EndToEndId).
 */

export const GROUP_STATUSES = ['ACTC', 'RCVD', 'PART', 'RJCT', 'PDNG', 'ACCP', 'ACSP', 'ACSC', 'ACWC'] as const;
export const TRANSACTION_STATUSES = ['ACTC', 'RJCT', 'PDNG', 'ACCP', 'ACSP', 'ACSC', 'ACWC'] as const;
export type GroupStatus = (typeof GROUP_STATUSES)[number];
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

export interface Pain002TransactionStatus extends StatusReason {
  /** The bank's id of this status line. */
  statusId?: string;
  originalEndToEndId: string;
  originalInstructionId?: string;
  /** `TxSts` as reported; absent when the bank reports the status only at a higher level. */
  status?: TransactionStatus;
  acceptedAt?: string;
  accountServicerRef?: string;
}

export interface Pain002PaymentInfoStatus {
  originalPmtInfId: string;
  status?: GroupStatus;
  reason?: StatusReason;
  transactions: Pain002TransactionStatus[];
}

export interface Pain002Report {
  msgId: string;
  createdAt: string;
  originalMsgId: string;
  /** The original message's name, `pain.001.001.03`. */
  originalMsgNameId: string;
  originalCreatedAt?: string;
  originalNbOfTxs?: number;
  originalCtrlSumFen?: number;
  groupStatus?: GroupStatus;
  groupReason?: StatusReason;
  paymentInfoStatuses: Pain002PaymentInfoStatus[];
}

export interface Pain002Parsed extends Pain002Report {
  /** Every transaction status line of every payment information, in file order. */
  transactions: Pain002TransactionStatus[];
}

export function writePain002(report: Pain002Report): string {
  const checks = new FieldChecks();
  const reasonInfo = (field: string, reason: StatusReason | undefined): XmlTree | undefined =>
    reason && { StsRsnInf: reasonTree(checks, field, reason) };

  const body = {
    GrpHdr: { MsgId: checks.text('msgId', report.msgId, 35), CreDtTm: checks.dateTime('createdAt', report.createdAt) },
    OrgnlGrpInfAndSts: {
      OrgnlMsgId: checks.text('originalMsgId', report.originalMsgId, 35),
      OrgnlMsgNmId: checks.text('originalMsgNameId', report.originalMsgNameId, 35),
      OrgnlCreDtTm: report.originalCreatedAt === undefined ? undefined : checks.dateTime('originalCreatedAt', report.originalCreatedAt),
      OrgnlNbOfTxs: report.originalNbOfTxs === undefined ? undefined : checks.count('originalNbOfTxs', report.originalNbOfTxs),
      OrgnlCtrlSum: report.originalCtrlSumFen === undefined ? undefined : checks.fen('originalCtrlSumFen', report.originalCtrlSumFen, { positive: false }),
      GrpSts: report.groupStatus === undefined ? undefined : checks.oneOf('groupStatus', report.groupStatus, GROUP_STATUSES),
      ...reasonInfo('groupReason', report.groupReason),
    },
    OrgnlPmtInfAndSts: report.paymentInfoStatuses.map((info, i) => {
      const at = `paymentInfoStatuses[${i}]`;
      return {
        OrgnlPmtInfId: checks.text(`${at}.originalPmtInfId`, info.originalPmtInfId, 35),
        PmtInfSts: info.status === undefined ? undefined : checks.oneOf(`${at}.status`, info.status, GROUP_STATUSES),
        ...reasonInfo(`${at}.reason`, info.reason),
        TxInfAndSts: info.transactions.map((tx, j) => {
          const txAt = `${at}.transactions[${j}]`;
          const { reasonCode, additionalInfo } = tx;
          return {
            StsId: checks.optionalText(`${txAt}.statusId`, tx.statusId, 35),
            OrgnlInstrId: checks.optionalText(`${txAt}.originalInstructionId`, tx.originalInstructionId, 35),
            OrgnlEndToEndId: checks.text(`${txAt}.originalEndToEndId`, tx.originalEndToEndId, 35),
            TxSts: tx.status === undefined ? undefined : checks.oneOf(`${txAt}.status`, tx.status, TRANSACTION_STATUSES),
            ...reasonInfo(txAt, reasonCode === undefined && additionalInfo === undefined ? undefined : { reasonCode, additionalInfo }),
            AccptncDtTm: tx.acceptedAt === undefined ? undefined : checks.dateTime(`${txAt}.acceptedAt`, tx.acceptedAt),
            AcctSvcrRef: checks.optionalText(`${txAt}.accountServicerRef`, tx.accountServicerRef, 35),
          };
        }),
      };
    }),
  };
  checks.throwIfAny(`pain.002 ${report.msgId}`);
  return buildDocument(NAMESPACES.pain002, 'CstmrPmtStsRpt', body);
}

/** Reads a pain.002.001.03; throws `Iso20022Error` naming the element when it cannot. */
export function parsePain002(xml: string): Pain002Parsed {
  const root = readDocument(xml, NAMESPACES.pain002, 'CstmrPmtStsRpt');
  const header = root.need('GrpHdr');
  const group = root.need('OrgnlGrpInfAndSts');
  const paymentInfoStatuses = root.all('OrgnlPmtInfAndSts').map((info): Pain002PaymentInfoStatus => ({
    originalPmtInfId: info.needText('OrgnlPmtInfId'),
    ...optional('status', info.child('PmtInfSts')?.code(GROUP_STATUSES)),
    ...optional('reason', statusReason(info)),
    transactions: info.all('TxInfAndSts').map(readTransactionStatus),
  }));
  return {
    msgId: header.needText('MsgId'),
    createdAt: header.need('CreDtTm').checkedText(dateTimeProblem),
    originalMsgId: group.needText('OrgnlMsgId'),
    originalMsgNameId: group.needText('OrgnlMsgNmId'),
    ...optional('originalCreatedAt', group.child('OrgnlCreDtTm')?.checkedText(dateTimeProblem)),
    ...optional('originalNbOfTxs', group.child('OrgnlNbOfTxs')?.count()),
    ...optional('originalCtrlSumFen', group.child('OrgnlCtrlSum')?.decimalFen()),
    ...optional('groupStatus', group.child('GrpSts')?.code(GROUP_STATUSES)),
    ...optional('groupReason', statusReason(group)),
    paymentInfoStatuses,
    transactions: paymentInfoStatuses.flatMap((info) => info.transactions),
  };
}

function readTransactionStatus(tx: XmlElement): Pain002TransactionStatus {
  return {
    ...optional('statusId', tx.textOf('StsId')),
    originalEndToEndId: tx.needText('OrgnlEndToEndId'),
    ...optional('originalInstructionId', tx.textOf('OrgnlInstrId')),
    ...optional('status', tx.child('TxSts')?.code(TRANSACTION_STATUSES)),
    ...statusReason(tx),
    ...optional('acceptedAt', tx.child('AccptncDtTm')?.checkedText(dateTimeProblem)),
    ...optional('accountServicerRef', tx.textOf('AcctSvcrRef')),
  };
}

/** All `StsRsnInf` of an element as one reason: the first code, the information of each joined by "; ". */
function statusReason(holder: XmlElement): StatusReason | undefined {
  const reasons = holder.all('StsRsnInf').map(readReason);
  if (reasons.length === 0) return undefined;
  const reasonCode = reasons.find((r) => r.reasonCode !== undefined)?.reasonCode;
  const infos = reasons.flatMap((r) => (r.additionalInfo === undefined ? [] : [r.additionalInfo]));
  return { ...optional('reasonCode', reasonCode), ...optional('additionalInfo', infos.length > 0 ? infos.join('; ') : undefined) };
}
