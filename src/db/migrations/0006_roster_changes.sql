-- Up Migration

-- Every transaction that changed the roster (units, members, enrolments), once: the gateway's
-- response cache (src/gateway/responseCache.ts) asks "did a roster change commit since my last
-- look?" by comparing these transaction ids with its previous snapshot (pg_visible_in_snapshot).
-- Inserting a row per transaction takes no shared lock, so roster writers never wait on each other
-- here (a 19-minute province import included), and a change counts from its commit, not its start.
-- One small row per roster-writing transaction (an import, a staff edit): kept, like the audit log.
CREATE TABLE roster_changes (
  xid         xid8 PRIMARY KEY,
  recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION roster_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO roster_changes (xid) VALUES (pg_current_xact_id()) ON CONFLICT (xid) DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER units_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON units
  FOR EACH STATEMENT EXECUTE FUNCTION roster_changed();
CREATE TRIGGER members_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON members
  FOR EACH STATEMENT EXECUTE FUNCTION roster_changed();
CREATE TRIGGER enrolments_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON enrolments
  FOR EACH STATEMENT EXECUTE FUNCTION roster_changed();

-- Down Migration
DROP TRIGGER enrolments_changed ON enrolments;
DROP TRIGGER members_changed ON members;
DROP TRIGGER units_changed ON units;
DROP FUNCTION roster_changed();
DROP TABLE roster_changes;
