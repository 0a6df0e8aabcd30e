-- Up Migration

-- The orders clients may ask of members, claims and payouts (orderBy): each sort value with the id
-- that breaks its ties, as keyset pages compare them, so a page starts at its cursor without a sort
-- of the whole table. Payouts by status has payouts_status (0004) already.
CREATE INDEX members_order_name ON members (name, id);
CREATE INDEX members_order_registered ON members (created_at, id);
CREATE INDEX claims_order_decided ON claims (decided_at, id);
CREATE INDEX claims_order_total ON claims (total_fen, id);
CREATE INDEX claims_order_settled ON claims (setl_time, id);
CREATE INDEX payouts_order_created ON payouts (created_at, id);
CREATE INDEX payouts_order_amount ON payouts (amount_fen, id);

-- Down Migration

DROP INDEX payouts_order_amount;
DROP INDEX payouts_order_created;
DROP INDEX claims_order_settled;
DROP INDEX claims_order_total;
DROP INDEX claims_order_decided;
DROP INDEX members_order_registered;
DROP INDEX members_order_name;
