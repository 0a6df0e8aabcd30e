-- Up Migration

-- The SPECIAL_DISEASE add-on's own chain: the first day of the member's unbroken run of it.
-- An enrolment given the add-on with itself (special_disease_from = enrolled_on) continues last
-- year's add-on when last year's enrolment had it (a renewal without a gap), keeping its start;
-- when last year's enrolment had none, the add-on starts on the renewal's date; without last year's
-- enrolment it starts with the chain (first_enrolled_on: a first enrolment's own date, or a chain
-- recorded before the hub kept its years). Turned on later, it starts on special_disease_from. The rules read an add-on whose
-- chain began after the enrolment chain's first day as taken later, with its own waiting period: a
-- member renewed with the add-on for the first time does not buy it for an illness known in December.
-- Existing rows: decided as before (from the day it was turned on when after the enrolment's date,
-- else with the enrolment chain, which the general waiting period covers).
ALTER TABLE enrolments ADD COLUMN special_disease_since date;
UPDATE enrolments
   SET special_disease_since = CASE WHEN special_disease_from > enrolled_on THEN special_disease_from ELSE first_enrolled_on END
 WHERE special_disease;
ALTER TABLE enrolments
  ADD CONSTRAINT enrolments_special_disease_since_set CHECK (special_disease = (special_disease_since IS NOT NULL)),
  ADD CONSTRAINT enrolments_special_disease_since_not_after_from CHECK (special_disease_since <= special_disease_from);

-- Set here for every writer (upsertEnrolment, mergeStagedEnrolments, a raw row): never written by
-- hand. Fires after enrolments_special_disease_from (triggers fire in name order), so the add-on's
-- start is known. Kept while the add-on stays on with the same start; turned off, cleared.
CREATE FUNCTION enrolments_special_disease_since() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- Only rows with the add-on, or losing it: a roster's rows without it call nothing (a WHEN that is false
-- costs no function call, as 0065's).
CREATE TRIGGER enrolments_special_disease_since
  BEFORE INSERT ON enrolments
  FOR EACH ROW WHEN (NEW.special_disease)
  EXECUTE FUNCTION enrolments_special_disease_since();
CREATE TRIGGER enrolments_special_disease_since_update
  BEFORE UPDATE OF special_disease, special_disease_from, special_disease_since, enrolled_on ON enrolments
  FOR EACH ROW WHEN (NEW.special_disease OR OLD.special_disease)
  EXECUTE FUNCTION enrolments_special_disease_since();

-- Down Migration

DROP TRIGGER enrolments_special_disease_since_update ON enrolments;
DROP TRIGGER enrolments_special_disease_since ON enrolments;
DROP FUNCTION enrolments_special_disease_since();
ALTER TABLE enrolments DROP COLUMN special_disease_since;
