-- Up Migration

-- A replaced bank card waits out BANK_CARD_COOLING_OFF_DAYS so that the member, told by SMS on the
-- phone on record before the change (0037), can object before any money goes. A member registered
-- with a landline (the SMS provider refuses it: the alert ends FAILED) or with no phone was told
-- nothing, and the card was paid when the cooling-off passed: an insider (a unit operator's
-- updateMember or roster row) replaced the card, or first swapped the landline for their own mobile
-- (that PHONE_CHANGED alert failing too, 0049) so that the card's alert reached them, and the payouts
-- went to their card with nobody told. The cooling-off now releases a replaced card only once its
-- member was told; otherwise a second person's confirmation (confirmBankCardChange) is the only way.
-- Nothing is marked: it is read from the alerts as they stand, so replacements made before this
-- migration whose alert failed, was never sent, or predates alert_phone (0037) wait for a confirmation
-- from now on (their READY payouts are held at the next planning, and leave a batch at its sealing).

-- Whether the member was told of the replacement that put its card on record: that change's
-- BANK_ACCOUNT_CHANGED alert (keyed by its member_changes row) was SENT by SMS to the phone fixed
-- with it, and every PHONE_CHANGED alert of the member recorded up to then was SENT by SMS too (to
-- the phone it replaced), so the phone the card's alert went to is the member's and not one an
-- insider gave them untold. A WeChat message does not count: a stolen login binds its own openid
-- (attack 55). An alert not yet sent tells no one yet; SENT is final (0014).
CREATE FUNCTION bank_card_change_told(member_id bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM notifications n
      JOIN notification_deliveries d ON d.notification_id = n.id AND d.channel = 'SMS' AND d.status = 'SENT'
     WHERE n.kind = 'BANK_ACCOUNT_CHANGED' AND n.subject_type = 'Member' AND n.subject_id = bank_card_change_told.member_id
       AND n.event_key = (SELECT max(c.id)::text FROM member_changes c
                           WHERE c.member_id = bank_card_change_told.member_id AND c.field = 'BANK_ACCOUNT')
       AND n.alert_phone IS NOT NULL
       AND NOT EXISTS (
         SELECT 1 FROM notifications p
          WHERE p.kind = 'PHONE_CHANGED' AND p.subject_type = 'Member' AND p.subject_id = bank_card_change_told.member_id
            AND p.created_at <= n.created_at
            AND NOT EXISTS (SELECT 1 FROM notification_deliveries pd WHERE pd.notification_id = p.id AND pd.channel = 'SMS' AND pd.status = 'SENT')))
$$;

-- Whether payouts to member m's card wait (HELD, taken by no batch, released by no policy, leaving a
-- batch at sealing): it replaced another, no second person confirmed it, and either `cooling_off_days` (the
-- cooling-off, or a policy's days) have not passed since, or its member was not told of it. The one
-- decision of planning, batch making, sealing and the policy release trigger below.
CREATE FUNCTION bank_card_waits(m members, cooling_off_days integer) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT m.bank_card_changed_at IS NOT NULL AND m.bank_card_confirmed_at IS NULL
     AND (m.bank_card_changed_at + make_interval(days => cooling_off_days) > now() OR NOT bank_card_change_told(m.id))
$$;

-- As in 0059 (with 0072's enable_seqscan), a replaced card released only as bank_card_waits says.
CREATE OR REPLACE FUNCTION payout_batch_release() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
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
                WHEN bank_card_waits(m, pol.account_unchanged_days) AND NOT bank_card_change_told(m.id)
                  THEN 'the card replaced another, no second person confirmed it, and its member was not told of the change'
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
            OR m.created_at > now() - make_interval(days => pol.account_unchanged_days)
            -- And a replaced card as every payout decides it (0073): unconfirmed, it is paid only once its member was told.
            OR bank_card_waits(m, pol.account_unchanged_days))
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

-- As in 0059, with 0072's enable_seqscan.
CREATE OR REPLACE FUNCTION payout_batch_release() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
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

DROP FUNCTION bank_card_waits(members, integer);
DROP FUNCTION bank_card_change_told(bigint);
