-- Up Migration

-- RESEND_WITHHELD: a batch handed to the bank without an answer (SENDING, UNKNOWN), which the bank then
-- said it never received, was not sent again: it holds a retry one person made of a payout the bank
-- has since been found to have paid (payout_paid_by_bank, 0051), no second FINANCE person having
-- confirmed it (src/payouts/submission.ts, mayResend; src/reconciliation/refusals.ts). One per retry
-- attempt (key), always naming it, on no entry: the batch and the bank's silence are all there is.
-- A re-send writes nothing before its call (the row is SUBMITTED already, its MsgId the same), so
-- there is no transition here for payout_batch_hand_over (0055) to refuse.
ALTER TABLE reconciliation_exceptions
  DROP CONSTRAINT reconciliation_exceptions_kind_check,
  ADD CONSTRAINT reconciliation_exceptions_kind_check CHECK (kind IN ('UNMATCHED_DEBIT', 'DUPLICATE_DEBIT', 'MISSING_DEBIT', 'AMOUNT_MISMATCH',
                                                                     'UNKNOWN_CREDIT', 'RETURN_AFTER_SETTLEMENT', 'REJECTED_AFTER_PAYMENT',
                                                                     'PAID_AFTER_REJECTION', 'RESEND_WITHHELD')),
  DROP CONSTRAINT reconciliation_exceptions_entry,
  ADD CONSTRAINT reconciliation_exceptions_entry CHECK (CASE kind WHEN 'MISSING_DEBIT' THEN entry_id IS NULL
                                                                  WHEN 'PAID_AFTER_REJECTION' THEN entry_id IS NULL
                                                                  WHEN 'RESEND_WITHHELD' THEN entry_id IS NULL
                                                                  WHEN 'REJECTED_AFTER_PAYMENT' THEN true
                                                                  ELSE entry_id IS NOT NULL END),
  DROP CONSTRAINT reconciliation_exceptions_refused_attempt,
  ADD CONSTRAINT reconciliation_exceptions_refused_attempt CHECK (kind NOT IN ('REJECTED_AFTER_PAYMENT', 'PAID_AFTER_REJECTION', 'RESEND_WITHHELD')
                                                                  OR payout_attempt_id IS NOT NULL);

-- Down Migration

-- 0051 knows no such exception: they go, with the proposals made on them.
DELETE FROM four_eyes_proposals WHERE exception_id IN (SELECT id FROM reconciliation_exceptions WHERE kind = 'RESEND_WITHHELD');
DELETE FROM reconciliation_exceptions WHERE kind = 'RESEND_WITHHELD';
ALTER TABLE reconciliation_exceptions
  DROP CONSTRAINT reconciliation_exceptions_refused_attempt,
  ADD CONSTRAINT reconciliation_exceptions_refused_attempt CHECK (kind NOT IN ('REJECTED_AFTER_PAYMENT', 'PAID_AFTER_REJECTION') OR payout_attempt_id IS NOT NULL),
  DROP CONSTRAINT reconciliation_exceptions_entry,
  ADD CONSTRAINT reconciliation_exceptions_entry CHECK (CASE kind WHEN 'MISSING_DEBIT' THEN entry_id IS NULL
                                                                  WHEN 'PAID_AFTER_REJECTION' THEN entry_id IS NULL
                                                                  WHEN 'REJECTED_AFTER_PAYMENT' THEN true
                                                                  ELSE entry_id IS NOT NULL END),
  DROP CONSTRAINT reconciliation_exceptions_kind_check,
  ADD CONSTRAINT reconciliation_exceptions_kind_check CHECK (kind IN ('UNMATCHED_DEBIT', 'DUPLICATE_DEBIT', 'MISSING_DEBIT', 'AMOUNT_MISMATCH',
                                                                     'UNKNOWN_CREDIT', 'RETURN_AFTER_SETTLEMENT', 'REJECTED_AFTER_PAYMENT',
                                                                     'PAID_AFTER_REJECTION'));
