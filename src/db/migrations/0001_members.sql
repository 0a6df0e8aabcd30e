-- Up Migration

-- Append-only, hash-chained audit log: every decision and every reveal of personal data.
CREATE TABLE audit_log (
  -- Assigned under the chain lock (not by a sequence) so seq order is chain order.
  seq         bigint PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor       text NOT NULL,
  role        text NOT NULL,
  action      text NOT NULL,
  target_type text NOT NULL,
  target_id   text NOT NULL,
  reason      text,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash   bytea,
  hash        bytea NOT NULL
);

-- The canonical text of a row; any edit to a stored field changes its hash.
CREATE FUNCTION audit_row_text(seq bigint, at timestamptz, actor text, role text, action text,
                               target_type text, target_id text, reason text, details jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT concat_ws(E'\x1f', seq::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   actor, role, action, target_type, target_id, coalesce(reason, ''), details::text)
$$;

CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- 基层工会: a unit enrolling its employees, identified by its Unified Social Credit Code.
CREATE TABLE units (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  credit_code char(18) NOT NULL UNIQUE,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  plan_type   text NOT NULL CHECK (plan_type IN ('PUBLIC', 'PRIVATE')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX units_name ON units (name, id);

-- Members: ID and bank card numbers only encrypted (AES-256-GCM) with a keyed hash for exact lookup.
CREATE TABLE members (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id          bigint NOT NULL REFERENCES units (id),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  id_number_enc    bytea NOT NULL,
  id_number_hash   bytea NOT NULL UNIQUE,
  id_number_masked text NOT NULL,
  birth_date       date NOT NULL,
  gender           char(1) NOT NULL CHECK (gender IN ('M', 'F')),
  phone            text,
  bank_card_enc    bytea,
  bank_card_hash   bytea,
  bank_card_masked text,
  bank_code        char(12),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((bank_card_enc IS NULL) = (bank_code IS NULL))
);
CREATE INDEX members_unit ON members (unit_id, id);

-- One enrolment per member and plan year (calendar year). first_enrolled_on starts the
-- continuous enrolment chain: a renewal without a gap keeps its predecessor's date.
CREATE TABLE enrolments (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  member_id         bigint NOT NULL REFERENCES members (id),
  unit_id           bigint NOT NULL REFERENCES units (id),
  plan_year         int NOT NULL CHECK (plan_year BETWEEN 2000 AND 2100),
  plan              text NOT NULL CHECK (plan IN ('PUBLIC', 'PRIVATE')),
  special_disease   boolean NOT NULL DEFAULT false,
  enrolled_on       date NOT NULL,
  first_enrolled_on date NOT NULL CHECK (first_enrolled_on <= enrolled_on),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (member_id, plan_year)
);
CREATE INDEX enrolments_unit_year ON enrolments (unit_id, plan_year);

-- Money a unit paid towards a plan year's contributions. The bank's reference is the
-- idempotency key: the same transfer can never be recorded twice.
CREATE TABLE contribution_payments (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id     bigint NOT NULL REFERENCES units (id),
  plan_year   int NOT NULL,
  amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
  reference   text NOT NULL UNIQUE CHECK (length(reference) BETWEEN 1 AND 35),
  paid_on     date NOT NULL,
  source      text NOT NULL CHECK (source IN ('MANUAL', 'BANK')),
  recorded_by text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contribution_payments_unit_year ON contribution_payments (unit_id, plan_year);

-- A roster file imported through the API or the CLI; its content is kept encrypted
-- (it carries ID numbers) so a worker can process it and an operator can re-run it.
CREATE TABLE roster_imports (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  file_name       text NOT NULL,
  sha256          bytea NOT NULL,
  content_enc     bytea, -- set for uploads through the API (the worker reads it); the CLI streams its file
  default_unit_id bigint REFERENCES units (id),
  -- Set when a unit operator uploaded it: rows for any other unit are refused.
  only_unit_id    bigint REFERENCES units (id),
  status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'RUNNING', 'DONE', 'FAILED')),
  rows_total      int NOT NULL DEFAULT 0,
  rows_inserted   int NOT NULL DEFAULT 0,
  rows_updated    int NOT NULL DEFAULT 0,
  rows_unchanged  int NOT NULL DEFAULT 0,
  rows_rejected   int NOT NULL DEFAULT 0,
  enrolments_created int NOT NULL DEFAULT 0,
  failure         text,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX roster_imports_pending ON roster_imports (id) WHERE status IN ('PENDING', 'RUNNING');

-- A rejected roster row: row number, field and reason; never the row's personal data.
CREATE TABLE roster_import_errors (
  import_id  bigint NOT NULL REFERENCES roster_imports (id) ON DELETE CASCADE,
  row_number int NOT NULL,
  field      text NOT NULL,
  reason     text NOT NULL,
  PRIMARY KEY (import_id, row_number, field)
);

-- Down Migration
DROP TABLE roster_import_errors, roster_imports, contribution_payments, enrolments, members, units;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only, audit_log_chain, audit_row_text;
