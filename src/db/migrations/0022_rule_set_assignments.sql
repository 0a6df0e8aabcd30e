-- Up Migration

-- A fourth programme, 省总工会大病补助 (PROVINCIAL_SUBSIDY), stacked on the city's lines. Its
-- running out-of-pocket total is derived from R (out_of_pocket_fen) less what the programmes it
-- names paid (their totals here), so it needs only its own paid total.
ALTER TABLE benefit_lines DROP CONSTRAINT benefit_lines_programme_check,
  ADD CONSTRAINT benefit_lines_programme_check CHECK (programme IN ('INPATIENT', 'CRITICAL', 'MAJOR_DISEASE', 'PROVINCIAL_SUBSIDY'));
ALTER TABLE member_year_totals
  ADD COLUMN provincial_subsidy_fen bigint NOT NULL DEFAULT 0 CHECK (provincial_subsidy_fen >= 0);

-- Rule-set changes under four eyes: one ADMIN proposes a new version (PUBLICATION, its definition)
-- or an assignment of a stored version to an organisation and plan year (ASSIGNMENT); another
-- ADMIN approves or rejects it. `organisation_id` is whose proposal it is: the organisation it
-- assigns for, or for a publication the proposer's own organisation (NULL: the hub-wide staff).
CREATE TABLE rule_set_proposals (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('PUBLICATION', 'ASSIGNMENT')),
  status           text NOT NULL DEFAULT 'PROPOSED' CHECK (status IN ('PROPOSED', 'APPROVED', 'REJECTED')),
  rule_set_id      text NOT NULL CHECK (rule_set_id ~ '^[a-z0-9][a-z0-9-]*$'),
  -- PUBLICATION: the version it became when approved; ASSIGNMENT: the stored version it assigns.
  rule_set_version int,
  definition       jsonb,
  organisation_id  bigint REFERENCES organisations (id),
  plan_year        int CHECK (plan_year BETWEEN 2000 AND 2100),
  effective_from   date,
  note             text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
  proposed_by      text NOT NULL,
  proposed_at      timestamptz NOT NULL DEFAULT now(),
  decided_by       text,
  decided_at       timestamptz,
  decision_note    text CHECK (length(decision_note) <= 2000),
  CHECK ((kind = 'PUBLICATION') = (definition IS NOT NULL)),
  CHECK (kind = 'PUBLICATION' OR (organisation_id IS NOT NULL AND plan_year IS NOT NULL AND effective_from IS NOT NULL AND rule_set_version IS NOT NULL)),
  CHECK (kind = 'ASSIGNMENT' OR status <> 'APPROVED' OR rule_set_version IS NOT NULL),
  CHECK ((status = 'PROPOSED') = (decided_by IS NULL) AND (decided_by IS NULL) = (decided_at IS NULL)),
  CHECK (status <> 'REJECTED' OR decision_note IS NOT NULL),
  -- Four eyes: whoever proposed a change never decides it.
  CONSTRAINT rule_set_proposals_four_eyes CHECK (decided_by <> proposed_by),
  FOREIGN KEY (rule_set_id, rule_set_version) REFERENCES rule_sets (id, version)
);
CREATE INDEX rule_set_proposals_status ON rule_set_proposals (status, id);

-- Which rule set version governs an organisation's plan year from a date, inherited by the
-- organisations below it unless one of them has its own (the nearest wins; among one
-- organisation's rows the latest effective_from on or before the settlement date). History: a
-- row is never updated or deleted; a new assignment is a new row.
CREATE TABLE organisation_rule_sets (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organisation_id  bigint NOT NULL REFERENCES organisations (id),
  plan_year        int NOT NULL CHECK (plan_year BETWEEN 2000 AND 2100),
  rule_set_id      text NOT NULL,
  rule_set_version int NOT NULL,
  effective_from   date NOT NULL,
  assigned_by      text NOT NULL,
  approved_by      text NOT NULL,
  approved_at      timestamptz NOT NULL DEFAULT now(),
  proposal_id      bigint NOT NULL UNIQUE REFERENCES rule_set_proposals (id),
  FOREIGN KEY (rule_set_id, rule_set_version) REFERENCES rule_sets (id, version),
  CONSTRAINT organisation_rule_sets_four_eyes CHECK (approved_by <> assigned_by)
);
CREATE INDEX organisation_rule_sets_lookup ON organisation_rule_sets (organisation_id, plan_year, effective_from DESC, id DESC);

CREATE FUNCTION organisation_rule_sets_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a rule-set assignment is history: it is never changed or removed (assignment %)', OLD.id;
END $$;
CREATE TRIGGER organisation_rule_sets_history BEFORE UPDATE OR DELETE ON organisation_rule_sets
  FOR EACH ROW EXECUTE FUNCTION organisation_rule_sets_history();

-- Who published each version: an organisation's staff (its id), or the hub's own staff and the
-- shipped files (NULL). A version an organisation published governs only where it is assigned, never
-- as a plan year's hub-wide fallback, and only that organisation's subtree publishes further versions
-- of its id (src/benefits/ruleSetProposals.ts).
ALTER TABLE rule_sets ADD COLUMN organisation_id bigint REFERENCES organisations (id);

-- Down Migration

ALTER TABLE rule_sets DROP COLUMN organisation_id;

DROP TRIGGER organisation_rule_sets_history ON organisation_rule_sets;
DROP FUNCTION organisation_rule_sets_history();
DROP TABLE organisation_rule_sets;
DROP TABLE rule_set_proposals;
ALTER TABLE member_year_totals DROP COLUMN provincial_subsidy_fen;
-- Refused while PROVINCIAL_SUBSIDY lines exist: they are money paid or owed, never dropped here.
ALTER TABLE benefit_lines DROP CONSTRAINT benefit_lines_programme_check,
  ADD CONSTRAINT benefit_lines_programme_check CHECK (programme IN ('INPATIENT', 'CRITICAL', 'MAJOR_DISEASE'));
