-- Up Migration

-- A claim still waiting for a reviewer is figured again when an earlier claim of its member-year
-- releases what it held (a reviewer rejected it or lowered a line): the history keeps that too,
-- PENDING_REVIEW before and after (src/benefits/redecide.ts refigureWaitingAfter).
ALTER TABLE claim_redecisions DROP CONSTRAINT claim_redecisions_cause_check,
  ADD CONSTRAINT claim_redecisions_cause_check
    CHECK (cause IN ('CONTRIBUTION_PAID', 'ENROLMENT_CHANGED', 'MEMBER_MATCHED', 'CORRECTION', 'APPEAL', 'EARLIER_CLAIM_RELEASED'));
ALTER TABLE claim_redecisions DROP CONSTRAINT claim_redecisions_previous_status_check,
  ADD CONSTRAINT claim_redecisions_previous_status_check
    CHECK (previous_status IN ('INELIGIBLE', 'REJECTED') OR (cause = 'EARLIER_CLAIM_RELEASED' AND previous_status = 'PENDING_REVIEW' AND new_status = 'PENDING_REVIEW'));

-- Down Migration

DELETE FROM claim_redecisions WHERE cause = 'EARLIER_CLAIM_RELEASED';
ALTER TABLE claim_redecisions DROP CONSTRAINT claim_redecisions_previous_status_check,
  ADD CONSTRAINT claim_redecisions_previous_status_check CHECK (previous_status IN ('INELIGIBLE', 'REJECTED'));
ALTER TABLE claim_redecisions DROP CONSTRAINT claim_redecisions_cause_check,
  ADD CONSTRAINT claim_redecisions_cause_check
    CHECK (cause IN ('CONTRIBUTION_PAID', 'ENROLMENT_CHANGED', 'MEMBER_MATCHED', 'CORRECTION', 'APPEAL'));
