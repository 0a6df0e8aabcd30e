import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { SignJWT } from 'jose';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';
import { productionEnv } from '../support/config.ts';

/**
 * Issue 13, attacks 4, 5 and 7 against a running gateway: tokens that live for years, WebSockets
 * that outlive their tokens or answer what HTTP refuses, `nodes(ids:)` without bounds, bodies read
 * (and parsed) before the token is checked or larger than the operation needs.
 */

let db: TestDatabase;
let gw: TestGateway;
let unitId: string;
const now = () => Math.floor(Date.now() / 1000);

/** An HS256 token with the gateway's secret and the given times (what a careless issuer could sign). */
const signed = (g: TestGateway, role: string, times: { exp: number; iat?: number }) => {
  const jwt = new SignJWT({ role }).setProtectedHeader({ alg: 'HS256' }).setSubject(`sec-${role.toLowerCase()}`).setExpirationTime(times.exp);
  if (times.iat !== undefined) jwt.setIssuedAt(times.iat);
  return jwt.sign(new TextEncoder().encode(g.config.JWT_SECRET));
};

const SUBSCRIPTION = 'subscription($unitId: ID) { claimStatusChanged(unitId: $unitId) { status } }';

interface Socket {
  client: Client;
  /** Results and errors of one operation, and how it ended (the close code when the socket closed). */
  run(query: string, variables?: Record<string, unknown>): { results: unknown[]; ended: Promise<number | null> };
  /** Resolves with the close code once the server closes the socket. */
  closed: Promise<number>;
}

function connect(g: TestGateway, token: string): Socket {
  let closedWith: (code: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => { closedWith = resolve; });
  const client = createClient({
    url: g.url.replace('http:', 'ws:'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true,
    connectionParams: { authorization: `Bearer ${token}` },
    on: { closed: (event) => closedWith((event as { code: number }).code) },
  });
  return {
    client,
    closed,
    run(query, variables = {}) {
      const results: unknown[] = [];
      const ended = new Promise<number | null>((resolve) => {
        client.subscribe({ query, variables }, {
          next: (result) => results.push(result),
          error: (error) => resolve(Array.isArray(error) ? 0 : (error as { code?: number }).code ?? -1),
          complete: () => resolve(null),
        });
      });
      return { results, ended };
    },
  };
}

const PRODUCTION = productionEnv();

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  const { rows: [unit] } = await db.pool.query(
    `INSERT INTO units (credit_code, name, plan_type) VALUES ($1, '晋江某纺织有限公司', 'PRIVATE') RETURNING id`, [withCreditCodeCheck('91350500MA0000002')],
  );
  unitId = toGlobalId('Unit', unit.id);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('attack 4: token lifetime', () => {
  const ask = async (token: string) => {
    const response = await fetch(gw.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    return { status: response.status, body: await response.json() as { errors?: { message: string; extensions: { code: string } }[] } };
  };

  it('refuses a token that lives 100 years (exp − iat, or exp − now without iat) with 401; TOKEN_MAX_LIFETIME_HOURS is the bound', async () => {
    const century = now() + 100 * 365 * 24 * 3600;
    for (const times of [{ exp: century, iat: now() }, { exp: century }, { exp: now() + 3600, iat: now() - 25 * 3600 }, { exp: century, iat: century - 3600 }]) {
      const refused = await ask(await signed(gw, 'FINANCE', times));
      expect(refused.status, JSON.stringify(times)).toBe(401);
      expect(refused.body.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/^invalid token: the token lives \d+ h; at most 24 h are accepted \(TOKEN_MAX_LIFETIME_HOURS\)$/), extensions: { code: 'UNAUTHENTICATED' },
      });
    }
    expect((await ask(await signed(gw, 'FINANCE', { exp: now() + 23 * 3600, iat: now() }))).status).toBe(200);
    expect((await ask(await signed(gw, 'FINANCE', { exp: now() + 3600 }))).status).toBe(200);
  });
});

