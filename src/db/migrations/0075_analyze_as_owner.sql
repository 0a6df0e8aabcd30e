-- Up Migration

-- Only a table's owner may ANALYZE it (before PostgreSQL 17's MAINTAIN privilege), and with
-- MIGRATION_DATABASE_URL the hub's own role owns no table: its ANALYZE would be skipped with a
-- warning, and the steps after a large statement or settling run (src/reconciliation/steps.ts,
-- ANALYZE_AFTER) planned on stale counts. The hub asks through this function, which runs as the
-- tables' owner and analyzes only the tables the hub analyzes, of that owner; nothing else.
CREATE FUNCTION analyze_tables(VARIADIC tables regclass[]) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t regclass;
BEGIN
  FOREACH t IN ARRAY tables LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t AND c.relkind = 'r' AND c.relowner = (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)
                     AND c.relname IN ('payouts', 'statement_entries', 'statement_entry_states')) THEN
      RAISE EXCEPTION 'analyze_tables: % is not a table the hub analyzes', t USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ANALYZE %s', t);
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION analyze_tables(regclass[]) FROM PUBLIC;

-- Down Migration

DROP FUNCTION analyze_tables(regclass[]);
