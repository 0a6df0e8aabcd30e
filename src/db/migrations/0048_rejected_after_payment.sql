-- Up Migration

-- REJECTED_AFTER_PAYMENT: the bank answered RJCT (pain.002) for a payment it had paid, one it had
-- reported credited (ACSC: the attempt stays PAID, as no report changes a final status) or whose
-- debit a statement shows, matched to it (src/reconciliation/refusals.ts). Its status and its
-- statement disagree: a person clears it up with the bank and writes it off with the answer. One per
-- attempt (key), always naming it; on the matched debit's entry, or on none while no debit is matched.
ALTER TABLE reconciliation_exceptions
  DROP CONSTRAINT reconciliation_exceptions_kind_check,
  ADD CONSTRAINT reconciliation_exceptions_kind_check CHECK (kind IN ('UNMATCHED_DEBIT', 'DUPLICATE_DEBIT', 'MISSING_DEBIT', 'AMOUNT_MISMATCH',
                                                                     'UNKNOWN_CREDIT', 'RETURN_AFTER_SETTLEMENT', 'REJECTED_AFTER_PAYMENT')),
  -- 0005's rule (an entry exactly when the kind is not MISSING_DEBIT), with the new kind's entry optional.
  DROP CONSTRAINT reconciliation_exceptions_check2,
  ADD CONSTRAINT reconciliation_exceptions_entry CHECK (CASE kind WHEN 'MISSING_DEBIT' THEN entry_id IS NULL
                                                                  WHEN 'REJECTED_AFTER_PAYMENT' THEN true
                                                                  ELSE entry_id IS NOT NULL END),
  ADD CONSTRAINT reconciliation_exceptions_refused_attempt CHECK (kind <> 'REJECTED_AFTER_PAYMENT' OR payout_attempt_id IS NOT NULL);

-- Down Migration

-- 0005 knows no such exception: they go, with the proposals made on them.
DELETE FROM four_eyes_proposals WHERE exception_id IN (SELECT id FROM reconciliation_exceptions WHERE kind = 'REJECTED_AFTER_PAYMENT');
DELETE FROM reconciliation_exceptions WHERE kind = 'REJECTED_AFTER_PAYMENT';
ALTER TABLE reconciliation_exceptions
  DROP CONSTRAINT reconciliation_exceptions_refused_attempt,
  DROP CONSTRAINT reconciliation_exceptions_entry,
  ADD CONSTRAINT reconciliation_exceptions_check2 CHECK ((entry_id IS NULL) = (kind = 'MISSING_DEBIT')),
  DROP CONSTRAINT reconciliation_exceptions_kind_check,
  ADD CONSTRAINT reconciliation_exceptions_kind_check CHECK (kind IN ('UNMATCHED_DEBIT', 'DUPLICATE_DEBIT', 'MISSING_DEBIT', 'AMOUNT_MISMATCH',
                                                                     'UNKNOWN_CREDIT', 'RETURN_AFTER_SETTLEMENT'));
