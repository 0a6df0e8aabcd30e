import type { Queryable, Tx } from '../../kernel/transaction.ts';
import type { ContributionPaymentSource } from '../model.ts';

/**
 * SQL of contribution payments against the bank's bookings they count. A bank's reference is
 * compared as reconciliation's matcher compares it with one typed from the bank's advice: by its
 * `bankReferenceKey` (src/kernel/identifiers.ts), `upper(reference)` here.
 */

/** A payment that counts a bank booking already. */
export interface CountingPayment {
  reference: string;
  source: ContributionPaymentSource;
}

/**
 * The payments that already count the bank's booking with this reference key: one recorded under
 * the reference, and those a credit with that account servicer reference was matched to as
 * contribution. The latter include every BANK payment of the booking, whatever reference
 * reconciliation gave it (`<reference>/<plan year>` for a transfer paying several years, one
 * derived from the entry): each is written with its match, in one transaction.
 */
export async function paymentsCountingBooking(tx: Tx, referenceKey: string): Promise<CountingPayment[]> {
  const { rows } = await tx.query<CountingPayment>(
    `SELECT cp.reference, cp.source FROM contribution_payments cp
      WHERE upper(cp.reference) = $1
     UNION
     SELECT cp.reference, cp.source FROM reconciliation_matches m
       JOIN statement_entries e ON e.id = m.entry_id
       JOIN contribution_payments cp ON cp.id = m.contribution_payment_id
      WHERE m.kind = 'CONTRIBUTION' AND e.credit_debit = 'CRDT' AND upper(e.account_servicer_ref) = $1
     ORDER BY reference`,
    [referenceKey],
  );
  return rows;
}

/**
 * What `recordedBy` alone made count as paid for the unit's plan year: the standing payments they
 * recorded by hand at once, not those they recorded confirming another person's proposal (its
 * decision names the payment's reference; a reference is recorded once).
 */
export async function paidByHandAlone(db: Queryable, unitId: number, planYear: number, recordedBy: string): Promise<number> {
  const { rows } = await db.query<{ fen: number }>(
    `SELECT coalesce(sum(cp.amount_fen), 0)::bigint AS fen FROM standing_contribution_payments cp
      WHERE cp.unit_id = $1 AND cp.plan_year = $2 AND cp.source = 'MANUAL' AND cp.recorded_by = $3
        AND NOT EXISTS (SELECT 1 FROM four_eyes_proposals p
                         WHERE p.kind = 'CONTRIBUTION_PAYMENT' AND p.status = 'CONFIRMED' AND p.decision ->> 'reference' = cp.reference)`,
    [unitId, planYear, recordedBy],
  );
  return rows[0]!.fen;
}
