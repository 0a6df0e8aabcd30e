import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { createGateway } from '../../src/gateway/server.ts';
import { personalDataKeys } from '../../src/privacy/personalData.ts';
import { closeQueues, createQueues } from '../../src/queues.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, TEST_REDIS_URL, type TestGateway } from '../support/gateway.ts';
import { productionEnv, strongKey } from '../support/config.ts';

/**
 * The operations endpoints an anonymous caller reaches in production. /metrics (the gateway's, on the
 * API port, and `hub work`'s on WORKER_PORT) shows the union's paying account, pending reviews, open
 * exceptions and queue depths: only to the bearer of METRICS_TOKEN, and not at all without it.
 * /readyz names the check that failed, not its error (internal hosts and ports).
 */
const ACCOUNT = '6217000010001234567';
const METRICS_TOKEN = strongKey();
const PRODUCTION = productionEnv({ PAYOUT_ACCOUNT: ACCOUNT });
const hubBin = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));

let db: TestDatabase;
let closed: TestGateway;
let guarded: TestGateway;
beforeAll(async () => {
  db = await freshDatabase();
  closed = await startTestGateway(db, PRODUCTION);
  guarded = await startTestGateway(db, { ...PRODUCTION, METRICS_TOKEN });
});
afterAll(async () => {
  // What `hub work` left under its own prefix.
  const left = closed ? await closed.redis.keys(`${closed.prefix}-work:*`) : [];
  if (left.length) await closed.redis.del(...left);
  await closed?.close();
  await guarded?.close();
  await db?.drop();
});

const metricsOf = (gw: TestGateway, authorization?: string) =>
  fetch(gw.url.replace(/\/graphql$/, '/metrics'), { headers: authorization === undefined ? {} : { authorization } });

describe('the gateway\'s /metrics in production', () => {
  it('without METRICS_TOKEN answers 404, naming the setting, to anyone', async () => {
    for (const authorization of [undefined, `Bearer ${await closed.token({ role: 'ADMIN' })}`]) {
      const response = await metricsOf(closed, authorization);
      const text = await response.text();
      expect(response.status).toBe(404);
      expect(text).toBe('/metrics is off in production until METRICS_TOKEN is set: it shows the paying account and the operations figures\n');
    }
  });

  it('with METRICS_TOKEN answers only its bearer', async () => {
    // A wrong token of the same length, an ADMIN's bearer token, another scheme.
    const wrong = `${METRICS_TOKEN.slice(0, -2)}${METRICS_TOKEN.endsWith('A=') ? 'B=' : 'A='}`;
    for (const authorization of [undefined, `Bearer ${wrong}`, `Bearer ${await guarded.token({ role: 'ADMIN' })}`, `Basic ${METRICS_TOKEN}`, `Bearer ${METRICS_TOKEN} x`]) {
      const response = await metricsOf(guarded, authorization);
      const text = await response.text();
      expect(response.status, authorization).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(text).toMatch(/^send METRICS_TOKEN as Authorization: Bearer <token>/);
      expect(text).not.toContain(ACCOUNT);
    }
    for (const authorization of [`Bearer ${METRICS_TOKEN}`, `bearer  ${METRICS_TOKEN}`]) {
      const response = await metricsOf(guarded, authorization);
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(new RegExp(`^hub_ops_statement_days_unproven\\{account="${ACCOUNT}"\\} \\d+$`, 'm'));
    }
  });
});

describe('/metrics outside production', () => {
  it('stays open without METRICS_TOKEN (development, tests, the demo), and once it is set answers only its bearer there too', async () => {
    const open = await startTestGateway(db, { PAYOUT_ACCOUNT: ACCOUNT });
    const tokened = await startTestGateway(db, { METRICS_TOKEN });
    try {
      expect((await metricsOf(open)).status).toBe(200);
      expect((await metricsOf(tokened)).status).toBe(401);
      expect((await metricsOf(tokened, `Bearer ${METRICS_TOKEN}`)).status).toBe(200);
    } finally {
      await open.close();
      await tokened.close();
    }
  });
});

