-- Up Migration

-- A row trigger's look at a table is planned once a connection: PL/pgSQL keeps the statement's
-- generic plan for the connection's life, and a plan made while the table was nearly empty (a new
-- deployment, a small roster or a first payout run on the same pooled connection) may read the table
-- sequentially, or by an index that holds only part of the key. Nothing plans it again until the
-- table is analyzed, never inside the one statement that grows it: a roster merge, a batch's audit
-- rows, a page of payouts and their lines. Each row then read the whole table: a roster merge of 24 s
-- ran for more than 8 minutes, and 5,000 audit rows took 4.3 s where they take 0.15 s.
-- Every row trigger that reads a table prices sequential scans out inside itself (no query of the
-- caller is touched), so its look goes by the index of its key however small the table was when it
-- was planned; test/db/triggerLooks.test.ts keeps every such trigger so. Planning at every call
-- instead would cost more than the looks themselves (about 40 µs a row against 4).
ALTER FUNCTION appeals_copy_claim() SET enable_seqscan = off;
ALTER FUNCTION audit_checkpoints_chain() SET enable_seqscan = off;
ALTER FUNCTION audit_log_chain() SET enable_seqscan = off;
ALTER FUNCTION benefit_lines_funder() SET enable_seqscan = off;
ALTER FUNCTION claims_applicant_four_eyes() SET enable_seqscan = off;
ALTER FUNCTION claims_categories_four_eyes() SET enable_seqscan = off;
ALTER FUNCTION claims_guard_redecision() SET enable_seqscan = off;
ALTER FUNCTION condolences_copy_unit() SET enable_seqscan = off;
ALTER FUNCTION organisations_path() SET enable_seqscan = off;
ALTER FUNCTION payout_attempts_funder() SET enable_seqscan = off;
ALTER FUNCTION payout_attempts_released_batch() SET enable_seqscan = off;
ALTER FUNCTION payout_batch_release() SET enable_seqscan = off;
ALTER FUNCTION payout_batches_funder() SET enable_seqscan = off;
ALTER FUNCTION payout_lines_funder() SET enable_seqscan = off;
ALTER FUNCTION payouts_funder() SET enable_seqscan = off;
ALTER FUNCTION rule_sets_published() SET enable_seqscan = off;
ALTER FUNCTION units_defaults() SET enable_seqscan = off;
ALTER FUNCTION units_terms_four_eyes() SET enable_seqscan = off;

-- 0067's look at the member's enrolment of the year before, for every row given the add-on with its
-- enrolment (a fifth of a province's renewal), also tied the unique index of (member, year) with the
-- plan year's index, which reads all of a year with the member as a mere filter: `plan_year + 0` is
-- no column the year's indexes hold, so only the unique index serves it.
CREATE OR REPLACE FUNCTION enrolments_special_disease_since() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
  had boolean;
  since date;
BEGIN
  IF NOT NEW.special_disease THEN
    NEW.special_disease_since := NULL;
  ELSIF TG_OP = 'UPDATE' AND OLD.special_disease AND OLD.special_disease_from = NEW.special_disease_from THEN
    NEW.special_disease_since := OLD.special_disease_since;
  ELSIF NEW.special_disease_from = NEW.enrolled_on THEN
    SELECT prev.special_disease, prev.special_disease_since INTO had, since
      FROM enrolments prev WHERE prev.member_id = NEW.member_id AND prev.plan_year + 0 = NEW.plan_year - 1;
    NEW.special_disease_since := CASE WHEN NOT FOUND THEN NEW.first_enrolled_on WHEN had THEN since ELSE NEW.special_disease_from END;
  ELSE
    NEW.special_disease_since := NEW.special_disease_from;
  END IF;
  RETURN NEW;
END;
$$;

-- Down Migration

ALTER FUNCTION appeals_copy_claim() RESET enable_seqscan;
ALTER FUNCTION audit_checkpoints_chain() RESET enable_seqscan;
ALTER FUNCTION audit_log_chain() RESET enable_seqscan;
ALTER FUNCTION benefit_lines_funder() RESET enable_seqscan;
ALTER FUNCTION claims_applicant_four_eyes() RESET enable_seqscan;
ALTER FUNCTION claims_categories_four_eyes() RESET enable_seqscan;
ALTER FUNCTION claims_guard_redecision() RESET enable_seqscan;
ALTER FUNCTION condolences_copy_unit() RESET enable_seqscan;
ALTER FUNCTION organisations_path() RESET enable_seqscan;
ALTER FUNCTION payout_attempts_funder() RESET enable_seqscan;
ALTER FUNCTION payout_attempts_released_batch() RESET enable_seqscan;
ALTER FUNCTION payout_batch_release() RESET enable_seqscan;
ALTER FUNCTION payout_batches_funder() RESET enable_seqscan;
ALTER FUNCTION payout_lines_funder() RESET enable_seqscan;
ALTER FUNCTION payouts_funder() RESET enable_seqscan;
ALTER FUNCTION rule_sets_published() RESET enable_seqscan;
ALTER FUNCTION units_defaults() RESET enable_seqscan;
ALTER FUNCTION units_terms_four_eyes() RESET enable_seqscan;
CREATE OR REPLACE FUNCTION enrolments_special_disease_since() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  had boolean;
  since date;
BEGIN
  IF NOT NEW.special_disease THEN
    NEW.special_disease_since := NULL;
  ELSIF TG_OP = 'UPDATE' AND OLD.special_disease AND OLD.special_disease_from = NEW.special_disease_from THEN
    NEW.special_disease_since := OLD.special_disease_since;
  ELSIF NEW.special_disease_from = NEW.enrolled_on THEN
    SELECT prev.special_disease, prev.special_disease_since INTO had, since
      FROM enrolments prev WHERE prev.member_id = NEW.member_id AND prev.plan_year = NEW.plan_year - 1;
    NEW.special_disease_since := CASE WHEN NOT FOUND THEN NEW.first_enrolled_on WHEN had THEN since ELSE NEW.special_disease_from END;
  ELSE
    NEW.special_disease_since := NEW.special_disease_from;
  END IF;
  RETURN NEW;
END;
$$;
