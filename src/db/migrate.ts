import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type pg from 'pg';
import { urlRole, type Config } from '../config.ts';
import { grantRuntimeRole } from './runtimeRole.ts';

const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));

export interface MigrateOptions {
  databaseUrl: string;
  /** Target schema, created if missing (tests use one per file); default: the one `databaseUrl` uses first, else public. */
  schema?: string;
  /** The hub's role at run time when another (`databaseUrl`'s) owns the tables: granted what the hub needs after every run (src/db/runtimeRole.ts). */
  runtimeRole?: string;
  log?: (message: string) => void;
}

/**
 * How `hub migrate` migrates: as MIGRATION_DATABASE_URL's role when set, into the schema
 * DATABASE_URL's connections use, granting DATABASE_URL's role; else as DATABASE_URL's role alone.
 */
export function configuredMigration(config: Pick<Config, 'DATABASE_URL' | 'MIGRATION_DATABASE_URL'>): MigrateOptions {
  if (!config.MIGRATION_DATABASE_URL) return { databaseUrl: config.DATABASE_URL };
  return { databaseUrl: config.MIGRATION_DATABASE_URL, schema: urlSchema(config.DATABASE_URL) ?? 'public', runtimeRole: urlRole(config.DATABASE_URL) };
}

/** Applies pending migrations; a no-op when the database is current. Returns the names applied. */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  // node-pg-migrate's lock is one per database and it gives up at once when it is taken: another
  // process (a test file migrating its own schema, a second worker starting) is waited for instead.
  for (let waited = 0; ; waited += 250) {
    try {
      return await migrateOnce(options);
    } catch (error) {
      if (!/Another migration is already running/.test((error as Error).message) || waited > 120_000) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/**
 * The schema a DATABASE_URL's connections use first: the first entry of the search_path its
 * `options` set (`?options=-c search_path=hub_demo,public`, as `hub demo` prints it for other
 * commands), folded as PostgreSQL folds it. None without a search_path, or for `$user`.
 */
function urlSchema(databaseUrl: string): string | undefined {
  const options = URL.canParse(databaseUrl) ? new URL(databaseUrl).searchParams.get('options') : null;
  const first = /(?:^|\s)(?:-c\s*|--)search_path=([^,\s]+)/.exec(options ?? '')?.[1];
  const quoted = first && /^"(.*)"$/.exec(first);
  const name = quoted ? quoted[1]!.replaceAll('""', '"') : first?.toLowerCase();
  return name === '$user' ? undefined : name;
}

async function migrateOnce({ databaseUrl, schema = urlSchema(databaseUrl) ?? 'public', runtimeRole, log = () => undefined }: MigrateOptions): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    schema,
    createSchema: true,
    checkOrder: true,
    singleTransaction: true,
    log,
  });
  // Every run, migrations applied or not: tables added since, and a grant changed by hand, are set right.
  if (runtimeRole) await grantRuntimeRole(databaseUrl, schema, runtimeRole);
  return applied.map((m) => m.name);
}

/** The database answers but lacks migrations this version of the hub needs. */
export class NotMigratedError extends Error {}

/**
 * Refuses a database with migrations pending (or none at all), so a command or worker says
 * "run `hub migrate`" before its first query fails on a missing table.
 */
export async function assertMigrated(db: pg.Pool): Promise<void> {
  const names = readdirSync(migrationsDir).map((file) => file.replace(/\.[^.]+$/, ''));
  let applied: Set<string>;
  try {
    applied = new Set((await db.query<{ name: string }>('SELECT name FROM pgmigrations')).rows.map((r) => r.name));
  } catch (error) {
    if ((error as { code?: string }).code !== '42P01') throw error;
    throw new NotMigratedError('the database has no tables of the hub');
  }
  const pending = names.filter((name) => !applied.has(name));
  if (pending.length) throw new NotMigratedError(`the database lacks ${pending.length} migration(s) (${pending.join(', ')})`);
}
