import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { createTokenVerifier, signDevelopmentToken } from '../../src/gateway/auth.ts';
import { adapterFor, platformUrlProblem } from '../../src/settlements/sources/forSource.ts';
import { registerConfiguredSources } from '../../src/settlements/sources/registry.ts';
import * as store from '../../src/settlements/store.ts';
import { productionConfig, productionEnv } from '../support/config.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { hub } from '../support/hub.ts';

/**
 * Where a settlement source reads from decides which settlements come in, hence which claims are
 * paid. `hub settlements source NAME --url http://…` was accepted in production, where
 * INSURANCE_PLATFORM_URL must be https (whoever sits on a plain-http path serves the settlements);
 * a source registered so before is not pulled there. And a changed INSURANCE_PLATFORM_URL moved the
 * `platform` source when the workers started with no audit row: it is now recorded under
 * `configuration`, a subject no token may carry, and only when something changed.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(() => db.drop());

const runtimeEnv = () => ({ DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: `test-${randomBytes(5).toString('hex')}`, LOG_LEVEL: 'silent' });
const TLS_ONLY = 'must be https: in production (its settlements decide which claims are paid); plain http only to a loopback host (127.0.0.1, ::1, localhost: a TLS sidecar on the same machine)';
const sourceRows = async (name: string) => (await db.pool.query(`SELECT name FROM settlement_sources WHERE name = $1`, [name])).rowCount;
const sourceAudits = async (name: string) =>
  (await db.pool.query(`SELECT actor, role, target_id, details FROM audit_log WHERE action = 'settlements.source' AND target_id = $1 ORDER BY seq`, [name])).rows;

describe('hub settlements source --url', () => {
  it('refuses plain http in production, as INSURANCE_PLATFORM_URL is refused (a loopback TLS sidecar aside): exit 2, nothing registered', async () => {
    const production = productionEnv(runtimeEnv());
    const refused = await hub(['settlements', 'source', 'plain', '--url', 'http://platform.example/feed'], production);
    expect(refused.code).toBe(2);
    expect(refused.lines).toEqual([`--url: ${TLS_ONLY}`]);
    expect(await sourceRows('plain')).toBe(0);
    const accepted = await hub(['settlements', 'source', 'tls', '--url', 'https://platform.example/feed'], production);
    expect(accepted.code, accepted.stderr).toBe(0);
    // Development and tests keep their plain-http simulators.
    const simulator = await hub(['settlements', 'source', 'sim', '--url', 'http://platform.example/feed'], { ...runtimeEnv(), NODE_ENV: 'development' });
    expect(simulator.code, simulator.stderr).toBe(0);

    // The rule the command and the pulls apply: INSURANCE_PLATFORM_URL's (config.ts, plainHttpProblem).
    const inProduction = { NODE_ENV: 'production' } as const;
    for (const url of ['http://127.0.0.1.evil.example/feed', 'http://localhost.evil.example/', 'http://10.0.0.7:4700/feed']) {
      expect(platformUrlProblem(url, inProduction), url).toBe(TLS_ONLY);
    }
    for (const url of ['https://platform.example/feed', 'http://127.0.0.1:4700/feed', 'http://[::1]:4700/', 'http://localhost:4700/']) {
      expect(platformUrlProblem(url, inProduction), url).toBeNull();
    }
  }, 180_000);

  it('refuses, in any environment, what is not an http(s) URL', async () => {
    const refused = await hub(['settlements', 'source', 'odd', '--url', 'ftp://platform.example/feed'], runtimeEnv());
    expect(refused.code).toBe(2);
    expect(refused.lines).toEqual(['--url: must be an http: or https: URL (not ftp:)']);
    expect(await sourceRows('odd')).toBe(0);
    for (const NODE_ENV of ['development', 'test', 'production'] as const) {
      expect(platformUrlProblem('file:///etc/passwd', { NODE_ENV })).toBe('must be an http: or https: URL (not file:)');
      expect(platformUrlProblem('platform.example/feed', { NODE_ENV })).toBe('must be an http: or https: URL (it does not parse as a URL)');
    }
  }, 120_000);
});

describe('a PLATFORM source registered over plain http before production refused it', () => {
  it('is not pulled in production, by the command or the workers, with the reason and the way out', async () => {
    const legacy = await store.upsertSource(db.pool, { name: 'legacy', kind: 'PLATFORM', endpoint: 'http://platform.example/feed' });
    const refusal = `source legacy is not pulled: its URL ${TLS_ONLY}; register it again with an https: --url (hub settlements source legacy --url ...)`;
    const pulled = await hub(['settlements', 'pull', '--source', 'legacy'], productionEnv(runtimeEnv()));
    expect(pulled.code).toBe(2);
    expect(pulled.lines).toEqual([`--source: ${refusal}`]);
    // The workers' adapter: the pull job fails with it (logged, and shown on the source as its last error).
    expect(() => adapterFor(legacy, productionConfig({}))).toThrow(refusal);
    expect(adapterFor(legacy, parseConfig({ NODE_ENV: 'development' }))).toBeDefined();
  }, 120_000);
});

describe('the sources configuration names, registered when the workers start', () => {
  it('are audited under configuration when created or changed (before and after), not on a restart that changes nothing', async () => {
    const settings = (url: string) => parseConfig({ NODE_ENV: 'test', INSURANCE_PLATFORM_URL: url });
    const first = settings('https://platform.example/feed');
    const platform = { kind: 'PLATFORM', pageSize: first.SETTLEMENT_PAGE_SIZE, pollSeconds: first.SETTLEMENT_PULL_SECONDS, enabled: true };
    const created = { before: null, after: { ...platform, endpoint: 'https://platform.example/feed', cursor: null } };

    await registerConfiguredSources(db.pool, first);
    await registerConfiguredSources(db.pool, first); // a restart
    expect(await sourceAudits('platform')).toEqual([{ actor: 'configuration', role: 'SERVICE', target_id: 'platform', details: created }]);

    // Pulled so far; then the setting names another platform: the source moves, and starts again from the beginning.
    await db.pool.query(`UPDATE settlement_sources SET cursor = 'page-7' WHERE name = 'platform'`);
    await registerConfiguredSources(db.pool, settings('https://elsewhere.example/feed'));
    await registerConfiguredSources(db.pool, settings('https://elsewhere.example/feed'));
    expect(await sourceAudits('platform')).toEqual([
      { actor: 'configuration', role: 'SERVICE', target_id: 'platform', details: created },
      {
        actor: 'configuration', role: 'SERVICE', target_id: 'platform',
        details: { before: { ...created.after, cursor: 'page-7' }, after: { ...platform, endpoint: 'https://elsewhere.example/feed', cursor: null } },
      },
    ]);
  });

  it('cannot be passed for by a token naming configuration as its subject', async () => {
    const cfg = parseConfig({ NODE_ENV: 'test' });
    const verifier = await createTokenVerifier(cfg);
    await expect(verifier.verify(await signDevelopmentToken(cfg, { sub: 'configuration', role: 'SERVICE' })))
      .rejects.toThrow('invalid token claim sub: the subject is one of the hub\'s own services, never a person');
  });
});
