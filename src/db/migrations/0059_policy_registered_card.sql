-- Up Migration

-- A payment policy (0027, 0054) releases a payout without a person only to a card on record for the
-- policy's days. 0054 read a first card given to an existing member from member_changes; a card the
-- member was registered with (createMember, a roster import's new member) has no such row and was not
-- held: an insider registering a person, with their own card, was paid at once for that person's
-- rules-approved stays. Such a card is on record since the member's row was made: members.created_at
-- (the registration time the API shows, set by the database when the row is inserted and never
-- written after), so a policy batch is now also refused while the member was registered within the
-- policy's days. A member registered without a card and given one later is held by its
-- member_changes row as before. Members registered before this migration are judged the same way:
-- their created_at is their registration too. Ordinary batches are unchanged (a first card, given at
-- registration or after, starts no cooling-off there).

-- As in 0054, with the card a member was registered with held to the policy's days from registration.
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
                          AND c.at > now() - make_interval(days => pol.account_unchanged_days))
            -- And the card the member was registered with: on record since the member's row was made.
            OR m.created_at > now() - make_interval(days => pol.account_unchanged_days))
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

-- As in 0054.
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
