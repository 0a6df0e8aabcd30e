import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { productionEnv } from '../support/config.ts';

/**
 * Every abuse limit: an operation just over it is refused with an error naming the limit, one just
 * under it runs. Each test runs a gateway where only its limit is tight (`gw` has the defaults).
 */
let db: TestDatabase;
let gw: TestGateway;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
});
afterAll(async () => {
  await gw.close();
  await db.drop();
});

async function withGateway(env: Record<string, string>, work: (g: TestGateway) => Promise<void>): Promise<void> {
  const g = await startTestGateway(db, env);
  try {
    await work(g);
  } finally {
    await g.close();
  }
}

const admin = { role: 'ADMIN' } as const;
const codeOf = (r: { errors?: { extensions?: Record<string, unknown> }[] }) => r.errors?.[0]?.extensions?.code;

describe('document limits (HTTP 400, before anything runs)', () => {
  it('depth', async () => {
    await withGateway({ GRAPHQL_MAX_DEPTH: '7' }, async (gw) => {
      const deep = await gw.query(admin, '{ units { edges { node { members { edges { node { unit { name } } } } } } } }');
      expect(deep.errors?.[0]?.message).toBe('Query depth limit of 7 exceeded, found 8. (GRAPHQL_MAX_DEPTH)');
      expect(codeOf(deep)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect((await gw.query(admin, '{ units { edges { node { members { edges { node { name } } } } } } }')).errors).toBeUndefined();
    });
  });

  it('cost', async () => {
    await withGateway({ GRAPHQL_MAX_COST: '100' }, async (gw) => {
      const costly = await gw.query(admin, '{ units { edges { node { id name creditCode planType members { totalCount edges { node { id name gender idNumberMasked } } } } } } }');
      expect(costly.errors?.[0]?.message).toBe('Query Cost limit of 100 exceeded, found 105.6875. (GRAPHQL_MAX_COST)');
      expect((await gw.query(admin, '{ units { edges { node { id name creditCode planType } } } }')).errors).toBeUndefined();
    });
  });

  it('aliases', async () => {
    await withGateway({ GRAPHQL_MAX_ALIASES: '3' }, async (gw) => {
      const aliased = await gw.query(admin, '{ a: viewer { role } b: viewer { role } c: viewer { role } d: viewer { role } }');
      expect(aliased.errors?.[0]?.message).toMatch(/Aliases limit of 3 exceeded, found 4.*GRAPHQL_MAX_ALIASES/);
      expect((await gw.query(admin, '{ a: viewer { role } b: viewer { role } c: viewer { role } }')).data).toMatchObject({ a: { role: 'ADMIN' } });
    });
  });

  it('directives', async () => {
    await withGateway({ GRAPHQL_MAX_DIRECTIVES: '3' }, async (gw) => {
      const d = (n: number) => `{ viewer { ${Array.from({ length: n }, (_, i) => `r${i}: role @include(if: true)`).join(' ')} } }`;
      const over = await gw.query(admin, d(4));
      expect(over.errors?.[0]?.message).toMatch(/Directives limit of 3 exceeded, found 4.*GRAPHQL_MAX_DIRECTIVES/);
      expect((await gw.query(admin, d(3))).errors).toBeUndefined();
    });
  });

  it('tokens (the parser stops counting at the limit)', async () => {
    await withGateway({ GRAPHQL_MAX_TOKENS: '300' }, async (gw) => {
      const fields = (n: number) => `{ viewer { ${'role '.repeat(n)}} }`;
      const over = await gw.query(admin, fields(300));
      expect(over.errors?.[0]?.message).toMatch(/Document contains more th.. 300 tokens/);
      expect(codeOf(over)).toBe('GRAPHQL_PARSE_FAILED');
      expect((await gw.query(admin, fields(200))).errors).toBeUndefined();
    });
  });
});

describe('page sizes', () => {
  const nested = 'query($units: Int, $members: Int) { units(first: $units) { edges { node { members(first: $members) { edges { node { id } } } } } } }';

  it('caps the objects one request may ask for across nested connections (GRAPHQL_MAX_NODES)', async () => {
    await withGateway({ GRAPHQL_MAX_NODES: '1000' }, async (gw) => {
      const over = await gw.query(admin, nested, { units: 50, members: 20 });
      expect(over.errors?.[0]?.message).toMatch(/asks for up to 1050 objects .* the limit is 1000 \(GRAPHQL_MAX_NODES\)/);
      expect(codeOf(over)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect((await gw.query(admin, nested, { units: 40, members: 20 })).errors).toBeUndefined();
      // Defaults count as the connection code applies them: 20 × 20 + 20.
      expect((await gw.query(admin, nested)).errors).toBeUndefined();
    });
  });

  it('keeps the per-connection bound of 1 to 100 from the connection code', async () => {
    const over = await gw.query(admin, '{ members(first: 101) { edges { node { id } } } }');
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first', reason: 'must be between 1 and 100' });
    expect((await gw.query(admin, '{ members(first: 100) { edges { node { id } } } }')).errors).toBeUndefined();
  });
});

describe('request limits', () => {
  const post = async (gw: TestGateway, body: string) => fetch(gw.url, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await gw.token(admin)}` }, body,
  });

  it('refuses a body over GRAPHQL_MAX_BODY_BYTES with 413', async () => {
    await withGateway({ GRAPHQL_MAX_BODY_BYTES: '4096' }, async (gw) => {
      const padded = (n: number) => JSON.stringify({ query: '{ viewer { role } }', variables: { pad: 'x'.repeat(n) } });
      const over = await post(gw, padded(5000));
      expect(over.status).toBe(413);
      expect((await over.json()).errors[0]).toMatchObject({ message: expect.stringMatching(/larger than 4096 bytes \(GRAPHQL_MAX_BODY_BYTES\)/), extensions: { code: 'PAYLOAD_TOO_LARGE' } });
      const under = await post(gw, padded(3000));
      expect(under.status).toBe(200);
    });
  });

  it('answers OPERATION_TIMEOUT when an operation runs past GRAPHQL_TIMEOUT_MS, and keeps serving', async () => {
    await withGateway({ GRAPHQL_TIMEOUT_MS: '1000' }, async (gw) => {
      // Another session holds the members table: the query waits on its lock past the timeout.
      const blocker = new pg.Client({ connectionString: db.url });
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE members IN ACCESS EXCLUSIVE MODE');
      try {
        const response = await post(gw, JSON.stringify({ query: '{ members { edges { node { id } } } }' }));
        expect(response.status).toBe(503);
        expect((await response.json()).errors[0]).toMatchObject({
          message: 'the operation did not finish within 1000 ms (GRAPHQL_TIMEOUT_MS)', extensions: { code: 'OPERATION_TIMEOUT' },
        });
        // Answered while the lock still held: the query itself could not have finished.
        expect((await blocker.query(`SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'members'::regclass AND mode = 'AccessExclusiveLock' AND granted AND pid = pg_backend_pid()`)).rows[0].n).toBe(1);
      } finally {
        await blocker.query('ROLLBACK');
        await blocker.end();
      }
      expect((await gw.query(admin, '{ members { edges { node { id } } } }')).errors).toBeUndefined();
    });
  });

  it('turns CSRF prevention on: a GET without a preflight header is refused, with one it runs', async () => {
    const get = async (headers: Record<string, string>) =>
      fetch(`${gw.url}?query=${encodeURIComponent('{ viewer { role } }')}`, { headers: { authorization: `Bearer ${await gw.token(admin)}`, ...headers } });
    const refused = await get({});
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/CSRF/);
    const ok = await get({ 'apollo-require-preflight': 'true' });
    expect(ok.status).toBe(200);
    // A simple cross-site form POST (text/plain) is refused as well.
    const form = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${await gw.token(admin)}` }, body: '{}' });
    expect(form.status).toBe(400);
  });
});

