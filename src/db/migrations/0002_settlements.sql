-- Up Migration

-- Where settlements come from: the platform's HTTP interface (or its simulator), a drop directory,
-- or one-off files (CLI import, API upload). The cursor is the source's own position marker;
-- it advances in the transaction that stores the page it ends.
CREATE TABLE settlement_sources (
  name           text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
  kind           text NOT NULL CHECK (kind IN ('PLATFORM', 'DROP', 'FILE')),
  endpoint       text, -- PLATFORM: interface URL; DROP: directory
  page_size      int NOT NULL DEFAULT 500 CHECK (page_size BETWEEN 1 AND 10000),
  poll_seconds   int CHECK (poll_seconds >= 1), -- null: pulled only on demand
  enabled        boolean NOT NULL DEFAULT true,
  cursor         text,
  last_polled_at timestamptz,
  last_error     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'FILE') = (endpoint IS NULL))
);

-- One ingestion run: a pull from a source's cursor until caught up (PULL, at most one open per
-- source), or one file (FILE). Counters grow in the transaction of each page.
CREATE TABLE settlement_runs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source        text NOT NULL REFERENCES settlement_sources (name),
  kind          text NOT NULL CHECK (kind IN ('PULL', 'FILE')),
  file_name     text CHECK ((kind = 'FILE') = (file_name IS NOT NULL)),
  status        text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'DONE', 'FAILED')),
  started_by    text NOT NULL,
  cursor_before text,
  cursor_after  text,
  pages         int NOT NULL DEFAULT 0,
  received      int NOT NULL DEFAULT 0,
  inserted      int NOT NULL DEFAULT 0,
  duplicates    int NOT NULL DEFAULT 0,
  rejected      int NOT NULL DEFAULT 0,
  failure       text,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);
CREATE UNIQUE INDEX settlement_runs_open_pull ON settlement_runs (source) WHERE status = 'RUNNING' AND kind = 'PULL';
CREATE INDEX settlement_runs_source ON settlement_runs (source, id);