describe('/readyz with the database unreachable', () => {
  it('names the failed check in production, without its error; the log has the error; outside production the answer keeps it', async () => {
    // A closed local port stands for the database.
    const pool = new pg.Pool({ connectionString: 'postgres://hub_app@127.0.0.1:1/hub', connectionTimeoutMillis: 1000 });
    const answers: Record<string, unknown>[] = [];
    const logged: Record<string, unknown>[] = [];
    try {
      for (const environment of [PRODUCTION, { NODE_ENV: 'test' }]) {
        const config = parseConfig({ ...environment, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `${closed.prefix}-ready`, LOG_LEVEL: 'silent' });
        const queues = createQueues(closed.redis, config.QUEUE_PREFIX);
        const sink = new Writable({ write(chunk: Buffer, _enc, done) { logged.push(...chunk.toString().trim().split('\n').map((l) => JSON.parse(l))); done(); } });
        const gateway = await createGateway({ db: pool, keys: personalDataKeys(config.PII_KEY), queues, redis: closed.redis }, config, pino({ level: 'warn' }, sink));
        try {
          const response = await fetch(`http://127.0.0.1:${await gateway.listen(0)}/readyz`);
          expect(response.status).toBe(503);
          answers.push(await response.json());
        } finally {
          await gateway.stop();
          await closeQueues(queues);
        }
      }
    } finally {
      await pool.end();
    }
    expect(answers[0]).toEqual({ status: 'not ready', checks: { database: 'failed', redis: 'ok', queues: 'ok' } });
    expect(answers[1]).toMatchObject({ status: 'not ready', checks: { database: expect.stringMatching(/^failed: .*ECONNREFUSED 127\.0\.0\.1:1/) } });
    const failures = logged.filter((line) => line.msg === 'readiness check failed');
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatchObject({ check: 'database', err: { message: expect.stringContaining('ECONNREFUSED 127.0.0.1:1') } });
  });
});

describe('`hub work`\'s /metrics on WORKER_PORT in production', () => {
  /** Runs `hub work` in production until it listens; the answers of /metrics to `requests`, then it stops. */
  async function workerMetrics(env: Record<string, string>, requests: (string | undefined)[]): Promise<{ status: number; text: string }[]> {
    const child = spawn(process.execPath, [hubBin, 'work'], {
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME, ...PRODUCTION, DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: `${closed.prefix}-work`, WORKER_PORT: '0', LOG_LEVEL: 'info', ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const read = (chunk: Buffer) => {
          output += chunk.toString();
          const match = /"port":(\d+)/.exec(output);
          if (match) resolve(Number(match[1]));
        };
        child.stdout.on('data', read);
        child.stderr.on('data', read);
        child.once('exit', () => reject(new Error(`hub work exited early:\n${output}`)));
      });
      const answers = [];
      for (const authorization of requests) {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: authorization === undefined ? {} : { authorization } });
        answers.push({ status: response.status, text: await response.text() });
      }
      return answers;
    } finally {
      child.kill('SIGTERM');
      await exit;
    }
  }

  it('takes the gateway\'s rule: 404 without METRICS_TOKEN, only its bearer with it', async () => {
    const [off] = await workerMetrics({}, [undefined]);
    expect(off).toMatchObject({ status: 404, text: expect.stringContaining('METRICS_TOKEN') });
    const [anonymous, bearer] = await workerMetrics({ METRICS_TOKEN }, [undefined, `Bearer ${METRICS_TOKEN}`]);
    expect(anonymous!.status).toBe(401);
    expect(anonymous!.text).not.toContain(ACCOUNT);
    expect(bearer!.status).toBe(200);
    expect(bearer!.text).toMatch(/^hub_queue_jobs\{queue="claim-adjudication",state="waiting"\} \d+$/m);
    expect(bearer!.text).toContain(`account="${ACCOUNT}"`);
  });
});
