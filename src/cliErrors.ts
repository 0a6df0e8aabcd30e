import { CommanderError, InvalidArgumentError } from 'commander';
import pg from 'pg';
import { config, ConfigError } from './config.ts';
import { NotMigratedError } from './db/migrate.ts';
import { DomainError } from './kernel/errors.ts';

/**
 * What a failed `hub` command says and how it exits: one line on stderr naming what is wrong and
 * what to do, never a stack trace (LOG_LEVEL=debug adds it). The only place errors become lines
 * and exit codes; commands throw, this reads. Exit codes (README, Operator commands):
 */
export const EXIT = {
  /** Done. */
  done: 0,
  /** Done with rejected rows, an unproven day or something else for a person to look at (or an unexpected error). */
  attention: 1,
  /** Usage or configuration: a bad option, argument or variable; nothing was done. */
  usage: 2,
  /** A dependency is unavailable or not ready: PostgreSQL (or not migrated), Redis, the bank, the platform, a port. */
  unavailable: 3,
} as const;

export interface Failure {
  /** The line for stderr, or null when commander has printed it already. */
  line: string | null;
  exitCode: number;
}

/** Errors of network calls that mean "nothing answers there". */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

// SQLSTATEs of a database the hub's migrations have not (all) run on: a table, column or function is missing.
const NOT_MIGRATED = new Set(['42P01', '42703', '42883', '42704']);
// The server answered but refuses this DATABASE_URL: no such database, wrong user or password.
const REFUSED_LOGIN = new Set(['3D000', '28P01', '28000']);
// The server is starting, shutting down or restarting (a connection exception is class 08): it
// will answer again, so a supervisor should start the command again, not look for a bug.
const NOT_READY = new Set(['57P01', '57P02', '57P03']);

// The settings that name the services the hub connects to, and what to call each in a message.
const SERVICES = [
  { setting: 'DATABASE_URL', name: 'PostgreSQL', defaultPort: 5432 },
  { setting: 'REDIS_URL', name: 'Redis', defaultPort: 6379 },
  { setting: 'BANK_URL', name: 'the bank', defaultPort: 0 },
  { setting: 'INSURANCE_PLATFORM_URL', name: 'the insurance platform', defaultPort: 0 },
] as const;

/** Marks errors of `work` as coming from `setting` (a port's PORT, WORKER_PORT or --port) for the message. */
export async function fromSetting<T>(setting: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw Object.assign(error as Error, { setting });
  }
}

