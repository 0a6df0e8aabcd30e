-- Up Migration

-- A claim decided again (重新核定) because a fact it was refused for changed: the unit paid, an
-- enrolment was added or corrected, the member was matched, a correction, an appeal upheld. One row
-- per change of decision, with what the claim was before (status, reason codes, lines) and after.
-- `xact` is the deciding transaction: the trigger below lets a refused claim become payable only
-- in a transaction that wrote its history row first.
CREATE TABLE claim_redecisions (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  claim_id              bigint NOT NULL REFERENCES claims (id),
  cause                 text NOT NULL CHECK (cause IN ('CONTRIBUTION_PAID', 'ENROLMENT_CHANGED', 'MEMBER_MATCHED', 'CORRECTION', 'APPEAL')),
  previous_status       text NOT NULL CHECK (previous_status IN ('INELIGIBLE', 'REJECTED')),
  previous_reason_codes text[] NOT NULL,
  previous_total_fen    bigint NOT NULL,
  previous_lines        jsonb NOT NULL DEFAULT '[]',
  new_status            text NOT NULL CHECK (new_status IN ('INELIGIBLE', 'PENDING_REVIEW', 'APPROVED')),
  new_reason_codes      text[] NOT NULL,
  new_total_fen         bigint NOT NULL CHECK (new_total_fen >= 0),
  rule_set_id           text NOT NULL,
  rule_set_version      int NOT NULL,
  decided_by            text NOT NULL,
  decided_at            timestamptz NOT NULL DEFAULT now(),
  xact                  xid8 NOT NULL DEFAULT pg_current_xact_id(),
  FOREIGN KEY (rule_set_id, rule_set_version) REFERENCES rule_sets (id, version)
);
CREATE INDEX claim_redecisions_claim ON claim_redecisions (claim_id, id);

-- INELIGIBLE or REJECTED → PENDING_REVIEW or APPROVED only through re-decision (src/benefits/redecide.ts).
CREATE FUNCTION claims_guard_redecision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status IN ('INELIGIBLE', 'REJECTED') AND NEW.status IN ('PENDING_REVIEW', 'APPROVED')
     AND NOT EXISTS (SELECT 1 FROM claim_redecisions r WHERE r.claim_id = NEW.id AND r.xact = pg_current_xact_id()) THEN
    RAISE EXCEPTION 'claim % may move from % to % only by re-decision', NEW.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER claims_guard_redecision BEFORE UPDATE OF status ON claims
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION claims_guard_redecision();

-- Down Migration

DROP TRIGGER claims_guard_redecision ON claims;
DROP FUNCTION claims_guard_redecision();
DROP TABLE claim_redecisions;
