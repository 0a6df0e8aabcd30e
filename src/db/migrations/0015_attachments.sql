-- Up Migration

-- Members' documents (settlement sheets, invoices, discharge summaries): PDF, JPEG or PNG, their type
-- checked by their bytes. The bytes are content-addressed (SHA-256 of the plain file) and stored once,
-- encrypted (AES-256-GCM under PII_KEY); each use by a member is an `attachments` row of its own.
CREATE TABLE attachment_blobs (
  sha256     bytea PRIMARY KEY CHECK (length(sha256) = 32),
  size_bytes int NOT NULL CHECK (size_bytes > 0),
  sealed     bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- An attachment belongs to one member and says nothing of its use: the object it supports (an
-- application, an appeal) links it in a table of its own domain.
CREATE TABLE attachments (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  member_id    bigint NOT NULL REFERENCES members (id),
  kind         text NOT NULL CHECK (kind IN ('SETTLEMENT_SHEET', 'INVOICE', 'DISCHARGE_SUMMARY', 'APPEAL_EVIDENCE', 'OTHER')),
  content_type text NOT NULL CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
  size_bytes   int NOT NULL CHECK (size_bytes > 0),
  sha256       bytea NOT NULL REFERENCES attachment_blobs (sha256),
  file_name    text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
  uploaded_by  text NOT NULL,
  uploaded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_member ON attachments (member_id, id);
CREATE INDEX attachments_blob ON attachments (sha256);

-- Down Migration

DROP TABLE attachments;
DROP TABLE attachment_blobs;
