import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));

export interface MigrateOptions {
  databaseUrl: string;
  /** Target schema, created if missing (tests use one per file). */
  schema?: string;
  log?: (message: string) => void;
}

/** Applies pending migrations; a no-op when the database is current. Returns the names applied. */
export async function migrate({ databaseUrl, schema = 'public', log = () => undefined }: MigrateOptions): Promise<string[]> {
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
  return applied.map((m) => m.name);
}