describe('rate limit per client, held in Redis across gateway instances', () => {
  it('counts one client\'s requests on two gateways together and refuses the one over RATE_LIMIT_POINTS with 429', async () => {
    const shared = { RATE_LIMIT_POINTS: '5', RATE_LIMIT_WINDOW_SECONDS: '60', QUEUE_PREFIX: `${gw.prefix}-rl` };
    const one = await startTestGateway(db, shared);
    const two = await startTestGateway(db, shared);
    try {
      // Until its Redis connection is ready a gateway counts in memory (the limiter's fallback): wait for both.
      await Promise.all([one.redis.ping(), two.redis.ping()]);
      const client = await one.token({ role: 'SERVICE', sub: 'crm' });
      const ask = (g: TestGateway) => fetch(g.url, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${client}` }, body: JSON.stringify({ query: '{ viewer { role } }' }),
      });
      for (const g of [one, two, one, two, one]) expect((await ask(g)).status).toBe(200);
      const refused = await ask(two);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await refused.json()).errors[0]).toMatchObject({
        message: expect.stringMatching(/^rate limit: at most 5 requests per 60 s for this client \(RATE_LIMIT_POINTS\); retry in \d+ s$/),
        extensions: { code: 'RATE_LIMITED' },
      });
      // Another client has its own budget.
      expect((await one.query({ role: 'SERVICE', sub: 'erp' }, '{ viewer { role } }')).errors).toBeUndefined();
    } finally {
      await one.close();
      await two.close();
    }
  });
});

describe('production', () => {
  it('turns introspection and field suggestions off (they stay on in development)', async () => {
    const production = await startTestGateway(db, productionEnv());
    try {
      const introspection = await production.query(admin, '{ __schema { types { name } } }');
      expect(introspection.errors?.[0]?.message).toMatch(/introspection is not allowed/i);
      const typo = await production.query(admin, '{ viewer { rol } }');
      expect(typo.errors?.[0]?.message).toMatch(/Cannot query field "rol"/);
      expect(typo.errors?.[0]?.message).not.toMatch(/Did you mean/);
    } finally {
      await production.close();
    }
    expect((await gw.query(admin, '{ __schema { queryType { name } } }')).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect((await gw.query(admin, '{ viewer { rol } }')).errors?.[0]?.message).toMatch(/Did you mean "role"/);
  });
});
