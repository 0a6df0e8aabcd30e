-- Up Migration

-- Payouts per funder (出资方, 0021): the member gets one transfer per stay from each funder whose
-- lines were approved, paid from that funder's account and reconciled against it. A payout made
-- before funders existed was the hub's own union's (UNION).
ALTER TABLE payouts ADD COLUMN funder_id bigint REFERENCES funders (id);
UPDATE payouts SET funder_id = (SELECT id FROM funders WHERE code = 'UNION');
-- A payout written without one (a payment that names no funder) is the union's.
CREATE FUNCTION payouts_funder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' AND NEW.funder_id IS NULL THEN
    NEW.funder_id := (SELECT id FROM funders WHERE code = 'UNION');
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.funder_id IS DISTINCT FROM OLD.funder_id THEN
    RAISE EXCEPTION 'payout %: its funder never changes', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payouts_funder BEFORE INSERT OR UPDATE OF funder_id ON payouts FOR EACH ROW EXECUTE FUNCTION payouts_funder();
ALTER TABLE payouts ALTER COLUMN funder_id SET NOT NULL;
ALTER TABLE payouts DROP CONSTRAINT payouts_claim_id_key, ADD CONSTRAINT payouts_claim_funder UNIQUE (claim_id, funder_id);
CREATE INDEX payouts_funder ON payouts (funder_id, status);

-- A payout line is the payout's funder's line: no funder's money pays another's programme.
CREATE FUNCTION payout_lines_funder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT funder_id FROM benefit_lines WHERE id = NEW.benefit_line_id) IS DISTINCT FROM (SELECT funder_id FROM payouts WHERE id = NEW.payout_id) THEN
    RAISE EXCEPTION 'benefit line % is another funder''s than payout %', NEW.benefit_line_id, NEW.payout_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_lines_funder BEFORE INSERT OR UPDATE ON payout_lines FOR EACH ROW EXECUTE FUNCTION payout_lines_funder();

-- A batch is one funder's, paid from that funder's account: the funder's own (funders.account),
-- or for UNION the configured paying account, which is then no other funder's.
ALTER TABLE payout_batches ADD COLUMN funder_id bigint REFERENCES funders (id);
UPDATE payout_batches SET funder_id = (SELECT id FROM funders WHERE code = 'UNION');
ALTER TABLE payout_batches ALTER COLUMN funder_id SET NOT NULL;
CREATE INDEX payout_batches_funder ON payout_batches (funder_id, id);

CREATE FUNCTION payout_batches_funder() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  f funders%ROWTYPE;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF (NEW.funder_id, NEW.debtor_account, NEW.debtor_name, NEW.debtor_agent) IS DISTINCT FROM (OLD.funder_id, OLD.debtor_account, OLD.debtor_name, OLD.debtor_agent) THEN
      RAISE EXCEPTION 'payout batch %: its funder and debtor account never change', OLD.msg_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  -- A batch written without one (as before funders existed) is the union's.
  IF NEW.funder_id IS NULL THEN NEW.funder_id := (SELECT id FROM funders WHERE code = 'UNION'); END IF;
  SELECT * INTO f FROM funders WHERE id = NEW.funder_id;
  IF f.account IS NOT NULL AND (NEW.debtor_account, NEW.debtor_name, NEW.debtor_agent) IS DISTINCT FROM (f.account, f.account_name, f.agent) THEN
    RAISE EXCEPTION 'payout batch %: funder % pays from its own account %, not %', NEW.msg_id, f.code, f.account, NEW.debtor_account
      USING ERRCODE = 'check_violation';
  END IF;
  IF f.account IS NULL AND EXISTS (SELECT 1 FROM funders o WHERE o.account = NEW.debtor_account) THEN
    RAISE EXCEPTION 'payout batch %: account % is another funder''s, not %''s', NEW.msg_id, NEW.debtor_account, f.code
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_batches_funder BEFORE INSERT OR UPDATE OF funder_id, debtor_account, debtor_name, debtor_agent ON payout_batches
  FOR EACH ROW EXECUTE FUNCTION payout_batches_funder();

-- A batch holds only its funder's payouts.
CREATE FUNCTION payout_attempts_funder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT funder_id FROM payouts WHERE id = NEW.payout_id) IS DISTINCT FROM (SELECT funder_id FROM payout_batches WHERE id = NEW.batch_id) THEN
    RAISE EXCEPTION 'payout %: another funder''s than batch %', NEW.payout_id, NEW.batch_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_attempts_funder BEFORE INSERT ON payout_attempts FOR EACH ROW EXECUTE FUNCTION payout_attempts_funder();

-- A funder's account is where its money goes out from, and what its statements are reconciled
-- against: once set it never changes (a new account is a new funder), nor does whose it is.
CREATE FUNCTION funders_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.code, NEW.organisation_id, NEW.account, NEW.account_name, NEW.agent) IS DISTINCT FROM (OLD.code, OLD.organisation_id, OLD.account, OLD.account_name, OLD.agent) THEN
    RAISE EXCEPTION 'funder %: its code, organisation and account never change (a new account is a new funder)', OLD.code
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER funders_fixed BEFORE UPDATE ON funders FOR EACH ROW EXECUTE FUNCTION funders_fixed();
CREATE INDEX funders_organisation ON funders (organisation_id, id);

-- A claim's payment as the member sees it: one payout per funder, the claim paid when all of them
-- are — the least advanced payout not cancelled, else the one paid last, else a cancelled one.
CREATE VIEW claim_payments AS
  SELECT DISTINCT ON (claim_id) claim_id, status, paid_at FROM payouts WHERE claim_id IS NOT NULL
   ORDER BY claim_id, status = 'CANCELLED', status IN ('PAID', 'SETTLED'), paid_at DESC NULLS LAST, id;

-- Down Migration

DROP VIEW claim_payments;
DROP INDEX funders_organisation;
DROP TRIGGER funders_fixed ON funders;
DROP FUNCTION funders_fixed();
DROP TRIGGER payout_attempts_funder ON payout_attempts;
DROP FUNCTION payout_attempts_funder();
DROP TRIGGER payout_batches_funder ON payout_batches;
DROP FUNCTION payout_batches_funder();
ALTER TABLE payout_batches DROP COLUMN funder_id;
DROP TRIGGER payout_lines_funder ON payout_lines;
DROP FUNCTION payout_lines_funder();
-- Going down fails while a claim has payouts from two funders.
ALTER TABLE payouts DROP CONSTRAINT payouts_claim_funder, ADD CONSTRAINT payouts_claim_id_key UNIQUE (claim_id);
DROP TRIGGER payouts_funder ON payouts;
DROP FUNCTION payouts_funder();
ALTER TABLE payouts DROP COLUMN funder_id;