describe('attack 5: WebSockets', () => {
  it('closes a socket when its token expires (4401), and an operation after expiry is refused', async () => {
    const token = await signed(gw, 'FINANCE', { exp: now() + 3, iat: now() });
    const socket = connect(gw, token);
    const follow = socket.run(SUBSCRIPTION, { unitId });
    // While the token is valid the socket works: a second operation is answered (refused as a mutation, see below).
    expect(await socket.run('mutation { planPayouts { __typename } }').ended).toBe(0);
    expect(await socket.closed).toBe(4401);
    expect(await follow.ended).toBe(4401);
    // The same token again (graphql-ws connects anew): refused at connection (4403), nothing runs.
    const again = connect(gw, token);
    const late = again.run(SUBSCRIPTION, { unitId });
    expect(await late.ended).toBe(4403);
    expect(late.results).toEqual([]);
    await again.client.dispose();
    await socket.client.dispose();
  });

  it('serves subscriptions only: a mutation or query over the socket is refused, whatever the role', async () => {
    const socket = connect(gw, await gw.token({ role: 'FINANCE' }));
    const planned = socket.run('mutation { planPayouts { __typename } }');
    expect(await planned.ended).toBe(0);
    const queried = socket.run('{ viewer { role } }');
    expect(await queried.ended).toBe(0);
    await socket.client.dispose();
  });

  it('refuses introspection over the socket under the production configuration, as HTTP does', async () => {
    const production = await startTestGateway(db, PRODUCTION);
    try {
      const socket = connect(production, await production.token({ role: 'ADMIN' }));
      const results: { errors?: { message: string }[] }[] = [];
      const ended = new Promise<unknown>((resolve) => {
        socket.client.subscribe({ query: '{ __schema { types { name } } }' }, { next: (r) => results.push(r as never), error: resolve, complete: () => resolve(null) });
      });
      const error = await ended;
      expect(Array.isArray(error), JSON.stringify(results)).toBe(true);
      expect(JSON.stringify(error)).toMatch(/introspection|subscriptions only/i);
      expect(results).toEqual([]);
      await socket.client.dispose();
      const http = await production.query({ role: 'ADMIN' }, '{ __schema { types { name } } }');
      expect(http.errors?.[0]?.message).toMatch(/introspection is not allowed/i);
    } finally {
      await production.close();
    }
  });
});

