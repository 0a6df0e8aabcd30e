-- Up Migration

-- Four eyes on a member's targeted groups (重点群体, enrolments.member_categories): a rule set may pay
-- a programme only to members of a group (CRITICAL to HARDSHIP 困难职工), so whoever sets the groups of
-- an enrolment decides what its claims pay, as a reviewer adjusting a line does. Nobody who set them
-- (setEnrolmentCategories: REVIEWER or ADMIN, each with a reason) approves that member-year's claims
-- alone: categories_set_by collects every one of them, never dropping a name, and a trigger refuses a
-- claim becoming APPROVED by any of them (check_violation, as claims_four_eyes; a row CHECK cannot read
-- the enrolment). Rejecting stays open to them; a claim approved before the groups were set stays so.
ALTER TABLE enrolments ADD COLUMN categories_set_by text[] NOT NULL DEFAULT '{}';

-- Existing rows: everyone who corrected the enrolment's groups, as audited.
UPDATE enrolments e SET categories_set_by = s.setters
  FROM (SELECT target_id::bigint AS id, array_agg(DISTINCT actor ORDER BY actor) AS setters
          FROM audit_log WHERE target_type = 'Enrolment' AND action = 'enrolment.categories'
         GROUP BY target_id) s
 WHERE s.id = e.id;

CREATE FUNCTION enrolments_keep_category_setters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.categories_set_by := OLD.categories_set_by
    || ARRAY(SELECT s FROM unnest(NEW.categories_set_by) WITH ORDINALITY AS n(s, i)
              WHERE s IS NOT NULL AND s <> ALL (OLD.categories_set_by) GROUP BY s ORDER BY min(i));
  RETURN NEW;
END;
$$;

CREATE TRIGGER enrolments_keep_category_setters
  BEFORE UPDATE OF categories_set_by ON enrolments
  FOR EACH ROW EXECUTE FUNCTION enrolments_keep_category_setters();

CREATE FUNCTION claims_categories_four_eyes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- An approval made already (its decider unchanged) stays: groups set after it decided nothing of it.
  IF TG_OP = 'UPDATE' AND OLD.status = 'APPROVED' AND OLD.decided_by IS NOT DISTINCT FROM NEW.decided_by THEN
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT 1 FROM enrolments e WHERE e.id = NEW.enrolment_id AND NEW.decided_by = ANY (e.categories_set_by)) THEN
    RAISE EXCEPTION 'claim %: % set the targeted groups of its enrolment and cannot also approve it (four eyes)', NEW.id, NEW.decided_by
      USING ERRCODE = 'check_violation', CONSTRAINT = 'claims_categories_four_eyes';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER claims_categories_four_eyes
  BEFORE INSERT OR UPDATE OF status, decided_by, enrolment_id ON claims
  FOR EACH ROW WHEN (NEW.status = 'APPROVED' AND NEW.decided_by IS NOT NULL)
  EXECUTE FUNCTION claims_categories_four_eyes();

-- Down Migration

DROP TRIGGER claims_categories_four_eyes ON claims;
DROP FUNCTION claims_categories_four_eyes();
DROP TRIGGER enrolments_keep_category_setters ON enrolments;
DROP FUNCTION enrolments_keep_category_setters();
ALTER TABLE enrolments DROP COLUMN categories_set_by;
