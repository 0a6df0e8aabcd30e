-- Up Migration

-- 0045's rule, and a confirmation weighs only what was known when it was given: it no longer frees
-- a payment once an exception on a debit naming an earlier attempt of the payout was detected after
-- it. Above all a reversal (冲正, RvslInd) of that attempt's return: the return was booked in error
-- and the member kept the money (src/reconciliation/matching/matcher.ts, reversal), while the retry
-- two FINANCE people confirmed on the strength of the return waits in a batch. Sealing, the
-- hand-over, a re-send (PAID_BEFORE_UNCONFIRMED_SQL, payout_batch_unconfirmed_retry, 0055) and the
-- trigger on payouts all ask here: the retry leaves its batch at sealing, its sealed batch is
-- cancelled at the hand-over, and it is paid only if two FINANCE people confirm a retry again.
-- Not such evidence: the bank's refusal of a payment it had paid (REJECTED_AFTER_PAYMENT, on the
-- matched debit's entry), nor a debit a person matched to another payout on its transaction (0066).
CREATE OR REPLACE FUNCTION payout_retry_confirmed(payout bigint, attempt_no int) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM payout_retries r
     WHERE r.payout_id = payout AND r.confirmed_at IS NOT NULL
       AND r.after_attempt >= (SELECT coalesce(max(a.attempt_no), 0) FROM payout_attempts a
                                WHERE a.payout_id = payout AND a.attempt_no < payout_retry_confirmed.attempt_no AND a.status <> 'CANCELLED')
       AND NOT EXISTS (
         SELECT 1 FROM payout_attempts a
           JOIN reconciliation_exceptions x ON x.payout_attempt_id = a.id
           JOIN statement_entries e ON e.id = x.entry_id
          WHERE a.payout_id = payout AND a.attempt_no < payout_retry_confirmed.attempt_no
            AND x.detected_at > r.confirmed_at AND e.credit_debit = 'DBIT' AND x.kind <> 'REJECTED_AFTER_PAYMENT'
            AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m JOIN payout_attempts o ON o.id = m.payout_attempt_id
                             WHERE m.entry_id = x.entry_id AND m.tx_index = coalesce(x.tx_index, 0) AND m.kind = 'PAYOUT' AND o.payout_id <> payout)))
$$;

-- Down Migration

CREATE OR REPLACE FUNCTION payout_retry_confirmed(payout bigint, attempt_no int) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM payout_retries r
     WHERE r.payout_id = payout AND r.confirmed_at IS NOT NULL
       AND r.after_attempt >= (SELECT coalesce(max(a.attempt_no), 0) FROM payout_attempts a
                                WHERE a.payout_id = payout AND a.attempt_no < payout_retry_confirmed.attempt_no AND a.status <> 'CANCELLED'))
$$;
