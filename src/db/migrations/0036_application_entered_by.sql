-- Up Migration

-- Four eyes on applications staff enter for a member, across rounds: submitted_by names only the
-- last submitter, so a member resubmitting what staff entered (after a return) hid who entered it,
-- and that person could accept it. entered_by collects every staff person who submitted any round;
-- a trigger fills it from submitted_by, whoever writes the row, and no update drops a name from it;
-- the CHECK refuses an acceptance by any of them. Returning stays open to them.
ALTER TABLE applications ADD COLUMN entered_by text[] NOT NULL DEFAULT '{}';

-- Existing rows: every staff round, as audited (each submission is audited in its own transaction), and the last submitter.
UPDATE applications a SET entered_by = s.staff
  FROM (SELECT id, array_agg(DISTINCT subject ORDER BY subject) AS staff
          FROM (SELECT target_id::bigint AS id, actor AS subject FROM audit_log
                 WHERE target_type = 'Application' AND action IN ('application.submit', 'application.resubmit') AND role <> 'MEMBER'
                UNION ALL
                SELECT id, submitted_by FROM applications WHERE submitted_role <> 'MEMBER') r
         GROUP BY id) s
 WHERE s.id = a.id;

CREATE FUNCTION applications_record_enterer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    NEW.entered_by := OLD.entered_by;
  END IF;
  IF NEW.submitted_role <> 'MEMBER' AND NEW.submitted_by <> ALL (NEW.entered_by) THEN
    NEW.entered_by := array_append(NEW.entered_by, NEW.submitted_by);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER applications_record_enterer
  BEFORE INSERT OR UPDATE ON applications
  FOR EACH ROW EXECUTE FUNCTION applications_record_enterer();

-- Applications accepted before this rule stay as they are (an accepted one never changes); every
-- acceptance from now on is held to it.
ALTER TABLE applications DROP CONSTRAINT applications_four_eyes;
ALTER TABLE applications ADD CONSTRAINT applications_four_eyes
  CHECK (status <> 'ACCEPTED' OR decided_by <> ALL (entered_by)) NOT VALID;

-- Down Migration

ALTER TABLE applications DROP CONSTRAINT applications_four_eyes;
DROP TRIGGER applications_record_enterer ON applications;
DROP FUNCTION applications_record_enterer();
ALTER TABLE applications DROP COLUMN entered_by;
ALTER TABLE applications ADD CONSTRAINT applications_four_eyes
  CHECK (status <> 'ACCEPTED' OR submitted_role = 'MEMBER' OR decided_by <> submitted_by);
