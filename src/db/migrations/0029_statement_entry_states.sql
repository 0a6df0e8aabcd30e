-- Up Migration

-- An entry's reconciliation state, kept apart from the entry. Matching changes the state of every
-- entry of a statement; in statement_entries each change rewrote the whole wide row (its jsonb) and
-- added it to every index, since the state is in the pending index's predicate. Here it rewrites a
-- narrow row and one index entry. One row per entry, written with it by the trigger below; account
-- and booking_date are the entry's (never changed), copied for the pending index's order.
CREATE TABLE statement_entry_states (
  entry_id     bigint PRIMARY KEY REFERENCES statement_entries (id),
  account      text NOT NULL,
  booking_date date NOT NULL,
  state        text NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'MATCHED', 'EXCEPTION', 'RESOLVED')),
  matched_at   timestamptz
);
INSERT INTO statement_entry_states (entry_id, account, booking_date, state, matched_at)
  SELECT id, account, booking_date, state, matched_at FROM statement_entries;
CREATE INDEX statement_entry_states_pending ON statement_entry_states (account, booking_date, entry_id) WHERE state = 'PENDING';
DROP INDEX statement_entries_pending;
ALTER TABLE statement_entries DROP COLUMN state, DROP COLUMN matched_at;

-- Once per statement (a COPY of a whole statement included), from the rows it inserted.
CREATE FUNCTION statement_entry_states_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO statement_entry_states (entry_id, account, booking_date) SELECT id, account, booking_date FROM inserted;
  RETURN NULL;
END $$;
CREATE TRIGGER statement_entry_states_add AFTER INSERT ON statement_entries
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION statement_entry_states_add();

-- Down Migration
DROP TRIGGER statement_entry_states_add ON statement_entries;
DROP FUNCTION statement_entry_states_add();
ALTER TABLE statement_entries
  ADD COLUMN state text NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'MATCHED', 'EXCEPTION', 'RESOLVED')),
  ADD COLUMN matched_at timestamptz;
UPDATE statement_entries e SET state = s.state, matched_at = s.matched_at FROM statement_entry_states s WHERE s.entry_id = e.id;
CREATE INDEX statement_entries_pending ON statement_entries (account, booking_date, id) WHERE state = 'PENDING';
DROP TABLE statement_entry_states;
