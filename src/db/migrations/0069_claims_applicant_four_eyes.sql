-- Up Migration

-- Four eyes on a claim settled from an application: its figures are the ones its applicant typed, so
-- nobody who entered or submitted it (applications.entered_by, staff for the member, 0036; and
-- member_submitters, the member's own subject, 0063: the member's subject is the person, whatever
-- role they act in now) approves its claim alone, by review, by an appeal upheld or by a re-decision
-- asked for. Accepting the application refuses them (applications_four_eyes), but nothing after it
-- did: a member who is also a REVIEWER approved their own claim the accepting reviewer left waiting.
-- A trigger refuses a claim becoming APPROVED by any of them (check_violation, as
-- claims_categories_four_eyes; a row CHECK cannot read the application). Rejecting stays open to them.
CREATE FUNCTION claims_applicant_four_eyes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- An approval made already (its decider unchanged) stays as it was decided.
  IF TG_OP = 'UPDATE' AND OLD.status = 'APPROVED' AND OLD.decided_by IS NOT DISTINCT FROM NEW.decided_by THEN
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT 1 FROM applications a WHERE a.settlement_id = NEW.settlement_id AND NEW.decided_by = ANY (a.entered_by || a.member_submitters)) THEN
    RAISE EXCEPTION 'claim %: % entered or submitted the application it was settled from and cannot also approve it (four eyes)', NEW.id, NEW.decided_by
      USING ERRCODE = 'check_violation', CONSTRAINT = 'claims_applicant_four_eyes';
  END IF;
  RETURN NEW;
END;
$$;

-- Not for the rules' own approvals (decided_by 'adjudication', a subject no token carries, so no
-- applicant's): adjudication inserts them by the thousand and calls no function for them.
CREATE TRIGGER claims_applicant_four_eyes
  BEFORE INSERT OR UPDATE OF status, decided_by, settlement_id ON claims
  FOR EACH ROW WHEN (NEW.status = 'APPROVED' AND NEW.decided_by IS NOT NULL AND NEW.decided_by <> 'adjudication')
  EXECUTE FUNCTION claims_applicant_four_eyes();

-- Down Migration

DROP TRIGGER claims_applicant_four_eyes ON claims;
DROP FUNCTION claims_applicant_four_eyes();
