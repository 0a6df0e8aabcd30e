-- Up Migration

-- Adjudication looks, for every settlement it decides, for an accepted application's settlement of
-- the same person that may be the same stay with other figures (it holds such a claim for review).
-- Nearly every settlement comes from the feed and nearly no person has an application: this index
-- makes that look an empty probe.
CREATE INDEX settlements_application_person ON settlements (certno_hash) WHERE source = 'applications';

-- A record that names no hospital takes the one its copy from another source names: found by this.
CREATE INDEX settlements_named_copies ON settlements (duplicate_of_id) WHERE duplicate_of_id IS NOT NULL AND fixmedins_code IS NOT NULL;

-- Down Migration

DROP INDEX settlements_named_copies;
DROP INDEX settlements_application_person;
