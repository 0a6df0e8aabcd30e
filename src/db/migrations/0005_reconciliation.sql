-- Up Migration

-- Every camt.053 / camt.054 the hub received (bank channel, API upload or `hub statements import`),
-- kept whole with the bank's seal: the evidence. The same bytes twice are one document. A document
-- that fails its checks stays here as REJECTED with every problem (field and reason) and can be
-- processed again (`retryBankDocument`); RECEIVED: stored, not yet processed (a worker died).
CREATE TABLE bank_documents (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind         text CHECK (kind IN ('camt.053', 'camt.054')),
  msg_id       text,
  sha256       bytea NOT NULL UNIQUE,
  xml          text NOT NULL,
  seal         bytea,
  sealed_by    text,
  source       text NOT NULL CHECK (source IN ('BANK', 'UPLOAD', 'FILE')),
  file_name    text,
  received_by  text NOT NULL,
  status       text NOT NULL DEFAULT 'RECEIVED' CHECK (status IN ('RECEIVED', 'ACCEPTED', 'REJECTED')),
  problems     jsonb NOT NULL DEFAULT '[]',
  entries      int NOT NULL DEFAULT 0,
  entries_new  int NOT NULL DEFAULT 0,
  received_at  timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  CHECK ((status = 'REJECTED') = (problems <> '[]'::jsonb))
);
CREATE INDEX bank_documents_status ON bank_documents (status, id);

-- One statement per account and day (camt.053 Stmt). A later version of the same day (an intraday
-- statement, then the final one) updates the balances; its entries may only grow.
-- Balances are signed fen (a credit balance positive); null when the message carried none (a page).
CREATE TABLE bank_statements (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account        text NOT NULL,
  statement_date date NOT NULL,
  statement_ref  text NOT NULL,
  document_id    bigint NOT NULL REFERENCES bank_documents (id),
  bank_created_at timestamptz NOT NULL,
  -- Created after its period ended: the day's final statement (an intraday one may still grow).
  final          boolean NOT NULL,
  opening_fen    bigint,
  closing_fen    bigint,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (account, statement_date)
);

-- A booked entry on one of our accounts, once per account servicer reference (流水号), however
-- many documents report it (its camt.054 notification, then the day's statement, then a re-import).
--   PENDING   stored, not matched yet
--   MATCHED   every transaction in it matched
--   EXCEPTION an exception on it is open
--   RESOLVED  its exceptions were resolved by a person (matched by hand or written off)
CREATE TABLE statement_entries (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account              text NOT NULL,
  account_servicer_ref text NOT NULL,
  statement_id         bigint REFERENCES bank_statements (id),
  document_id          bigint NOT NULL REFERENCES bank_documents (id),
  credit_debit         text NOT NULL CHECK (credit_debit IN ('CRDT', 'DBIT')),
  amount_fen           bigint NOT NULL CHECK (amount_fen > 0),
  booking_date         date NOT NULL,
  value_date           date,
  -- PMNT/ICDT/DMCT etc. (or the bank's own code), for people and filters.
  transaction_code     text,
  entry                jsonb NOT NULL,
  state                text NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'MATCHED', 'EXCEPTION', 'RESOLVED')),
  matched_at           timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (account, account_servicer_ref)
);
CREATE INDEX statement_entries_pending ON statement_entries (account, booking_date, id) WHERE state = 'PENDING';
CREATE INDEX statement_entries_statement ON statement_entries (statement_id, id);
CREATE INDEX statement_entries_account_date ON statement_entries (account, booking_date, id);

-- What an entry's transaction (tx_index 0: the whole entry; n: its n-th TxDtls) pays or returns.
CREATE TABLE reconciliation_matches (
  id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entry_id                bigint NOT NULL REFERENCES statement_entries (id),
  tx_index                int NOT NULL CHECK (tx_index >= 0),
  kind                    text NOT NULL CHECK (kind IN ('PAYOUT', 'RETURN', 'CONTRIBUTION')),
  rule                    text NOT NULL CHECK (rule IN ('END_TO_END_ID', 'BANK_REFERENCE', 'BATCH', 'AMOUNT_DATE_NAME', 'RECORDED_PAYMENT',
                                                        'CONTRIBUTION_REFERENCE', 'PAYER_ACCOUNT', 'MANUAL')),
  payout_attempt_id       bigint REFERENCES payout_attempts (id),
  unit_id                 bigint REFERENCES units (id),
  plan_year               int,
  contribution_payment_id bigint REFERENCES contribution_payments (id),
  amount_fen              bigint NOT NULL CHECK (amount_fen > 0),
  matched_by              text NOT NULL,
  -- The exception a person resolved with this match.
  exception_id            bigint,
  created_at              timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind IN ('PAYOUT', 'RETURN')) = (payout_attempt_id IS NOT NULL)),
  CHECK ((kind = 'CONTRIBUTION') = (unit_id IS NOT NULL AND plan_year IS NOT NULL AND contribution_payment_id IS NOT NULL))
);
-- A payout is debited once and returned once: a second debit is an exception, never a second match.
CREATE UNIQUE INDEX reconciliation_matches_debit ON reconciliation_matches (payout_attempt_id) WHERE kind = 'PAYOUT';
CREATE UNIQUE INDEX reconciliation_matches_return ON reconciliation_matches (payout_attempt_id) WHERE kind = 'RETURN';
CREATE UNIQUE INDEX reconciliation_matches_payment ON reconciliation_matches (contribution_payment_id) WHERE kind = 'CONTRIBUTION';
CREATE INDEX reconciliation_matches_entry ON reconciliation_matches (entry_id, tx_index);
CREATE INDEX reconciliation_matches_unit_year ON reconciliation_matches (unit_id, plan_year) WHERE kind = 'CONTRIBUTION';

