import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { closedPort, hub, holdPort, type HubRun } from '../support/hub.ts';

/**
 * Issue 14: every failure of a `hub` command is one line on stderr saying what is wrong and what to
 * do, with no stack trace, and the documented exit code (0 done, 1 something to look at, 2 usage or
 * configuration, 3 a dependency unavailable or not migrated).
 */

let db: TestDatabase;
let emptyUrl: string;
const emptySchema = `e_${randomBytes(6).toString('hex')}`;
let settings: Record<string, string>;

beforeAll(async () => {
  db = await freshDatabase();
  settings = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `cli-${randomBytes(4).toString('hex')}` };
  // A schema the migrations never ran in: only it on the search path, so no table of the hub is found.
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${emptySchema}`);
  await admin.end();
  emptyUrl = `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${emptySchema}`)}`;
});

afterAll(async () => {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${emptySchema} CASCADE`);
  await admin.end();
  await db?.drop();
});

/** Exactly one line on stderr, matching `line`, no stack frame, and the exit code. */
function expectOneLine(run: HubRun, exitCode: number, line: RegExp): void {
  expect(run.lines, run.stderr).toHaveLength(1);
  expect(run.lines[0]).toMatch(line);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.code, run.stderr).toBe(exitCode);
}

describe('hub: one line and an exit code per failure', () => {
  it('a bad variable names it and exits 2', async () => {
    expectOneLine(await hub(['migrate'], { ...settings, PORT: 'abc' }), 2, /^PORT: /);
  });

  it('NODE_ENV unset: exits 2 saying to set it (development helpers excepted)', async () => {
    expectOneLine(await hub(['migrate'], { ...settings, NODE_ENV: undefined }), 2, /^NODE_ENV is not set/);
  });

  it('PostgreSQL not answering names DATABASE_URL and exits 3', async () => {
    const port = await closedPort();
    const url = `postgres://postgres@127.0.0.1:${port}/test`;
    expectOneLine(await hub(['migrate'], { ...settings, DATABASE_URL: url }), 3, new RegExp(`^PostgreSQL does not answer at 127\\.0\\.0\\.1:${port} \\(DATABASE_URL\\)`));
    expectOneLine(await hub(['audit', 'verify'], { ...settings, DATABASE_URL: url }), 3, /^PostgreSQL does not answer at .* \(DATABASE_URL\)/);
  });

  it('a database without the migrations says to run hub migrate and exits 3', async () => {
    // Through the runtime (checked before any work) and through a plain pool (the missing table itself).
    expectOneLine(await hub(['settlements', 'sources'], { ...settings, DATABASE_URL: emptyUrl }), 3, /run `hub migrate`/);
    expectOneLine(await hub(['audit', 'verify'], { ...settings, DATABASE_URL: emptyUrl }), 3, /^the database is not migrated \(relation "audit_log" does not exist\): run `hub migrate`/);
  });

  it('Redis not answering names REDIS_URL and exits 3, for a command and for the workers', async () => {
    const port = await closedPort();
    const env = { ...settings, REDIS_URL: `redis://127.0.0.1:${port}`, WORKER_PORT: '0' };
    const line = new RegExp(`^Redis does not answer at 127\\.0\\.0\\.1:${port} \\(REDIS_URL\\)`);
    expectOneLine(await hub(['settlements', 'rematch'], env), 3, line);
    expectOneLine(await hub(['work'], env), 3, line);
  });

  describe('a port in use', () => {
    let held: Server;
    let port: number;
    beforeAll(async () => {
      held = await holdPort();
      port = (held.address() as { port: number }).port;
    });
    afterAll(() => new Promise((resolve) => held.close(resolve)));

    it('hub serve names where the port came from and exits 3', async () => {
      expectOneLine(await hub(['serve', '--port', String(port)], settings), 3, new RegExp(`^port ${port} is in use \\(--port\\)`));
      expectOneLine(await hub(['serve'], { ...settings, PORT: String(port) }), 3, new RegExp(`^port ${port} is in use \\(PORT\\)`));
    });
  });

  it('a bad option value names the option and exits 2', async () => {
    expectOneLine(await hub(['token', '--role', 'ADMIN', '--expires', 'forever']), 2, /--expires.*'forever' is invalid/);
    expectOneLine(await hub(['serve', '--port', 'abc'], settings), 2, /--port.*'abc' is invalid/);
  });

  it('commander usage errors exit 2, not 1 (which means rejected rows)', async () => {
    expectOneLine(await hub(['migrate', '--no-such-option'], settings), 2, /unknown option '--no-such-option'/);
    expectOneLine(await hub(['members', 'import'], settings), 2, /missing required argument 'file'/);
  });

  it('hub --version prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await hub(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('errors of the domain, mapped once', () => {
  it('a caller mistake is a usage line (2), a refused decision something to look at (1), in the API\'s words', async () => {
    const { describeFailure, EXIT } = await import('../../src/cliErrors.ts');
    const { conflict, forbidden, invalid, notFound } = await import('../../src/kernel/errors.ts');
    expect(describeFailure(invalid('--rules', 'is not a known rule set'))).toEqual({ line: '--rules: is not a known rule set', exitCode: EXIT.usage });
    expect(describeFailure(notFound('payout batch'))).toEqual({ line: 'payout batch not found', exitCode: EXIT.usage });
    expect(describeFailure(conflict('the batch is already approved'))).toEqual({ line: 'the batch is already approved', exitCode: EXIT.attention });
    expect(describeFailure(forbidden('only FINANCE approves'))).toEqual({ line: 'only FINANCE approves', exitCode: EXIT.attention });
    const { invalidFields } = await import('../../src/kernel/errors.ts');
    expect(describeFailure(invalidFields([{ field: 'psn', reason: 'is required' }, { field: 'funds', reason: 'must not be negative' }])))
      .toEqual({ line: 'psn: is required\nfunds: must not be negative', exitCode: EXIT.usage });
  });
});

