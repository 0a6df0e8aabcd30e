import { accountIdTree, amountTree, cnapsAgentTree } from './components.ts';
import { DEFAULT_TEXT_RULES, FieldChecks, type BankTextRules } from './fields.ts';
import { buildDocument, CURRENCY, Iso20022Error, NAMESPACES, readDocument, type Iso20022Problem, type XmlElement } from './xml.ts';
import { fenToCny } from '../../kernel/money.ts';

/**
 * pain.001.001.03 customer credit transfer initiation: one batch of payouts from the union's
 * account, in CNY, every bank named by its CNAPS code.
 */

export type ChargeBearer = 'DEBT' | 'CRED' | 'SHAR' | 'SLEV';
const CHARGE_BEARERS: readonly ChargeBearer[] = ['DEBT', 'CRED', 'SHAR', 'SLEV'];

export interface Pain001Batch {
  msgId: string;
  /** xs:dateTime, e.g. `chinaDateTime(new Date())`. */
  createdAt: string;
  initiatingParty: { name: string; /** e.g. the union's Unified Social Credit Code */ id?: string };
  paymentInfo: {
    pmtInfId: string;
    /** yyyy-MM-dd */
    requestedExecutionDate: string;
    /** `agent` is the debtor bank's 12-digit CNAPS code. */
    debtor: { name: string; account: string; agent: string };
    chargeBearer?: ChargeBearer;
    batchBooking?: boolean;
  };
  transactions: Pain001Transaction[];
}

export interface Pain001Transaction {
  endToEndId: string;
  instructionId?: string;
  amountFen: number;
  creditor: { name: string; account: string };
  /** The creditor bank's 12-digit CNAPS code. */
  creditorAgent: string;
  /** Unstructured remittance information (附言), one `Ustrd`. */
  remittanceInfo?: string;
}

export interface Pain001Options {
  /** The receiving bank's limits on names and remittance text (default: 140 bytes in UTF-8). */
  textRules?: Partial<BankTextRules>;
}

/** Writes the batch as pain.001.001.03; throws `Iso20022Error` naming every wrong field. */
export function writePain001(batch: Pain001Batch, options: Pain001Options = {}): string {
  const checks = new FieldChecks({ ...DEFAULT_TEXT_RULES, ...options.textRules });
  const { paymentInfo: info, transactions } = batch;
  if (transactions.length === 0) checks.add('transactions', 'must list at least one transaction');

  // Whole fen only: a wrong amount is reported below and must not make the total a float.
  const ctrlSumFen = transactions.reduce((sum, tx) => sum + (Number.isSafeInteger(tx.amountFen) ? tx.amountFen : 0), 0);
  if (!Number.isSafeInteger(ctrlSumFen)) checks.add('transactions', 'the total is out of range');
  const nbOfTxs = String(transactions.length);
  const ctrlSum = fenToCny(ctrlSumFen);
  const endToEndIds = new Set<string>();

  const body = {
    GrpHdr: {
      MsgId: checks.reference('msgId', batch.msgId),
      CreDtTm: checks.dateTime('createdAt', batch.createdAt),
      NbOfTxs: nbOfTxs,
      CtrlSum: ctrlSum,
      InitgPty: {
        Nm: checks.name('initiatingParty.name', batch.initiatingParty.name),
        Id: batch.initiatingParty.id === undefined ? undefined
          : { OrgId: { Othr: { Id: checks.text('initiatingParty.id', batch.initiatingParty.id, 35) } } },
      },
    },
    PmtInf: {
      PmtInfId: checks.reference('paymentInfo.pmtInfId', info.pmtInfId),
      PmtMtd: 'TRF',
      BtchBookg: info.batchBooking === undefined ? undefined : String(info.batchBooking),
      NbOfTxs: nbOfTxs,
      CtrlSum: ctrlSum,
      ReqdExctnDt: checks.date('paymentInfo.requestedExecutionDate', info.requestedExecutionDate),
      Dbtr: { Nm: checks.name('paymentInfo.debtor.name', info.debtor.name) },
      DbtrAcct: { Id: accountIdTree(checks.account('paymentInfo.debtor.account', info.debtor.account)), Ccy: CURRENCY },
      DbtrAgt: cnapsAgentTree(checks.cnaps('paymentInfo.debtor.agent', info.debtor.agent)),
      ChrgBr: info.chargeBearer === undefined ? undefined : checks.oneOf('paymentInfo.chargeBearer', info.chargeBearer, CHARGE_BEARERS),
      CdtTrfTxInf: transactions.map((tx, i) => {
        const at = `transactions[${i}]`;
        if (endToEndIds.has(tx.endToEndId)) checks.add(`${at}.endToEndId`, `${tx.endToEndId} is used by an earlier transaction`);
        endToEndIds.add(tx.endToEndId);
        return {
          PmtId: {
            InstrId: checks.optionalReference(`${at}.instructionId`, tx.instructionId),
            EndToEndId: checks.reference(`${at}.endToEndId`, tx.endToEndId),
          },
          Amt: { InstdAmt: amountTree(checks.fen(`${at}.amountFen`, tx.amountFen)) },
          CdtrAgt: cnapsAgentTree(checks.cnaps(`${at}.creditorAgent`, tx.creditorAgent)),
          Cdtr: { Nm: checks.name(`${at}.creditor.name`, tx.creditor.name) },
          CdtrAcct: { Id: accountIdTree(checks.account(`${at}.creditor.account`, tx.creditor.account)) },
          RmtInf: tx.remittanceInfo === undefined ? undefined : { Ustrd: checks.remittance(`${at}.remittanceInfo`, tx.remittanceInfo) },
        };
      }),
    },
  };
  checks.throwIfAny(`pain.001 ${batch.msgId}`);
  return buildDocument(NAMESPACES.pain001, 'CstmrCdtTrfInitn', body);
}

