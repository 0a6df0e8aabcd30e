-- Up Migration

-- Payouts to a replaced card wait (BANK_CARD_COOLING_OFF_DAYS, 0007): planning and batch creation
-- look for READY payouts of members whose recent change is unconfirmed, starting from these few.
CREATE INDEX members_bank_card_unconfirmed ON members (bank_card_changed_at)
  WHERE bank_card_changed_at IS NOT NULL AND bank_card_confirmed_at IS NULL;

-- Retrying a payout the bank had already paid (its credit came back: a return (退票), perhaps
-- after settlement, perhaps on a forged statement) could pay the member twice. Such a retry takes
-- two FINANCE people: one proposes it, another confirms it. One proposal per failure: it names the
-- attempt count it follows, so a confirmation frees exactly one retry.
CREATE TABLE payout_retries (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payout_id         bigint NOT NULL REFERENCES payouts (id),
  after_attempt     int NOT NULL CHECK (after_attempt >= 1),
  proposed_by       text NOT NULL,
  proposed_by_role  text NOT NULL CHECK (proposed_by_role = 'FINANCE'),
  reason            text NOT NULL,
  proposed_at       timestamptz NOT NULL DEFAULT now(),
  confirmed_by      text,
  confirmed_by_role text,
  confirm_reason    text,
  confirmed_at      timestamptz,
  UNIQUE (payout_id, after_attempt),
  CHECK ((confirmed_by IS NULL) = (confirmed_at IS NULL)),
  -- Four eyes: the confirmer is FINANCE and not the proposer (also checked in code).
  CHECK (confirmed_by IS NULL OR (confirmed_by <> proposed_by AND confirmed_by_role = 'FINANCE' AND confirm_reason IS NOT NULL))
);

-- A proposal is only ever confirmed, once; nothing else about it changes.
CREATE FUNCTION payout_retry_confirmation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.confirmed_at IS NOT NULL OR (NEW.payout_id, NEW.after_attempt, NEW.proposed_by, NEW.proposed_by_role, NEW.reason, NEW.proposed_at)
      IS DISTINCT FROM (OLD.payout_id, OLD.after_attempt, OLD.proposed_by, OLD.proposed_by_role, OLD.reason, OLD.proposed_at) THEN
    RAISE EXCEPTION 'payout retry %: a proposal is only confirmed, once', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_retry_confirmation BEFORE UPDATE ON payout_retries FOR EACH ROW EXECUTE FUNCTION payout_retry_confirmation();

-- The database refuses a one-person retry of a payout the bank had paid (an attempt RETURNED):
-- FAILED -> READY or HELD needs a confirmed proposal following its latest attempt.
CREATE FUNCTION payout_retry_after_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM payout_attempts a WHERE a.payout_id = OLD.id AND a.status = 'RETURNED')
      AND NOT EXISTS (SELECT 1 FROM payout_retries r WHERE r.payout_id = OLD.id AND r.after_attempt = OLD.attempts AND r.confirmed_at IS NOT NULL) THEN
    RAISE EXCEPTION 'payout %: the bank had paid it, so a retry needs one FINANCE person''s proposal and another''s confirmation', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_retry_after_payment BEFORE UPDATE ON payouts FOR EACH ROW
  WHEN (OLD.status = 'FAILED' AND NEW.status IN ('READY', 'HELD')) EXECUTE FUNCTION payout_retry_after_payment();

-- A sealed pain.001 names every creditor's card in clear: it is kept encrypted (AES-256-GCM with
-- the personal-data key, file_enc), never in clear. file_xml remains only for files sealed before
-- this migration, until encryptClearBatchFiles (src/payouts/batches.ts, run when the payout worker
-- starts) replaces them by their encryption; until then the code reads either. A row never holds both. The seal and file_sha256 cover the clear file.
ALTER TABLE payout_batches
  ADD COLUMN file_enc bytea,
  DROP CONSTRAINT payout_batches_check3,
  ADD CONSTRAINT payout_batches_sealed_file CHECK (
    status IN ('DRAFT', 'APPROVED', 'CANCELLED') OR ((file_enc IS NOT NULL OR file_xml IS NOT NULL) AND seal IS NOT NULL AND file_sha256 IS NOT NULL)),
  ADD CONSTRAINT payout_batches_file_once CHECK (file_xml IS NULL OR file_enc IS NULL);

