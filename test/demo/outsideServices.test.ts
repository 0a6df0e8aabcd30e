import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDevCertificates } from '../../certs/devCa.ts';
import { parseConfig } from '../../src/config.ts';
import { startNotifySimulator, type NotifySimulator } from '../../src/notifications/simulator/server.ts';
import { decrypt, personalDataKeys } from '../../src/privacy/personalData.ts';
import { DEV_SEAL_P12_PASSPHRASE } from '../../src/seals/settings.ts';
import { DEMO_SCHEMA } from '../../jobs/demo/state.ts';
import { TEST_DATABASE_URL } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';

/**
 * `hub demo` is refused only with NODE_ENV=production. Run without NODE_ENV in a shell that carries a
 * deployment's outside services and secrets, it refuses them all: no SMS or WeChat message, no call
 * to the insurance platform or the bank, nothing read from or written to the deployment's drop folder
 * and certificates, and no token or encryption under the deployment's keys. It keeps to its own
 * simulators and the public development keys, and ends as on a fresh machine. Of the hub's settings
 * it takes only its own few, so one nobody thought of leaving out does not reach it either.
 */
const database = `demo_outside_${randomBytes(5).toString('hex')}`;
const databaseUrl = TEST_DATABASE_URL.replace(/\/[^/?]+(\?|$)/, `/${database}$1`);
const hub = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
const admin = () => new pg.Client({ connectionString: TEST_DATABASE_URL });
// The demo writes .data/ under its working directory: one of this test's own.
const cwd = mkdtempSync(path.join(tmpdir(), 'hub-demo-outside-'));
const deployment = mkdtempSync(path.join(tmpdir(), 'hub-deployment-'));
const jwtSecret = randomBytes(32).toString('base64');
const DEPLOYMENT_ACCOUNT = '6217000010001234567';
const DEPLOYMENT_CHANNEL = 'QZ_ICBC';

let messages: NotifySimulator;
let outside: http.Server;
const outsideCalls: string[] = [];

/** Every file under `dir` with its SHA-256: what the deployment's folders hold. */
const contents = (dir: string) => Object.fromEntries(readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile()).map((e) => [path.join(e.parentPath, e.name), createHash('sha256').update(readFileSync(path.join(e.parentPath, e.name))).digest('hex')]));

