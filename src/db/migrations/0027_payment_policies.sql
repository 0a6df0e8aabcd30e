-- Up Migration

-- 即时办: a standing payment policy lets the payout worker release small batches of payouts to the
-- bank without a per-batch approval. One FINANCE person proposes it, another approves it (four
-- eyes, as for a batch); any FINANCE person revokes it at once. A batch released under a policy
-- names it (payout_batches.policy_id) instead of an approver; the database checks every limit at
-- the release (trigger payout_batch_release), and again that the policy is still in force at the
-- moment the file is handed to the bank. A payout outside a limit is not released: it waits for
-- the ordinary batch and its approval.
CREATE TABLE payment_policies (
  id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The paying account: the funder's (出资方) whose payouts it releases.
  funder_id              bigint NOT NULL REFERENCES funders (id),
  -- Each payout at most this much; at most this much and this many released per China day from the account.
  max_payout_fen         bigint NOT NULL CHECK (max_payout_fen > 0),
  daily_sum_fen          bigint NOT NULL CHECK (daily_sum_fen > 0),
  daily_count            int NOT NULL CHECK (daily_count > 0),
  -- Only to a bank card unchanged for at least this many days (a member's first card is no change).
  account_unchanged_days int NOT NULL CHECK (account_unchanged_days >= 0),
  valid_from             timestamptz NOT NULL,
  valid_until            timestamptz NOT NULL,
  reason                 text NOT NULL CHECK (length(reason) BETWEEN 4 AND 2000),
  proposed_by            text NOT NULL,
  proposed_by_role       text NOT NULL CHECK (proposed_by_role = 'FINANCE'),
  proposed_at            timestamptz NOT NULL DEFAULT now(),
  approved_by            text,
  approved_by_role       text,
  approved_at            timestamptz,
  revoked_by             text,
  revoked_by_role        text,
  revoked_at             timestamptz,
  revoke_reason          text,
  CHECK (valid_until > valid_from),
  CHECK ((approved_by IS NULL) = (approved_at IS NULL)),
  -- Four eyes: the approver is FINANCE and not the proposer (also checked in code).
  CONSTRAINT payment_policies_four_eyes CHECK (approved_by IS NULL OR (approved_by <> proposed_by AND approved_by_role = 'FINANCE')),
  CHECK ((revoked_by IS NULL) = (revoked_at IS NULL)),
  CHECK (revoked_by IS NULL OR (revoked_by_role = 'FINANCE' AND revoke_reason IS NOT NULL))
);
CREATE INDEX payment_policies_funder ON payment_policies (funder_id, id);

-- A policy changes only by its approval (once, before it ends, while not revoked) and its
-- revocation (once); what was proposed never changes.
CREATE FUNCTION payment_policy_decisions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.funder_id, NEW.max_payout_fen, NEW.daily_sum_fen, NEW.daily_count, NEW.account_unchanged_days, NEW.valid_from, NEW.valid_until,
      NEW.reason, NEW.proposed_by, NEW.proposed_by_role, NEW.proposed_at)
     IS DISTINCT FROM (OLD.funder_id, OLD.max_payout_fen, OLD.daily_sum_fen, OLD.daily_count, OLD.account_unchanged_days, OLD.valid_from, OLD.valid_until,
      OLD.reason, OLD.proposed_by, OLD.proposed_by_role, OLD.proposed_at)
     OR (OLD.approved_at IS NOT NULL AND (NEW.approved_by, NEW.approved_by_role, NEW.approved_at) IS DISTINCT FROM (OLD.approved_by, OLD.approved_by_role, OLD.approved_at))
     OR (OLD.revoked_at IS NOT NULL AND (NEW.revoked_by, NEW.revoked_by_role, NEW.revoked_at, NEW.revoke_reason) IS DISTINCT FROM (OLD.revoked_by, OLD.revoked_by_role, OLD.revoked_at, OLD.revoke_reason)) THEN
    RAISE EXCEPTION 'payment policy %: only its approval and its revocation change it, each once', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.approved_at IS NULL AND NEW.approved_at IS NOT NULL AND (OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NOT NULL OR now() >= OLD.valid_until) THEN
    RAISE EXCEPTION 'payment policy %: a revoked or ended policy cannot be approved', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payment_policy_decisions BEFORE UPDATE ON payment_policies FOR EACH ROW EXECUTE FUNCTION payment_policy_decisions();

