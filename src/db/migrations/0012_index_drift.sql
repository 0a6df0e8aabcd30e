-- Up Migration

-- 0001_members.sql was edited after it had shipped: two indexes it first created were removed from
-- it, so databases migrated before the edit still have them and newer ones do not. Applied
-- migrations are never edited (test/db/migrations.sha256); this one brings the old databases in line.
DROP INDEX IF EXISTS members_name;
DROP INDEX IF EXISTS enrolments_member;

-- Down Migration

-- Nothing: a fresh database never had these indexes.
SELECT 1;
