-- Up Migration

-- The SPECIAL_DISEASE add-on (职工特病) has its own start: an enrolment made with it has it from its
-- own date; one given it later has it from the day it was turned on (the rules' add-on waiting period
-- counts from then, for stays admitted after), not from the enrolment's date. Null exactly when the
-- add-on is off, never before the enrolment's date. Existing rows: from the enrolment's date, as they
-- were decided until now.
ALTER TABLE enrolments ADD COLUMN special_disease_from date;
UPDATE enrolments SET special_disease_from = enrolled_on WHERE special_disease;
ALTER TABLE enrolments
  ADD CONSTRAINT enrolments_special_disease_from_set CHECK (special_disease = (special_disease_from IS NOT NULL)),
  ADD CONSTRAINT enrolments_special_disease_from_in_enrolment CHECK (special_disease_from >= enrolled_on);

-- A write that turns the add-on on or off without naming the day (the hub's writers name it) gets it
-- here, never back-dated: a new enrolment from its own date, one turned on later from China's today,
-- one kept on keeps its start; turned off clears it. Fires only on a row that needs it.
CREATE FUNCTION enrolments_special_disease_from() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT NEW.special_disease THEN
    NEW.special_disease_from := NULL;
  ELSIF TG_OP = 'INSERT' THEN
    NEW.special_disease_from := NEW.enrolled_on;
  ELSE
    NEW.special_disease_from := coalesce(OLD.special_disease_from, greatest(NEW.enrolled_on, (now() AT TIME ZONE 'Asia/Shanghai')::date));
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER enrolments_special_disease_from
  BEFORE INSERT OR UPDATE OF special_disease, special_disease_from ON enrolments
  FOR EACH ROW WHEN (NEW.special_disease = (NEW.special_disease_from IS NULL))
  EXECUTE FUNCTION enrolments_special_disease_from();

-- Down Migration

DROP TRIGGER enrolments_special_disease_from ON enrolments;
DROP FUNCTION enrolments_special_disease_from();
ALTER TABLE enrolments DROP COLUMN special_disease_from;
