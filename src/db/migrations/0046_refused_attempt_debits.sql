-- Up Migration

-- A debit of no reference that a refused payment may be (the bank debited it and answered RJCT all
-- the same) is an exception: naming the attempt when one payout fits, else listing the refused
-- attempts that could each be it (evidence `refused`, their EndToEndIds). Each of those payouts
-- counts as paid by the bank until a person finds which it was: their retries take four eyes.
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
                  WHERE x.payout_attempt_id IS NULL AND e.credit_debit = 'DBIT'
                    AND (x.evidence->>'pmtInfId' = b.pmt_inf_id OR x.evidence->'refused' ? a.end_to_end_id)))))
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
