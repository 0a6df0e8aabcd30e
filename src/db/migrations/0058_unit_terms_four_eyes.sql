-- Up Migration

-- Four eyes on a unit's terms (plan_type, unit_type, small_micro): rule sets pay a programme by them
-- (CRITICAL to NON_PUBLIC units only, say), and rules read them as they are when a claim is decided,
-- stays before the change included. So they decide which rules decide the members' claims, as the
-- rule sets (two ADMINs) and a unit's move to another organisation (unit_moves, two ADMINs) do. One
-- ADMIN proposes a change (updateUnit, with a reason), another confirms it (confirmUnitTermsChange);
-- only then do the unit's columns change. One waiting change per unit. As unit_moves (0026, 0033):
-- the proposal's row keeps its four eyes (unit_terms_changes_four_eyes), a decided change never
-- changes, a proposal only by its confirmation or withdrawal.
--
-- A column left NULL is not changed by the proposal; at least one is proposed.
CREATE TABLE unit_terms_changes (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  unit_id           bigint NOT NULL REFERENCES units (id),
  plan_type         text CHECK (plan_type IN ('PUBLIC', 'PRIVATE')),
  unit_type         text CHECK (unit_type IN ('GOVERNMENT', 'PUBLIC_INSTITUTION', 'STATE_OWNED', 'NON_PUBLIC', 'SOCIAL_ORGANISATION')),
  small_micro       boolean,
  reason            text NOT NULL CHECK (length(reason) BETWEEN 4 AND 2000),
  status            text NOT NULL DEFAULT 'PROPOSED' CHECK (status IN ('PROPOSED', 'CONFIRMED', 'WITHDRAWN')),
  proposed_by       text NOT NULL,
  proposed_at       timestamptz NOT NULL DEFAULT now(),
  confirmed_by      text,
  confirmed_at      timestamptz,
  -- The transaction that confirmed it (set by the database, never by the caller): the one transaction
  -- whose change of the unit's columns it allows (units_terms_four_eyes below).
  confirmed_xid     xid8,
  withdrawn_by      text,
  withdrawn_at      timestamptz,
  withdrawal_reason text CHECK (length(withdrawal_reason) BETWEEN 4 AND 2000),
  CHECK (num_nonnulls(plan_type, unit_type, small_micro) > 0),
  CHECK ((status = 'CONFIRMED') = (confirmed_by IS NOT NULL)
    AND (confirmed_by IS NULL) = (confirmed_at IS NULL) AND (confirmed_by IS NULL) = (confirmed_xid IS NULL)),
  CONSTRAINT unit_terms_changes_withdrawn CHECK ((status = 'WITHDRAWN') = (withdrawn_by IS NOT NULL)
    AND (withdrawn_by IS NULL) = (withdrawn_at IS NULL) AND (withdrawn_by IS NULL) = (withdrawal_reason IS NULL)),
  CONSTRAINT unit_terms_changes_four_eyes CHECK (confirmed_by <> proposed_by)
);
CREATE UNIQUE INDEX unit_terms_changes_one_open ON unit_terms_changes (unit_id) WHERE status = 'PROPOSED';
CREATE INDEX unit_terms_changes_unit ON unit_terms_changes (unit_id, id);

-- A change is born a proposal, made now; its confirmation's time and transaction are the database's.
CREATE FUNCTION unit_terms_changes_guard_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> 'PROPOSED' THEN
    RAISE EXCEPTION 'unit terms change: a change is proposed first, then confirmed or withdrawn' USING ERRCODE = 'check_violation';
  END IF;
  NEW.proposed_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER unit_terms_changes_guard_insert BEFORE INSERT ON unit_terms_changes
  FOR EACH ROW EXECUTE FUNCTION unit_terms_changes_guard_insert();

-- A decided change never changes; a proposal changes only by its confirmation or its withdrawal.
CREATE FUNCTION unit_terms_changes_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'PROPOSED'
     OR (NEW.id, NEW.unit_id, NEW.plan_type, NEW.unit_type, NEW.small_micro, NEW.reason, NEW.proposed_by, NEW.proposed_at)
        IS DISTINCT FROM (OLD.id, OLD.unit_id, OLD.plan_type, OLD.unit_type, OLD.small_micro, OLD.reason, OLD.proposed_by, OLD.proposed_at) THEN
    RAISE EXCEPTION 'unit terms change %: only a proposal''s confirmation or withdrawal may change it', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status = 'CONFIRMED' THEN
    NEW.confirmed_at := now();
    NEW.confirmed_xid := pg_current_xact_id();
  ELSIF NEW.status = 'WITHDRAWN' THEN
    NEW.withdrawn_at := now();
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER unit_terms_changes_guard_update BEFORE UPDATE ON unit_terms_changes
  FOR EACH ROW EXECUTE FUNCTION unit_terms_changes_guard_update();

-- The unit's terms change only with a confirmed change: in the transaction that confirmed it (by a
-- second person: unit_terms_changes_four_eyes), to the values it proposed. Any other UPDATE of those
-- columns (one ADMIN's, a script's) is refused. A unit is still registered with its terms (INSERT).
CREATE FUNCTION units_terms_four_eyes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM unit_terms_changes c
     WHERE c.unit_id = NEW.id AND c.status = 'CONFIRMED' AND c.confirmed_xid = pg_current_xact_id()
       AND NEW.plan_type = coalesce(c.plan_type, OLD.plan_type)
       AND NEW.unit_type = coalesce(c.unit_type, OLD.unit_type)
       AND NEW.small_micro = coalesce(c.small_micro, OLD.small_micro)
  ) THEN
    RAISE EXCEPTION 'unit %: its plan type, unit type and small-firm mark change only by a terms change a second ADMIN confirmed (four eyes)', NEW.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'units_terms_four_eyes';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER units_terms_four_eyes BEFORE UPDATE ON units FOR EACH ROW
  WHEN ((NEW.plan_type, NEW.unit_type, NEW.small_micro) IS DISTINCT FROM (OLD.plan_type, OLD.unit_type, OLD.small_micro))
  EXECUTE FUNCTION units_terms_four_eyes();

-- Down Migration

DROP TRIGGER units_terms_four_eyes ON units;
DROP FUNCTION units_terms_four_eyes();
DROP TRIGGER unit_terms_changes_guard_update ON unit_terms_changes;
DROP FUNCTION unit_terms_changes_guard_update();
DROP TRIGGER unit_terms_changes_guard_insert ON unit_terms_changes;
DROP FUNCTION unit_terms_changes_guard_insert();
DROP TABLE unit_terms_changes;