-- A claim approved by the rules alone: approved by adjudication or by its re-decision when the
-- facts changed, no line adjusted by a person. (Reviews and appeals name their decider.)
CREATE FUNCTION claim_approved_by_rules(claim_id bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT c.status = 'APPROVED' AND c.decided_by IN ('adjudication', 'redecision')
         AND NOT EXISTS (SELECT 1 FROM benefit_lines l WHERE l.claim_id = c.id AND l.adjusted_fen IS NOT NULL)
    FROM claims c WHERE c.id = claim_id
$$;

-- A batch is released by a person's approval (approved_by) or by a policy (policy_id, released_at),
-- never both; a policy never releases a batch a person created.
ALTER TABLE payout_batches
  ADD COLUMN policy_id   bigint REFERENCES payment_policies (id),
  ADD COLUMN released_at timestamptz,
  DROP CONSTRAINT payout_batches_check2,
  ADD CONSTRAINT payout_batches_released CHECK (status IN ('DRAFT', 'CANCELLED') OR approved_by IS NOT NULL OR released_at IS NOT NULL),
  ADD CONSTRAINT payout_batches_one_release CHECK (policy_id IS NULL OR (approved_by IS NULL AND created_by_role = 'SERVICE')),
  ADD CONSTRAINT payout_batches_policy_release CHECK (released_at IS NULL OR policy_id IS NOT NULL);
CREATE INDEX payout_batches_released ON payout_batches (debtor_account, released_at) WHERE released_at IS NOT NULL;
CREATE INDEX payout_batches_policy ON payout_batches (policy_id, id) WHERE policy_id IS NOT NULL;

-- The release of a policy batch (DRAFT -> APPROVED), checked here whoever writes it: the policy in
-- force and the batch's funder's; every payment a claim approved by the rules, at most the
-- policy's amount, to the card on record, unchanged for the policy's days; the account's day
-- within the policy's count and sum (counted under a lock per paying account, so two releases
-- cannot both take the day's last room). Handing the file to the bank (submission SENDING) needs
-- the policy still in force: a revocation that commits first stops it. policy_id and released_at
-- never change.
CREATE FUNCTION payout_batch_release() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  pol payment_policies%ROWTYPE;
  bad record;
  day_start timestamptz;
  used_count bigint;
  used_fen numeric;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.released_at IS NOT NULL OR (NEW.policy_id IS NOT NULL AND NEW.status <> 'DRAFT') THEN
      RAISE EXCEPTION 'payout batch %: a policy releases a batch only by its DRAFT -> APPROVED step', NEW.msg_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  IF NEW.policy_id IS DISTINCT FROM OLD.policy_id OR (OLD.released_at IS NOT NULL AND NEW.released_at IS DISTINCT FROM OLD.released_at) THEN
    RAISE EXCEPTION 'payout batch %: its policy and its release never change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.policy_id IS NULL THEN RETURN NEW; END IF;

  IF OLD.status = 'DRAFT' AND NEW.status = 'APPROVED' THEN
    SELECT * INTO pol FROM payment_policies WHERE id = NEW.policy_id FOR SHARE;
    IF pol.approved_at IS NULL OR pol.revoked_at IS NOT NULL OR now() < pol.valid_from OR now() >= pol.valid_until THEN
      RAISE EXCEPTION 'payout batch %: payment policy % is not in force', OLD.msg_id, NEW.policy_id USING ERRCODE = 'check_violation';
    END IF;
    IF pol.funder_id <> NEW.funder_id THEN
      RAISE EXCEPTION 'payout batch %: payment policy % releases another funder''s payouts', OLD.msg_id, NEW.policy_id USING ERRCODE = 'check_violation';
    END IF;
    SELECT a.payout_id,
           CASE WHEN p.claim_id IS NULL OR NOT claim_approved_by_rules(p.claim_id) THEN 'its claim was not approved by the rules alone'
                WHEN a.amount_fen > pol.max_payout_fen THEN 'it is above the policy''s amount per payout'
                WHEN a.creditor_account_enc IS DISTINCT FROM m.bank_card_enc THEN 'it does not pay the card on record'
                ELSE 'the card changed within the policy''s days' END AS why
      INTO bad
      FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN members m ON m.id = p.member_id
     WHERE a.batch_id = NEW.id AND a.status = 'PLANNED'
       AND (p.claim_id IS NULL OR NOT claim_approved_by_rules(p.claim_id) OR a.amount_fen > pol.max_payout_fen
            OR a.creditor_account_enc IS DISTINCT FROM m.bank_card_enc
            OR (m.bank_card_changed_at IS NOT NULL AND m.bank_card_changed_at > now() - make_interval(days => pol.account_unchanged_days)))
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'payout batch %: payout % is not within payment policy %: %', OLD.msg_id, bad.payout_id, NEW.policy_id, bad.why
        USING ERRCODE = 'check_violation';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('payment_policy_release:' || NEW.debtor_account));
    day_start := date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai';
    SELECT count(*), coalesce(sum(a.amount_fen), 0) INTO used_count, used_fen
      FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id
     WHERE a.status <> 'CANCELLED' AND (b.id = NEW.id OR (b.debtor_account = NEW.debtor_account AND b.released_at >= day_start));
    IF used_count > pol.daily_count OR used_fen > pol.daily_sum_fen THEN
      RAISE EXCEPTION 'payout batch %: releasing it would take account % past payment policy %''s day (% payouts, % fen; at most % and %)',
        OLD.msg_id, NEW.debtor_account, NEW.policy_id, used_count, used_fen, pol.daily_count, pol.daily_sum_fen USING ERRCODE = 'check_violation';
    END IF;
    NEW.released_at := now();
  ELSIF NEW.released_at IS DISTINCT FROM OLD.released_at THEN
    RAISE EXCEPTION 'payout batch %: only its release sets released_at', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;

  IF OLD.submission = 'NOT_SENT' AND NEW.submission = 'SENDING' THEN
    SELECT * INTO pol FROM payment_policies WHERE id = NEW.policy_id FOR SHARE;
    IF pol.revoked_at IS NOT NULL OR now() >= pol.valid_until THEN
      RAISE EXCEPTION 'payout batch %: payment policy % was revoked or has ended, the batch may not be sent', OLD.msg_id, NEW.policy_id
        USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_batch_release BEFORE INSERT OR UPDATE ON payout_batches FOR EACH ROW EXECUTE FUNCTION payout_batch_release();

