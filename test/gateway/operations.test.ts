import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, TEST_REDIS_URL, type TestGateway } from '../support/gateway.ts';
import { claimOf, seedEnrolledMember, seedSettlement } from '../benefits/seed.ts';
import { waitFor } from '../support/waitFor.ts';
import { parseConfig } from '../../src/config.ts';
import { log } from '../../src/log.ts';
import { createGateway } from '../../src/gateway/server.ts';
import { createMetrics } from '../../src/gateway/metrics.ts';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import { startWorkers } from '../../jobs/worker.ts';
import { closeQueues, createQueues } from '../../src/queues.ts';
import { enqueueRosterImport } from '../../src/members/queue.ts';

/**
 * What operators rely on: liveness and readiness, Prometheus metrics, the queue dashboard for
 * ADMIN only, request logs with ids and without personal data, and a graceful stop of `hub serve`
 * and `hub work` that lets in-flight work finish.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
let db: TestDatabase;
let gw: TestGateway;
let base: string;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  base = new URL(gw.url).origin;
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

describe('health', () => {
  it('/healthz says the process is up; /readyz checks database, Redis and queues', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', redis: 'ok', queues: 'ok' } });
  });

  it('is live but not ready while Redis does not answer (and starts regardless)', async () => {
    const config = parseConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, QUEUE_PREFIX: `${gw.prefix}-down` });
    const redis = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: null, retryStrategy: () => 1000 });
    redis.on('error', () => undefined);
    const queues = createQueues(redis, config.QUEUE_PREFIX);
    for (const queue of Object.values(queues)) queue.on('error', () => undefined);
    const gateway = await createGateway({ db: db.pool, keys: personalDataKeys(config.PII_KEY), queues, redis }, config, log);
    const port = await gateway.listen(0);
    try {
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      const body = await ready.json();
      expect(body).toMatchObject({ status: 'not ready', checks: { database: 'ok', redis: expect.stringMatching(/^failed: no answer within/) } });
      expect(body.checks.queues).toMatch(/^failed/);
    } finally {
      await gateway.stop();
      redis.disconnect();
    }
  });
});

describe('metrics', () => {
  it('counts GraphQL requests and errors by operation, times them and shows queue depths', async () => {
    for (let i = 0; i < 3; i++) await gw.query({ role: 'ADMIN' }, 'query Viewer { viewer { role } }');
    await gw.query({ role: 'ADMIN' }, 'query Broken { member(id: "bm90LWEtbWVtYmVy") { id } }');
    await gw.queues.rosterImport.add('import', { importId: 0 }, { delay: 60_000 });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^hub_graphql_requests_total\{operation="Viewer",outcome="ok"\} 3$/m);
    expect(text).toMatch(/^hub_graphql_requests_total\{operation="Broken",outcome="error"\} 1$/m);
    expect(text).toMatch(/^hub_graphql_errors_total\{operation="Broken",code="BAD_USER_INPUT"\} 1$/m);
    expect(text).toMatch(/^hub_graphql_request_duration_seconds_count\{operation="Viewer"\} 3$/m);
    expect(text).toMatch(/^hub_queue_jobs\{queue="roster-import",state="delayed"\} 1$/m);
    expect(text).toMatch(/^hub_queue_jobs\{queue="claim-adjudication",state="waiting"\} 0$/m);
    expect(text).toMatch(/^hub_process_cpu_seconds_total /m);
  });

  it('times jobs and counts their failures where the workers run', async () => {
    const metrics = createMetrics();
    const prefix = `${gw.prefix}-jobs`;
    const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const m = await seedEnrolledMember(db.pool);
    const settlement = await seedSettlement(db.pool, m);
    // An uploaded roster whose content is missing: its job fails (and is retried).
    const { rows: [lost] } = await db.pool.query(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('lost.csv', '\\x00', 'test') RETURNING id`);
    const workers = await startWorkers({ db: db.pool, keys: gw.keys, connection: redis, prefix, log, payouts: null, onJobFinished: metrics.jobFinished });
    try {
      await enqueueRosterImport(workers.queues.rosterImport, lost.id);
      await waitFor('the claim', () => claimOf(db.pool, settlement));
      // The claim commits before its job is reported finished: wait for the count, then check it is one.
      await waitFor('the adjudication to be counted', async () => /^hub_jobs_total\{queue="claim-adjudication",outcome="completed"\} [1-9]/m.test(await metrics.registry.metrics()));
      await waitFor('the failed job to be counted', async () => /^hub_jobs_total\{queue="roster-import",outcome="failed"\} [1-9]/m.test(await metrics.registry.metrics()));
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/^hub_job_duration_seconds_count\{queue="claim-adjudication",outcome="completed"\} 1$/m);
      expect(text).toMatch(/^hub_jobs_total\{queue="claim-adjudication",outcome="completed"\} 1$/m);
    } finally {
      await workers.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });
});

describe('queue dashboard (Bull Board)', () => {
  const dashboard = `/admin/queues`;
  it('is for ADMIN only', async () => {
    const anonymous = await fetch(`${base}${dashboard}/api/queues`, { headers: { accept: 'application/json' } });
    expect(anonymous.status).toBe(401);
    const browser = await fetch(`${base}${dashboard}`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(browser.status).toBe(303);
    expect(browser.headers.get('location')).toBe(`${dashboard}/login`);
    for (const role of ['REVIEWER', 'FINANCE', 'AUDITOR', 'SERVICE'] as const) {
      const refused = await fetch(`${base}${dashboard}/api/queues`, { headers: { authorization: `Bearer ${await gw.token({ role })}` } });
      expect(refused.status, role).toBe(403);
    }
    // The queues are the whole hub's: an ADMIN of one organisation does not manage them.
    await db.pool.query(`INSERT INTO organisations (code, name, level, created_by) VALUES ('JJ', '晋江市总工会', 'COUNTY', 'test') ON CONFLICT DO NOTHING`);
    const countyAdmin = await fetch(`${base}${dashboard}/api/queues`, { headers: { authorization: `Bearer ${await gw.token({ role: 'ADMIN', org: 'JJ' })}` } });
    expect(countyAdmin.status).toBe(403);
    const admin = await fetch(`${base}${dashboard}/api/queues`, { headers: { authorization: `Bearer ${await gw.token({ role: 'ADMIN' })}` } });
    expect(admin.status).toBe(200);
    const names = ((await admin.json()) as { queues: { name: string }[] }).queues.map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(['roster-import', 'settlement-pull', 'settlement-match', 'claim-adjudication']));
  });

  it('signs a browser in with an HttpOnly, SameSite=Strict cookie', async () => {
    const refused = await fetch(`${base}${dashboard}/login`, { method: 'POST', body: new URLSearchParams({ token: await gw.token({ role: 'REVIEWER' }) }), redirect: 'manual' });
    expect(refused.status).toBe(403);
    const login = await fetch(`${base}${dashboard}/login`, { method: 'POST', body: new URLSearchParams({ token: await gw.token({ role: 'ADMIN' }) }), redirect: 'manual' });
    expect(login.status).toBe(303);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await fetch(`${base}${dashboard}`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
  });
});

describe('request logs', () => {
  it('carry the request id (given or made) and no personal data, query strings or variables', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(...chunk.toString().trim().split('\n').map((l) => JSON.parse(l))); done(); } });
    const config = parseConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, QUEUE_PREFIX: `${gw.prefix}-log` });
    const queues = createQueues(gw.redis, config.QUEUE_PREFIX);
    const gateway = await createGateway({ db: db.pool, keys: gw.keys, queues, redis: gw.redis }, config, pino({ level: 'info' }, sink));
    const port = await gateway.listen(0);
    try {
      const idNumber = '350502199001011234';
      const response = await fetch(`http://127.0.0.1:${port}/graphql?secret=${idNumber}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-42', authorization: `Bearer ${await gw.token({ role: 'ADMIN' })}` },
        body: JSON.stringify({ query: 'query Find($n: String) { members(filter: { idNumber: $n }) { totalCount } }', variables: { n: idNumber } }),
      });
      expect(response.headers.get('x-request-id')).toBe('req-42');
      const made = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      await waitFor('the log lines', async () => lines.length >= 2);
      expect(lines[0]).toMatchObject({ msg: 'request', requestId: 'req-42', method: 'POST', path: '/graphql', status: 200, operation: 'Find', role: 'ADMIN' });
      expect(lines[1]).toMatchObject({ msg: 'request', requestId: made.headers.get('x-request-id'), path: '/healthz' });
      expect(JSON.stringify(lines)).not.toContain(idNumber);
      expect(JSON.stringify(lines)).not.toMatch(/test-admin|Bearer/);
    } finally {
      await gateway.stop();
      await closeQueues(queues);
    }
  });
});

describe('graceful shutdown', () => {
  const children: ChildProcess[] = [];
  // A failed test must not leave its server running.
  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  /** Starts `hub <command>` on the test schema; resolves with the port it logged. */
  function hub(command: string[], env: Record<string, string>): { child: ChildProcess; port: Promise<number>; exit: Promise<number | null>; output: () => string } {
    const child = spawn(process.execPath, ['bin/hub.mjs', ...command], {
      cwd: root, env: { ...process.env, DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    const port = new Promise<number>((resolve, reject) => {
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /"port":(\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      child.once('exit', () => reject(new Error(`hub ${command.join(' ')} exited early:\n${output}`)));
    });
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, port, exit, output: () => output };
  }

  /** Holds a lock in another session until released: work that needs the table waits. */
  async function holdLock(table: string) {
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const waiting = () => waitFor(`a session waiting on ${table}`, async () => {
      // Asked outside the blocker's transaction, whose statistics snapshot would never change.
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`);
      return rows[0].n > 0;
    });
    return { waiting, release: async () => { await blocker.query('ROLLBACK'); await blocker.end(); } };
  }

  it('hub serve: on SIGTERM it stops accepting, finishes the request in flight, then exits 0', async () => {
    const server = hub(['serve', '--port', '0'], { QUEUE_PREFIX: `${gw.prefix}-serve` });
    const url = `http://127.0.0.1:${await server.port}`;
    const lock = await holdLock('members');
    const inFlight = fetch(`${url}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await gw.token({ role: 'ADMIN' })}` },
      body: JSON.stringify({ query: '{ members { totalCount } }' }),
    });
    await lock.waiting();
    server.child.kill('SIGTERM');
    await waitFor('shutdown to start', async () => server.output().includes('shutting down'));
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    await lock.release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ data: { members: { totalCount: expect.any(Number) } } });
    expect(await server.exit).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
  });

  it('hub work: serves /healthz and /metrics on WORKER_PORT; on SIGTERM the running job finishes before it exits 0', async () => {
    const m = await seedEnrolledMember(db.pool);
    const lock = await holdLock('member_year_totals');
    const settlement = await seedSettlement(db.pool, m);
    const worker = hub(['work'], { QUEUE_PREFIX: `${gw.prefix}-work`, WORKER_PORT: '0' });
    try {
      const url = `http://127.0.0.1:${await worker.port}`;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^hub_queue_jobs\{queue="claim-adjudication",state="active"\} 1$/m);
      await lock.waiting();
      worker.child.kill('SIGTERM');
      await waitFor('shutdown to start', async () => worker.output().includes('shutting down'));
      expect(await claimOf(db.pool, settlement)).toBeNull();
    } finally {
      await lock.release();
    }
    expect(await worker.exit).toBe(0);
    expect(await claimOf(db.pool, settlement)).toMatchObject({ status: 'APPROVED' });
  });
});