describe('attack 7: unbounded work', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => toGlobalId('Member', i + 1));
  const NODES = 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }';

  it('refuses nodes(ids:) with more than 100 IDs, inline or in variables', async () => {
    const refused = await gw.query({ role: 'ADMIN' }, NODES, { ids: ids(101) });
    expect(refused.data).toBeUndefined();
    expect(refused.errors?.[0]).toMatchObject({ message: 'nodes(ids:) lists 101 IDs; at most 100 per request field', extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_NODES' } });
    const inline = await gw.query({ role: 'ADMIN' }, `{ nodes(ids: ${JSON.stringify(ids(120))}) { id } }`);
    expect(inline.errors?.[0]?.message).toBe('nodes(ids:) lists 120 IDs; at most 100 per request field');
    const allowed = await gw.query({ role: 'ADMIN' }, NODES, { ids: ids(100) });
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data.nodes).toHaveLength(100);
  });

  it('counts the IDs of nodes(ids:) against GRAPHQL_MAX_NODES, with what they select', async () => {
    const limited = await startTestGateway(db, { GRAPHQL_MAX_NODES: '60' });
    try {
      const over = await limited.query({ role: 'ADMIN' }, NODES, { ids: ids(61) });
      expect(over.errors?.[0]).toMatchObject({ message: expect.stringMatching(/asks for up to 61 objects.*the limit is 60 \(GRAPHQL_MAX_NODES\)/), extensions: { limit: 'GRAPHQL_MAX_NODES' } });
      const nested = await limited.query({ role: 'ADMIN' }, 'query($ids: [ID!]!) { nodes(ids: $ids) { ... on Member { enrolments(first: 5) { edges { cursor } } } } }', { ids: ids(10) });
      expect(nested.errors).toBeUndefined();
      const nestedOver = await limited.query({ role: 'ADMIN' }, 'query($ids: [ID!]!) { nodes(ids: $ids) { ... on Member { enrolments(first: 6) { edges { cursor } } } } }', { ids: ids(10) });
      expect(nestedOver.errors?.[0]?.message).toMatch(/asks for up to 70 objects/);
      expect((await limited.query({ role: 'ADMIN' }, NODES, { ids: ids(60) })).errors).toBeUndefined();
    } finally {
      await limited.close();
    }
  });

  it('answers an unauthenticated 5 MB body with 401 before the body has been sent, without parsing it', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(gw.url).port), '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk.toString();
        // Only the first 64 KiB of 5 MB were sent: the answer came without the rest.
        if (received.includes('\r\n\r\n')) {
          resolve(received);
          socket.destroy();
        }
      });
      socket.on('error', reject);
      socket.write(`POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${5 * 1024 * 1024}\r\n\r\n`);
      socket.write('this is not JSON '.repeat(4096));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toMatch(/^connection: close\r$/im);
    // A token that is not valid: the same, before any byte of the body.
    const forged = await fetch(gw.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer not.a.token' }, body: '{ not JSON at all',
    });
    expect(forged.status).toBe(401);
    expect((await forged.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('refuses an authenticated request over GRAPHQL_MAX_BODY_BYTES (1 MiB) with 413 unless it is an upload within GRAPHQL_MAX_UPLOAD_BYTES', async () => {
    expect(gw.config.GRAPHQL_MAX_BODY_BYTES).toBe(1024 * 1024);
    const post = async (role: 'ADMIN' | 'REVIEWER' | 'MEMBER', body: unknown) => {
      const token = role === 'MEMBER' ? await gw.token({ role, member: toGlobalId('Member', 1) }) : await gw.token({ role });
      const response = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
      return { status: response.status, body: await response.json() as { data?: unknown; errors?: { message: string; extensions: { code: string; limit?: string } }[] } };
    };
    const pad = 'x'.repeat(2 * 1024 * 1024);
    for (const role of ['ADMIN', 'REVIEWER', 'MEMBER'] as const) {
      const big = await post(role, { query: '{ viewer { role } }', variables: { pad } });
      expect(big.status, role).toBe(413);
      expect(big.body.errors?.[0]).toMatchObject({ message: expect.stringMatching(/larger than 1048576 bytes \(GRAPHQL_MAX_BODY_BYTES\)/), extensions: { code: 'PAYLOAD_TOO_LARGE', limit: 'GRAPHQL_MAX_BODY_BYTES' } });
    }
    const csv = `name,id_number,phone,bank_card,bank_code,unit_credit_code,plan_year,plan,special_disease,enrolled_on\n${'# padding\n'.repeat(200_000)}`;
    const IMPORT = 'mutation($csv: String!) { importRoster(input: { fileName: "big.csv", csv: $csv }) { rosterImport { id status } userErrors { message } } }';
    const upload = await post('ADMIN', { query: IMPORT, variables: { csv } });
    expect(upload.status, JSON.stringify(upload.body).slice(0, 300)).toBe(200);
    expect(upload.body.errors).toBeUndefined();
    expect(upload.body.data).toEqual({ importRoster: { rosterImport: expect.anything(), userErrors: [] } });
    // An upload beside another field is not an upload: 413.
    const smuggled = await post('ADMIN', { query: 'mutation($csv: String!) { importRoster(input: { fileName: "big.csv", csv: $csv }) { rosterImport { id } } requestReconciliation(input: { account: "1" }) { queued } }', variables: { csv } });
    expect(smuggled.status).toBe(413);
    // A role that cannot upload gets no large body at all.
    expect((await post('REVIEWER', { query: IMPORT, variables: { csv } })).status).toBe(413);
  });
});
