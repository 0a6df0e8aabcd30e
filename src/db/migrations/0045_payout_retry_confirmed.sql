-- Up Migration

-- Whether a retry of a payout the bank had paid is confirmed, said once: for the trigger on payouts
-- (0010, 0042), which asked for a confirmed retry following the payout's attempt count, and for the
-- sealing check (plannedAttempts, src/payouts/store/batches.ts), which looked past attempts that
-- were CANCELLED. Those never reached the bank (withdrawn from a batch cancelled, or at sealing: a
-- card changed, a name the file cannot carry): a retry two FINANCE people confirmed after the last
-- attempt that did reach it still frees exactly one payment to the bank. `attempt_no`: the attempt
-- to be made or sent (for the trigger, the next one).
CREATE FUNCTION payout_retry_confirmed(payout bigint, attempt_no int) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM payout_retries r
     WHERE r.payout_id = payout AND r.confirmed_at IS NOT NULL
       AND r.after_attempt >= (SELECT coalesce(max(a.attempt_no), 0) FROM payout_attempts a
                                WHERE a.payout_id = payout AND a.attempt_no < payout_retry_confirmed.attempt_no AND a.status <> 'CANCELLED'))
$$;

CREATE OR REPLACE FUNCTION payout_retry_after_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF payout_paid_by_bank(OLD.id) AND NOT payout_retry_confirmed(OLD.id, OLD.attempts + 1) THEN
    RAISE EXCEPTION 'payout %: the bank had paid it, so a retry needs one FINANCE person''s proposal and another''s confirmation', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

-- Down Migration

CREATE OR REPLACE FUNCTION payout_retry_after_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF payout_paid_by_bank(OLD.id)
      AND NOT EXISTS (SELECT 1 FROM payout_retries r WHERE r.payout_id = OLD.id AND r.after_attempt = OLD.attempts AND r.confirmed_at IS NOT NULL) THEN
    RAISE EXCEPTION 'payout %: the bank had paid it, so a retry needs one FINANCE person''s proposal and another''s confirmation', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
DROP FUNCTION payout_retry_confirmed;
