-- Up Migration

-- A bank reversal (冲正) of a unit's transfer: the money went back, so the contribution payments it
-- had paid no longer count. A person matches the reversal (a debit with RvslInd, raised as an
-- exception) to the payments it undoes; each payment is reversed at most once, by one statement
-- entry, and the payment row itself stays as it was recorded (the evidence of what was paid).
-- Every paid figure (a unit's contribution, its members' coverage, the figures raised) leaves the
-- reversed payments out.
CREATE TABLE contribution_reversals (
  contribution_payment_id bigint PRIMARY KEY REFERENCES contribution_payments (id),
  entry_id                bigint NOT NULL REFERENCES statement_entries (id),
  exception_id            bigint NOT NULL REFERENCES reconciliation_exceptions (id),
  reversed_on             date NOT NULL,
  matched_by              text NOT NULL,
  created_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contribution_reversals_entry ON contribution_reversals (entry_id);

CREATE FUNCTION contribution_reversals_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'contribution_reversals is append-only: a reversal is never changed or removed';
END;
$$;
CREATE TRIGGER contribution_reversals_append_only
  BEFORE UPDATE OR DELETE ON contribution_reversals
  FOR EACH ROW EXECUTE FUNCTION contribution_reversals_append_only();

-- Down Migration

DROP TABLE contribution_reversals;
DROP FUNCTION contribution_reversals_append_only;
