-- Up Migration

-- Whether the bank had paid a payout, for deciding who may retry it: an attempt RETURNED (the money
-- went out and came back), or an attempt the hub's statements show debited, whatever the bank's
-- status report said (a debit matched to it, or an exception on a debit naming it: a payment the
-- bank answered RJCT after it had accepted and debited it, or debited after refusing it). Such a
-- payout may be with the member already: its retry takes one FINANCE person's proposal and
-- another's confirmation, as for a return; 0010's trigger counted returns alone.
CREATE FUNCTION payout_paid_by_bank(payout bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM payout_attempts a
     WHERE a.payout_id = payout
       AND (a.status = 'RETURNED'
            OR EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')
            OR EXISTS (SELECT 1 FROM reconciliation_exceptions x JOIN statement_entries e ON e.id = x.entry_id
                        WHERE x.payout_attempt_id = a.id AND e.credit_debit = 'DBIT')))
$$;

CREATE OR REPLACE FUNCTION payout_retry_after_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF payout_paid_by_bank(OLD.id)
      AND NOT EXISTS (SELECT 1 FROM payout_retries r WHERE r.payout_id = OLD.id AND r.after_attempt = OLD.attempts AND r.confirmed_at IS NOT NULL) THEN
    RAISE EXCEPTION 'payout %: the bank had paid it, so a retry needs one FINANCE person''s proposal and another''s confirmation', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

-- Down Migration

CREATE OR REPLACE FUNCTION payout_retry_after_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM payout_attempts a WHERE a.payout_id = OLD.id AND a.status = 'RETURNED')
      AND NOT EXISTS (SELECT 1 FROM payout_retries r WHERE r.payout_id = OLD.id AND r.after_attempt = OLD.attempts AND r.confirmed_at IS NOT NULL) THEN
    RAISE EXCEPTION 'payout %: the bank had paid it, so a retry needs one FINANCE person''s proposal and another''s confirmation', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
DROP FUNCTION payout_paid_by_bank;
