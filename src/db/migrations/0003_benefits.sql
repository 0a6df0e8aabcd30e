-- Up Migration

-- Benefit rule sets: versioned data (src/benefits/rules/ruleSet.ts validates the definition).
-- The JSON files in src/benefits/ruleSets/ are the source of truth for the shipped sets; the
-- application loads them here idempotently at start (ensureShippedRuleSets). Publishing through
-- the API adds a new version; no version is ever changed or removed (claims name the one used).
CREATE TABLE rule_sets (
  id           text NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9-]*$'),
  version      int NOT NULL CHECK (version >= 1),
  plan_years   int[] NOT NULL CHECK (cardinality(plan_years) >= 1),
  definition   jsonb NOT NULL,
  shipped      boolean NOT NULL DEFAULT false,
  published_at timestamptz NOT NULL DEFAULT now(),
  published_by text NOT NULL,
  PRIMARY KEY (id, version)
);
CREATE INDEX rule_sets_years ON rule_sets USING gin (plan_years);

-- Which rule set (by id) governs a plan year: its newest version covering the year. A year with no
-- row here uses the newest published rule set covering it (src/benefits/ruleSetStore.ts).
CREATE TABLE plan_year_rule_sets (
  plan_year   int PRIMARY KEY CHECK (plan_year BETWEEN 2000 AND 2100),
  rule_set_id text NOT NULL,
  assigned_at timestamptz NOT NULL DEFAULT now(),
  assigned_by text NOT NULL
);
INSERT INTO plan_year_rule_sets (plan_year, rule_set_id, assigned_by) VALUES (2025, 'default-2025', 'migration 0003');

-- Paid (or reserved, while under review) per programme so far, and the running out-of-pocket
-- total R, per member and plan year. Adjudication and review lock this row FOR UPDATE (in
-- (member_id, plan_year) order), so concurrent claims of one member can never pass a cap together.
CREATE TABLE member_year_totals (
  member_id         bigint NOT NULL REFERENCES members (id),
  plan_year         int NOT NULL,
  inpatient_fen     bigint NOT NULL DEFAULT 0 CHECK (inpatient_fen >= 0),
  critical_fen      bigint NOT NULL DEFAULT 0 CHECK (critical_fen >= 0),
  major_disease_fen bigint NOT NULL DEFAULT 0 CHECK (major_disease_fen >= 0),
  out_of_pocket_fen bigint NOT NULL DEFAULT 0 CHECK (out_of_pocket_fen >= 0),
  claims            int NOT NULL DEFAULT 0,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (member_id, plan_year)
);

-- One claim per settlement (the idempotency key of adjudication). A claim cancelled by a reversal
-- that arrived before it was adjudicated has no rule set and no lines.
CREATE TABLE claims (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  settlement_id      bigint NOT NULL UNIQUE REFERENCES settlements (id),
  member_id          bigint NOT NULL REFERENCES members (id),
  unit_id            bigint NOT NULL REFERENCES units (id),
  enrolment_id       bigint NOT NULL REFERENCES enrolments (id),
  plan_year          int NOT NULL,
  setl_time          timestamptz NOT NULL,
  rule_set_id        text,
  rule_set_version   int,
  status             text NOT NULL CHECK (status IN ('INELIGIBLE', 'PENDING_REVIEW', 'APPROVED', 'REJECTED', 'CANCELLED')),
  eligible           boolean NOT NULL,
  psn_part_amt       bigint NOT NULL,
  computed_total_fen bigint NOT NULL CHECK (computed_total_fen >= 0), -- as the rules computed it
  total_fen          bigint NOT NULL CHECK (total_fen >= 0),          -- after adjustments
  reasons            text[] NOT NULL DEFAULT '{}',
  reason_codes       text[] NOT NULL DEFAULT '{}',
  warnings           text[] NOT NULL DEFAULT '{}',
  -- The enrolment facts and plan-year totals the rules saw (for explanation and replay).
  facts              jsonb NOT NULL DEFAULT '{}'::jsonb,
  totals_before      jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- What this claim added to the running out-of-pocket total R.
  out_of_pocket_fen  bigint NOT NULL DEFAULT 0 CHECK (out_of_pocket_fen >= 0),
  decided_by         text,
  decided_at         timestamptz,
  decision_reason    text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (rule_set_id, rule_set_version) REFERENCES rule_sets (id, version),
  CHECK ((rule_set_id IS NULL) = (rule_set_version IS NULL)),
  CHECK (status <> 'REJECTED' OR decision_reason IS NOT NULL)
);
CREATE INDEX claims_member ON claims (member_id, id);
CREATE INDEX claims_unit ON claims (unit_id, id);
CREATE INDEX claims_status ON claims (status, id);
CREATE INDEX claims_year ON claims (plan_year, setl_time, settlement_id);

