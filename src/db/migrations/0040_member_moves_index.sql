-- Up Migration

-- The members moved between units, as their change history records every move (field UNIT): a
-- roster import refuses a row that would enrol such a member for a year whose enrolment stays with
-- the unit it was made in, and finds them here instead of joining every staged row to its enrolments.
CREATE INDEX member_changes_moves ON member_changes (member_id) WHERE field = 'UNIT';

-- Down Migration

DROP INDEX member_changes_moves;
