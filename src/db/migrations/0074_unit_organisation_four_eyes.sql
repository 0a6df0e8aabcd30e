-- Up Migration

-- A unit's organisation decides whose staff see its members and which rule sets and funds pay their
-- claims; its move takes two ADMINs (unit_moves, 0026). Only the code held to that: anyone with the
-- hub's database role (a bug, a script, a stray query) moved a unit with one UPDATE. As for the
-- unit's terms (0058), units.organisation_id now changes only in the transaction that confirmed a
-- move (by a second person: unit_moves_four_eyes), from and to the organisations it names, once.
-- A unit is still registered in any organisation (INSERT).

-- The transaction in which the confirmed move may still change its unit's organisation: set by the
-- database at the confirmation (never by the caller), cleared when the move changes the unit. NULL
-- for moves confirmed before this migration: they moved their units already.
ALTER TABLE unit_moves ADD COLUMN moves_unit_in_xid xid8;

-- A move is born a proposal: one confirmed in its INSERT would name a confirmer nobody asked.
CREATE FUNCTION unit_moves_guard_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> 'PROPOSED' THEN
    RAISE EXCEPTION 'unit move: a move is proposed first, then confirmed or withdrawn' USING ERRCODE = 'check_violation';
  END IF;
  NEW.moves_unit_in_xid := NULL;
  RETURN NEW;
END $$;
CREATE TRIGGER unit_moves_guard_insert BEFORE INSERT ON unit_moves FOR EACH ROW EXECUTE FUNCTION unit_moves_guard_insert();

-- A decided move never changes but for its one use (units_organisation_four_eyes clears
-- moves_unit_in_xid); a proposal changes only by its confirmation or its withdrawal.
CREATE OR REPLACE FUNCTION unit_moves_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'CONFIRMED' AND OLD.moves_unit_in_xid IS NOT NULL AND NEW.moves_unit_in_xid IS NULL
     AND to_jsonb(NEW) - 'moves_unit_in_xid' = to_jsonb(OLD) - 'moves_unit_in_xid' THEN
    RETURN NEW;
  END IF;
  IF OLD.status <> 'PROPOSED'
     OR (NEW.unit_id, NEW.from_organisation_id, NEW.to_organisation_id, NEW.reason, NEW.proposed_by, NEW.proposed_at)
        IS DISTINCT FROM (OLD.unit_id, OLD.from_organisation_id, OLD.to_organisation_id, OLD.reason, OLD.proposed_by, OLD.proposed_at) THEN
    RAISE EXCEPTION 'unit move %: only a proposal''s confirmation or withdrawal may change it', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  NEW.moves_unit_in_xid := CASE WHEN NEW.status = 'CONFIRMED' THEN pg_current_xact_id() END;
  RETURN NEW;
END $$;

-- The unit's organisation changes only by a confirmed move of this unit, in the transaction that
-- confirmed it, from the organisation it holds to the one the move names; the move is spent doing
-- it (a second UPDATE, there and back again, finds none). Any other UPDATE of the column is refused.
-- Its look goes by the unit's index (unit_moves_unit), as 0072 holds every row trigger's.
CREATE FUNCTION units_organisation_four_eyes() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
  UPDATE unit_moves SET moves_unit_in_xid = NULL
   WHERE id = (SELECT m.id FROM unit_moves m
                WHERE m.unit_id = NEW.id AND m.status = 'CONFIRMED' AND m.moves_unit_in_xid = pg_current_xact_id()
                  AND m.from_organisation_id = OLD.organisation_id AND m.to_organisation_id = NEW.organisation_id
                ORDER BY m.id LIMIT 1);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unit %: its organisation changes only by a unit move a second ADMIN confirmed (four eyes), in the transaction that confirmed it, to the organisation the move names, once', NEW.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'units_organisation_four_eyes';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER units_organisation_four_eyes BEFORE UPDATE ON units FOR EACH ROW
  WHEN (NEW.organisation_id IS DISTINCT FROM OLD.organisation_id)
  EXECUTE FUNCTION units_organisation_four_eyes();

-- Down Migration

DROP TRIGGER units_organisation_four_eyes ON units;
DROP FUNCTION units_organisation_four_eyes();

CREATE OR REPLACE FUNCTION unit_moves_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'PROPOSED'
     OR (NEW.unit_id, NEW.from_organisation_id, NEW.to_organisation_id, NEW.reason, NEW.proposed_by, NEW.proposed_at)
        IS DISTINCT FROM (OLD.unit_id, OLD.from_organisation_id, OLD.to_organisation_id, OLD.reason, OLD.proposed_by, OLD.proposed_at) THEN
    RAISE EXCEPTION 'unit move %: only a proposal''s confirmation or withdrawal may change it', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

DROP TRIGGER unit_moves_guard_insert ON unit_moves;
DROP FUNCTION unit_moves_guard_insert();
ALTER TABLE unit_moves DROP COLUMN moves_unit_in_xid;
