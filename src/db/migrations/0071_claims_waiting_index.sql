-- Up Migration

-- A reversal (冲销), a rejection or a lowered line figures the member-year's later waiting claims
-- again (waitingClaimsAfter, for every claim released), and an adjudication batch of a province's
-- feed releases thousands. Read through claims_member and claims_year, the planner ANDed the two
-- bitmaps while the year's statistics still said it was small, and read the whole plan year's index
-- at every call: 65 ms a call, 750 s of a province's flow. The waiting claims are few, and this
-- index holds only them, in the order they are read. A claim's reversal is looked up by its claim
-- for each waiting claim (`reversed`, and the reversed ones left out): by index, not by reading every
-- reversal of every year.
CREATE INDEX claims_waiting ON claims (member_id, plan_year, figured_seq) WHERE status = 'PENDING_REVIEW';
CREATE INDEX claim_reversals_claim ON claim_reversals (claim_id);

-- Down Migration

DROP INDEX claim_reversals_claim;
DROP INDEX claims_waiting;