describe('a PostgreSQL that restarts is unavailable, not a bug', () => {
  it('a connection the server ended, reset under a query, or a server starting up, exits 3 naming DATABASE_URL', async () => {
    const { describeFailure, EXIT } = await import('../../src/cliErrors.ts');
    const { createPool } = await import('../../src/db/pool.ts');
    const pool = createPool({ connectionString: db.url, max: 2 });
    // Ended: the server's own error (57P01), awaited so that no query races it, then pg's for the next query.
    const client = await pool.connect();
    const serverSaid = new Promise<unknown>((resolve) => client.once('error', resolve));
    const { rows: [backend] } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1)', [backend!.pid]);
    await admin.end();
    const ended = await serverSaid;
    const gone = await client.query('SELECT 1').catch((error: unknown) => error);
    client.release(true);
    // Reset: the socket's own error while a query waits for its answer, naming no address.
    const busy = await pool.connect();
    const answer = busy.query('SELECT pg_sleep(60)').catch((error: unknown) => error);
    const socket = (busy as unknown as { connection: { stream: Socket } }).connection.stream;
    socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' }));
    const reset = await answer;
    busy.release(true);
    await pool.end();
    expect(ended).toMatchObject({ code: '57P01' });
    expect(reset).toMatchObject({ code: 'ECONNRESET' });
    for (const error of [ended, gone, reset]) {
      const failure = describeFailure(error);
      expect(failure.exitCode, String(error)).toBe(EXIT.unavailable);
      expect(failure.line).toMatch(/^PostgreSQL at .+ \(DATABASE_URL\)/);
    }
    // What a worker starting during a restart hears (SQLSTATE 57P03).
    const startingUp = Object.assign(new pg.DatabaseError('the database system is starting up', 0, 'error'), { code: '57P03' });
    expect(describeFailure(startingUp)).toMatchObject({ exitCode: EXIT.unavailable, line: expect.stringContaining('is not ready: the database system is starting up') });
  });
});
