-- Up Migration

-- 0051's rule, but a debit's exception stops counting the payout it names, or the refused attempts
-- it lists, only for a PAYOUT match to another payout on the exception's own transaction: a batch
-- booking (one entry, several TxDtls) pays another payout on one transaction and may be the refused
-- payment on the next, so a match elsewhere on the entry says nothing of it. A person's match of the
-- exception is on its transaction (applyMatch, src/reconciliation/resolve.ts: the whole entry, 0,
-- when it names none); the matcher gives every exception on an entry its transaction.
CREATE OR REPLACE FUNCTION payout_paid_by_bank(payout bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
     WHERE a.payout_id = payout
       AND (a.status = 'RETURNED'
            OR EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')
            OR EXISTS (SELECT 1 FROM reconciliation_exceptions x WHERE x.payout_attempt_id = a.id AND x.kind = 'PAID_AFTER_REJECTION')
            OR EXISTS (SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                        WHERE x.payout_attempt_id = a.id AND e.credit_debit = 'DBIT'
                          AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m JOIN payout_attempts o ON o.id = m.payout_attempt_id
                                           WHERE m.entry_id = x.entry_id AND m.tx_index = coalesce(x.tx_index, 0) AND m.kind = 'PAYOUT' AND o.payout_id <> a.payout_id))
            OR (a.status = 'REJECTED' AND EXISTS (
                 SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                  WHERE x.evidence->>'pmtInfId' = b.pmt_inf_id AND x.payout_attempt_id IS NULL AND e.credit_debit = 'DBIT'))
            OR (a.status = 'REJECTED' AND EXISTS (
                 SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                  WHERE x.evidence->'refused' ? a.end_to_end_id AND x.payout_attempt_id IS NULL AND e.credit_debit = 'DBIT'
                    AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m JOIN payout_attempts o ON o.id = m.payout_attempt_id
                                     WHERE m.entry_id = x.entry_id AND m.tx_index = coalesce(x.tx_index, 0) AND m.kind = 'PAYOUT' AND o.payout_id <> a.payout_id)))))
$$;

-- Down Migration

CREATE OR REPLACE FUNCTION payout_paid_by_bank(payout bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
     WHERE a.payout_id = payout
       AND (a.status = 'RETURNED'
            OR EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')
            OR EXISTS (SELECT 1 FROM reconciliation_exceptions x WHERE x.payout_attempt_id = a.id AND x.kind = 'PAID_AFTER_REJECTION')
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
