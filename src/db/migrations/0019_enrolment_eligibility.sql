-- Up Migration

-- Eligibility at enrolment (issue 17): an enrolment that breaks an overridable rule (BACKDATED,
-- PLAN_MISMATCH) exists only because an ADMIN overrode it, with a reason; the enrolment keeps which
-- rules, why, by whom and when (the audit log keeps every override). No rules, no reason.
ALTER TABLE enrolments
  ADD COLUMN override_rules  text[] NOT NULL DEFAULT '{}'
    CHECK (override_rules <@ ARRAY['BACKDATED', 'PLAN_MISMATCH']::text[]),
  ADD COLUMN override_reason text CHECK (length(btrim(override_reason)) >= 4),
  ADD COLUMN override_by     text,
  ADD COLUMN override_at     timestamptz,
  ADD CONSTRAINT enrolments_override_whole CHECK (
    (cardinality(override_rules) = 0) = (override_reason IS NULL)
    AND (override_reason IS NULL) = (override_by IS NULL)
    AND (override_reason IS NULL) = (override_at IS NULL));

-- Down Migration

ALTER TABLE enrolments
  DROP CONSTRAINT enrolments_override_whole,
  DROP COLUMN override_at,
  DROP COLUMN override_by,
  DROP COLUMN override_reason,
  DROP COLUMN override_rules;
