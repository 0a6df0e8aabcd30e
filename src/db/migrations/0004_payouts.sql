-- Up Migration

-- One payout per approved claim: the member gets one transfer per hospital stay, its remittance
-- text naming the programmes. payout_lines ties each benefit line (claim + programme) to the
-- one payout that pays it, so no line can ever be paid through two payouts.
--   HELD      approved, but the member has no bank account on record (status_reason says so)
--   READY     waiting for a batch
--   IN_BATCH  its live attempt is in a batch not yet sent
--   SENT      its live attempt went to the bank; the bank's final word is awaited
--   PAID      the bank credited the member (pain.002 ACSC)
--   SETTLED   the debit is matched on the bank statement (reconciliation)
--   FAILED    the bank rejected it or returned it (退票): a person may retry (a new attempt)
--   CANCELLED its claim was reversed before it was sent
CREATE TABLE payouts (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  claim_id      bigint NOT NULL UNIQUE REFERENCES claims (id),
  member_id     bigint NOT NULL REFERENCES members (id),
  unit_id       bigint NOT NULL REFERENCES units (id),
  amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
  status        text NOT NULL CHECK (status IN ('HELD', 'READY', 'IN_BATCH', 'SENT', 'PAID', 'SETTLED', 'FAILED', 'CANCELLED')),
  status_reason text,
  attempts      int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  paid_at       timestamptz,
  settled_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (status NOT IN ('PAID', 'SETTLED') OR paid_at IS NOT NULL),
  CHECK ((status = 'SETTLED') = (settled_at IS NOT NULL)),
  CHECK (status NOT IN ('HELD', 'FAILED', 'CANCELLED') OR status_reason IS NOT NULL)
);
CREATE INDEX payouts_status ON payouts (status, id);
CREATE INDEX payouts_member ON payouts (member_id, id);
CREATE INDEX payouts_unit ON payouts (unit_id, id);

CREATE TABLE payout_lines (
  benefit_line_id bigint PRIMARY KEY REFERENCES benefit_lines (id),
  payout_id       bigint NOT NULL REFERENCES payouts (id),
  amount_fen      bigint NOT NULL CHECK (amount_fen > 0)
);
CREATE INDEX payout_lines_payout ON payout_lines (payout_id);

-- A batch: one pain.001 from one paying account through one bank channel.
--   DRAFT -> APPROVED (by FINANCE, not its creator) -> SEALED (file written and sealed)
--   -> SUBMITTED -> ACCEPTED | PARTIALLY_ACCEPTED | REJECTED -> SETTLED (every payment on the statement)
--   DRAFT or APPROVED -> CANCELLED (its payouts go back to READY).
-- `submission` is what we know of the hand-over: SENDING is written before the call, so a worker
-- that dies mid-call leaves a trace; UNKNOWN after a timeout: ask the bank by MsgId before anything else.
CREATE TABLE payout_batches (
  id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  msg_id                   text NOT NULL UNIQUE CHECK (msg_id ~ '^[A-Za-z0-9-]{1,35}$'),
  pmt_inf_id               text NOT NULL CHECK (pmt_inf_id ~ '^[A-Za-z0-9-]{1,35}$'),
  channel                  text NOT NULL,
  debtor_account           text NOT NULL,
  debtor_name              text NOT NULL,
  debtor_agent             char(12) NOT NULL,
  requested_execution_date date NOT NULL,
  status                   text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'APPROVED', 'SEALED', 'SUBMITTED', 'ACCEPTED', 'PARTIALLY_ACCEPTED', 'REJECTED', 'SETTLED', 'CANCELLED')),
  submission               text NOT NULL DEFAULT 'NOT_SENT' CHECK (submission IN ('NOT_SENT', 'SENDING', 'UNKNOWN', 'RECEIVED', 'REFUSED')),
  nb_of_txs                int NOT NULL CHECK (nb_of_txs > 0),
  ctrl_sum_fen             bigint NOT NULL CHECK (ctrl_sum_fen > 0),
  created_by               text NOT NULL,
  created_by_role          text NOT NULL,
  approved_by              text,
  approved_by_role         text,
  approved_at              timestamptz,
  file_xml                 text,
  file_sha256              bytea,
  seal                     bytea,
  sealed_at                timestamptz,
  -- Who asked for the sealed file to be sent (FINANCE or ADMIN); the worker then submits it.
  submit_requested_by      text,
  submit_requested_at      timestamptz,
  submitted_at             timestamptz,
  bank_reference           text,
  bank_code                text,
  bank_reason              text,
  answered_at              timestamptz,
  final_at                 timestamptz,
  cancelled_by             text,
  cancel_reason            text,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  -- Four eyes: only FINANCE approves, and never the batch's own creator (also checked in code).
  CHECK (approved_by IS NULL OR (approved_by <> created_by AND approved_by_role = 'FINANCE')),
  CHECK ((approved_by IS NULL) = (approved_at IS NULL)),
  CHECK (status IN ('DRAFT', 'CANCELLED') OR approved_by IS NOT NULL),
  CHECK (status IN ('DRAFT', 'APPROVED', 'CANCELLED') OR (file_xml IS NOT NULL AND seal IS NOT NULL AND file_sha256 IS NOT NULL)),
  CHECK ((status = 'CANCELLED') = (cancel_reason IS NOT NULL))
);
CREATE INDEX payout_batches_status ON payout_batches (status, id);

