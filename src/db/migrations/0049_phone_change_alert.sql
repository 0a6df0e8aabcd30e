-- Up Migration

-- A member's phone number on record changed: the member is told by SMS on the number before the
-- change (notifications.alert_phone), whatever channels it chose. A card changed after the phone, in
-- another transaction, was told only to the new phone: an insider who gave their own phone first,
-- and their own card later, kept every alert from the member.
ALTER TABLE notifications
  DROP CONSTRAINT notifications_kind_check,
  ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('CLAIM_DECIDED', 'CLAIM_REDECIDED', 'APPLICATION_ACCEPTED', 'APPLICATION_RETURNED',
    'APPEAL_DECIDED', 'PAYOUT_PAID', 'PAYOUT_FAILED', 'PAYOUT_RETURNED', 'BANK_ACCOUNT_CHANGED', 'CONDOLENCE_APPROVED', 'PHONE_CHANGED'));

-- Down Migration

DELETE FROM notification_deliveries WHERE notification_id IN (SELECT id FROM notifications WHERE kind = 'PHONE_CHANGED');
DELETE FROM notifications WHERE kind = 'PHONE_CHANGED';
ALTER TABLE notifications
  DROP CONSTRAINT notifications_kind_check,
  ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('CLAIM_DECIDED', 'CLAIM_REDECIDED', 'APPLICATION_ACCEPTED', 'APPLICATION_RETURNED',
    'APPEAL_DECIDED', 'PAYOUT_PAID', 'PAYOUT_FAILED', 'PAYOUT_RETURNED', 'BANK_ACCOUNT_CHANGED', 'CONDOLENCE_APPROVED'));