-- Nothing joins a released policy batch: its payments were checked at the release.
CREATE FUNCTION payout_attempts_released_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM payout_batches b WHERE b.id = NEW.batch_id AND b.policy_id IS NOT NULL AND b.status <> 'DRAFT') THEN
    RAISE EXCEPTION 'payout batch %: released under a policy, it takes no more payments', NEW.batch_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_attempts_released_batch BEFORE INSERT ON payout_attempts FOR EACH ROW EXECUTE FUNCTION payout_attempts_released_batch();

-- As in 0010, and a policy batch sealed but never handed to the bank may be cancelled (its
-- policy revoked or ended first).
CREATE OR REPLACE FUNCTION payout_batch_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.file_sha256 IS NOT NULL AND (NEW.seal IS DISTINCT FROM OLD.seal OR NEW.file_sha256 IS DISTINCT FROM OLD.file_sha256
      OR (OLD.file_enc IS NOT NULL AND NEW.file_enc IS DISTINCT FROM OLD.file_enc)
      OR (NEW.file_xml IS DISTINCT FROM OLD.file_xml AND NOT (NEW.file_xml IS NULL AND OLD.file_enc IS NULL AND NEW.file_enc IS NOT NULL))) THEN
    RAISE EXCEPTION 'payout batch %: its sealed file cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.approved_by IS NOT NULL AND NEW.approved_by IS DISTINCT FROM OLD.approved_by THEN
    RAISE EXCEPTION 'payout batch %: its approval cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN (
      ('DRAFT', 'APPROVED'), ('DRAFT', 'CANCELLED'), ('APPROVED', 'SEALED'), ('APPROVED', 'CANCELLED'),
      ('SEALED', 'SUBMITTED'), ('SUBMITTED', 'ACCEPTED'), ('SUBMITTED', 'PARTIALLY_ACCEPTED'), ('SUBMITTED', 'REJECTED'),
      ('ACCEPTED', 'SETTLED'), ('PARTIALLY_ACCEPTED', 'SETTLED'))
     AND NOT (OLD.status = 'SEALED' AND NEW.status = 'CANCELLED' AND OLD.policy_id IS NOT NULL AND OLD.submission = 'NOT_SENT') THEN
    RAISE EXCEPTION 'payout batch %: % -> % is not an allowed transition', OLD.msg_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;

