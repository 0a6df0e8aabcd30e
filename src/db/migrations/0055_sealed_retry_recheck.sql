-- Up Migration

-- A PLANNED attempt of the batch that may not go to the bank: a retry of a payout the bank had paid
-- before (payout_paid_by_bank, 0051: returned, debited on a statement, or credited after its
-- refusal) that no second FINANCE person confirmed after the last attempt that reached the bank
-- (payout_retry_confirmed, 0045): the sealing check (plannedAttempts, src/payouts/store/batches.ts).
-- Its payout, or NULL when there is none.
CREATE FUNCTION payout_batch_unconfirmed_retry(batch bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT a.payout_id FROM payout_attempts a
   WHERE a.batch_id = batch AND a.status = 'PLANNED' AND a.attempt_no > 1
     AND payout_paid_by_bank(a.payout_id) AND NOT payout_retry_confirmed(a.payout_id, a.attempt_no)
   ORDER BY a.id LIMIT 1
$$;

-- As in 0027, and a sealed batch never handed to the bank (submission NOT_SENT) that holds such an
-- attempt may be cancelled, whoever released it: the bank was found to have paid the payout (a
-- credit after its refusal, or a debit on a statement) after the sealing, which checked it then.
-- The hand-over (src/payouts/submission.ts, markSending) cancels it: its sealed file cannot change,
-- so it cannot go without that payment. A person still cancels no sealed batch (BATCH_TRANSITIONS).
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
      ('ACCEPTED', 'SETTLED'), ('PARTIALLY_ACCEPTED', 'SETTLED'))
     AND NOT (OLD.status = 'SEALED' AND NEW.status = 'CANCELLED' AND OLD.submission = 'NOT_SENT'
              AND (OLD.policy_id IS NOT NULL OR payout_batch_unconfirmed_retry(OLD.id) IS NOT NULL)) THEN
    RAISE EXCEPTION 'payout batch %: % -> % is not an allowed transition', OLD.msg_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;

-- 0035's rule, and the hand-over itself (submission NOT_SENT -> SENDING) refused while the batch
-- holds an attempt of a payout the bank had paid before, not confirmed by a second FINANCE person
-- after the last attempt that reached the bank (the sealing check, plannedAttempts): whoever writes it.
CREATE OR REPLACE FUNCTION payout_batch_hand_over() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unconfirmed bigint;
BEGIN
  IF OLD.status = 'SEALED' AND NEW.status = 'SUBMITTED' AND NOT (OLD.submission = 'NOT_SENT' AND NEW.submission = 'SENDING') THEN
    RAISE EXCEPTION 'payout batch %: it is submitted only as it is handed to the bank (submission NOT_SENT -> SENDING)', OLD.msg_id
      USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.submission = 'NOT_SENT' AND NEW.submission = 'SENDING' THEN
    unconfirmed := payout_batch_unconfirmed_retry(OLD.id);
    IF unconfirmed IS NOT NULL THEN
      RAISE EXCEPTION 'payout batch %: payout % was paid by the bank before and its retry is not confirmed by a second FINANCE person, the batch may not be sent',
        OLD.msg_id, unconfirmed USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  RETURN NEW;
END $$;

-- Down Migration

CREATE OR REPLACE FUNCTION payout_batch_hand_over() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'SEALED' AND NEW.status = 'SUBMITTED' AND NOT (OLD.submission = 'NOT_SENT' AND NEW.submission = 'SENDING') THEN
    RAISE EXCEPTION 'payout batch %: it is submitted only as it is handed to the bank (submission NOT_SENT -> SENDING)', OLD.msg_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
-- Batches cancelled sealed under this migration stay cancelled: the trigger checks updates only.
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
      ('ACCEPTED', 'SETTLED'), ('PARTIALLY_ACCEPTED', 'SETTLED'))
     AND NOT (OLD.status = 'SEALED' AND NEW.status = 'CANCELLED' AND OLD.policy_id IS NOT NULL AND OLD.submission = 'NOT_SENT') THEN
    RAISE EXCEPTION 'payout batch %: % -> % is not an allowed transition', OLD.msg_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
DROP FUNCTION payout_batch_unconfirmed_retry(bigint);
