import pg from 'pg';
import { ConfigError } from '../config.ts';

/**
 * Tables the hub only ever appends to (their triggers refuse UPDATE and DELETE): the run-time role
 * may only read and add rows.
 */
const APPEND_ONLY_TABLES = ['audit_log', 'audit_checkpoints', 'member_changes', 'contribution_reversals'] as const;

/**
 * Grants `role` (DATABASE_URL's, the hub's at run time) what the hub needs in `schema` and nothing
 * more, as the owner `databaseUrl` logs in as (MIGRATION_DATABASE_URL), after every migration run:
 * reading and writing rows (append-only tables: reading and adding; the migrations table: reading),
 * drawing from sequences, calling functions. Owning nothing, the role cannot disable, drop or alter
 * a trigger or constraint, nor truncate a table; what was granted by hand besides is taken back.
 * Every trigger function's names are looked up in `schema` before the session's temporary tables,
 * so a temporary table cannot stand in for the table a guard reads. One transaction: all or nothing.
 */
export async function grantRuntimeRole(databaseUrl: string, schema: string, role: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    // Two `hub migrate` runs at once would change the same privileges concurrently: one waits.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('runtime role grants:' || $1))`, [schema]);
    await refuseUnfitRole(client, schema, role);
    const s = client.escapeIdentifier(schema);
    const r = client.escapeIdentifier(role);
    const tables = (names: readonly string[]) => names.map((t) => `${s}.${client.escapeIdentifier(t)}`).join(', ');
    await client.query(`REVOKE ALL ON SCHEMA ${s} FROM ${r}`);
    await client.query(`REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${r}`);
    await client.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${s} FROM ${r}`);
    await client.query(`GRANT USAGE ON SCHEMA ${s} TO ${r}`);
    await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${r}`);
    await client.query(`REVOKE UPDATE, DELETE ON ${tables(APPEND_ONLY_TABLES)} FROM ${r}`);
    // `hub serve` and `hub work` read which migrations ran (assertMigrated); only `hub migrate` records them.
    await client.query(`REVOKE INSERT, UPDATE, DELETE ON ${tables(['pgmigrations'])} FROM ${r}`);
    // nextval and currval; the hub never sets a sequence (setval would need UPDATE).
    await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`);
    await client.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} TO ${r}`);
    // A trigger function's body finds tables by the caller's search_path, where pg_temp comes
    // first: the role's own temporary `unit_moves` would answer the four-eyes check. Pinned again
    // after every run, since CREATE OR REPLACE FUNCTION drops the setting.
    const { rows } = await client.query<{ fn: string }>(
      `SELECT p.oid::regprocedure::text AS fn FROM pg_proc p WHERE p.pronamespace = $1::regnamespace AND p.prorettype = 'trigger'::regtype`,
      [schema],
    );
    for (const { fn } of rows) await client.query(`ALTER FUNCTION ${fn} SET search_path = ${s}, pg_temp`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/** A role no grant can hold back (the owner itself, a superuser, a member of the owner or an owner of the hub's objects) is refused. */
async function refuseUnfitRole(client: pg.Client, schema: string, role: string): Promise<void> {
  const { rows } = await client.query<{ exists: boolean; owner: string; superuser: boolean; member: boolean; owns: number }>(
    `SELECT r.oid IS NOT NULL AS exists, current_user AS owner, coalesce(r.rolsuper, false) AS superuser,
            r.oid IS NOT NULL AND pg_has_role(r.oid, current_user, 'MEMBER') AS member,
            (SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = n.oid AND c.relowner = r.oid)
          + (SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = n.oid AND p.proowner = r.oid)
          + (n.nspowner = r.oid)::int AS owns
       FROM pg_namespace n LEFT JOIN pg_roles r ON r.rolname = $2
      WHERE n.nspname = $1`,
    [schema, role],
  );
  const found = rows[0]!;
  const problem = !found.exists ? `role ${role} does not exist (CREATE ROLE ${role} LOGIN PASSWORD '…')`
    : found.superuser ? `role ${role} is a superuser: no grant holds it back`
    : found.member ? `role ${role} is, or is a member of, the owner ${found.owner} (MIGRATION_DATABASE_URL): it would own the tables`
    : found.owns > 0 ? `role ${role} owns ${found.owns} object(s) of schema ${schema} (migrated as it before): hand them to the owner first, REASSIGN OWNED BY ${role} TO ${found.owner}`
    : null;
  if (problem) throw new ConfigError(`Invalid configuration:\n  DATABASE_URL: ${problem}`);
}