-- One line per claim and programme. amount_fen is what the rules computed; a reviewer's
-- adjustment is kept beside it (never above it, never negative) with its reason.
-- PAID is set by the payouts step; a reversal then turns the line into a recovery.
CREATE TABLE benefit_lines (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  claim_id          bigint NOT NULL REFERENCES claims (id),
  programme         text NOT NULL CHECK (programme IN ('INPATIENT', 'CRITICAL', 'MAJOR_DISEASE')),
  basis_fen         bigint NOT NULL,
  ratio_bp          int,
  fixed_fen         bigint,
  before_caps_fen   bigint NOT NULL CHECK (before_caps_fen >= 0),
  caps_hit          text[] NOT NULL DEFAULT '{}',
  amount_fen        bigint NOT NULL CHECK (amount_fen >= 0),
  adjusted_fen      bigint CHECK (adjusted_fen >= 0 AND adjusted_fen <= amount_fen),
  adjustment_reason text,
  adjusted_by       text,
  adjusted_at       timestamptz,
  disease_groups    text[] NOT NULL DEFAULT '{}',
  explanation       text NOT NULL,
  status            text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED', 'PAID')),
  paid_at           timestamptz,
  UNIQUE (claim_id, programme),
  CHECK ((adjusted_fen IS NULL) = (adjustment_reason IS NULL)),
  CHECK ((status = 'PAID') = (paid_at IS NOT NULL))
);
CREATE INDEX benefit_lines_programme ON benefit_lines (programme, claim_id);

-- First-diagnosis lump sums granted: once per member and disease group, ever.
CREATE TABLE disease_group_grants (
  member_id     bigint NOT NULL REFERENCES members (id),
  disease_group text NOT NULL,
  claim_id      bigint NOT NULL REFERENCES claims (id),
  granted_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (member_id, disease_group)
);
CREATE INDEX disease_group_grants_claim ON disease_group_grants (claim_id);

-- Each processed reversal settlement, once (the idempotency key of reversal handling).
CREATE TABLE claim_reversals (
  reversal_settlement_id bigint PRIMARY KEY REFERENCES settlements (id),
  claim_id               bigint NOT NULL REFERENCES claims (id),
  outcome                text NOT NULL CHECK (outcome IN ('CANCELLED', 'ALREADY_CANCELLED', 'CANCELLED_BEFORE_ADJUDICATION')),
  cancelled_fen          bigint NOT NULL DEFAULT 0,
  recovery_fen           bigint NOT NULL DEFAULT 0,
  created_at             timestamptz NOT NULL DEFAULT now()
);

-- Money paid on a line whose settlement was reversed afterwards: to be recovered from the member.
CREATE TABLE recoveries (
  id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  benefit_line_id        bigint NOT NULL UNIQUE REFERENCES benefit_lines (id),
  claim_id               bigint NOT NULL REFERENCES claims (id),
  member_id              bigint NOT NULL REFERENCES members (id),
  reversal_settlement_id bigint NOT NULL REFERENCES settlements (id),
  amount_fen             bigint NOT NULL CHECK (amount_fen > 0),
  status                 text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'RECOVERED', 'WAIVED')),
  created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recoveries_member ON recoveries (member_id, id);

-- Down Migration
DROP TABLE recoveries, claim_reversals, disease_group_grants, benefit_lines, claims, member_year_totals,
  plan_year_rule_sets, rule_sets;
