-- Up Migration

-- Four eyes on a member's own application: the member's subject is the person (an appeal's filer,
-- whatever role filed it, never decides it: appeals_four_eyes), yet entered_by (0036) collects staff
-- submitters only, so one person could file their own application as a MEMBER and accept it as a
-- REVIEWER, and the figures they typed became a settlement nobody else checked. member_submitters
-- collects every subject that submitted any round as the MEMBER (staff may resubmit a member's
-- application, so submitted_by alone loses it); the same trigger fills it, whoever writes the row,
-- and no update drops a name from it; the CHECK refuses an acceptance by any of them. Returning stays
-- open to them (it only delays their own claim).
ALTER TABLE applications ADD COLUMN member_submitters text[] NOT NULL DEFAULT '{}';

-- Dropped before the backfill: an acceptance 0036 left as it was (NOT VALID) would refuse its row's update.
ALTER TABLE applications DROP CONSTRAINT applications_four_eyes;

-- Existing rows: every member round, as audited (each submission is audited in its own transaction), and the last submitter.
UPDATE applications a SET member_submitters = s.members
  FROM (SELECT id, array_agg(DISTINCT subject ORDER BY subject) AS members
          FROM (SELECT target_id::bigint AS id, actor AS subject FROM audit_log
                 WHERE target_type = 'Application' AND action IN ('application.submit', 'application.resubmit') AND role = 'MEMBER'
                UNION ALL
                SELECT id, submitted_by FROM applications WHERE submitted_role = 'MEMBER') r
         GROUP BY id) s
 WHERE s.id = a.id;

CREATE OR REPLACE FUNCTION applications_record_enterer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    NEW.entered_by := OLD.entered_by;
    NEW.member_submitters := OLD.member_submitters;
  END IF;
  IF NEW.submitted_role = 'MEMBER' THEN
    IF NEW.submitted_by <> ALL (NEW.member_submitters) THEN
      NEW.member_submitters := array_append(NEW.member_submitters, NEW.submitted_by);
    END IF;
  ELSIF NEW.submitted_by <> ALL (NEW.entered_by) THEN
    NEW.entered_by := array_append(NEW.entered_by, NEW.submitted_by);
  END IF;
  RETURN NEW;
END;
$$;

-- As in 0036: applications accepted before this rule stay as they are; every acceptance from now on is held to it.
ALTER TABLE applications ADD CONSTRAINT applications_four_eyes
  CHECK (status <> 'ACCEPTED' OR decided_by <> ALL (entered_by || member_submitters)) NOT VALID;

-- Down Migration

ALTER TABLE applications DROP CONSTRAINT applications_four_eyes;
CREATE OR REPLACE FUNCTION applications_record_enterer() RETURNS trigger LANGUAGE plpgsql AS $$
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
ALTER TABLE applications DROP COLUMN member_submitters;
ALTER TABLE applications ADD CONSTRAINT applications_four_eyes
  CHECK (status <> 'ACCEPTED' OR decided_by <> ALL (entered_by)) NOT VALID;
