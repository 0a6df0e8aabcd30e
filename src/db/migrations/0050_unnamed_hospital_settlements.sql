-- Up Migration

-- A settlement naming no hospital may be the stay of a member's application at any hospital:
-- adjudicating an application looks for the person's such settlements by this index (the named
-- ones are found by settlements_stay). Few settlements name no hospital, so it stays small.
CREATE INDEX settlements_unnamed_person ON settlements (certno_hash) WHERE fixmedins_code IS NULL;

-- Down Migration

DROP INDEX settlements_unnamed_person;