export function describeFailure(error: unknown): Failure {
  if (error instanceof ConfigError) {
    // One line per variable; the "Invalid configuration:" heading would be a line that says nothing.
    const lines = error.message.split('\n').map((l) => l.trim()).filter((l) => l && l !== 'Invalid configuration:');
    return { line: lines.join('\n'), exitCode: EXIT.usage };
  }
  // A caller's mistake or a refused decision, in the same words the API uses (gateway/errors.ts).
  if (error instanceof DomainError) {
    const mistake = error.code === 'BAD_USER_INPUT' || error.code === 'NOT_FOUND';
    // Every problem of an input at once, one a line, so all can be fixed before the next try.
    const lines = error.problems.length > 1 ? error.problems.map((p) => `${p.field}: ${p.reason}`) : [error.message];
    return { line: lines.join('\n'), exitCode: mistake ? EXIT.usage : EXIT.attention };
  }
  // Thrown by an action (a parser's are printed by commander, which then throws a plain CommanderError).
  if (error instanceof InvalidArgumentError) return { line: error.message, exitCode: EXIT.usage };
  if (error instanceof CommanderError) return { line: null, exitCode: error.exitCode === 0 ? EXIT.done : EXIT.usage };
  if (error instanceof NotMigratedError) return { line: `${error.message}: run \`hub migrate\` (DATABASE_URL ${where('DATABASE_URL')})`, exitCode: EXIT.unavailable };
  if (error instanceof pg.DatabaseError && error.code && NOT_MIGRATED.has(error.code)) {
    return { line: `the database is not migrated (${error.message}): run \`hub migrate\` (DATABASE_URL ${where('DATABASE_URL')})`, exitCode: EXIT.unavailable };
  }
  if (error instanceof pg.DatabaseError && error.code && REFUSED_LOGIN.has(error.code)) {
    return { line: `DATABASE_URL: PostgreSQL at ${where('DATABASE_URL')} refuses it: ${error.message}`, exitCode: EXIT.usage };
  }
  if (error instanceof pg.DatabaseError && error.code && (NOT_READY.has(error.code) || error.code.startsWith('08'))) {
    return { line: `PostgreSQL at ${where('DATABASE_URL')} is not ready: ${error.message} (DATABASE_URL); start again once it answers`, exitCode: EXIT.unavailable };
  }
  // pg's own words when the server closed the connection (a restart, a kill), then for its next query;
  // or the socket's own error under a query, which the pool marks as the database's (db/pool.ts).
  if (error instanceof Error && (/^Connection terminated|encountered a connection error and is not queryable/.test(error.message) || resetOf('DATABASE_URL', error))) {
    return { line: `PostgreSQL at ${where('DATABASE_URL')} closed the connection (DATABASE_URL); start again once it answers`, exitCode: EXIT.unavailable };
  }
  const network = networkCause(error);
  if (network?.code === 'EADDRINUSE' || network?.code === 'EACCES') {
    const setting = (error as { setting?: string }).setting;
    const problem = network.code === 'EADDRINUSE' ? 'is in use' : 'may not be opened by this user';
    return { line: `port ${network.port} ${problem}${setting ? ` (${setting})` : ''}: stop what holds it or choose another`, exitCode: EXIT.unavailable };
  }
  if (network && UNREACHABLE.has(network.code)) {
    const endpoint = network.port ? `${network.address ?? network.hostname}:${network.port}` : (network.hostname ?? network.address ?? '?');
    const service = serviceAt(network.port, network.hostname);
    const what = service ? service.name : 'a service the hub needs';
    const verb = network.code === 'ENOTFOUND' || network.code === 'EAI_AGAIN' ? 'has no address' : 'does not answer';
    return { line: `${what} ${verb} at ${endpoint}${service ? ` (${service.setting})` : ''}: start it, or correct ${service?.setting ?? 'the setting'}`, exitCode: EXIT.unavailable };
  }
  // By name: importing the bank adapter would load the seal libraries on every command.
  if (error instanceof Error && /^Bank\w*Error$/.test(error.name)) {
    return { line: `${error.message} (BANK_URL ${where('BANK_URL')})`, exitCode: EXIT.unavailable };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { line: `${message.split('\n')[0]} (unexpected: LOG_LEVEL=debug shows where)`, exitCode: EXIT.attention };
}

/** A connection to `setting`'s service reset or dropped under a request (marked by whoever held it). */
function resetOf(setting: string, error: Error): boolean {
  const e = error as Error & { code?: unknown; setting?: unknown };
  return e.setting === setting && typeof e.code === 'string' && UNREACHABLE.has(e.code);
}

interface NetworkError {
  code: string;
  address?: string;
  hostname?: string;
  port?: number;
}

/** The system error behind `error`: itself, a cause (fetch) or the first of an AggregateError (both address families). */
function networkCause(error: unknown, depth = 0): NetworkError | null {
  if (typeof error !== 'object' || error === null || depth > 5) return null;
  const e = error as Partial<NetworkError> & { cause?: unknown; errors?: unknown[] };
  if (typeof e.code === 'string' && (e.port !== undefined || e.hostname !== undefined)) {
    return { code: e.code, address: e.address, hostname: e.hostname, port: e.port };
  }
  if (Array.isArray(e.errors) && e.errors.length) return networkCause(e.errors[0], depth + 1);
  return networkCause(e.cause, depth + 1);
}

/** The configured URL of `setting`, as host:port (config's defaults included). */
function where(setting: (typeof SERVICES)[number]['setting']): string {
  const url = configuredUrl(setting);
  return url ? url.host : '(unset)';
}

function configuredUrl(setting: (typeof SERVICES)[number]['setting']): URL | null {
  let value: string | undefined;
  try {
    value = config()[setting];
  } catch {
    value = process.env[setting];
  }
  try {
    return value ? new URL(value) : null;
  } catch {
    return null;
  }
}

/** The configured service listening at that port (or host name): the one whose URL names it. */
function serviceAt(port: number | undefined, hostname: string | undefined): (typeof SERVICES)[number] | null {
  for (const service of SERVICES) {
    const url = configuredUrl(service.setting);
    if (!url) continue;
    const urlPort = Number(url.port) || service.defaultPort || (url.protocol === 'https:' ? 443 : 80);
    if (port !== undefined ? urlPort === port : url.hostname === hostname) return service;
  }
  return null;
}
