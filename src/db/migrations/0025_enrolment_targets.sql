-- Up Migration

-- Enrolment targets (扩面目标) an organisation is given for a plan year: members, units and
-- contributions. Last set wins; every setting is audited with the values it replaced (audit_log).
CREATE TABLE enrolment_targets (
  organisation_id          bigint NOT NULL REFERENCES organisations (id),
  plan_year                int NOT NULL CHECK (plan_year BETWEEN 2000 AND 2100),
  members_target           int NOT NULL CHECK (members_target BETWEEN 0 AND 100000000),
  units_target             int NOT NULL CHECK (units_target BETWEEN 0 AND 10000000),
  contributions_target_fen bigint NOT NULL CHECK (contributions_target_fen BETWEEN 0 AND 100000000000000),
  set_by                   text NOT NULL,
  set_at                   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, plan_year)
);

-- The figures read other domains' rows by year: these keep a province's year a few index scans.
CREATE INDEX claims_decided ON claims (decided_at) WHERE decided_at IS NOT NULL;
CREATE INDEX payouts_paid ON payouts (paid_at) WHERE status IN ('PAID', 'SETTLED');
CREATE INDEX contribution_payments_year ON contribution_payments (plan_year, unit_id);
CREATE INDEX enrolments_year_unit ON enrolments (plan_year, unit_id);
CREATE INDEX reconciliation_exceptions_open_day ON reconciliation_exceptions (account, occurred_on) WHERE status = 'OPEN';

-- Down Migration

DROP INDEX reconciliation_exceptions_open_day, enrolments_year_unit, contribution_payments_year, payouts_paid, claims_decided;
DROP TABLE enrolment_targets;
