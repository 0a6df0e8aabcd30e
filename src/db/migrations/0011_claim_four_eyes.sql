-- Up Migration

-- Four eyes on claims: whoever adjusted a line of a claim cannot approve it (a reviewer could
-- otherwise shape a claim and wave it through alone). benefit_lines.adjusted_by keeps only the
-- last adjuster of a line, so the claim collects every adjuster; a trigger fills it from the
-- lines, whoever writes them, and a CHECK refuses an approval by any of them. Rejecting stays open.
ALTER TABLE claims ADD COLUMN adjusted_by text[] NOT NULL DEFAULT '{}';

UPDATE claims c SET adjusted_by = l.adjusters
  FROM (SELECT claim_id, array_agg(DISTINCT adjusted_by ORDER BY adjusted_by) AS adjusters
          FROM benefit_lines WHERE adjusted_by IS NOT NULL GROUP BY claim_id) l
 WHERE l.claim_id = c.id;

CREATE FUNCTION claims_record_adjuster() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE claims SET adjusted_by = array_append(adjusted_by, NEW.adjusted_by)
   WHERE id = NEW.claim_id AND NEW.adjusted_by <> ALL (adjusted_by);
  RETURN NULL;
END;
$$;

CREATE TRIGGER benefit_lines_record_adjuster
  AFTER INSERT OR UPDATE OF adjusted_by ON benefit_lines
  FOR EACH ROW WHEN (NEW.adjusted_by IS NOT NULL)
  EXECUTE FUNCTION claims_record_adjuster();

ALTER TABLE claims ADD CONSTRAINT claims_four_eyes
  CHECK (status <> 'APPROVED' OR decided_by IS NULL OR decided_by <> ALL (adjusted_by));

-- Down Migration

ALTER TABLE claims DROP CONSTRAINT claims_four_eyes;
DROP TRIGGER benefit_lines_record_adjuster ON benefit_lines;
DROP FUNCTION claims_record_adjuster();
ALTER TABLE claims DROP COLUMN adjusted_by;
