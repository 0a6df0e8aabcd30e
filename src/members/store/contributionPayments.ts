import type { Tx } from '../../kernel/transaction.ts';
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
