-- Up Migration

-- Where a BANK_ACCOUNT_CHANGED is sent by SMS, whatever channels the member chose: the phone on
-- record before the change, fixed when the notification is written (in the change's transaction).
-- The worker read the member's phone when it sent, so an insider who changed the phone with the
-- card (or after it) took the alert with the payout, and a member's login could choose no channel
-- before redirecting the card. Null: no phone before the change, or a notification of another kind
-- or written before this column (sent as before, to the channels chosen).
ALTER TABLE notifications ADD COLUMN alert_phone text;

-- Down Migration

ALTER TABLE notifications DROP COLUMN alert_phone;
