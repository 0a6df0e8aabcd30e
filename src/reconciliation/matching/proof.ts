import { addBusinessDays } from './calendar.ts';
import { missingDebitKey, type ExceptionFinding } from './types.ts';
import { fenToCny } from '../../kernel/money.ts';

/**
 * The daily proof (pure), per account and statement day:
 *   1. the bank's own arithmetic: opening + credits − debits = closing (booked entries);
 *   2. continuity: the opening is the previous statement's closing (no day missing or altered);
 *   3. the hub's expectation: opening + what the hub recognizes (entries matched to its payouts,
 *      returns and contributions, or resolved by a person) = the bank's closing. What the hub does
 *      not recognize is exactly the difference, and each such entry is an open exception.
 * Amounts are signed fen: credits and a credit balance positive.
 */

export interface ProofFigures {
  account: string;
  date: string;
  /** Null when the statement (a page of it) carries no opening or closing booked balance. */
  openingFen: number | null;
  closingFen: number | null;
  creditsFen: number;
  debitsFen: number;
  entries: number;
  recognizedCreditsFen: number;
  recognizedDebitsFen: number;
  /** Entries not yet matched (a run is due) or with an open exception. */
  unrecognizedEntries: number;
  /** Closing balance of the account's previous statement, when the hub has one. */
  previousClosingFen: number | null;
  previousDate: string | null;
}

export interface DailyProof extends ProofFigures {
  /** opening + credits − debits = closing (null: balances missing). */
  balanced: boolean | null;
  /** opening = previous closing (null: no previous statement). */
  continuous: boolean | null;
  /** What the hub expects the closing balance to be. */
  expectedClosingFen: number | null;
  /** Bank closing − hub expectation: the net of the entries the hub does not recognize. */
  differenceFen: number | null;
  /** All three hold and every entry is recognized. */
  proven: boolean;
  /** Why not, in words; empty when proven. */
  problems: string[];
}

export function dailyProof(f: ProofFigures): DailyProof {
  const problems: string[] = [];
  const { openingFen: opening, closingFen: closing } = f;
  let balanced: boolean | null = null;
  let expectedClosingFen: number | null = null;
  let differenceFen: number | null = null;
  if (opening === null || closing === null) {
    problems.push('the statement has no opening (OPBD) or closing (CLBD) booked balance');
  } else {
    balanced = opening + f.creditsFen - f.debitsFen === closing;
    if (!balanced) {
      problems.push(`the bank's closing ${fenToCny(closing)} is not opening ${fenToCny(opening)} + credits ${fenToCny(f.creditsFen)} − debits ${fenToCny(f.debitsFen)}`);
    }
    expectedClosingFen = opening + f.recognizedCreditsFen - f.recognizedDebitsFen;
    differenceFen = closing - expectedClosingFen;
    if (differenceFen !== 0 || f.unrecognizedEntries > 0) {
      problems.push(`the hub expects ${fenToCny(expectedClosingFen)}, the bank closed at ${fenToCny(closing)}: ${f.unrecognizedEntries} entries are not accounted for`);
    }
  }
  let continuous: boolean | null = null;
  if (f.previousClosingFen !== null && opening !== null) {
    continuous = f.previousClosingFen === opening;
    if (!continuous) problems.push(`the opening ${fenToCny(opening)} is not the closing ${fenToCny(f.previousClosingFen)} of ${f.previousDate}`);
  }
  return { ...f, balanced, continuous, expectedClosingFen, differenceFen, proven: problems.length === 0, problems };
}

/** One line for people: `1408…1234 2025-06-04 opening … closing … PROVEN`. */
export function proofLine(p: DailyProof): string {
  const money = (fen: number | null) => (fen === null ? '?' : fenToCny(fen));
  return `${p.account} ${p.date}: opening ${money(p.openingFen)} + credits ${fenToCny(p.creditsFen)} − debits ${fenToCny(p.debitsFen)} = closing ${money(p.closingFen)}` +
    `; hub expects ${money(p.expectedClosingFen)}; ${p.entries} entries; ${p.proven ? 'PROVEN' : `NOT PROVEN: ${p.problems.join('; ')}`}`;
}

/** A payment the bank credited (PAID) whose debit is not on any statement yet. */
export interface UndebitedPayout {
  attemptId: number;
  payoutId: number;
  endToEndId: string;
  amountFen: number;
  debtorAccount: string;
  /** China date the bank reported the credit (or the requested execution date). */
  expectedOn: string;
}

/**
 * The payouts whose debit is overdue on `asOf`: the bank reported them credited on day T and no
 * debit has appeared by the end of business day T+`days` (T+2 by default).
 */
export function missingDebits(payouts: readonly UndebitedPayout[], asOf: string, days: number, holidays: ReadonlySet<string>): ExceptionFinding[] {
  return payouts
    .map((p) => ({ p, due: addBusinessDays(p.expectedOn, days, holidays) }))
    .filter(({ due }) => asOf > due)
    .map(({ p, due }) => ({
      key: missingDebitKey(p.attemptId),
      kind: 'MISSING_DEBIT' as const,
      entryId: null,
      txIndex: null,
      attemptId: p.attemptId,
      amountFen: p.amountFen,
      evidence: {
        account: p.debtorAccount, endToEndId: p.endToEndId, payoutId: p.payoutId, creditedOn: p.expectedOn, debitDueBy: due, asOf,
        reason: `the bank reported the credit on ${p.expectedOn}; no debit on the statements by ${due} (T+${days} business days)`,
      },
    }));
}
