-- Up Migration

-- Uploaded bank documents are evidence, not commands. A document moves money (its entries are
-- stored and matched: payouts settled or returned, contributions recorded) only when it carries
-- the bank's verified seal (sealed_by) or a second person confirmed it: until then it waits,
-- parsed and shown, as AWAITING_CONFIRMATION. The one who handed it in cannot confirm it.
-- seal_problem: why a seal that came with an upload was refused (the bytes are kept in `seal`).
ALTER TABLE bank_documents
  DROP CONSTRAINT bank_documents_status_check,
  ADD CONSTRAINT bank_documents_status_check CHECK (status IN ('RECEIVED', 'AWAITING_CONFIRMATION', 'ACCEPTED', 'REJECTED')),
  ADD COLUMN seal_problem        text,
  ADD COLUMN confirmed_by        text,
  ADD COLUMN confirmed_at        timestamptz,
  ADD COLUMN confirmation_reason text,
  ADD CONSTRAINT bank_documents_sealed CHECK (sealed_by IS NULL OR (seal IS NOT NULL AND seal_problem IS NULL)),
  ADD CONSTRAINT bank_documents_four_eyes CHECK (confirmed_by IS NULL OR (confirmed_by <> received_by AND confirmed_at IS NOT NULL AND confirmation_reason IS NOT NULL));
-- Documents accepted before this rule (uploads among them) stay as they are; every change from now on is held to it.
ALTER TABLE bank_documents ADD CONSTRAINT bank_documents_trusted
  CHECK (status <> 'ACCEPTED' OR sealed_by IS NOT NULL OR confirmed_by IS NOT NULL) NOT VALID;

-- A money decision by a person above FOUR_EYES_ABOVE_FEN (a manual contribution payment, the manual
-- match or write-off of a reconciliation exception) is first a proposal, checked as if made and
-- kept with its input (`decision`); it takes effect when a second person confirms it. The proposer
-- may withdraw it (REJECTED by them), never confirm it.
CREATE TABLE four_eyes_proposals (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('CONTRIBUTION_PAYMENT', 'EXCEPTION_MATCH', 'EXCEPTION_WRITE_OFF')),
  unit_id         bigint REFERENCES units (id),
  exception_id    bigint REFERENCES reconciliation_exceptions (id),
  amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
  decision        jsonb NOT NULL,
  proposed_by     text NOT NULL,
  proposed_at     timestamptz NOT NULL DEFAULT now(),
  status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED')),
  decided_by      text,
  decided_at      timestamptz,
  decision_reason text,
  CHECK ((kind = 'CONTRIBUTION_PAYMENT') = (unit_id IS NOT NULL AND exception_id IS NULL)),
  CHECK ((kind = 'CONTRIBUTION_PAYMENT') <> (exception_id IS NOT NULL)),
  CHECK ((status = 'PENDING') = (decided_by IS NULL AND decided_at IS NULL)),
  CHECK (status <> 'CONFIRMED' OR decided_by <> proposed_by)
);
CREATE INDEX four_eyes_proposals_pending ON four_eyes_proposals (kind, id) WHERE status = 'PENDING';
-- One pending decision per exception, and per bank reference of a payment.
CREATE UNIQUE INDEX four_eyes_proposals_exception ON four_eyes_proposals (exception_id) WHERE status = 'PENDING';
CREATE UNIQUE INDEX four_eyes_proposals_reference ON four_eyes_proposals ((decision ->> 'reference')) WHERE status = 'PENDING' AND kind = 'CONTRIBUTION_PAYMENT';

-- Down Migration
DROP TABLE four_eyes_proposals;
UPDATE bank_documents SET status = 'RECEIVED' WHERE status = 'AWAITING_CONFIRMATION';
ALTER TABLE bank_documents
  DROP CONSTRAINT bank_documents_trusted,
  DROP CONSTRAINT bank_documents_four_eyes,
  DROP CONSTRAINT bank_documents_sealed,
  DROP COLUMN confirmation_reason,
  DROP COLUMN confirmed_at,
  DROP COLUMN confirmed_by,
  DROP COLUMN seal_problem,
  DROP CONSTRAINT bank_documents_status_check,
  ADD CONSTRAINT bank_documents_status_check CHECK (status IN ('RECEIVED', 'ACCEPTED', 'REJECTED'));
