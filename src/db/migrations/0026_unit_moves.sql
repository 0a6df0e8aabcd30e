-- Up Migration

-- Moving a unit to another organisation (单位划转) changes whose staff see its members and which rule
-- sets decide their claims: one ADMIN proposes, another confirms (four eyes), and only then is
-- units.organisation_id changed. One open proposal per unit.
CREATE TABLE unit_moves (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id              bigint NOT NULL REFERENCES units (id),
  from_organisation_id bigint NOT NULL REFERENCES organisations (id),
  to_organisation_id   bigint NOT NULL REFERENCES organisations (id),
  reason               text NOT NULL CHECK (length(reason) BETWEEN 4 AND 2000),
  status               text NOT NULL DEFAULT 'PROPOSED' CHECK (status IN ('PROPOSED', 'CONFIRMED')),
  proposed_by          text NOT NULL,
  proposed_at          timestamptz NOT NULL DEFAULT now(),
  confirmed_by         text,
  confirmed_at         timestamptz,
  CHECK (from_organisation_id <> to_organisation_id),
  CHECK ((status = 'CONFIRMED') = (confirmed_by IS NOT NULL) AND (confirmed_by IS NULL) = (confirmed_at IS NULL)),
  CONSTRAINT unit_moves_four_eyes CHECK (confirmed_by <> proposed_by)
);
CREATE UNIQUE INDEX unit_moves_one_open ON unit_moves (unit_id) WHERE status = 'PROPOSED';
CREATE INDEX unit_moves_unit ON unit_moves (unit_id, id);

-- A confirmed move never changes; a proposal changes only by its confirmation.
CREATE FUNCTION unit_moves_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'PROPOSED'
     OR (NEW.unit_id, NEW.from_organisation_id, NEW.to_organisation_id, NEW.reason, NEW.proposed_by, NEW.proposed_at)
        IS DISTINCT FROM (OLD.unit_id, OLD.from_organisation_id, OLD.to_organisation_id, OLD.reason, OLD.proposed_by, OLD.proposed_at) THEN
    RAISE EXCEPTION 'unit move %: only a proposal''s confirmation may change it', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER unit_moves_guard_update BEFORE UPDATE ON unit_moves FOR EACH ROW EXECUTE FUNCTION unit_moves_guard_update();

-- A roster imported by an organisation's staff touches only units in its subtree (rows naming
-- another unit are refused as for an unknown unit); its staff see only such imports.
ALTER TABLE roster_imports ADD COLUMN only_organisation_id bigint REFERENCES organisations (id);

-- Down Migration

ALTER TABLE roster_imports DROP COLUMN only_organisation_id;

DROP TRIGGER unit_moves_guard_update ON unit_moves;
DROP FUNCTION unit_moves_guard_update();
DROP TABLE unit_moves;
