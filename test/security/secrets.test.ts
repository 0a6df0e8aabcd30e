import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { parseConfig } from '../../src/config.ts';
import { configRefusal, productionConfig, productionEnv, strongKey } from '../support/config.ts';
import { createLog } from '../../src/log.ts';
import { holdPort } from '../support/hub.ts';

/**
 * Issue 13, attacks 4 and 9 (configuration, `hub` commands, logs): development or guessable
 * secrets in production, a process started without NODE_ENV, tokens that live for years, personal
 * data in nested log fields.
 */

const DEV_PII_KEY = Buffer.alloc(32, 0x11).toString('base64');

describe('attack 4: production secrets', () => {
  it('refuses the development PII key spelled without its padding or with a trailing space (compared as bytes, base64 must be canonical)', () => {
    expect(DEV_PII_KEY.endsWith('=')).toBe(true);
    for (const spelling of [DEV_PII_KEY.slice(0, -1), `${DEV_PII_KEY} `, ` ${DEV_PII_KEY}`, `${DEV_PII_KEY.slice(0, 20)}\n${DEV_PII_KEY.slice(20)}`]) {
      expect(configRefusal(() => productionConfig({ PII_KEY: spelling }))).toMatch(/^ {2}PII_KEY: must be 32 bytes, base64-encoded with its padding and nothing else/m);
      expect(configRefusal(() => productionConfig({ PII_HASH_KEY: spelling }))).toMatch(/^ {2}PII_HASH_KEY: must be 32 bytes/m);
    }
    expect(configRefusal(() => productionConfig({ PII_KEY: DEV_PII_KEY }))).toMatch(/PII_KEY: the development key cannot be used in production/);
    expect(configRefusal(() => productionConfig({ PII_HASH_KEY: DEV_PII_KEY }))).toMatch(/PII_HASH_KEY: the development key cannot be used in production/);
  });

  it('refuses predictable JWT secrets and PII keys in production, and accepts random ones', () => {
    for (const secret of ['a'.repeat(32), 'a'.repeat(64), 'abcd'.repeat(10), 'abcdefghijklmnopqrstuvwxyz0123456789', '0123456789abcdef0123456789abcdef']) {
      expect(configRefusal(() => productionConfig({ JWT_SECRET: secret })), secret).toMatch(/^ {2}JWT_SECRET: too predictable/m);
    }
    expect(configRefusal(() => productionConfig({ JWT_SECRET: 'mutual-aid-hub-development-secret-not-for-production-2' }))).toMatch(/JWT_SECRET: the development secret/);
    expect(configRefusal(() => productionConfig({ JWT_SECRET: `${strongKey()} ` }))).toMatch(/JWT_SECRET: must not begin or end with white space/);
    const sequential = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64');
    for (const key of [Buffer.alloc(32, 7).toString('base64'), Buffer.from('ab'.repeat(16)).toString('base64'), sequential]) {
      expect(configRefusal(() => productionConfig({ PII_KEY: key })), key).toMatch(/^ {2}PII_KEY: too predictable/m);
      expect(configRefusal(() => productionConfig({ PII_HASH_KEY: key })), key).toMatch(/^ {2}PII_HASH_KEY: too predictable/m);
    }
    // One line per problem.
    expect(configRefusal(() => parseConfig(productionEnv({ PII_KEY: Buffer.alloc(32, 7).toString('base64'), JWT_SECRET: 'a'.repeat(40) }))).split('\n')).toHaveLength(3);
    for (let i = 0; i < 20; i++) expect(productionConfig({ PII_HASH_KEY: strongKey() }).NODE_ENV).toBe('production');
    // An identity provider's key replaces JWT_SECRET, which is then not used.
    const { JWT_SECRET: _, ...withoutSecret } = productionEnv({ JWT_JWKS_URL: 'https://idp.union.example/jwks', JWT_ISSUER: 'https://idp.union.example', JWT_AUDIENCE: 'mutual-aid-hub' });
    expect(parseConfig(withoutSecret).NODE_ENV).toBe('production');
  });

  it('refuses to run with NODE_ENV unset, in one line, unless it is development or test', () => {
    const message = configRefusal(() => parseConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' }));
    expect(message).toBe('NODE_ENV is not set: set NODE_ENV=production (or NODE_ENV=development for local work)');
    expect(configRefusal(() => parseConfig({ NODE_ENV: '' }))).toBe(message);
    expect(parseConfig({ NODE_ENV: 'development' }).PII_KEY).toBe(DEV_PII_KEY);
    expect(parseConfig({ NODE_ENV: 'test' }).NODE_ENV).toBe('test');
  });
});

describe('attack 4: the hub command and NODE_ENV', () => {
  const hub = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
  const run = (args: string[], env: Record<string, string | undefined>) => {
    const { NODE_ENV: _, ...inherited } = process.env;
    const result = spawnSync(process.execPath, [hub, ...args], { env: { ...inherited, LOG_LEVEL: 'silent', ...env }, encoding: 'utf8', timeout: 60_000 });
    return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  };

  it('hub serve and hub migrate without NODE_ENV print one line and exit non-zero', () => {
    for (const command of [['serve', '--port', '0'], ['migrate'], ['work']]) {
      const result = run(command, {});
      expect(result.stderr, command.join(' ')).toBe('NODE_ENV is not set: set NODE_ENV=production (or NODE_ENV=development for local work)');
      expect(result.status, command.join(' ')).toBe(2);
    }
  });

  it('hub token runs as development, refuses a lifetime over TOKEN_MAX_LIFETIME_HOURS and never runs in production', () => {
    const made = run(['token', '--role', 'ADMIN', '--expires', '2h'], {});
    expect(made.status, made.stderr).toBe(0);
    const { exp, iat } = decodeJwt(made.stdout);
    expect(exp! - iat!).toBe(7200);
    const long = run(['token', '--role', 'ADMIN', '--expires', '36500d'], {}); // 100 years
    expect(long.status).toBe(2);
    expect(long.stdout).toBe('');
    expect(long.stderr).toMatch(/^--expires 36500d: the token lives \d+ h; at most 24 h are accepted \(TOKEN_MAX_LIFETIME_HOURS\)$/);
    expect(run(['token', '--role', 'ADMIN', '--expires', '25h'], {}).status).toBe(2);
    expect(run(['token', '--role', 'ADMIN', '--expires', '48h'], { TOKEN_MAX_LIFETIME_HOURS: '48' }).status).toBe(0);
    const inProduction = run(['token', '--role', 'ADMIN'], { NODE_ENV: 'production', PII_KEY: strongKey(), JWT_SECRET: strongKey() });
    expect(inProduction).toMatchObject({ status: 2, stdout: '', stderr: 'hub token is a development helper: it does not run with NODE_ENV=production' });
  });

  it('hub sim … (every simulator) runs as development and never in production', async () => {
    // A port in use: a simulator that starts says so at once (exit 3) instead of serving.
    const held = await holdPort();
    const port = String((held.address() as AddressInfo).port);
    try {
      for (const simulator of ['bank', 'insurance', 'notify']) {
        const inProduction = run(['sim', simulator, '--port', port], { NODE_ENV: 'production', PII_KEY: strongKey(), JWT_SECRET: strongKey() });
        expect(inProduction, simulator).toMatchObject({ status: 2, stdout: '', stderr: `hub sim ${simulator} is a development helper: it does not run with NODE_ENV=production` });
      }
      const unset = run(['sim', 'notify', '--port', port], {});
      expect(unset.stderr).toMatch(new RegExp(`^port ${port} is in use \\(--port\\)[^\\n]*$`));
      expect(unset.status).toBe(3);
    } finally {
      await new Promise((resolve) => held.close(resolve));
    }
  });
});

describe('attack 9: personal data in logs', () => {
  it('is redacted at any depth of what is logged: job data, variables, errors and their causes, free text', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
    const log = createLog(sink as never, 'info');
    const idNumber = '35050219900101123X';
    const bankCard = '6222020200112345678';
    const phone = '13812345678';
    const name = '陈秀英';
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const csv = `name,id_number\n${name},${idNumber}`;
    const cause = new Error(`duplicate key value violates unique constraint: Key (id_number)=(${idNumber}) already exists`);
    log.error({
      job: { name: 'import', data: { rows: [{ member: { fullName: name, id_number: idNumber, bankCard, contact: { mobile: phone } } }] } },
      variables: { input: { csv, note: `call ${phone} or card ${bankCard}` } },
      request: { headers: { Authorization: `Bearer ${token}` }, url: `/graphql?token=${token}` },
      err: Object.assign(new Error('roster row failed', { cause }), { detail: { idNumber } }),
    }, 'import failed');
    const written = lines.join('');
    for (const secret of [idNumber, bankCard, phone, name, token, 'id_number\n']) expect(written, secret).not.toContain(secret);
    const line = JSON.parse(written);
    expect(line).toMatchObject({ msg: 'import failed', level: 50, job: { data: { rows: [{ member: { id_number: '[redacted]', contact: { mobile: '[redacted]' } } }] } } });
    expect(line.variables.input.note).toBe('call [redacted] or card [redacted]');
    expect(line.err).toMatchObject({ message: expect.stringMatching(/^roster row failed/), type: 'Error', detail: { idNumber: '[redacted]' } });
    expect(line.err.stack).toContain('roster row failed');
  });

  it('is redacted in what a bank or provider answers: accounts of 12 to 30 digits and more, landlines; request ids and figures stay', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
    const log = createLog(sink as never, 'info');
    const secrets = ['62170012345678901234', '6217001234567', '0595-22881234', '059522881234', '010-1234567', '6'.repeat(40)];
    // A UUID whose last group is all digits: the request id and the reference a client is told.
    const requestId = '123e4567-e89b-12d3-a456-426614174000';
    log.warn({
      requestId, batchId: 42, ms: 1375,
      err: new Error(`收款账号 ${secrets[0]} 户名不符; 付款账号${secrets[1]}; 联系电话 ${secrets[2]} (${secrets[3]}, ${secrets[4]}); ${secrets[5]}; 金额 1680000 分`),
    }, 'the bank refused the batch file');
    const written = lines.join('');
    for (const secret of secrets) expect(written, secret).not.toContain(secret);
    const line = JSON.parse(written);
    expect(line).toMatchObject({ requestId, batchId: 42, ms: 1375 });
    expect(line.err.message).toBe('收款账号 [redacted] 户名不符; 付款账号[redacted]; 联系电话 [redacted] ([redacted], [redacted]); [redacted]; 金额 1680000 分');
  });
});