-- The database refuses any transition the state machine does not have, and any change to a
-- sealed file: what the approver approved and the seal covers is what the bank gets.
CREATE FUNCTION payout_batch_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.file_xml IS NOT NULL AND (NEW.file_xml IS DISTINCT FROM OLD.file_xml OR NEW.seal IS DISTINCT FROM OLD.seal
      OR NEW.file_sha256 IS DISTINCT FROM OLD.file_sha256) THEN
    RAISE EXCEPTION 'payout batch %: its sealed file cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.approved_by IS NOT NULL AND NEW.approved_by IS DISTINCT FROM OLD.approved_by THEN
    RAISE EXCEPTION 'payout batch %: its approval cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN (
      ('DRAFT', 'APPROVED'), ('DRAFT', 'CANCELLED'), ('APPROVED', 'SEALED'), ('APPROVED', 'CANCELLED'),
      ('SEALED', 'SUBMITTED'), ('SUBMITTED', 'ACCEPTED'), ('SUBMITTED', 'PARTIALLY_ACCEPTED'), ('SUBMITTED', 'REJECTED'),
      ('ACCEPTED', 'SETTLED'), ('PARTIALLY_ACCEPTED', 'SETTLED')) THEN
    RAISE EXCEPTION 'payout batch %: % -> % is not an allowed transition', OLD.msg_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER payout_batch_transition BEFORE UPDATE ON payout_batches FOR EACH ROW EXECUTE FUNCTION payout_batch_transition();

-- Every attempt to pay a payout, with the EndToEndId the bank knows it by, stored before the
-- file is sent. The creditor is frozen here (copied from the member at batch creation): the
-- approver approves, and the bank pays, exactly this account.
--   PLANNED -> SENT -> (UNKNOWN: no answer) -> ACCEPTED (interim) -> PAID (ACSC) -> RETURNED (退票)
--   SENT | UNKNOWN | ACCEPTED -> REJECTED (RJCT, with the bank's reason);  PLANNED -> CANCELLED
CREATE TABLE payout_attempts (
  id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payout_id               bigint NOT NULL REFERENCES payouts (id),
  attempt_no              int NOT NULL CHECK (attempt_no >= 1),
  batch_id                bigint NOT NULL REFERENCES payout_batches (id),
  end_to_end_id           text NOT NULL UNIQUE CHECK (end_to_end_id ~ '^[A-Za-z0-9-]{1,35}$'),
  amount_fen              bigint NOT NULL CHECK (amount_fen > 0),
  creditor_name           text NOT NULL,
  creditor_account_enc    bytea NOT NULL,
  creditor_account_masked text NOT NULL,
  creditor_agent          char(12) NOT NULL,
  remittance_info         text NOT NULL,
  status                  text NOT NULL DEFAULT 'PLANNED' CHECK (status IN ('PLANNED', 'SENT', 'UNKNOWN', 'ACCEPTED', 'PAID', 'REJECTED', 'RETURNED', 'CANCELLED')),
  bank_status             text,
  reason_code             text,
  reason                  text,
  bank_reference          text,
  status_at               timestamptz,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payout_id, attempt_no),
  CHECK (status NOT IN ('REJECTED', 'RETURNED') OR reason_code IS NOT NULL)
);
-- At most one attempt per payout that may still move money: a new attempt only once every
-- earlier one is proven not to (rejected, returned, or cancelled before sending).
CREATE UNIQUE INDEX payout_attempts_live ON payout_attempts (payout_id) WHERE status NOT IN ('REJECTED', 'RETURNED', 'CANCELLED');
CREATE INDEX payout_attempts_batch ON payout_attempts (batch_id, id);

-- Bank answers only move an attempt forward: a late interim report can never undo a final one.
CREATE FUNCTION payout_attempt_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.end_to_end_id <> OLD.end_to_end_id OR NEW.amount_fen <> OLD.amount_fen OR NEW.batch_id <> OLD.batch_id
      OR NEW.creditor_account_enc <> OLD.creditor_account_enc THEN
    RAISE EXCEPTION 'payout attempt %: what was sent cannot change', OLD.end_to_end_id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN (
      ('PLANNED', 'SENT'), ('PLANNED', 'CANCELLED'),
      ('SENT', 'UNKNOWN'), ('SENT', 'ACCEPTED'), ('SENT', 'PAID'), ('SENT', 'REJECTED'),
      ('UNKNOWN', 'SENT'), ('UNKNOWN', 'ACCEPTED'), ('UNKNOWN', 'PAID'), ('UNKNOWN', 'REJECTED'),
      ('ACCEPTED', 'PAID'), ('ACCEPTED', 'REJECTED'), ('PAID', 'RETURNED')) THEN
    RAISE EXCEPTION 'payout attempt %: % -> % is not an allowed transition', OLD.end_to_end_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER payout_attempt_transition BEFORE UPDATE ON payout_attempts FOR EACH ROW EXECUTE FUNCTION payout_attempt_transition();

-- Every pain.002 the bank sent us about a batch, sealed, once (by its own MsgId): the evidence.
CREATE TABLE bank_status_reports (
  msg_id       text PRIMARY KEY,
  batch_id     bigint NOT NULL REFERENCES payout_batches (id),
  group_status text,
  xml          text NOT NULL,
  seal         bytea NOT NULL,
  sealed_by    text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bank_status_reports_batch ON bank_status_reports (batch_id);

-- Where we are in each of the bank's document feeds (status reports, notifications ...).
CREATE TABLE bank_feed_cursors (
  feed       text PRIMARY KEY,
  cursor     text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE bank_feed_cursors, bank_status_reports, payout_attempts, payout_batches, payout_lines, payouts;
DROP FUNCTION payout_attempt_transition, payout_batch_transition;