-- As in 0004, except that a file sealed in clear may be replaced by its encryption (once); an
-- encrypted file, the seal and the hash never change.
CREATE OR REPLACE FUNCTION payout_batch_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.file_sha256 IS NOT NULL AND (NEW.seal IS DISTINCT FROM OLD.seal OR NEW.file_sha256 IS DISTINCT FROM OLD.file_sha256
      OR (OLD.file_enc IS NOT NULL AND NEW.file_enc IS DISTINCT FROM OLD.file_enc)
      OR (NEW.file_xml IS DISTINCT FROM OLD.file_xml AND NOT (NEW.file_xml IS NULL AND OLD.file_enc IS NULL AND NEW.file_enc IS NOT NULL))) THEN
    RAISE EXCEPTION 'payout batch %: its sealed file cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.approved_by IS NOT NULL AND NEW.approved_by IS DISTINCT FROM OLD.approved_by THEN
    RAISE EXCEPTION 'payout batch %: its approval cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN (
      ('DRAFT', 'APPROVED'), ('DRAFT', 'CANCELLED'), ('APPROVED', 'SEALED'), ('APPROVED', 'CANCELLED'),
      ('SEALED', 'SUBMITTED'), ('SUBMITTED', 'ACCEPTED'), ('SUBMITTED', 'PARTIALLY_ACCEPTED'), ('SUBMITTED', 'REJECTED'),
      ('ACCEPTED', 'SETTLED'), ('PARTIALLY_ACCEPTED', 'SETTLED')) THEN
    RAISE EXCEPTION 'payout batch %: % -> % is not an allowed transition', OLD.msg_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;

-- Down Migration

-- The key is not in the database: going down fails while a sealed file is stored encrypted.
CREATE OR REPLACE FUNCTION payout_batch_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.file_xml IS NOT NULL AND (NEW.file_xml IS DISTINCT FROM OLD.file_xml OR NEW.seal IS DISTINCT FROM OLD.seal
      OR NEW.file_sha256 IS DISTINCT FROM OLD.file_sha256) THEN
    RAISE EXCEPTION 'payout batch %: its sealed file cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.approved_by IS NOT NULL AND NEW.approved_by IS DISTINCT FROM OLD.approved_by THEN
    RAISE EXCEPTION 'payout batch %: its approval cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN (
      ('DRAFT', 'APPROVED'), ('DRAFT', 'CANCELLED'), ('APPROVED', 'SEALED'), ('APPROVED', 'CANCELLED'),
      ('SEALED', 'SUBMITTED'), ('SUBMITTED', 'ACCEPTED'), ('SUBMITTED', 'PARTIALLY_ACCEPTED'), ('SUBMITTED', 'REJECTED'),
      ('ACCEPTED', 'SETTLED'), ('PARTIALLY_ACCEPTED', 'SETTLED')) THEN
    RAISE EXCEPTION 'payout batch %: % -> % is not an allowed transition', OLD.msg_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
ALTER TABLE payout_batches
  DROP CONSTRAINT payout_batches_file_once,
  DROP CONSTRAINT payout_batches_sealed_file,
  ADD CONSTRAINT payout_batches_check3 CHECK (
    status IN ('DRAFT', 'APPROVED', 'CANCELLED') OR (file_xml IS NOT NULL AND seal IS NOT NULL AND file_sha256 IS NOT NULL)),
  DROP COLUMN file_enc;
DROP TRIGGER payout_retry_after_payment ON payouts;
DROP FUNCTION payout_retry_after_payment;
DROP TABLE payout_retries;
DROP FUNCTION payout_retry_confirmation;
DROP INDEX members_bank_card_unconfirmed;