-- What a person must look at, with what the matcher saw (evidence). `key` is what makes a re-run
-- find the same exception instead of a second one. Resolving is audited (audit_log):
--   MATCHED     matched by hand;  WRITTEN_OFF  accepted as is, with the reason;
--   CLEARED     the condition went away on its own (a missing debit arrived).
CREATE TABLE reconciliation_exceptions (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key               text NOT NULL UNIQUE,
  kind              text NOT NULL CHECK (kind IN ('UNMATCHED_DEBIT', 'DUPLICATE_DEBIT', 'MISSING_DEBIT', 'AMOUNT_MISMATCH',
                                                  'UNKNOWN_CREDIT', 'RETURN_AFTER_SETTLEMENT')),
  account           text NOT NULL,
  entry_id          bigint REFERENCES statement_entries (id),
  tx_index          int,
  payout_attempt_id bigint REFERENCES payout_attempts (id),
  amount_fen        bigint NOT NULL CHECK (amount_fen > 0),
  -- The entry's booking date, or the day a missing debit was due from.
  occurred_on       date NOT NULL,
  evidence          jsonb NOT NULL,
  status            text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'RESOLVED')),
  resolution        text CHECK (resolution IN ('MATCHED', 'WRITTEN_OFF', 'CLEARED')),
  resolution_reason text,
  resolved_by       text,
  resolved_at       timestamptz,
  detected_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'RESOLVED') = (resolution IS NOT NULL AND resolved_by IS NOT NULL AND resolved_at IS NOT NULL)),
  CHECK (resolution IS DISTINCT FROM 'WRITTEN_OFF' OR resolution_reason IS NOT NULL),
  CHECK ((entry_id IS NULL) = (kind = 'MISSING_DEBIT'))
);
CREATE INDEX reconciliation_exceptions_open ON reconciliation_exceptions (kind, id) WHERE status = 'OPEN';
CREATE INDEX reconciliation_exceptions_entry ON reconciliation_exceptions (entry_id) WHERE entry_id IS NOT NULL;
CREATE INDEX reconciliation_exceptions_attempt ON reconciliation_exceptions (payout_attempt_id) WHERE payout_attempt_id IS NOT NULL;
ALTER TABLE reconciliation_matches ADD FOREIGN KEY (exception_id) REFERENCES reconciliation_exceptions (id);

-- Accounts a unit paid its contributions from (learned from credits matched by their reference):
-- a later transfer from one without the reference can still be matched by amount.
CREATE TABLE unit_payer_accounts (
  account    text NOT NULL,
  unit_id    bigint NOT NULL REFERENCES units (id),
  learned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account, unit_id)
);

-- The daily proof per account and statement day (src/reconciliation/proof.ts), as last computed.
CREATE TABLE daily_proofs (
  account                text NOT NULL,
  statement_date         date NOT NULL,
  statement_id           bigint NOT NULL REFERENCES bank_statements (id),
  opening_fen            bigint,
  closing_fen            bigint,
  credits_fen            bigint NOT NULL,
  debits_fen             bigint NOT NULL,
  entries                int NOT NULL,
  recognized_credits_fen bigint NOT NULL,
  recognized_debits_fen  bigint NOT NULL,
  unrecognized_entries   int NOT NULL,
  previous_closing_fen   bigint,
  previous_date          date,
  balanced               boolean,
  continuous             boolean,
  expected_closing_fen   bigint,
  difference_fen         bigint,
  proven                 boolean NOT NULL,
  problems               jsonb NOT NULL,
  computed_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account, statement_date)
);

-- One reconciliation of an account (job, command or demo), with its progress counts.
CREATE TABLE reconciliation_runs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account     text NOT NULL,
  started_by  text NOT NULL,
  status      text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'DONE', 'FAILED')),
  entries     int NOT NULL DEFAULT 0,
  matched     int NOT NULL DEFAULT 0,
  exceptions  int NOT NULL DEFAULT 0,
  failure     text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX reconciliation_runs_account ON reconciliation_runs (account, id);

-- Lookups matching makes on the payouts side.
CREATE INDEX payout_attempts_bank_reference ON payout_attempts (bank_reference) WHERE bank_reference IS NOT NULL;
CREATE INDEX payout_attempts_debitable_amount ON payout_attempts (amount_fen) WHERE status IN ('SENT', 'UNKNOWN', 'ACCEPTED', 'PAID', 'RETURNED');
CREATE INDEX payout_attempts_paid ON payout_attempts (batch_id) WHERE status = 'PAID';
CREATE INDEX payout_batches_pmt_inf_id ON payout_batches (pmt_inf_id);
CREATE INDEX payout_batches_debtor_account ON payout_batches (debtor_account, id);

-- Down Migration
DROP INDEX payout_batches_debtor_account, payout_batches_pmt_inf_id, payout_attempts_paid, payout_attempts_debitable_amount, payout_attempts_bank_reference;
DROP TABLE reconciliation_runs, daily_proofs, unit_payer_accounts, reconciliation_matches, reconciliation_exceptions, statement_entries, bank_statements, bank_documents;
