-- Up Migration

-- Who uploaded a roster, by role as well as subject: an import's changes are audited under both.
-- The CLI, the demo and other direct database writers leave it at SERVICE.
ALTER TABLE roster_imports ADD COLUMN created_by_role text NOT NULL DEFAULT 'SERVICE';

-- Every change to a member's name, phone, bank account or unit, one row per field, written in the
-- statement that makes the change (imports stay set-based). Values are as shown to staff: the bank
-- account masked (`6222 **** **** 0123 / 102397000011`), never the clear card or ID number.
-- An import's rows carry its id; a mutation's rows are listed by id in its audit_log entry.
CREATE TABLE member_changes (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  member_id bigint NOT NULL REFERENCES members (id),
  at        timestamptz NOT NULL DEFAULT now(),
  actor     text NOT NULL,
  role      text NOT NULL,
  action    text NOT NULL CHECK (action IN ('roster.import', 'member.update', 'member.move')),
  import_id bigint REFERENCES roster_imports (id),
  reason    text,
  field     text NOT NULL CHECK (field IN ('UNIT', 'NAME', 'PHONE', 'BANK_ACCOUNT')),
  before    text,
  after     text,
  CHECK ((action = 'roster.import') = (import_id IS NOT NULL))
);
CREATE INDEX member_changes_member ON member_changes (member_id, id);

CREATE FUNCTION member_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'member_changes is append-only (% refused)', TG_OP;
END $$;

CREATE TRIGGER member_changes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON member_changes
  FOR EACH STATEMENT EXECUTE FUNCTION member_changes_append_only();

-- Down Migration
DROP TABLE member_changes;
DROP FUNCTION member_changes_append_only();
ALTER TABLE roster_imports DROP COLUMN created_by_role;
