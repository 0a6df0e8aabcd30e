-- Up Migration

-- Planning payouts looks for approved lines without a payout. It walked every APPROVED claim since
-- the first, and the 即时办 release plans every few seconds: its cost grew with the history, not with
-- the work waiting. A line with an amount stays APPROVED only until it is paid (PAID), cancelled or
-- rejected (a line of 0 fen is never paid and stays APPROVED: left out), so this index holds the
-- lines still to pay, and planning reads it a page at a time from where the last page ended.
CREATE INDEX benefit_lines_approved ON benefit_lines (claim_id, funder_id)
  WHERE status = 'APPROVED' AND coalesce(adjusted_fen, amount_fen) > 0;

-- Down Migration
DROP INDEX benefit_lines_approved;
