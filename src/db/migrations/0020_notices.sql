-- Up Migration

-- Sealed PDF notices (通知书): one per decision or payment notification, rendered and signed with
-- the union's seal by the notice worker. The PDF names the member, so it is stored encrypted
-- (AES-256-GCM); sha256 is of the signed PDF as delivered.
CREATE TABLE notices (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  notification_id bigint NOT NULL UNIQUE REFERENCES notifications (id),
  member_id       bigint NOT NULL REFERENCES members (id),
  kind            text NOT NULL CHECK (kind IN ('CLAIM_DECIDED', 'CLAIM_REDECIDED', 'APPLICATION_ACCEPTED', 'APPLICATION_RETURNED',
                    'APPEAL_DECIDED', 'PAYOUT_PAID', 'PAYOUT_FAILED', 'PAYOUT_RETURNED')),
  subject_type    text NOT NULL CHECK (subject_type IN ('Claim', 'Application', 'Appeal', 'Payout')),
  subject_id      bigint NOT NULL,
  number          text NOT NULL UNIQUE,
  sha256          bytea NOT NULL CHECK (length(sha256) = 32),
  pdf_enc         bytea NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notices_member ON notices (member_id, id);
CREATE INDEX notices_subject ON notices (subject_type, subject_id, id);
-- Ciphertext does not compress.
ALTER TABLE notices ALTER COLUMN pdf_enc SET STORAGE EXTERNAL;

-- Down Migration

DROP TABLE notices;
