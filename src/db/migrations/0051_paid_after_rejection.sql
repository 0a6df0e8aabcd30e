-- Up Migration

-- PAID_AFTER_REJECTION: the bank reported credited (pain.002 ACSC) a payment it had refused (RJCT),
-- the mirror of 0048's REJECTED_AFTER_PAYMENT (src/reconciliation/refusals.ts). The attempt stays
-- REJECTED (no report changes a final status), but the member may have the money. One per attempt
-- (key), always naming it, on no entry: the bank's word is all there is.
ALTER TABLE reconciliation_exceptions
  DROP CONSTRAINT reconciliation_exceptions_kind_check,
  ADD CONSTRAINT reconciliation_exceptions_kind_check CHECK (kind IN ('UNMATCHED_DEBIT', 'DUPLICATE_DEBIT', 'MISSING_DEBIT', 'AMOUNT_MISMATCH',
                                                                     'UNKNOWN_CREDIT', 'RETURN_AFTER_SETTLEMENT', 'REJECTED_AFTER_PAYMENT',
                                                                     'PAID_AFTER_REJECTION')),
  DROP CONSTRAINT reconciliation_exceptions_entry,
  ADD CONSTRAINT reconciliation_exceptions_entry CHECK (CASE kind WHEN 'MISSING_DEBIT' THEN entry_id IS NULL
                                                                  WHEN 'PAID_AFTER_REJECTION' THEN entry_id IS NULL
                                                                  WHEN 'REJECTED_AFTER_PAYMENT' THEN true
                                                                  ELSE entry_id IS NOT NULL END),
  DROP CONSTRAINT reconciliation_exceptions_refused_attempt,
  ADD CONSTRAINT reconciliation_exceptions_refused_attempt CHECK (kind NOT IN ('REJECTED_AFTER_PAYMENT', 'PAID_AFTER_REJECTION') OR payout_attempt_id IS NOT NULL);

-- 0046's rule, and a payout one of whose refused attempts the bank reported credited after all: it
-- may be with the member, whatever became of the exception, so its retry takes four eyes and a
-- retry one person made before the credit was reported is withdrawn at sealing (plannedAttempts).
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

-- Down Migration

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

-- 0048 knows no such exception: they go, with the proposals made on them.
DELETE FROM four_eyes_proposals WHERE exception_id IN (SELECT id FROM reconciliation_exceptions WHERE kind = 'PAID_AFTER_REJECTION');
DELETE FROM reconciliation_exceptions WHERE kind = 'PAID_AFTER_REJECTION';
ALTER TABLE reconciliation_exceptions
  DROP CONSTRAINT reconciliation_exceptions_refused_attempt,
  ADD CONSTRAINT reconciliation_exceptions_refused_attempt CHECK (kind <> 'REJECTED_AFTER_PAYMENT' OR payout_attempt_id IS NOT NULL),
  DROP CONSTRAINT reconciliation_exceptions_entry,
  ADD CONSTRAINT reconciliation_exceptions_entry CHECK (CASE kind WHEN 'MISSING_DEBIT' THEN entry_id IS NULL
                                                                  WHEN 'REJECTED_AFTER_PAYMENT' THEN true
                                                                  ELSE entry_id IS NOT NULL END),
  DROP CONSTRAINT reconciliation_exceptions_kind_check,
  ADD CONSTRAINT reconciliation_exceptions_kind_check CHECK (kind IN ('UNMATCHED_DEBIT', 'DUPLICATE_DEBIT', 'MISSING_DEBIT', 'AMOUNT_MISMATCH',
                                                                     'UNKNOWN_CREDIT', 'RETURN_AFTER_SETTLEMENT', 'REJECTED_AFTER_PAYMENT'));
