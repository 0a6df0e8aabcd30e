-- Up Migration

-- The contribution payments that stand: every payment recorded, less those a bank reversal (冲正,
-- 0041) took back. Every paid figure reads this view rather than contribution_payments, so a new
-- reader cannot forget to leave the reversed payments out. A plain view: PostgreSQL inlines it, the
-- NOT EXISTS becoming the same anti-join on contribution_reversals' key as when it was written out.
-- `cp.*` is expanded now: a migration adding a column to contribution_payments recreates this view.
CREATE VIEW standing_contribution_payments AS
  SELECT cp.* FROM contribution_payments cp
   WHERE NOT EXISTS (SELECT 1 FROM contribution_reversals r WHERE r.contribution_payment_id = cp.id);

-- Down Migration

DROP VIEW standing_contribution_payments;
