-- Up Migration

-- The audit log as 16 hash chains instead of one. A single chain needs one lock held by every
-- deciding transaction until its commit, so all of them ran one after another. Now a transaction
-- takes the first free chain (starting at its backend's, waiting for that one only when all are
-- busy), keeps it until it ends (setting audit.chain), and its rows are contiguous in that chain:
-- chain_seq is gapless per chain and prev_hash is the previous row of the same chain. seq stays
-- unique and ordered (a sequence; it may have gaps) for reading. Rows written before are chain 0.
ALTER TABLE audit_log ADD COLUMN chain smallint, ADD COLUMN chain_seq bigint;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE audit_log SET chain = 0, chain_seq = seq;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
ALTER TABLE audit_log ALTER COLUMN chain SET NOT NULL, ALTER COLUMN chain_seq SET NOT NULL,
  ADD CONSTRAINT audit_log_chain_range CHECK (chain BETWEEN 0 AND 15 AND chain_seq > 0),
  ADD CONSTRAINT audit_log_chain_seq UNIQUE (chain, chain_seq);

CREATE SEQUENCE audit_log_seq OWNED BY audit_log.seq;
SELECT setval('audit_log_seq', coalesce(max(seq), 0) + 1, false) FROM audit_log;

CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  chains CONSTANT int := 16;
  -- Chain c is guarded by advisory lock 7300123010 + c, held until the transaction ends.
  lock_base CONSTANT bigint := 7300123010;
  picked text := current_setting('audit.chain', true);
  c int;
BEGIN
  IF coalesce(picked, '') = '' THEN
    FOR i IN 0 .. chains - 1 LOOP
      c := (pg_backend_pid() + i) % chains;
      EXIT WHEN pg_try_advisory_xact_lock(lock_base + c);
      c := NULL;
    END LOOP;
    IF c IS NULL THEN
      c := pg_backend_pid() % chains;
      PERFORM pg_advisory_xact_lock(lock_base + c);
    END IF;
    PERFORM set_config('audit.chain', c::text, true);
  ELSIF picked !~ '^[0-9]{1,2}$' OR picked::int >= chains THEN
    RAISE EXCEPTION 'audit.chain % is not a chain', picked USING ERRCODE = 'check_violation';
  ELSE
    -- Already held (re-entrant): taken anyway, so a session setting audit.chain itself still waits its turn.
    c := picked::int;
    PERFORM pg_advisory_xact_lock(lock_base + c);
  END IF;
  -- Whatever the INSERT supplied, the chain fields are the trigger's.
  NEW.chain := c;
  NEW.chain_seq := NULL;
  NEW.prev_hash := NULL;
  SELECT chain_seq + 1, hash INTO NEW.chain_seq, NEW.prev_hash FROM audit_log WHERE chain = c ORDER BY chain_seq DESC LIMIT 1;
  NEW.chain_seq := coalesce(NEW.chain_seq, 1);
  NEW.seq := nextval('audit_log_seq');
  NEW.hash := sha256(coalesce(NEW.prev_hash, ''::bytea) || convert_to(
    audit_row_text(NEW.seq, NEW.at, NEW.actor, NEW.role, NEW.action, NEW.target_type, NEW.target_id,
                   NEW.reason, NEW.details), 'UTF8'));
  RETURN NEW;
END $$;

-- A roll-up of the chains, itself a chain: each checkpoint records every chain's head (chain,
-- chain_seq, seq, hash). A chain's tail deleted after a checkpoint recorded it shows up, which the
-- links alone cannot show. Written by audit_checkpoint() (the adjudication sweep calls it).
CREATE TABLE audit_checkpoints (
  id         bigint PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  chains     smallint[] NOT NULL,
  chain_seqs bigint[] NOT NULL,
  seqs       bigint[] NOT NULL,
  hashes     bytea[] NOT NULL,
  prev_hash  bytea,
  hash       bytea NOT NULL
);

CREATE FUNCTION audit_checkpoint_text(id bigint, at timestamptz, chains smallint[], chain_seqs bigint[], seqs bigint[], hashes bytea[])
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT concat_ws(E'\x1f', id::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   chains::text, chain_seqs::text, seqs::text, hashes::text)
$$;

CREATE FUNCTION audit_checkpoints_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- One checkpoint at a time; audit writers never take this lock.
  PERFORM pg_advisory_xact_lock(7300123002);
  NEW.id := NULL;
  NEW.prev_hash := NULL;
  SELECT id + 1, hash INTO NEW.id, NEW.prev_hash FROM audit_checkpoints ORDER BY id DESC LIMIT 1;
  NEW.id := coalesce(NEW.id, 1);
  -- The heads are read here, not taken from the INSERT: committed rows only.
  SELECT coalesce(array_agg(h.chain ORDER BY h.chain), '{}'), coalesce(array_agg(h.chain_seq ORDER BY h.chain), '{}'),
         coalesce(array_agg(h.seq ORDER BY h.chain), '{}'), coalesce(array_agg(h.hash ORDER BY h.chain), '{}')
    INTO NEW.chains, NEW.chain_seqs, NEW.seqs, NEW.hashes
    FROM generate_series(0, 15) c
    CROSS JOIN LATERAL (SELECT chain, chain_seq, seq, hash FROM audit_log WHERE chain = c ORDER BY chain_seq DESC LIMIT 1) h;
  NEW.hash := sha256(coalesce(NEW.prev_hash, ''::bytea) || convert_to(
    audit_checkpoint_text(NEW.id, NEW.at, NEW.chains, NEW.chain_seqs, NEW.seqs, NEW.hashes), 'UTF8'));
  RETURN NEW;
END $$;

CREATE TRIGGER audit_checkpoints_chain BEFORE INSERT ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_chain();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE FUNCTION audit_checkpoint() RETURNS bigint LANGUAGE sql AS $$
  INSERT INTO audit_checkpoints DEFAULT VALUES RETURNING id
$$;

-- Down Migration
-- Going down fails once a row was written outside chain 0: one chain cannot take them back unrehashed.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM audit_log WHERE chain <> 0 OR chain_seq <> seq) THEN
    RAISE EXCEPTION 'audit_log has rows of several chains; the single chain cannot hold them';
  END IF;
END $$;
DROP FUNCTION audit_checkpoint();
DROP TABLE audit_checkpoints;
DROP FUNCTION audit_checkpoints_chain(), audit_checkpoint_text(bigint, timestamptz, smallint[], bigint[], bigint[], bytea[]);
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- One writer at a time extends the chain; held until the inserting transaction ends.
  PERFORM pg_advisory_xact_lock(7300123001);
  SELECT seq + 1, hash INTO NEW.seq, NEW.prev_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
  NEW.seq := coalesce(NEW.seq, 1);
  NEW.hash := sha256(coalesce(NEW.prev_hash, ''::bytea) || convert_to(
    audit_row_text(NEW.seq, NEW.at, NEW.actor, NEW.role, NEW.action, NEW.target_type, NEW.target_id,
                   NEW.reason, NEW.details), 'UTF8'));
  RETURN NEW;
END $$;
DROP SEQUENCE audit_log_seq;
ALTER TABLE audit_log DROP COLUMN chain, DROP COLUMN chain_seq;
