-- Up Migration

-- A payment policy (0027) releases a payout without a person only to the card on record, unchanged
-- for the policy's days. bank_card_changed_at marks a card that replaced another (the cooling-off of
-- 0007), never a member's first card: a card an insider gave a member who had none passed as long
-- unchanged. The card's history is in member_changes: every account written to an existing member,
-- the first one included, with its time (staff changes and roster imports alike). A policy batch
-- is now released only if no BANK_ACCOUNT change of the member falls within the policy's days. A
-- card that came with the member (created with it) has no row and is not held, as before. Ordinary
-- batches keep 0007's cooling-off, where a first card is no change.

-- As in 0027, with a first card held to the policy's days like a replaced one.
CREATE OR REPLACE FUNCTION payout_batch_release() RETURNS trigger LANGUAGE plpgsql AS $$
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
                ELSE 'the card was put on record or changed within the policy''s days' END AS why
      INTO bad
      FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN members m ON m.id = p.member_id
     WHERE a.batch_id = NEW.id AND a.status = 'PLANNED'
       AND (p.claim_id IS NULL OR NOT claim_approved_by_rules(p.claim_id) OR a.amount_fen > pol.max_payout_fen
            OR a.creditor_account_enc IS DISTINCT FROM m.bank_card_enc
            OR (m.bank_card_changed_at IS NOT NULL AND m.bank_card_changed_at > now() - make_interval(days => pol.account_unchanged_days))
            -- A first card too: it leaves no bank_card_changed_at, but member_changes has it.
            OR EXISTS (SELECT 1 FROM member_changes c WHERE c.member_id = m.id AND c.field = 'BANK_ACCOUNT'
                          AND c.at > now() - make_interval(days => pol.account_unchanged_days)))
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

-- Down Migration

-- As in 0027.
CREATE OR REPLACE FUNCTION payout_batch_release() RETURNS trigger LANGUAGE plpgsql AS $$
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