// ---------------------------------------------------------------- checking a written file

export interface Pain001Check {
  msgId: string;
  /** Transactions counted in the file (not the declared NbOfTxs). */
  nbOfTxs: number;
  /** Sum of the transactions' amounts, or null when one of them is unreadable. */
  ctrlSumFen: number | null;
  paymentInfos: {
    pmtInfId: string;
    nbOfTxs: number;
    ctrlSumFen: number | null;
    transactions: { endToEndId: string; instructionId?: string; amountFen: number | null }[];
  }[];
  /** What the XSD does not check: declared counts and sums, 2 decimals, amounts > 0, references. */
  problems: Iso20022Problem[];
}

/**
 * Re-checks a pain.001.001.03 (ours before sending, or one handed back) for what its XSD cannot.
 * Throws `Iso20022Error` when it is not a readable pain.001 at all; returns the other problems.
 */
export function checkPain001(xml: string): Pain001Check {
  const root = readDocument(xml, NAMESPACES.pain001, 'CstmrCdtTrfInitn');
  const checks = new FieldChecks();
  const { problems } = checks;
  const checkReference = (element: XmlElement | undefined): string | undefined =>
    element && checks.reference(element.path, element.text());

  const header = root.need('GrpHdr');
  const msgId = checkReference(header.need('MsgId'))!;
  const endToEndIds = new Set<string>();
  const paymentInfos = root.all('PmtInf').map((pmtInf) => {
    const pmtInfId = checkReference(pmtInf.need('PmtInfId'))!;
    const transactions = pmtInf.all('CdtTrfTxInf').map((tx) => {
      const paymentId = tx.need('PmtId');
      const endToEnd = paymentId.need('EndToEndId');
      const endToEndId = checkReference(endToEnd)!;
      if (endToEndIds.has(endToEndId)) problems.push({ field: endToEnd.path, reason: `${endToEndId} occurs more than once` });
      endToEndIds.add(endToEndId);
      const instructionId = checkReference(paymentId.child('InstrId'));
      return { endToEndId, ...(instructionId === undefined ? {} : { instructionId }), amountFen: transactionAmount(tx, problems) };
    });
    const totals = declaredTotals(pmtInf, transactions, problems);
    return { pmtInfId, ...totals, transactions };
  });
  const all = paymentInfos.flatMap((info) => info.transactions);
  return { msgId, ...declaredTotals(header, all, problems), paymentInfos, problems };
}

function transactionAmount(tx: XmlElement, problems: Iso20022Problem[]): number | null {
  const amount = tx.need('Amt').child('InstdAmt');
  if (!amount) {
    problems.push({ field: `${tx.path}/Amt`, reason: 'must be an InstdAmt in CNY' });
    return null;
  }
  try {
    const fen = amount.amountFen();
    if (fen <= 0) problems.push({ field: amount.path, reason: 'must be more than 0' });
    return fen;
  } catch (error) {
    problems.push(...problemsOf(error));
    return null;
  }
}

/** Compares the declared NbOfTxs/CtrlSum of a header or PmtInf with its transactions. */
function declaredTotals(
  holder: XmlElement,
  transactions: { amountFen: number | null }[],
  problems: Iso20022Problem[],
): { nbOfTxs: number; ctrlSumFen: number | null } {
  const nbOfTxs = transactions.length;
  const amounts = transactions.map((tx) => tx.amountFen);
  const ctrlSumFen = amounts.every((fen) => fen !== null) ? amounts.reduce<number>((sum, fen) => sum + fen!, 0) : null;

  const declaredCount = holder.child('NbOfTxs');
  if (declaredCount) {
    const declared = declaredCount.count();
    if (declared !== nbOfTxs) problems.push({ field: declaredCount.path, reason: `is ${declared} but there are ${nbOfTxs} transactions` });
  }
  const declaredSum = holder.child('CtrlSum');
  if (declaredSum) {
    try {
      const declared = declaredSum.decimalFen();
      if (ctrlSumFen !== null && declared !== ctrlSumFen) {
        problems.push({ field: declaredSum.path, reason: `is ${fenToCny(declared)} but the transactions sum to ${fenToCny(ctrlSumFen)}` });
      }
    } catch (error) {
      problems.push(...problemsOf(error));
    }
  }
  return { nbOfTxs, ctrlSumFen };
}

function problemsOf(error: unknown): Iso20022Problem[] {
  if (error instanceof Iso20022Error) return error.problems;
  throw error;
}
