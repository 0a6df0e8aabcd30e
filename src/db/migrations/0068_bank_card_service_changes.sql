-- Up Migration

-- A bank account replaced by a service (a SERVICE token, or the `hub` command's roster import,
-- recorded as the service `cli`) is confirmed by no one: a service is no person, so "another
-- person" cannot be told from whoever drove it (an operator who imports a card with `hub` and
-- confirms it under their own FINANCE login). It is paid once its cooling-off has passed, the member
-- told of the change meanwhile. The changer's role is kept beside the changer for this check.
ALTER TABLE members ADD COLUMN bank_card_changed_by_role text;

-- Replacements waiting now take the role of the change that made them (member_changes records it).
UPDATE members m
   SET bank_card_changed_by_role = (SELECT c.role FROM member_changes c
                                     WHERE c.member_id = m.id AND c.field = 'BANK_ACCOUNT' ORDER BY c.id DESC LIMIT 1)
 WHERE m.bank_card_changed_at IS NOT NULL AND m.bank_card_confirmed_by IS NULL;

-- Rows confirmed before keep no role: their confirmations stand.
ALTER TABLE members ADD CONSTRAINT members_bank_card_service_change
  CHECK (bank_card_confirmed_by IS NULL OR bank_card_changed_by_role IS DISTINCT FROM 'SERVICE');

-- Down Migration

ALTER TABLE members DROP CONSTRAINT members_bank_card_service_change, DROP COLUMN bank_card_changed_by_role;
