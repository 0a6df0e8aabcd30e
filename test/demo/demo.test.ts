import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { TEST_DATABASE_URL } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { DEMO_SCHEMA } from '../../jobs/demo/state.ts';

// `hub demo --once` on a database of its own: the contract operators and outside checks rely on.
const database = `demo_${randomBytes(5).toString('hex')}`;
const admin = () => new pg.Client({ connectionString: TEST_DATABASE_URL });
const databaseUrl = TEST_DATABASE_URL.replace(/\/[^/?]+(\?|$)/, `/${database}$1`);
const hub = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
const env = { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, PORT: '0', QUEUE_PREFIX: `demo-${database}`, LOG_LEVEL: 'warn' };
const MEMBERS = '300';

beforeAll(async () => {
  const client = admin();
  await client.connect();
  await client.query(`CREATE DATABASE ${database}`);
  await client.end();
});
// Dropping a database waits for an immediate checkpoint: on a loaded machine that can outlast the default hook timeout.
const DROP_TIMEOUT_MS = 240_000;
afterAll(async () => {
  const client = admin();
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await client.end();
}, DROP_TIMEOUT_MS);

/** Starts `hub demo` serving; resolves with the process and its output once `until` shows in it. */
function demoUntil(args: string[], until: RegExp) {
  const child = spawn(process.execPath, [hub, 'demo', '--members', MEMBERS, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise<{ child: typeof child; output: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not print ${until} within 4 minutes:\n${output}`)), 240_000);
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (!until.test(output)) return;
      clearTimeout(timer);
      resolve({ child, output });
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code}) before printing ${until}:\n${output}`));
    });
  });
}

async function kill(child: ReturnType<typeof spawn>, signal: NodeJS.Signals): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

describe('hub demo --once', () => {
  it('is killed while it pays and reconciles (the bank has booked what the hub has not yet seen)', async () => {
    const { child } = await demoUntil(['--once'], /^payouts: /m);
    await kill(child, 'SIGKILL');
  }, 300_000);

  it('runs the pipeline on sample data, exits 0 and ends with one JSON line of counts, the day proven after that crash', async () => {
    const run = spawnSync(process.execPath, [hub, 'demo', '--once', '--members', MEMBERS], { encoding: 'utf8', timeout: 240_000, env });
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    const summary = JSON.parse(lines.at(-1)!);
    expect(Object.keys(summary)).toEqual(['members', 'settlements', 'claims', 'paid', 'reconciled', 'exceptions']);
    // The sample, and the worker a unit union registers for its condolence payment.
    expect(summary.members).toBe(Number(MEMBERS) + 1);
    expect(run.stdout).toMatch(/GraphQL gateway: http:\/\/127\.0\.0\.1:\d+\/graphql/);
    expect(run.stdout).toContain(`The sample query answered with 5 of ${Number(MEMBERS) + 1} members.`);
    expect(run.stdout).toMatch(/^rule set quanzhou-\d{4} v1 published and assigned to QZ/m);
    expect(run.stdout).toMatch(/^condolence \(慰问金\): .* APPROVED 2,000\.00 CNY/m);

    // Every approved benefit went out through the bank simulator and was paid (sample members all have
    // open accounts), and the day's statement reconciled with nothing left over.
    expect(summary.exceptions).toBe(0);
    expect(summary.reconciled).toBeGreaterThanOrEqual(summary.paid);
    expect(run.stdout).toMatch(/PROVEN/);
    expect(run.stdout).toMatch(/payouts: \d+ from approved claims, \d+ batch\(es\) sealed and sent to the bank simulator/);
    const client = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${DEMO_SCHEMA}` });
    await client.connect();
    try {
      const { rows } = await client.query(
        // A claim is paid by one payout per funder of its lines; the condolence payment by one of its own.
        `SELECT (SELECT count(*)::int FROM claims c WHERE c.status = 'APPROVED' AND c.total_fen > 0) AS approved,
                (SELECT count(DISTINCT claim_id)::int FROM payouts WHERE status IN ('PAID', 'SETTLED')) AS paid,
                (SELECT count(*)::int FROM payouts WHERE status NOT IN ('PAID', 'SETTLED')) AS other,
                (SELECT coalesce(sum(total_fen), 0)::bigint FROM claims WHERE status = 'APPROVED') AS "approvedFen",
                (SELECT coalesce(sum(amount_fen), 0)::bigint FROM payouts WHERE claim_id IS NOT NULL) AS "paidFen",
                (SELECT coalesce(sum(approved_fen), 0)::bigint FROM condolences WHERE status = 'APPROVED') AS "condolenceFen",
                (SELECT coalesce(sum(amount_fen), 0)::bigint FROM payouts WHERE condolence_id IS NOT NULL AND status IN ('PAID', 'SETTLED')) AS "condolencePaidFen"`,
      );
      expect(rows[0].paid).toBeGreaterThan(0);
      expect(Number(rows[0].condolenceFen)).toBe(200_000);
      expect(rows[0]).toEqual({
        approved: rows[0].paid, paid: summary.paid, other: 0, approvedFen: rows[0].paidFen, paidFen: rows[0].approvedFen,
        condolenceFen: rows[0].condolencePaidFen, condolencePaidFen: rows[0].condolenceFen,
      });
    } finally {
      await client.end();
    }
  }, 300_000);

  it('prints GraphiQL with the token in the fragment, an export of TOKEN and a curl that answers when pasted after it', async () => {
    const { child, output } = await demoUntil([], /^Serving; Ctrl-C to stop\.$/m);
    try {
      const lines = output.split('\n');
      const exportAt = lines.findIndex((line) => /^\s*export TOKEN=[\w.-]+$/.test(line));
      expect(exportAt, output).toBeGreaterThan(0);
      const token = lines[exportAt]!.trim().slice('export TOKEN='.length);
      expect(output).toMatch(new RegExp(`^GraphiQL, signed in: http://127\\.0\\.0\\.1:\\d+/graphiql#token=${token.replaceAll('.', '\\.')}$`, 'm'));
      expect(output).not.toMatch(/graphiql\?/);
      expect(output).toMatch(new RegExp(`^Dashboard .*, signed in: http://127\\.0\\.0\\.1:\\d+/dashboard#token=${token.replaceAll('.', '\\.')}$`, 'm'));
      // What a newcomer pastes: the export, then the curl (two lines, joined by its backslash).
      const pasted = lines.slice(exportAt, exportAt + 3).join('\n');
      expect(pasted).toMatch(/curl -s http:\/\/127\.0\.0\.1:\d+\/graphql .*\$TOKEN/);
      const curl = spawnSync('bash', ['-e'], { input: pasted, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH } });
      expect(curl.status, curl.stderr).toBe(0);
      const answer = JSON.parse(curl.stdout);
      expect(answer.errors).toBeUndefined();
      expect(answer.data.members.totalCount).toBe(Number(MEMBERS) + 1); // with the condolence payment's worker
      expect(answer.data.members.edges).toHaveLength(5);
    } finally {
      await kill(child, 'SIGTERM');
    }
  }, 300_000);
});
