-- Up Migration

-- A bank card that replaces another is not paid at once: a payout to it waits (HELD) until the
-- cooling-off period (BANK_CARD_COOLING_OFF_DAYS) has passed since the change, or a second person,
-- not the one who changed it, has confirmed the new card. A member's first card is no change.
-- Setting a new card clears the confirmation; these columns are written only by the members domain.
ALTER TABLE members
  ADD COLUMN bank_card_changed_at   timestamptz,
  ADD COLUMN bank_card_changed_by   text,
  ADD COLUMN bank_card_confirmed_at timestamptz,
  ADD COLUMN bank_card_confirmed_by text,
  ADD CONSTRAINT members_bank_card_confirmation CHECK (
    (bank_card_confirmed_at IS NULL) = (bank_card_confirmed_by IS NULL)
    AND (bank_card_confirmed_by IS NULL
         OR (bank_card_changed_at IS NOT NULL AND bank_card_confirmed_by IS DISTINCT FROM bank_card_changed_by)));

-- Down Migration

ALTER TABLE members
  DROP CONSTRAINT members_bank_card_confirmation,
  DROP COLUMN bank_card_confirmed_by,
  DROP COLUMN bank_card_confirmed_at,
  DROP COLUMN bank_card_changed_by,
  DROP COLUMN bank_card_changed_at;
