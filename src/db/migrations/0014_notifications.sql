-- Up Migration

-- The notification outbox: one row per event a member is told of, inserted in the transaction of
-- the decision or payment itself. `facts` holds figures only (no name, ID number, card or phone).
CREATE TABLE notifications (
  id           bigserial PRIMARY KEY,
  member_id    bigint NOT NULL REFERENCES members (id),
  kind         text NOT NULL CHECK (kind IN ('CLAIM_DECIDED', 'CLAIM_REDECIDED', 'APPLICATION_ACCEPTED', 'APPLICATION_RETURNED',
                 'APPEAL_DECIDED', 'PAYOUT_PAID', 'PAYOUT_FAILED', 'PAYOUT_RETURNED', 'BANK_ACCOUNT_CHANGED')),
  subject_type text NOT NULL CHECK (subject_type IN ('Claim', 'Application', 'Appeal', 'Payout', 'Member')),
  subject_id   bigint NOT NULL,
  event_key    text NOT NULL DEFAULT '',
  facts        jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- When the worker turned it into deliveries on the member's channels (none when the member chose none).
  planned_at   timestamptz,
  UNIQUE (kind, subject_type, subject_id, event_key)
);
CREATE INDEX notifications_member ON notifications (member_id, id);
CREATE INDEX notifications_unplanned ON notifications (id) WHERE planned_at IS NULL;

-- A member's channels. No row: SMS when the member has a phone on record. An empty list: told
-- through the hub only (Member.notifications), never pushed. The WeChat openid is kept encrypted.
CREATE TABLE notification_preferences (
  member_id         bigint PRIMARY KEY REFERENCES members (id),
  channels          text[] NOT NULL CHECK (channels <@ ARRAY['SMS', 'WECHAT']::text[]),
  wechat_openid_enc bytea,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (NOT ('WECHAT' = ANY (channels)) OR wechat_openid_enc IS NOT NULL)
);

-- One delivery per notification and channel. SENDING is committed before the channel is called,
-- so a worker that dies mid-call leaves a trace; such a delivery (and an UNKNOWN one) is asked
-- about by its id (the idempotency key) before it is ever sent again.
CREATE TABLE notification_deliveries (
  id                  bigserial PRIMARY KEY,
  notification_id     bigint NOT NULL REFERENCES notifications (id),
  channel             text NOT NULL CHECK (channel IN ('SMS', 'WECHAT')),
  status              text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENDING', 'SENT', 'FAILED', 'UNKNOWN')),
  attempts            int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at     timestamptz NOT NULL DEFAULT now(),
  sending_since       timestamptz,
  provider_message_id text,
  last_error          text,
  sent_at             timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (notification_id, channel),
  CHECK ((status = 'SENT') = (sent_at IS NOT NULL)),
  CHECK (status <> 'SENDING' OR sending_since IS NOT NULL)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at, id) WHERE status IN ('PENDING', 'SENDING', 'UNKNOWN');
CREATE INDEX notification_deliveries_status ON notification_deliveries (status, id);

-- A SENT delivery is final: never sent again, never reopened (a retry by staff reopens FAILED only).
CREATE FUNCTION notification_delivery_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'SENT' AND NEW.status <> 'SENT' THEN
    RAISE EXCEPTION 'notification delivery % was SENT: it cannot become %', OLD.id, NEW.status USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER notification_delivery_transition BEFORE UPDATE OF status ON notification_deliveries
  FOR EACH ROW EXECUTE FUNCTION notification_delivery_transition();

-- Down Migration

DROP TABLE notification_deliveries;
DROP FUNCTION notification_delivery_transition();
DROP TABLE notification_preferences;
DROP TABLE notifications;
