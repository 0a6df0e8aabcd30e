import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { TEST_DATABASE_URL } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';

// `hub demo --once` on a database of its own: the contract operators and outside checks rely on.
const database = `demo_${randomBytes(5).toString('hex')}`;
const admin = () => new pg.Client({ connectionString: TEST_DATABASE_URL });
const databaseUrl = TEST_DATABASE_URL.replace(/\/[^/?]+(\?|$)/, `/${database}$1`);

beforeAll(async () => {
  const client = admin();
  await client.connect();
  await client.query(`CREATE DATABASE ${database}`);
  await client.end();
});
afterAll(async () => {
  const client = admin();
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await client.end();
});

describe('hub demo --once', () => {
  it('runs the pipeline on sample data, exits 0 and ends with one JSON line of counts', async () => {
    const hub = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [hub, 'demo', '--once', '--members', '300'], {
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, PORT: '0', QUEUE_PREFIX: `demo-${database}`, LOG_LEVEL: 'warn' },
    });
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    const summary = JSON.parse(lines.at(-1)!);
    expect(Object.keys(summary)).toEqual(['members', 'settlements', 'claims', 'paid', 'reconciled', 'exceptions']);
    expect(summary.members).toBe(300);
    expect(run.stdout).toMatch(/GraphQL gateway: http:\/\/127\.0\.0\.1:\d+\/graphql/);
    expect(run.stdout).toContain('The sample query answered with 5 of 300 members.');

    // Every approved benefit went out through the bank simulator and was paid (sample members all have
    // open accounts), and the day's statement reconciled with nothing left over.
    expect(summary.exceptions).toBe(0);
    expect(summary.reconciled).toBeGreaterThanOrEqual(summary.paid);
    expect(run.stdout).toMatch(/PROVEN/);
    expect(run.stdout).toMatch(/payouts: \d+ from approved claims, \d+ batch\(es\) sealed and sent to the bank simulator/);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT (SELECT count(*)::int FROM claims c WHERE c.status = 'APPROVED' AND c.total_fen > 0) AS approved,
                (SELECT count(*)::int FROM payouts WHERE status IN ('PAID', 'SETTLED')) AS paid,
                (SELECT count(*)::int FROM payouts WHERE status NOT IN ('PAID', 'SETTLED')) AS other,
                (SELECT coalesce(sum(total_fen), 0)::bigint FROM claims WHERE status = 'APPROVED') AS "approvedFen",
                (SELECT coalesce(sum(amount_fen), 0)::bigint FROM payouts) AS "paidFen"`,
      );
      expect(rows[0].paid).toBeGreaterThan(0);
      expect(rows[0]).toEqual({ approved: rows[0].paid, paid: summary.paid, other: 0, approvedFen: rows[0].paidFen, paidFen: rows[0].approvedFen });
    } finally {
      await client.end();
    }
  }, 300_000);
});