-- Measured waiting: when each attempt was first handed to the bank and first accepted by it
-- (ACCP or ACSC), stamped by the database as the attempt moves. Attempts from before: their
-- batch's submission time, and the time of their last status if the bank had accepted them.
ALTER TABLE payout_attempts ADD COLUMN sent_at timestamptz, ADD COLUMN accepted_at timestamptz;
UPDATE payout_attempts a SET sent_at = b.submitted_at,
       accepted_at = CASE WHEN a.status IN ('ACCEPTED', 'PAID', 'RETURNED') THEN a.status_at END
  FROM payout_batches b WHERE b.id = a.batch_id AND a.status NOT IN ('PLANNED', 'CANCELLED');
CREATE FUNCTION payout_attempt_times() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IN ('SENT', 'UNKNOWN', 'ACCEPTED', 'PAID', 'REJECTED') AND OLD.sent_at IS NULL THEN NEW.sent_at := now(); END IF;
  IF NEW.status IN ('ACCEPTED', 'PAID') AND OLD.accepted_at IS NULL THEN NEW.accepted_at := now(); END IF;
  IF (NEW.sent_at IS DISTINCT FROM OLD.sent_at AND OLD.sent_at IS NOT NULL) OR (NEW.accepted_at IS DISTINCT FROM OLD.accepted_at AND OLD.accepted_at IS NOT NULL) THEN
    RAISE EXCEPTION 'payout attempt %: when it was sent and accepted never changes', OLD.end_to_end_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payout_attempt_times BEFORE UPDATE ON payout_attempts FOR EACH ROW EXECUTE FUNCTION payout_attempt_times();
-- Waiting is reported per day of receipt: the range is read by this index.
CREATE INDEX settlements_received_at ON settlements (received_at);

-- Down Migration

DROP INDEX settlements_received_at;
DROP TRIGGER payout_attempt_times ON payout_attempts;
DROP FUNCTION payout_attempt_times();
ALTER TABLE payout_attempts DROP COLUMN accepted_at, DROP COLUMN sent_at;
-- Going down fails while a policy batch exists (cancelled ones included): delete them first, by hand.
CREATE OR REPLACE FUNCTION payout_batch_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.file_sha256 IS NOT NULL AND (NEW.seal IS DISTINCT FROM OLD.seal OR NEW.file_sha256 IS DISTINCT FROM OLD.file_sha256
      OR (OLD.file_enc IS NOT NULL AND NEW.file_enc IS DISTINCT FROM OLD.file_enc)
      OR (NEW.file_xml IS DISTINCT FROM OLD.file_xml AND NOT (NEW.file_xml IS NULL AND OLD.file_enc IS NULL AND NEW.file_enc IS NOT NULL))) THEN
    RAISE EXCEPTION 'payout batch %: its sealed file cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.approved_by IS NOT NULL AND NEW.approved_by IS DISTINCT FROM OLD.approved_by THEN
    RAISE EXCEPTION 'payout batch %: its approval cannot change', OLD.msg_id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN (
      ('DRAFT', 'APPROVED'), ('DRAFT', 'CANCELLED'), ('APPROVED', 'SEALED'), ('APPROVED', 'CANCELLED'),
      ('SEALED', 'SUBMITTED'), ('SUBMITTED', 'ACCEPTED'), ('SUBMITTED', 'PARTIALLY_ACCEPTED'), ('SUBMITTED', 'REJECTED'),
      ('ACCEPTED', 'SETTLED'), ('PARTIALLY_ACCEPTED', 'SETTLED')) THEN
    RAISE EXCEPTION 'payout batch %: % -> % is not an allowed transition', OLD.msg_id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
DROP TRIGGER payout_attempts_released_batch ON payout_attempts;
DROP FUNCTION payout_attempts_released_batch();
DROP TRIGGER payout_batch_release ON payout_batches;
DROP FUNCTION payout_batch_release();
DROP INDEX payout_batches_policy;
DROP INDEX payout_batches_released;
ALTER TABLE payout_batches
  DROP CONSTRAINT payout_batches_policy_release,
  DROP CONSTRAINT payout_batches_one_release,
  DROP CONSTRAINT payout_batches_released,
  ADD CONSTRAINT payout_batches_check2 CHECK (status IN ('DRAFT', 'CANCELLED') OR approved_by IS NOT NULL),
  DROP COLUMN released_at,
  DROP COLUMN policy_id;
DROP FUNCTION claim_approved_by_rules(bigint);
DROP TRIGGER payment_policy_decisions ON payment_policies;
DROP FUNCTION payment_policy_decisions();
DROP TABLE payment_policies;
