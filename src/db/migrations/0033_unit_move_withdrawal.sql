-- Up Migration

-- A waiting unit move may be withdrawn, with a reason, by its proposer or by another ADMIN who could
-- confirm it: a proposal made in error, or one whose unit has left the organisation it was proposed
-- from (it can no longer be confirmed), no longer blocks the unit's next move.
ALTER TABLE unit_moves DROP CONSTRAINT unit_moves_status_check;
ALTER TABLE unit_moves
  ADD CONSTRAINT unit_moves_status_check CHECK (status IN ('PROPOSED', 'CONFIRMED', 'WITHDRAWN')),
  ADD COLUMN withdrawn_by text,
  ADD COLUMN withdrawn_at timestamptz,
  ADD COLUMN withdrawal_reason text CHECK (length(withdrawal_reason) BETWEEN 4 AND 2000),
  ADD CONSTRAINT unit_moves_withdrawn CHECK ((status = 'WITHDRAWN') = (withdrawn_by IS NOT NULL)
    AND (withdrawn_by IS NULL) = (withdrawn_at IS NULL) AND (withdrawn_by IS NULL) = (withdrawal_reason IS NULL));

-- A decided move never changes; a proposal changes only by its confirmation or its withdrawal.
CREATE OR REPLACE FUNCTION unit_moves_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'PROPOSED'
     OR (NEW.unit_id, NEW.from_organisation_id, NEW.to_organisation_id, NEW.reason, NEW.proposed_by, NEW.proposed_at)
        IS DISTINCT FROM (OLD.unit_id, OLD.from_organisation_id, OLD.to_organisation_id, OLD.reason, OLD.proposed_by, OLD.proposed_at) THEN
    RAISE EXCEPTION 'unit move %: only a proposal''s confirmation or withdrawal may change it', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

-- Down Migration

CREATE OR REPLACE FUNCTION unit_moves_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'PROPOSED'
     OR (NEW.unit_id, NEW.from_organisation_id, NEW.to_organisation_id, NEW.reason, NEW.proposed_by, NEW.proposed_at)
        IS DISTINCT FROM (OLD.unit_id, OLD.from_organisation_id, OLD.to_organisation_id, OLD.reason, OLD.proposed_by, OLD.proposed_at) THEN
    RAISE EXCEPTION 'unit move %: only a proposal''s confirmation may change it', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

-- A withdrawn move has no form before this migration.
DELETE FROM unit_moves WHERE status = 'WITHDRAWN';
ALTER TABLE unit_moves DROP CONSTRAINT unit_moves_withdrawn, DROP COLUMN withdrawal_reason, DROP COLUMN withdrawn_at, DROP COLUMN withdrawn_by;
ALTER TABLE unit_moves DROP CONSTRAINT unit_moves_status_check;
ALTER TABLE unit_moves ADD CONSTRAINT unit_moves_status_check CHECK (status IN ('PROPOSED', 'CONFIRMED'));
