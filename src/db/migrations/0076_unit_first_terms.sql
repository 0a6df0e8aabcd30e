-- Up Migration

-- A unit's first terms take two ADMINs, as a change of them does (0058): one ADMIN registering a
-- NON_PUBLIC unit (createUnit) and enrolling its members under it had their claims paid by
-- programmes no second person checked the unit for. A unit is now registered with its terms
-- waiting (terms_confirmed false, its terms proposed in unit_terms_changes); another ADMIN's
-- confirmation of the proposal confirms them. Until then no member of the unit is enrolled.
--
-- Units registered before count as confirmed. A new row's default is waiting: an INSERT stating
-- terms_confirmed true (a test's seed) is trusted as any INSERT of a unit's terms is (0058), and the
-- hub's code states it nowhere.
ALTER TABLE units ADD COLUMN terms_confirmed boolean NOT NULL DEFAULT true;
ALTER TABLE units ALTER COLUMN terms_confirmed SET DEFAULT false;

-- As 0058's, and the terms are confirmed the same way: only by a terms change confirmed in this
-- transaction. Terms never confirmed are confirmed only by a change naming all three (what the
-- second ADMIN checked is the whole of them), and confirmed terms stay confirmed.
CREATE OR REPLACE FUNCTION units_terms_four_eyes() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM unit_terms_changes c
     WHERE c.unit_id = NEW.id AND c.status = 'CONFIRMED' AND c.confirmed_xid = pg_current_xact_id()
       AND NEW.plan_type = coalesce(c.plan_type, OLD.plan_type)
       AND NEW.unit_type = coalesce(c.unit_type, OLD.unit_type)
       AND NEW.small_micro = coalesce(c.small_micro, OLD.small_micro)
       AND NEW.terms_confirmed
       AND (OLD.terms_confirmed OR num_nonnulls(c.plan_type, c.unit_type, c.small_micro) = 3)
  ) THEN
    RAISE EXCEPTION 'unit %: its plan type, unit type and small-firm mark are set and confirmed only by a terms change a second ADMIN confirmed (four eyes)', NEW.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'units_terms_four_eyes';
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER units_terms_four_eyes ON units;
CREATE TRIGGER units_terms_four_eyes BEFORE UPDATE ON units FOR EACH ROW
  WHEN ((NEW.plan_type, NEW.unit_type, NEW.small_micro, NEW.terms_confirmed)
        IS DISTINCT FROM (OLD.plan_type, OLD.unit_type, OLD.small_micro, OLD.terms_confirmed))
  EXECUTE FUNCTION units_terms_four_eyes();

-- No enrolment in a unit whose terms wait (nor one moved to it): claims would be decided by terms no
-- second person checked. Whoever writes it: enrolMember, a roster's merge, a script. Once a
-- statement, from the rows it wrote (the transition tables 0030's counts capture already): a roster
-- merges enrolments by the hundred thousand, and the waiting units are few (a partial index).
CREATE INDEX units_terms_waiting ON units (id) WHERE NOT terms_confirmed;
CREATE FUNCTION enrolments_unit_terms_confirmed() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
  refused record;
BEGIN
  SELECT n.member_id, n.unit_id INTO refused
    FROM units u JOIN new_rows n ON n.unit_id = u.id
   WHERE NOT u.terms_confirmed LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'enrolment of member % in unit %: the unit''s terms wait for a second ADMIN''s confirmation (four eyes)', refused.member_id, refused.unit_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'enrolments_unit_terms_confirmed';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER enrolments_unit_terms_confirmed AFTER INSERT ON enrolments
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION enrolments_unit_terms_confirmed();
CREATE TRIGGER enrolments_unit_terms_confirmed_update AFTER UPDATE ON enrolments
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION enrolments_unit_terms_confirmed();

-- Down Migration

DROP TRIGGER enrolments_unit_terms_confirmed_update ON enrolments;
DROP TRIGGER enrolments_unit_terms_confirmed ON enrolments;
DROP FUNCTION enrolments_unit_terms_confirmed();
DROP INDEX units_terms_waiting;
DROP TRIGGER units_terms_four_eyes ON units;
CREATE OR REPLACE FUNCTION units_terms_four_eyes() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM unit_terms_changes c
     WHERE c.unit_id = NEW.id AND c.status = 'CONFIRMED' AND c.confirmed_xid = pg_current_xact_id()
       AND NEW.plan_type = coalesce(c.plan_type, OLD.plan_type)
       AND NEW.unit_type = coalesce(c.unit_type, OLD.unit_type)
       AND NEW.small_micro = coalesce(c.small_micro, OLD.small_micro)
  ) THEN
    RAISE EXCEPTION 'unit %: its plan type, unit type and small-firm mark change only by a terms change a second ADMIN confirmed (four eyes)', NEW.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'units_terms_four_eyes';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER units_terms_four_eyes BEFORE UPDATE ON units FOR EACH ROW
  WHEN ((NEW.plan_type, NEW.unit_type, NEW.small_micro) IS DISTINCT FROM (OLD.plan_type, OLD.unit_type, OLD.small_micro))
  EXECUTE FUNCTION units_terms_four_eyes();
ALTER TABLE units DROP COLUMN terms_confirmed;