beforeAll(async () => {
  const client = admin();
  await client.connect();
  await client.query(`CREATE DATABASE ${database}`);
  await client.end();
  // The SMS and WeChat provider (the simulator speaks their protocols); the platform and the bank, which record every call.
  messages = await startNotifySimulator({ port: 0 });
  outside = http.createServer((req, res) => {
    outsideCalls.push(`${req.method} ${req.url}`);
    res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => outside.listen(0, '127.0.0.1', resolve));
  // The deployment's seal and trust, its bank's certificate alone in CERTS_DIR, a drop folder with a file waiting.
  writeDevCertificates(path.join(deployment, 'pki'), { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
  mkdirSync(path.join(deployment, 'certs'));
  copyFileSync(path.join(deployment, 'pki', 'bank.pem'), path.join(deployment, 'certs', 'bank.pem'));
  mkdirSync(path.join(deployment, 'drop'));
  writeFileSync(path.join(deployment, 'drop', 'settlements.jsonl'), '{"setl_id":"DROP-1"}\n');
  // Its payment files' folder (a bank channel may pick files up there) and a member's upload of yesterday, which an upload sweep would clear.
  mkdirSync(path.join(deployment, 'out'));
  mkdirSync(path.join(deployment, 'uploads'));
  writeFileSync(path.join(deployment, 'uploads', 'invoice.pdf'), '%PDF-1.7 a member\'s invoice\n');
  const yesterday = new Date(Date.now() - 86_400_000);
  utimesSync(path.join(deployment, 'uploads', 'invoice.pdf'), yesterday, yesterday);
});

afterAll(async () => {
  await messages?.close();
  await new Promise((resolve) => outside?.close(resolve));
  const client = admin();
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await client.end();
  rmSync(cwd, { recursive: true, force: true });
  rmSync(deployment, { recursive: true, force: true });
}, 240_000);

describe('hub demo in a shell with a deployment\'s settings, without NODE_ENV', () => {
  it('keeps to its own simulators and development keys and ends as on a fresh machine', async () => {
    const outsideUrl = `http://127.0.0.1:${(outside.address() as AddressInfo).port}`;
    const pki = (name: string) => path.join(deployment, 'pki', name);
    const { NODE_ENV: _, ...shell } = process.env;
    const env = {
      ...shell, DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, PORT: '0', QUEUE_PREFIX: `demo-${database}`, LOG_LEVEL: 'warn',
      NOTIFY_SMS_URL: messages.url, NOTIFY_WECHAT_URL: messages.url, INSURANCE_PLATFORM_URL: `${outsideUrl}/platform`,
      SETTLEMENT_DROP_DIR: path.join(deployment, 'drop'), BANK_URL: `${outsideUrl}/bank`, CERTS_DIR: path.join(deployment, 'certs'),
      SEAL_P12_PATH: pki('seal.p12'), SEAL_TRUST_ANCHORS: pki('ca.pem'), SEAL_CRLS: pki('crl.pem'),
      JWT_SECRET: jwtSecret, PII_KEY: randomBytes(32).toString('base64'),
      PAYOUT_OUT_DIR: path.join(deployment, 'out'), FILE_UPLOAD_DIR: path.join(deployment, 'uploads'),
      PAYOUT_ACCOUNT: DEPLOYMENT_ACCOUNT, PAYOUT_ACCOUNT_NAME: '泉州市总工会职工医疗互助专户', PAYOUT_AGENT: '105397000011',
      PAYOUT_INITIATING_PARTY_NAME: '泉州市总工会', RECONCILIATION_ACCOUNTS: DEPLOYMENT_ACCOUNT, NOTICE_UNION_NAME: '泉州市总工会',
      // One a list of names to leave out would miss (a setting added after it): the deployment's bank channel, which names every batch.
      PAYOUT_CHANNEL: DEPLOYMENT_CHANNEL,
    };
    const before = contents(deployment);
    const child = spawn(process.execPath, [hub, 'demo', '--once', '--members', '100'], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

    expect(outsideCalls).toEqual([]);
    expect(messages.sendRequests()).toEqual({});
    expect(contents(deployment)).toEqual(before);
    expect(code, stderr.split('\n').slice(-3).join('\n')).toBe(0);
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ members: 101, exceptions: 0 });
    // Its payment files are its own, in its own folder, paid from the simulator's account by the development union.
    const files = readdirSync(path.join(cwd, '.data', 'out')).filter((name) => name.endsWith('.xml'));
    expect(files.length).toBeGreaterThan(0);
    const file = readFileSync(path.join(cwd, '.data', 'out', files[0]!), 'utf8');
    expect(file).not.toContain(DEPLOYMENT_ACCOUNT);
    expect(file).not.toContain('泉州');

    // The ADMIN token it printed is not one the deployment's gateway would take.
    const token = /^\s*export TOKEN=(\S+)$/m.exec(stdout)![1]!;
    await expect(jwtVerify(token, Buffer.from(jwtSecret))).rejects.toThrow();
    const db = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${DEMO_SCHEMA}` });
    await db.connect();
    try {
      const { rows: sources } = await db.query<{ name: string }>(`SELECT name FROM settlement_sources WHERE name IN ('platform', 'drop')`);
      expect(sources).toEqual([]);
      const { rows: channels } = await db.query<{ channel: string }>('SELECT DISTINCT channel FROM payout_batches');
      expect(channels).toEqual([{ channel: 'BANK' }]);
      // Its sample's ID numbers are encrypted under the public development key, not the deployment's.
      const { rows: [member] } = await db.query<{ id_number_enc: Buffer }>('SELECT id_number_enc FROM members LIMIT 1');
      expect(decrypt(personalDataKeys(parseConfig({ NODE_ENV: 'development' }).PII_KEY), member!.id_number_enc)).toMatch(/^\d{17}[\dX]$/);
    } finally {
      await db.end();
    }
  }, 300_000);
});
