import { readAccountId, readAgent } from '../iso20022/components.ts';
import { NAMESPACES, optional, readDocument, type XmlElement } from '../iso20022/xml.ts';

/**
 * What the bank needs of a pain.001.001.03 to execute it: who pays from which account, and per
 * transaction whom to credit. Read after `checkPain001` found no problem, so counts, sums and
 * references are already known to be right; a missing element still throws `Iso20022Error`.
 */

export interface Pain001Payments {
  msgId: string;
  createdAt: string;
  nbOfTxs: number;
  ctrlSumFen: number;
  paymentInfos: PaymentInfoRead[];
}

export interface PaymentInfoRead {
  pmtInfId: string;
  requestedExecutionDate: string;
  debtor: { name: string; account: string; agent?: string };
  transactions: TransferRead[];
}

export interface TransferRead {
  endToEndId: string;
  instructionId?: string;
  amountFen: number;
  creditor: { name: string; account: string; agent?: string };
  remittanceInfo: string[];
}

export function readPain001Payments(xml: string): Pain001Payments {
  const root = readDocument(xml, NAMESPACES.pain001, 'CstmrCdtTrfInitn');
  const header = root.need('GrpHdr');
  const paymentInfos = root.all('PmtInf').map(readPaymentInfo);
  const transactions = paymentInfos.flatMap((info) => info.transactions);
  return {
    msgId: header.needText('MsgId'),
    createdAt: header.needText('CreDtTm'),
    nbOfTxs: transactions.length,
    ctrlSumFen: transactions.reduce((sum, tx) => sum + tx.amountFen, 0),
    paymentInfos,
  };
}

function readPaymentInfo(info: XmlElement): PaymentInfoRead {
  const execution = info.need('ReqdExctnDt');
  return {
    pmtInfId: info.needText('PmtInfId'),
    // pain.001.001.03 has a plain ISODate here.
    requestedExecutionDate: execution.text(),
    debtor: {
      name: info.need('Dbtr').needText('Nm'),
      account: readAccountId(info.need('DbtrAcct')),
      ...optional('agent', readAgent(info.need('DbtrAgt'))),
    },
    transactions: info.all('CdtTrfTxInf').map((tx): TransferRead => {
      const agent = tx.child('CdtrAgt');
      return {
        endToEndId: tx.need('PmtId').needText('EndToEndId'),
        ...optional('instructionId', tx.need('PmtId').textOf('InstrId')),
        amountFen: tx.need('Amt').need('InstdAmt').amountFen(),
        creditor: {
          name: tx.need('Cdtr').needText('Nm'),
          account: readAccountId(tx.need('CdtrAcct')),
          ...optional('agent', agent && readAgent(agent)),
        },
        remittanceInfo: tx.child('RmtInf')?.all('Ustrd').map((line) => line.text()) ?? [],
      };
    }),
  };
}
