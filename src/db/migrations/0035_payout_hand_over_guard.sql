-- Up Migration

-- What a payment attempt tells the bank is fixed when it is planned: 0004 froze its EndToEndId,
-- amount, batch and card; its payout, number, payee's name and bank, the masked card shown to the
-- approver and the remittance text are fixed as well (sealing writes them into the file, and a
-- bank report marks the attempt's payout paid).
CREATE FUNCTION payout_attempt_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.payout_id, NEW.attempt_no, NEW.creditor_name, NEW.creditor_agent, NEW.creditor_account_masked, NEW.remittance_info)
     IS DISTINCT FROM (OLD.payout_id, OLD.attempt_no, OLD.creditor_name, OLD.creditor_agent, OLD.creditor_account_masked, OLD.remittance_info) THEN
    RAISE EXCEPTION 'payout attempt %: what was sent cannot change', OLD.end_to_end_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_attempt_frozen BEFORE UPDATE ON payout_attempts FOR EACH ROW EXECUTE FUNCTION payout_attempt_frozen();

-- A sealed batch becomes SUBMITTED only as it is handed to the bank (submission NOT_SENT -> SENDING),
-- the step at which 0027 checks that a policy batch's policy is still in force: a status moved on
-- its own would skip that check, and the worker sends any SUBMITTED batch the bank has not received.
CREATE FUNCTION payout_batch_hand_over() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'SEALED' AND NEW.status = 'SUBMITTED' AND NOT (OLD.submission = 'NOT_SENT' AND NEW.submission = 'SENDING') THEN
    RAISE EXCEPTION 'payout batch %: it is submitted only as it is handed to the bank (submission NOT_SENT -> SENDING)', OLD.msg_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_batch_hand_over BEFORE UPDATE ON payout_batches FOR EACH ROW EXECUTE FUNCTION payout_batch_hand_over();

-- Down Migration

DROP TRIGGER payout_batch_hand_over ON payout_batches;
DROP FUNCTION payout_batch_hand_over();
DROP TRIGGER payout_attempt_frozen ON payout_attempts;
DROP FUNCTION payout_attempt_frozen();
