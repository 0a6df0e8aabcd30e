-- Up Migration

-- Appeals (复核申请) against decided claims. The claim's status and decider at filing are copied by
-- a trigger (no writer can supply them), so the four-eyes CHECK compares the appeal's decider with
-- the person who decided the claim even after the upheld appeal re-decides it.
CREATE TABLE appeals (
  id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  claim_id                bigint NOT NULL REFERENCES claims (id),
  member_id               bigint NOT NULL REFERENCES members (id),
  status                  text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'UPHELD', 'DISMISSED')),
  claim_status_when_filed text NOT NULL CHECK (claim_status_when_filed IN ('INELIGIBLE', 'APPROVED', 'REJECTED')),
  claim_decided_by        text,
  reason                  text NOT NULL CHECK (length(reason) BETWEEN 4 AND 2000),
  filed_by                text NOT NULL,
  filed_role              text NOT NULL,
  filed_at                timestamptz NOT NULL DEFAULT now(),
  decided_by              text,
  decided_role            text,
  decided_at              timestamptz,
  decision_reason         text CHECK (length(decision_reason) BETWEEN 4 AND 2000),
  CHECK ((status = 'OPEN') = (decided_by IS NULL)),
  CHECK (status = 'OPEN' OR (decided_role IS NOT NULL AND decided_at IS NOT NULL AND decision_reason IS NOT NULL)),
  -- Four eyes: neither the claim's decider nor the appeal's filer decides the appeal.
  CONSTRAINT appeals_four_eyes CHECK (decided_by IS NULL OR (decided_by <> filed_by AND decided_by IS DISTINCT FROM claim_decided_by))
);
CREATE UNIQUE INDEX appeals_one_open ON appeals (claim_id) WHERE status = 'OPEN';
CREATE INDEX appeals_claim ON appeals (claim_id, id);
CREATE INDEX appeals_member ON appeals (member_id, id);
CREATE INDEX appeals_status ON appeals (status, id);

CREATE FUNCTION appeals_copy_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT c.status, c.decided_by, c.member_id INTO NEW.claim_status_when_filed, NEW.claim_decided_by, NEW.member_id
    FROM claims c WHERE c.id = NEW.claim_id;
  RETURN NEW;
END $$;
CREATE TRIGGER appeals_copy_claim BEFORE INSERT ON appeals FOR EACH ROW EXECUTE FUNCTION appeals_copy_claim();

-- OPEN → UPHELD | DISMISSED once; what was filed never changes.
CREATE FUNCTION appeals_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'OPEN' THEN
    RAISE EXCEPTION 'appeal % is % and cannot change', OLD.id, OLD.status USING ERRCODE = 'check_violation';
  END IF;
  IF (NEW.claim_id, NEW.member_id, NEW.claim_status_when_filed, NEW.reason, NEW.filed_by, NEW.filed_role, NEW.filed_at)
     IS DISTINCT FROM (OLD.claim_id, OLD.member_id, OLD.claim_status_when_filed, OLD.reason, OLD.filed_by, OLD.filed_role, OLD.filed_at)
     OR NEW.claim_decided_by IS DISTINCT FROM OLD.claim_decided_by THEN
    RAISE EXCEPTION 'appeal %: what was filed cannot change', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER appeals_guard_update BEFORE UPDATE ON appeals FOR EACH ROW EXECUTE FUNCTION appeals_guard_update();

-- The documents filed with an appeal (src/attachments).
CREATE TABLE appeal_attachments (
  appeal_id     bigint NOT NULL REFERENCES appeals (id),
  attachment_id bigint NOT NULL REFERENCES attachments (id),
  PRIMARY KEY (appeal_id, attachment_id)
);

-- Down Migration

DROP TABLE appeal_attachments;
DROP TRIGGER appeals_guard_update ON appeals;
DROP FUNCTION appeals_guard_update();
DROP TRIGGER appeals_copy_claim ON appeals;
DROP FUNCTION appeals_copy_claim();
DROP TABLE appeals;
