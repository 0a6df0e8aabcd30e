import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { hub } from '../support/hub.ts';

/** `--json`: one JSON document on stdout instead of the text, for scripts; the exit codes stay. */

let db: TestDatabase;
let settings: Record<string, string>;

beforeAll(async () => {
  db = await freshDatabase();
  settings = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `cli-${randomBytes(4).toString('hex')}`, LOG_LEVEL: 'silent' };
});
afterAll(() => db?.drop());

describe('hub ... --json', () => {
  it('migrate: the migrations applied, none the second time', async () => {
    // `hub migrate` migrates the public schema of DATABASE_URL's database: a database of its own.
    const name = `cli_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(TEST_DATABASE_URL);
      url.pathname = `/${name}`;
      const first = await hub(['migrate', '--json'], { ...settings, DATABASE_URL: url.href });
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout)).toEqual({ applied: expect.arrayContaining(['0001_members']) });
      const again = await hub(['migrate', '--json'], { ...settings, DATABASE_URL: url.href });
      expect(JSON.parse(again.stdout)).toEqual({ applied: [] });
    } finally {
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    }
  }, 240_000); // creating and dropping a database each wait for a checkpoint: slow on a loaded machine

  it('token: the token and its expiry', async () => {
    const run = await hub(['token', '--role', 'ADMIN', '--expires', '90m', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ token: expect.stringMatching(/^eyJ/), role: 'ADMIN', subject: 'dev-user', expiresAt: expect.any(String) });
  });

  it('audit verify: intact, with the row count', async () => {
    const run = await hub(['audit', 'verify', '--json'], settings);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ intact: true, rows: expect.any(Number), firstBroken: null });
  });

  it('settlements source and sources: the source registered, then the list', async () => {
    const added = await hub(['settlements', 'source', 'drop-a', '--dir', '/tmp/drop-a', '--json'], settings);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ name: 'drop-a', kind: 'DROP', endpoint: '/tmp/drop-a', enabled: true });
    const listed = await hub(['settlements', 'sources', '--json'], settings);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'drop-a', counts: expect.objectContaining({ total: 0 }) })]));
  });

  it('members import: the counts and every row error, exit 1 for a rejected row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-cli-'));
    try {
      const file = join(dir, 'roster.csv');
      writeFileSync(file, 'name,id_number,unit_credit_code\n王芳,not-an-id,91350500MA2XXXXXX0\n');
      const run = await hub(['members', 'import', file, '--json'], settings);
      expect(run.code, run.stderr).toBe(1);
      expect(JSON.parse(run.stdout)).toMatchObject({ rowsTotal: 1, rowsRejected: 1, errors: expect.arrayContaining([expect.objectContaining({ row: 2, field: 'id_number' })]) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('statements exceptions: none open, exit 0', async () => {
    const run = await hub(['statements', 'exceptions', '--json'], settings);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ exceptions: [], count: 0, amountFen: 0 });
  });
});
