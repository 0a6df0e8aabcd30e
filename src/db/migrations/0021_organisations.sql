-- Up Migration

-- Union organisations (工会组织): province → city → county/district; every unit (基层工会) belongs
-- to one. `path` lists the organisation's ancestors from the root down and ends with itself, so
-- "this organisation and everything below it" is `$id = ANY(path)` (GIN index). An organisation
-- never moves: its parent is fixed when it is created (trigger), so paths never go stale.
CREATE TABLE organisations (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code       text NOT NULL UNIQUE CHECK (code ~ '^[A-Z][A-Z0-9-]{0,31}$'),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  level      text NOT NULL CHECK (level IN ('PROVINCE', 'CITY', 'COUNTY')),
  parent_id  bigint REFERENCES organisations (id),
  path       bigint[] NOT NULL DEFAULT '{}', -- set by the trigger
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  CHECK (path[cardinality(path)] = id),
  CHECK ((parent_id IS NULL) = (cardinality(path) = 1))
);
CREATE INDEX organisations_path ON organisations USING gin (path);
CREATE INDEX organisations_parent ON organisations (parent_id, id);

CREATE FUNCTION organisations_path() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  parent organisations%ROWTYPE;
  rank CONSTANT text[] := ARRAY['PROVINCE', 'CITY', 'COUNTY'];
BEGIN
  IF TG_OP = 'UPDATE' AND (NEW.parent_id IS DISTINCT FROM OLD.parent_id OR NEW.path <> OLD.path OR NEW.level <> OLD.level) THEN
    RAISE EXCEPTION 'an organisation keeps its parent and level (organisation %)', OLD.code;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.parent_id IS NULL THEN
      NEW.path := ARRAY[NEW.id];
    ELSE
      SELECT * INTO parent FROM organisations WHERE id = NEW.parent_id;
      -- A level sits below its parent's: a county under a city or a province, a city under a province.
      IF array_position(rank, NEW.level) <= array_position(rank, parent.level) THEN
        RAISE EXCEPTION 'a % organisation cannot sit below a % organisation', NEW.level, parent.level;
      END IF;
      NEW.path := parent.path || NEW.id;
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER organisations_path BEFORE INSERT OR UPDATE ON organisations
  FOR EACH ROW EXECUTE FUNCTION organisations_path();

-- The hub's own union before organisations existed: every unit so far belongs to it.
INSERT INTO organisations (code, name, level, created_by) VALUES ('UNION', '本级工会', 'CITY', 'migration 0021');

-- A unit's organisation and type (单位性质). unit_type refines plan_type (PUBLIC/PRIVATE, which
-- keeps choosing the plan): rule sets may condition a programme on it (e.g. only non-public firms).
-- small_micro marks small and micro firms (小微企业), a targeted group.
ALTER TABLE units
  ADD COLUMN organisation_id bigint REFERENCES organisations (id),
  ADD COLUMN unit_type text CHECK (unit_type IN ('GOVERNMENT', 'PUBLIC_INSTITUTION', 'STATE_OWNED', 'NON_PUBLIC', 'SOCIAL_ORGANISATION')),
  ADD COLUMN small_micro boolean NOT NULL DEFAULT false;
UPDATE units SET organisation_id = (SELECT id FROM organisations WHERE code = 'UNION'),
                 unit_type = CASE plan_type WHEN 'PUBLIC' THEN 'PUBLIC_INSTITUTION' ELSE 'NON_PUBLIC' END;

-- A unit created without them belongs to the hub's own union and takes the type its plan implies.
CREATE FUNCTION units_defaults() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.organisation_id IS NULL THEN
    NEW.organisation_id := (SELECT id FROM organisations WHERE code = 'UNION');
  END IF;
  IF NEW.unit_type IS NULL THEN
    NEW.unit_type := CASE NEW.plan_type WHEN 'PUBLIC' THEN 'PUBLIC_INSTITUTION' ELSE 'NON_PUBLIC' END;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER units_defaults BEFORE INSERT OR UPDATE ON units FOR EACH ROW EXECUTE FUNCTION units_defaults();
ALTER TABLE units ALTER COLUMN organisation_id SET NOT NULL, ALTER COLUMN unit_type SET NOT NULL;
CREATE INDEX units_organisation ON units (organisation_id, id);

-- Member categories recorded at enrolment (targeted groups): 新就业形态劳动者 (couriers, riders,
-- drivers), 环卫工人, 农民工, 困难职工, 劳动模范. Rule sets may condition a programme on them.
ALTER TABLE enrolments
  ADD COLUMN member_categories text[] NOT NULL DEFAULT '{}'
    CHECK (member_categories <@ ARRAY['NEW_EMPLOYMENT_FORM', 'SANITATION', 'MIGRANT_WORKER', 'HARDSHIP', 'MODEL_WORKER']::text[]);

-- Funders (出资方): whose money a benefit line or a payout is, paid from and reconciled against the
-- funder's own account. The hub's own union (UNION) pays from the configured paying account
-- (PAYOUT_ACCOUNT …): its account here is NULL, and only that one funder's may be.
CREATE TABLE funders (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code            text NOT NULL UNIQUE CHECK (code ~ '^[A-Z][A-Z0-9-]{0,31}$'),
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 140),
  organisation_id bigint NOT NULL REFERENCES organisations (id),
  account         text CHECK (account ~ '^[0-9]{6,34}$'),
  account_name    text CHECK (length(account_name) BETWEEN 1 AND 140),
  agent           char(12) CHECK (agent ~ '^[0-9]{12}$'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  created_by      text NOT NULL,
  CHECK ((account IS NULL) = (account_name IS NULL) AND (account IS NULL) = (agent IS NULL)),
  CHECK (account IS NOT NULL OR code = 'UNION')
);
CREATE UNIQUE INDEX funders_account ON funders (account) WHERE account IS NOT NULL;
INSERT INTO funders (code, name, organisation_id, created_by)
  SELECT 'UNION', '本级工会职工医疗互助资金', id, 'migration 0021' FROM organisations WHERE code = 'UNION';

-- Whose money each benefit line is: the funder its programme names in the rule set (UNION when
-- the rule set names none, and for every line decided before funders existed).
ALTER TABLE benefit_lines ADD COLUMN funder_id bigint REFERENCES funders (id);
UPDATE benefit_lines SET funder_id = (SELECT id FROM funders WHERE code = 'UNION');
CREATE FUNCTION benefit_lines_funder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.funder_id IS NULL THEN NEW.funder_id := (SELECT id FROM funders WHERE code = 'UNION'); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER benefit_lines_funder BEFORE INSERT ON benefit_lines FOR EACH ROW EXECUTE FUNCTION benefit_lines_funder();
ALTER TABLE benefit_lines ALTER COLUMN funder_id SET NOT NULL;
CREATE INDEX benefit_lines_funder ON benefit_lines (funder_id, claim_id);

-- Down Migration

DROP TRIGGER benefit_lines_funder ON benefit_lines;
DROP FUNCTION benefit_lines_funder();
ALTER TABLE benefit_lines DROP COLUMN funder_id;

DROP TABLE funders;
ALTER TABLE enrolments DROP COLUMN member_categories;
DROP TRIGGER units_defaults ON units;
DROP FUNCTION units_defaults();
DROP INDEX units_organisation;
ALTER TABLE units DROP COLUMN small_micro, DROP COLUMN unit_type, DROP COLUMN organisation_id;
DROP TABLE organisations;
DROP FUNCTION organisations_path();
