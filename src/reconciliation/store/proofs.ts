import type { Tx } from '../../kernel/transaction.ts';
import type { DailyProof, ProofFigures } from '../matching/proof.ts';

/** The daily proofs: the figures of each statement day, and the proofs as last computed. */

/** The figures of every statement of the account from `fromDate` on (null: all), in date order. */
export async function proofFigures(tx: Tx, account: string, fromDate: string | null): Promise<(ProofFigures & { statementId: number })[]> {
  const { rows } = await tx.query<ProofFigures & { statementId: number }>(
    `SELECT s.id AS "statementId", s.account, s.statement_date::text AS date, s.opening_fen AS "openingFen", s.closing_fen AS "closingFen",
            COALESCE(f.credits, 0)::bigint AS "creditsFen", COALESCE(f.debits, 0)::bigint AS "debitsFen", COALESCE(f.entries, 0)::int AS entries,
            COALESCE(f.recognized_credits, 0)::bigint AS "recognizedCreditsFen", COALESCE(f.recognized_debits, 0)::bigint AS "recognizedDebitsFen",
            COALESCE(f.unrecognized, 0)::int AS "unrecognizedEntries",
            p.closing_fen AS "previousClosingFen", p.statement_date::text AS "previousDate"
       FROM bank_statements s
       LEFT JOIN LATERAL (
         SELECT sum(amount_fen) FILTER (WHERE credit_debit = 'CRDT') AS credits,
                sum(amount_fen) FILTER (WHERE credit_debit = 'DBIT') AS debits,
                count(*) AS entries,
                sum(amount_fen) FILTER (WHERE credit_debit = 'CRDT' AND state IN ('MATCHED', 'RESOLVED')) AS recognized_credits,
                sum(amount_fen) FILTER (WHERE credit_debit = 'DBIT' AND state IN ('MATCHED', 'RESOLVED')) AS recognized_debits,
                count(*) FILTER (WHERE state IN ('PENDING', 'EXCEPTION')) AS unrecognized
           FROM statement_entries e JOIN statement_entry_states st ON st.entry_id = e.id WHERE e.statement_id = s.id) f ON true
       LEFT JOIN LATERAL (
         SELECT closing_fen, statement_date FROM bank_statements p
          WHERE p.account = s.account AND p.statement_date < s.statement_date ORDER BY p.statement_date DESC LIMIT 1) p ON true
      WHERE s.account = $1 AND ($2::date IS NULL OR s.statement_date >= $2::date)
      ORDER BY s.statement_date`,
    [account, fromDate],
  );
  return rows;
}

/** Stores the proof of a statement's day (replacing the one computed before). */
export async function saveProof(tx: Tx, statementId: number, p: DailyProof): Promise<void> {
  await tx.query(
    `INSERT INTO daily_proofs (account, statement_date, statement_id, opening_fen, closing_fen, credits_fen, debits_fen, entries,
                               recognized_credits_fen, recognized_debits_fen, unrecognized_entries, previous_closing_fen, previous_date,
                               balanced, continuous, expected_closing_fen, difference_fen, proven, problems)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
     ON CONFLICT (account, statement_date) DO UPDATE SET
       statement_id = excluded.statement_id, opening_fen = excluded.opening_fen, closing_fen = excluded.closing_fen,
       credits_fen = excluded.credits_fen, debits_fen = excluded.debits_fen, entries = excluded.entries,
       recognized_credits_fen = excluded.recognized_credits_fen, recognized_debits_fen = excluded.recognized_debits_fen,
       unrecognized_entries = excluded.unrecognized_entries, previous_closing_fen = excluded.previous_closing_fen,
       previous_date = excluded.previous_date, balanced = excluded.balanced, continuous = excluded.continuous,
       expected_closing_fen = excluded.expected_closing_fen, difference_fen = excluded.difference_fen, proven = excluded.proven,
       problems = excluded.problems, computed_at = now()`,
    [p.account, p.date, statementId, p.openingFen, p.closingFen, p.creditsFen, p.debitsFen, p.entries, p.recognizedCreditsFen,
      p.recognizedDebitsFen, p.unrecognizedEntries, p.previousClosingFen, p.previousDate, p.balanced, p.continuous,
      p.expectedClosingFen, p.differenceFen, p.proven, JSON.stringify(p.problems)],
  );
}

/** The earliest day whose proof may be out of date: a statement without one, or updated since. */
export async function staleProofDate(tx: Tx, account: string): Promise<string | null> {
  const { rows } = await tx.query<{ date: string | null }>(
    `SELECT min(s.statement_date)::text AS date FROM bank_statements s LEFT JOIN daily_proofs p ON p.account = s.account AND p.statement_date = s.statement_date
      WHERE s.account = $1 AND (p.computed_at IS NULL OR p.computed_at < s.updated_at)`,
    [account],
  );
  return rows[0]?.date ?? null;
}
