-- Up Migration

-- The keyed hash (HMAC, the members' lookup key) of the card each payment attempt pays, copied from
-- the member with the encrypted card when the attempt is planned: reconciliation compares the payee
-- account a statement reports with it, where the masked card (bank prefix and last four) let another
-- card sharing both pass as the member's. Attempts from before get it where they pay the card the
-- member still has (the same envelope); the rest keep NULL and are compared masked, as before.
ALTER TABLE payout_attempts ADD COLUMN creditor_account_hash bytea;
ALTER TABLE payout_attempts DISABLE TRIGGER USER;
UPDATE payout_attempts a SET creditor_account_hash = m.bank_card_hash
  FROM payouts p JOIN members m ON m.id = p.member_id
 WHERE p.id = a.payout_id AND a.creditor_account_enc = m.bank_card_enc;
ALTER TABLE payout_attempts ENABLE TRIGGER USER;

-- Like the card it stands for (0004), it never changes once the attempt is planned.
CREATE FUNCTION payout_attempt_card_hash_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.creditor_account_hash IS DISTINCT FROM OLD.creditor_account_hash THEN
    RAISE EXCEPTION 'payout attempt %: what was sent cannot change', OLD.end_to_end_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_attempt_card_hash_frozen BEFORE UPDATE ON payout_attempts FOR EACH ROW EXECUTE FUNCTION payout_attempt_card_hash_frozen();

-- Down Migration

DROP TRIGGER payout_attempt_card_hash_frozen ON payout_attempts;
DROP FUNCTION payout_attempt_card_hash_frozen();
ALTER TABLE payout_attempts DROP COLUMN creditor_account_hash;
