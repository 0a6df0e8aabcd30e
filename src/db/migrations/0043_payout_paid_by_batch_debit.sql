-- Up Migration

-- A batch booking (批量代付: one debit for a payment information block) that debited more than the
-- block's credited payments names no attempt: its exception carries the block's PmtInfId only. A
-- payment of that block the bank answered RJCT for may be in that debit, with the member: it counts
-- as paid by the bank (its retry takes four eyes), as 0042 counts one a debit names.
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

-- Down Migration

CREATE OR REPLACE FUNCTION payout_paid_by_bank(payout bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM payout_attempts a
     WHERE a.payout_id = payout
       AND (a.status = 'RETURNED'
            OR EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')
            OR EXISTS (SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                        WHERE x.payout_attempt_id = a.id AND e.credit_debit = 'DBIT')))
$$;
