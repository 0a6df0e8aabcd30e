-- Up Migration

-- Condolence payments (慰问金) for workers who were NOT enrolled in the plan year: applied for by
-- their unit union, capped by the governing rule set's `condolence` section (per case and per
-- worker and year), approved by a second person (four eyes), paid as a payout of the section's
-- funder. The worker's unit is copied from the roster by a trigger (no writer supplies it).
--   PENDING -> APPROVED | REJECTED (a REVIEWER or ADMIN who did not apply) | WITHDRAWN (the applicant), once.
CREATE TABLE condolences (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  member_id           bigint NOT NULL REFERENCES members (id),
  unit_id             bigint NOT NULL REFERENCES units (id), -- set by the trigger
  plan_year           int NOT NULL CHECK (plan_year BETWEEN 2000 AND 2100),
  reason              text NOT NULL CHECK (reason IN ('SERIOUS_ILLNESS', 'DEATH', 'HARDSHIP', 'ACCIDENT')),
  description         text NOT NULL CHECK (length(description) BETWEEN 4 AND 2000),
  occurred_on         date NOT NULL,
  requested_fen       bigint NOT NULL CHECK (requested_fen > 0),
  approved_fen        bigint CHECK (approved_fen > 0),
  funder_id           bigint NOT NULL REFERENCES funders (id),
  rule_set_id         text NOT NULL,
  rule_set_version    int NOT NULL,
  status              text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'WITHDRAWN')),
  applied_by          text NOT NULL,
  applied_role        text NOT NULL,
  applied_at          timestamptz NOT NULL DEFAULT now(),
  decided_by          text,
  decided_role        text,
  decided_at          timestamptz,
  decision_note       text CHECK (length(decision_note) BETWEEN 4 AND 2000),
  CHECK (approved_fen <= requested_fen),
  CHECK ((status = 'APPROVED') = (approved_fen IS NOT NULL)),
  CHECK ((status = 'PENDING') = (decided_at IS NULL)),
  -- A withdrawal is the applicant's own act; a decision is a second person's.
  CHECK ((status IN ('APPROVED', 'REJECTED')) = (decided_by IS NOT NULL AND decided_role IS NOT NULL AND decision_note IS NOT NULL)),
  CONSTRAINT condolences_four_eyes CHECK (decided_by IS NULL OR decided_by <> applied_by)
);
CREATE INDEX condolences_member_year ON condolences (member_id, plan_year, id);
CREATE INDEX condolences_unit ON condolences (unit_id, id);
CREATE INDEX condolences_status ON condolences (status, id);

CREATE FUNCTION condolences_copy_unit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT m.unit_id INTO NEW.unit_id FROM members m WHERE m.id = NEW.member_id;
  RETURN NEW;
END $$;
CREATE TRIGGER condolences_copy_unit BEFORE INSERT ON condolences FOR EACH ROW EXECUTE FUNCTION condolences_copy_unit();

-- PENDING -> APPROVED | REJECTED | WITHDRAWN once; what was applied for never changes.
CREATE FUNCTION condolences_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'PENDING' THEN
    RAISE EXCEPTION 'condolence % is % and cannot change', OLD.id, OLD.status USING ERRCODE = 'check_violation';
  END IF;
  IF (NEW.member_id, NEW.unit_id, NEW.plan_year, NEW.reason, NEW.description, NEW.occurred_on, NEW.requested_fen, NEW.funder_id,
      NEW.rule_set_id, NEW.rule_set_version, NEW.applied_by, NEW.applied_role, NEW.applied_at)
     IS DISTINCT FROM (OLD.member_id, OLD.unit_id, OLD.plan_year, OLD.reason, OLD.description, OLD.occurred_on, OLD.requested_fen, OLD.funder_id,
      OLD.rule_set_id, OLD.rule_set_version, OLD.applied_by, OLD.applied_role, OLD.applied_at) THEN
    RAISE EXCEPTION 'condolence %: what was applied for cannot change', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER condolences_guard_update BEFORE UPDATE ON condolences FOR EACH ROW EXECUTE FUNCTION condolences_guard_update();

-- A payout pays either a claim or an approved condolence, never both; one payout per condolence.
ALTER TABLE payouts
  ALTER COLUMN claim_id DROP NOT NULL,
  ADD COLUMN condolence_id bigint UNIQUE REFERENCES condolences (id),
  ADD CONSTRAINT payouts_pays_one CHECK ((claim_id IS NULL) <> (condolence_id IS NULL));

-- The worker is told of the approval in the decision's transaction.
ALTER TABLE notifications
  DROP CONSTRAINT notifications_kind_check,
  DROP CONSTRAINT notifications_subject_type_check,
  ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('CLAIM_DECIDED', 'CLAIM_REDECIDED', 'APPLICATION_ACCEPTED', 'APPLICATION_RETURNED',
    'APPEAL_DECIDED', 'PAYOUT_PAID', 'PAYOUT_FAILED', 'PAYOUT_RETURNED', 'BANK_ACCOUNT_CHANGED', 'CONDOLENCE_APPROVED')),
  ADD CONSTRAINT notifications_subject_type_check CHECK (subject_type IN ('Claim', 'Application', 'Appeal', 'Payout', 'Member', 'Condolence'));

-- Down Migration

ALTER TABLE notifications
  DROP CONSTRAINT notifications_kind_check,
  DROP CONSTRAINT notifications_subject_type_check,
  ADD CONSTRAINT notifications_kind_check CHECK (kind IN ('CLAIM_DECIDED', 'CLAIM_REDECIDED', 'APPLICATION_ACCEPTED', 'APPLICATION_RETURNED',
    'APPEAL_DECIDED', 'PAYOUT_PAID', 'PAYOUT_FAILED', 'PAYOUT_RETURNED', 'BANK_ACCOUNT_CHANGED')),
  ADD CONSTRAINT notifications_subject_type_check CHECK (subject_type IN ('Claim', 'Application', 'Appeal', 'Payout', 'Member'));
ALTER TABLE payouts DROP CONSTRAINT payouts_pays_one, DROP COLUMN condolence_id, ALTER COLUMN claim_id SET NOT NULL;
DROP TRIGGER condolences_guard_update ON condolences;
DROP FUNCTION condolences_guard_update();
DROP TRIGGER condolences_copy_unit ON condolences;
DROP FUNCTION condolences_copy_unit();
DROP TABLE condolences;
