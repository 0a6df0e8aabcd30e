-- Up Migration

-- A published rule-set version is never changed or removed: every claim names the version it was
-- decided under.
CREATE FUNCTION rule_sets_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'rule set % v%: a published version is never changed or removed', OLD.id, OLD.version USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER rule_sets_history BEFORE UPDATE OR DELETE ON rule_sets FOR EACH ROW EXECUTE FUNCTION rule_sets_history();

-- A version is shipped with the hub (the files, no organisation's), or published by the approved
-- publication proposal of the same id and version, as its proposer's, for the proposal's
-- organisation: one ADMIN alone publishes nothing, whoever writes the rows. Checked at commit: the
-- approval inserts the version first (the proposal's rule_set_version references it), then decides
-- the proposal.
CREATE FUNCTION rule_sets_published() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT (NEW.shipped AND NEW.organisation_id IS NULL) AND NOT EXISTS (
      SELECT 1 FROM rule_set_proposals p
       WHERE p.kind = 'PUBLICATION' AND p.status = 'APPROVED' AND p.rule_set_id = NEW.id AND p.rule_set_version = NEW.version
         AND p.organisation_id IS NOT DISTINCT FROM NEW.organisation_id AND p.proposed_by = NEW.published_by
         AND p.decided_by <> p.proposed_by) THEN
    RAISE EXCEPTION 'rule set % v%: a version is published only by a proposal another ADMIN approved, or shipped', NEW.id, NEW.version
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER rule_sets_published AFTER INSERT ON rule_sets DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION rule_sets_published();

-- A proposal is made PROPOSED; while it waits only its decision changes it (what the second person
-- read is what they decide), and once decided it never changes nor goes.
CREATE FUNCTION rule_set_proposals_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status <> 'PROPOSED' THEN
      RAISE EXCEPTION 'a rule-set proposal is made PROPOSED: another ADMIN decides it' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  IF OLD.status <> 'PROPOSED' THEN
    RAISE EXCEPTION 'rule-set proposal %: a decided proposal never changes', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  IF (NEW.kind, NEW.rule_set_id, NEW.definition, NEW.organisation_id, NEW.plan_year, NEW.effective_from, NEW.note, NEW.proposed_by, NEW.proposed_at)
     IS DISTINCT FROM (OLD.kind, OLD.rule_set_id, OLD.definition, OLD.organisation_id, OLD.plan_year, OLD.effective_from, OLD.note, OLD.proposed_by, OLD.proposed_at)
     OR (OLD.kind = 'ASSIGNMENT' AND NEW.rule_set_version IS DISTINCT FROM OLD.rule_set_version) THEN
    RAISE EXCEPTION 'rule-set proposal %: only its decision may change it', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER rule_set_proposals_guard BEFORE INSERT OR UPDATE OR DELETE ON rule_set_proposals
  FOR EACH ROW EXECUTE FUNCTION rule_set_proposals_guard();

-- A claim the rules refuse (INELIGIBLE) is decided when they refuse it (src/benefits/store.ts): nothing
-- is due for it after. Those refused before get the time of their last decision: their last
-- re-decision, else their adjudication.
UPDATE claims c SET decided_at = coalesce((SELECT max(r.decided_at) FROM claim_redecisions r WHERE r.claim_id = c.id), c.created_at)
 WHERE c.status = 'INELIGIBLE' AND c.decided_at IS NULL;

-- Down Migration

-- An INELIGIBLE claim had no decision time before this migration.
UPDATE claims SET decided_at = NULL WHERE status = 'INELIGIBLE';

DROP TRIGGER rule_set_proposals_guard ON rule_set_proposals;
DROP FUNCTION rule_set_proposals_guard();
DROP TRIGGER rule_sets_published ON rule_sets;
DROP FUNCTION rule_sets_published();
DROP TRIGGER rule_sets_history ON rule_sets;
DROP FUNCTION rule_sets_history();
