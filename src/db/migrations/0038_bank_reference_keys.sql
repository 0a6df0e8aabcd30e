-- Up Migration

-- A bank's reference is compared without letter case (bankReferenceKey): a payment typed in by hand
-- is checked against the payments and the credited entries that count its booking already, under
-- the exclusive contribution-payment lock reconciliation waits on; these keep that check an index
-- lookup instead of a scan of every statement entry.
CREATE INDEX contribution_payments_upper_reference ON contribution_payments (upper(reference));
CREATE INDEX statement_entries_credit_upper_reference ON statement_entries (upper(account_servicer_ref)) WHERE credit_debit = 'CRDT';

-- Down Migration

DROP INDEX statement_entries_credit_upper_reference;
DROP INDEX contribution_payments_upper_reference;