-- 结算: a settlement (setlinfo of 2207 outpatient / 2304 inpatient) or a reversal (2208 / 2305).
-- Amounts are integer fen under the platform's own field names. The ID number (certno) and the
-- name are only stored encrypted, with a keyed hash for matching and a masked form for display;
-- the payload as received is kept encrypted for audit. (source, setl_id) is the idempotency key.
CREATE TABLE settlements (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source            text NOT NULL REFERENCES settlement_sources (name),
  run_id            bigint REFERENCES settlement_runs (id),
  setl_id           text NOT NULL CHECK (length(setl_id) BETWEEN 1 AND 30),
  infno             text NOT NULL CHECK (infno IN ('2207', '2304', '2208', '2305')),
  kind              text NOT NULL CHECK (kind IN ('SETTLEMENT', 'REVERSAL')),
  -- A reversal names the setl_id it cancels; reverses_id is set once that settlement is found.
  reverses_setl_id  text CHECK ((kind = 'REVERSAL') = (reverses_setl_id IS NOT NULL)),
  reverses_id       bigint REFERENCES settlements (id),
  mdtrt_id          text NOT NULL,
  psn_no            text NOT NULL,
  psn_name_enc      bytea NOT NULL,
  psn_name_masked   text NOT NULL,
  certno_enc        bytea NOT NULL,
  certno_hash       bytea NOT NULL,
  certno_masked     text NOT NULL,
  insutype          text NOT NULL,
  med_type          text NOT NULL,
  setl_time         timestamptz NOT NULL,
  diagnoses         text[] NOT NULL DEFAULT '{}',
  medfee_sumamt     bigint NOT NULL,
  fulamt_ownpay_amt bigint NOT NULL,
  overlmt_selfpay   bigint NOT NULL,
  preselfpay_amt    bigint,
  inscp_scp_amt     bigint,
  act_pay_dedc      bigint,
  hifp_pay          bigint,
  hifmi_pay         bigint,
  hifob_pay         bigint,
  maf_pay           bigint,
  cvlserv_pay       bigint,
  hifes_pay         bigint,
  oth_pay           bigint,
  fund_pay_sumamt   bigint NOT NULL,
  psn_part_amt      bigint NOT NULL,
  acct_pay          bigint NOT NULL,
  psn_cash_pay      bigint NOT NULL,
  hosp_part_amt     bigint,
  raw_enc           bytea NOT NULL,
  -- RECEIVED until the match step decides; that step only moves rows out of RECEIVED.
  status            text NOT NULL DEFAULT 'RECEIVED' CHECK (status IN ('RECEIVED', 'MATCHED', 'UNMATCHED', 'DUPLICATE')),
  unmatched_reason  text CHECK ((status = 'UNMATCHED') = (unmatched_reason IS NOT NULL)
                                AND unmatched_reason IN ('NO_MEMBER', 'NO_ENROLMENT', 'ORIGINAL_NOT_FOUND')),
  member_id         bigint REFERENCES members (id),
  enrolment_id      bigint REFERENCES enrolments (id),
  unit_id           bigint REFERENCES units (id), -- the enrolment's unit (whose programme pays)
  duplicate_of_id   bigint REFERENCES settlements (id), -- the same setl_id stored earlier from another source
  processing_error  text, -- why the match job gave up after its retries (the row stays RECEIVED)
  received_at       timestamptz NOT NULL DEFAULT now(),
  matched_at        timestamptz,
  UNIQUE (source, setl_id),
  CHECK ((status = 'MATCHED') = (enrolment_id IS NOT NULL))
);
-- (setl_id, id): the earliest copy of a setl_id is one index probe (a backward scan of the primary key is not).
CREATE INDEX settlements_setl_id ON settlements (setl_id, id);
-- The encrypted payload lives out of line, uncompressed (ciphertext does not compress): the match
-- step's status update then rewrites a small row, not the payload.
ALTER TABLE settlements ALTER COLUMN raw_enc SET STORAGE EXTERNAL;
ALTER TABLE settlements SET (toast_tuple_target = 256);
CREATE INDEX settlements_reverses ON settlements (reverses_setl_id) WHERE reverses_setl_id IS NOT NULL;
CREATE INDEX settlements_reverses_id ON settlements (reverses_id) WHERE reverses_id IS NOT NULL;
CREATE INDEX settlements_received ON settlements (id) WHERE status = 'RECEIVED';
CREATE INDEX settlements_member ON settlements (member_id, id) WHERE member_id IS NOT NULL;
CREATE INDEX settlements_unit ON settlements (unit_id, id) WHERE unit_id IS NOT NULL;
-- Every index costs each insert and each match (the status change is not a HOT update): only those queries need.
CREATE INDEX settlements_run_unmatched ON settlements (run_id) WHERE status = 'UNMATCHED';

-- A record that failed validation: kept (encrypted as received, masked for display) with each
-- problem's field and reason until it is corrected and retried, or the source sends it again valid.
CREATE TABLE settlement_rejections (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source        text NOT NULL REFERENCES settlement_sources (name),
  run_id        bigint REFERENCES settlement_runs (id),
  -- setl_id when the record has one, else a keyed hash of the record: a re-sent record is a duplicate.
  record_key    text NOT NULL,
  setl_id       text,
  position      text, -- where it was in its page or file, e.g. "line 12"
  raw_enc       bytea NOT NULL, -- the record as received, never changed
  corrections_enc bytea, -- corrections so far (encrypted: they may carry the ID number)
  raw_masked    jsonb NOT NULL, -- the record as it now stands (corrections applied), masked
  problems      jsonb NOT NULL CHECK (jsonb_typeof(problems) = 'array' AND jsonb_array_length(problems) > 0),
  status        text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'RESOLVED', 'SUPERSEDED')),
  settlement_id bigint REFERENCES settlements (id),
  retries       int NOT NULL DEFAULT 0,
  received_at   timestamptz NOT NULL DEFAULT now(),
  resolved_at   timestamptz,
  resolved_by   text,
  UNIQUE (source, record_key),
  CHECK ((status = 'OPEN') = (settlement_id IS NULL))
);
CREATE INDEX settlement_rejections_open ON settlement_rejections (source, setl_id) WHERE status = 'OPEN';
CREATE INDEX settlement_rejections_run ON settlement_rejections (run_id);

-- Down Migration
DROP TABLE settlement_rejections, settlements, settlement_runs, settlement_sources;
