-- Up Migration

-- A debit of no reference that only a refused payment may be (the bank debited it and answered RJCT
-- all the same) is an exception: naming the attempt when one payout fits, else listing the refused
-- attempts that could each be it (evidence `refused`, their EndToEndIds). Each of those payouts
-- counts as paid by the bank until a person finds which it was: their retries take four eyes. A
-- debit a person matched to another payout's payment paid that one: it no longer counts for the
-- payout its exception named (a batch booking's surplus, 0043, matches its block's other payments
-- by design, so that rule stays as it was).
CREATE OR REPLACE FUNCTION payout_paid_by_bank(payout bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
     WHERE a.payout_id = payout
       AND (a.status = 'RETURNED'
            OR EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')
            OR EXISTS (SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                        WHERE x.payout_attempt_id = a.id AND e.credit_debit = 'DBIT'
                          AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m JOIN payout_attempts o ON o.id = m.payout_attempt_id
                                           WHERE m.entry_id = x.entry_id AND m.kind = 'PAYOUT' AND o.payout_id <> a.payout_id))
            OR (a.status = 'REJECTED' AND EXISTS (
                 SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                  WHERE x.evidence->>'pmtInfId' = b.pmt_inf_id AND x.payout_attempt_id IS NULL AND e.credit_debit = 'DBIT'))
            OR (a.status = 'REJECTED' AND EXISTS (
                 SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                  WHERE x.evidence->'refused' ? a.end_to_end_id AND x.payout_attempt_id IS NULL AND e.credit_debit = 'DBIT'
                    AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m JOIN payout_attempts o ON o.id = m.payout_attempt_id
                                     WHERE m.entry_id = x.entry_id AND m.kind = 'PAYOUT' AND o.payout_id <> a.payout_id)))))
$$;

-- The reconciliation reads refused attempts by amount for every chunk with a debit of no reference:
-- without this index, each such chunk read every attempt ever made.
CREATE INDEX payout_attempts_refused_amount ON payout_attempts (amount_fen) WHERE status = 'REJECTED';

-- Down Migration

DROP INDEX payout_attempts_refused_amount;

CREATE OR REPLACE FUNCTION payout_paid_by_bank(payout bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
     WHERE a.payout_id = payout
       AND (a.status = 'RETURNED'
            OR EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')
            OR EXISTS (SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                        WHERE x.payout_attempt_id = a.id AND e.credit_debit = 'DBIT')
            OR (a.status = 'REJECTED' AND EXISTS (
                 SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                  WHERE x.evidence->>'pmtInfId' = b.pmt_inf_id AND x.payout_attempt_id IS NULL AND e.credit_debit = 'DBIT'))))
$$;
