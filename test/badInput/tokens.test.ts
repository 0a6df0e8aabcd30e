import { createHmac, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { exportJWK, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { ROLES } from '../../src/gateway/auth.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { fingerprints } from '../support/fingerprint.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';

/**
 * Issue 8, bearer tokens (src/gateway/auth.ts) through a running gateway configured with an issuer
 * and an audience: malformed JWTs, alg none, wrong signature, expired, wrong issuer or audience,
 * wrong role, a unit that is not registered, a member claim that is not a Member ID, huge tokens.
 * Each is answered HTTP 401 with `UNAUTHENTICATED` and a message saying what is wrong, never 500,
 * and no request with such a token changes anything.
 */

let db: TestDatabase;
let gw: TestGateway;
let secret: Uint8Array;
const ISSUER = 'https://idp.union.example';
const AUDIENCE = 'mutual-aid-hub';
const UNIT = withCreditCodeCheck('91350500MA0000001');
const TABLES = ['units', 'members', 'audit_log'] as const;
let before: Awaited<ReturnType<typeof fingerprints>>;

// A mutation: were a bad token let through, the table fingerprints would show it.
const CREATE_UNIT = `mutation { createUnit(input: { creditCode: "${withCreditCodeCheck('12350500MB0000009')}", name: "不该存在", planType: PUBLIC }) { unit { id } } }`;

async function send(authorization: string | undefined, query = CREATE_UNIT): Promise<{ status: number; code?: unknown; message?: string; body: string }> {
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: JSON.stringify({ query }),
  });
  const body = await response.text();
  let parsed: { errors?: { message: string; extensions?: { code?: unknown } }[] } = {};
  try {
    parsed = JSON.parse(body);
  } catch {
    // not JSON (e.g. 431 from the HTTP server)
  }
  return { status: response.status, code: parsed.errors?.[0]?.extensions?.code, message: parsed.errors?.[0]?.message, body };
}

/** Expects a 401 UNAUTHENTICATED whose message matches. */
async function expectRefused(authorization: string | undefined, message: RegExp | string) {
  const answer = await send(authorization);
  expect(answer.status, `${answer.body.slice(0, 200)} for ${String(authorization).slice(0, 80)}`).toBe(401);
  expect(answer.code).toBe('UNAUTHENTICATED');
  if (typeof message === 'string') expect(answer.message).toBe(message);
  else expect(answer.message).toMatch(message);
}

interface Claims { sub?: unknown; role?: unknown; unit?: unknown; member?: unknown; iss?: unknown; aud?: unknown; exp?: unknown; nbf?: unknown; [k: string]: unknown }
const now = () => Math.floor(Date.now() / 1000);
const good = (extra: Claims = {}): Claims => ({ sub: 'user-1', role: 'ADMIN', iss: ISSUER, aud: AUDIENCE, exp: now() + 300, ...extra });

/** An HS256 token over any header and payload, signed with the gateway's secret (what a leaked or confused signer could issue). */
function hs256(payload: unknown, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  const p = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)).toString('base64url');
  return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, RATE_LIMIT_POINTS: '0' });
  secret = new TextEncoder().encode(gw.config.JWT_SECRET);
  await db.pool.query(`INSERT INTO units (credit_code, name, plan_type) VALUES ($1, '晋江某纺织有限公司', 'PRIVATE')`, [UNIT]);
  // The token the tests corrupt is a good one: it works.
  const ok = await send(`Bearer ${hs256(good({ role: 'AUDITOR' }))}`, '{ units(first: 1) { totalCount } }');
  expect(ok.status).toBe(200);
  before = await fingerprints(db.pool, TABLES);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('no usable bearer token', () => {
  it('a missing or malformed Authorization header', async () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Token abc', `Bearer a b`, `Bearer ${hs256(good())} ${hs256(good())}`]) {
      await expectRefused(header, 'send a bearer token: Authorization: Bearer <token>');
    }
  });

  it('any string that is not a JWT', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 300 }).filter((s) => !/\s/.test(s)), async (token) => {
        await expectRefused(`Bearer ${token}`, /^invalid token: .+/);
      }),
      { numRuns: 60 },
    );
  });

  it('JWT-shaped strings: random segments, random JSON, random bytes', async () => {
    const segment = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/),
    );
    await fc.assert(
      fc.asyncProperty(segment, segment, segment, async (a, b, c) => {
        await expectRefused(`Bearer ${a}.${b}.${c}`, /^invalid token: .+/);
      }),
      { numRuns: 80 },
    );
  });
});

describe('tokens that are not ours or not valid any more', () => {
  it('alg none, another algorithm, another key, an embedded key', async () => {
    await expectRefused(`Bearer ${new UnsecuredJWT(good() as JWTPayload).encode()}`, 'invalid token: "alg" (Algorithm) Header Parameter value not allowed');
    await expectRefused(`Bearer ${hs256(good(), { alg: 'none' }).split('.').slice(0, 2).join('.')}.`, 'invalid token: "alg" (Algorithm) Header Parameter value not allowed');
    await expectRefused(`Bearer ${hs256(good(), { alg: 'HS512' })}`, 'invalid token: "alg" (Algorithm) Header Parameter value not allowed');
    const other = await new SignJWT(good() as JWTPayload).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('another-secret-that-is-long-enough-000000'));
    await expectRefused(`Bearer ${other}`, 'invalid token: signature verification failed');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs = await new SignJWT(good() as JWTPayload).setProtectedHeader({ alg: 'RS256', jwk: await exportJWK(publicKey) }).sign(privateKey);
    await expectRefused(`Bearer ${rs}`, 'invalid token: "alg" (Algorithm) Header Parameter value not allowed');
    await expectRefused(`Bearer ${hs256(good(), { alg: 'HS256', crit: ['exp'] })}`, /^invalid token: /);
  });

  it('any single-character change to a good token', async () => {
    const token = hs256(good());
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // Not the last character of a segment: its low bits can be padding, decoded to the same bytes.
    const positions = [...token].map((_, i) => i).filter((i) => token[i] !== '.' && token[i + 1] !== '.' && i !== token.length - 1);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...positions), fc.constantFrom(...alphabet), async (i, c) => {
        fc.pre(token[i] !== c);
        await expectRefused(`Bearer ${token.slice(0, i)}${c}${token.slice(i + 1)}`, /^invalid token: .+/);
      }),
      { numRuns: 60 },
    );
  });

  it('expired, not yet valid, or with a time claim that is not a number', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10 * 365 * 86400 }), async (ago) => {
        await expectRefused(`Bearer ${hs256(good({ exp: now() - ago - 60 }))}`, 'invalid token: "exp" claim timestamp check failed');
        await expectRefused(`Bearer ${hs256(good({ nbf: now() + ago + 60 }))}`, 'invalid token: "nbf" claim timestamp check failed');
      }),
      { numRuns: 20 },
    );
    for (const exp of ['never', null, true, [1], { at: 1 }, '9999999999']) {
      await expectRefused(`Bearer ${hs256(good({ exp }))}`, 'invalid token: "exp" claim must be a number');
    }
  });

  it('another issuer or audience', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.webUrl(), fc.string()).filter((s) => s !== ISSUER), fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 })).filter((a) => a !== AUDIENCE && !(Array.isArray(a) && a.includes(AUDIENCE))), async (iss, aud) => {
        await expectRefused(`Bearer ${hs256(good({ iss }))}`, /^invalid token: (unexpected "iss" claim value|"iss" claim .*)$/);
        await expectRefused(`Bearer ${hs256(good({ aud }))}`, /^invalid token: (unexpected "aud" claim value|"aud" claim .*)$/);
      }),
      { numRuns: 40 },
    );
    await expectRefused(`Bearer ${hs256({ ...good(), iss: undefined })}`, /^invalid token: missing required "iss" claim$/);
    await expectRefused(`Bearer ${hs256({ ...good(), aud: undefined })}`, /^invalid token: missing required "aud" claim$/);
  });
});

describe('signed tokens with wrong claims', () => {
  it('a role that is not one of ours', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.constantFrom('admin', 'Admin', 'ROOT', 'SUPERUSER', ' ADMIN', 'ADMIN '), fc.integer(), fc.constant(null), fc.constant(['ADMIN']), fc.constant({ role: 'ADMIN' }))
        .filter((r) => !(ROLES as readonly unknown[]).includes(r)), async (role) => {
        await expectRefused(`Bearer ${hs256(good({ role }))}`, /^invalid token claim role: .+/);
      }),
      { numRuns: 40 },
    );
    await expectRefused(`Bearer ${hs256({ ...good(), role: undefined })}`, /^invalid token claim role: .+/);
  });

  it('a missing or non-string subject', async () => {
    for (const sub of [undefined, '', 5, null, ['u'], { id: 'u' }]) {
      await expectRefused(`Bearer ${hs256({ ...good(), sub })}`, /^invalid token claim sub: .+/);
    }
  });

  it('a unit claim that is not an 18-character code, or names no registered unit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 40 }).filter((s) => s.length !== 18), fc.integer(), fc.constant(['x'])), async (unit) => {
        await expectRefused(`Bearer ${hs256(good({ role: 'UNIT_OPERATOR', unit }))}`, /^invalid token claim unit: .+/);
      }),
      { numRuns: 30 },
    );
    // Well-formed codes of units that are not registered; printable ASCII only (U+0000 is in test/gateway/tokenClaims.test.ts).
    const code = fc.oneof(fc.stringMatching(/^[0-9A-HJ-NPQRTUWXY]{17}$/).map(withCreditCodeCheck), fc.string({ minLength: 18, maxLength: 18 })).filter((c) => c !== UNIT);
    await fc.assert(
      fc.asyncProperty(code, async (unit) => {
        await expectRefused(`Bearer ${hs256(good({ role: 'UNIT_OPERATOR', unit }))}`, `the token's unit ${unit} is not registered`);
      }),
      { numRuns: 40 },
    );
    await expectRefused(`Bearer ${hs256(good({ role: 'UNIT_OPERATOR' }))}`, 'invalid token claim unit: a UNIT_OPERATOR token needs the unit claim');
  });

  it('a member claim that is not a Member ID', async () => {
    const notMember = fc.oneof(
      fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/^Member:\d{1,15}$/.test(Buffer.from(s, 'base64url').toString('utf8'))),
      fc.tuple(fc.constantFrom('Unit', 'Claim', 'member', 'Settlement'), fc.integer({ min: 1, max: 1e6 })).map(([t, n]) => toGlobalId(t, n)),
      fc.constantFrom('Member:1', toGlobalId('Member', '-1'), toGlobalId('Member', '1'.repeat(16)), toGlobalId('Member', '1.5')),
    );
    await fc.assert(
      fc.asyncProperty(notMember, async (member) => {
        await expectRefused(`Bearer ${hs256(good({ role: 'MEMBER', member }))}`, "the token's member claim is not a Member ID");
      }),
      { numRuns: 40 },
    );
    for (const member of [5, null, '', ['x']]) {
      await expectRefused(`Bearer ${hs256(good({ role: 'MEMBER', member }))}`, /^invalid token claim member: .+/);
    }
  });

  it('a claims set that is not a JSON object', async () => {
    for (const payload of ['[1,2]', '"ADMIN"', '42', 'null', 'not json', '']) {
      await expectRefused(`Bearer ${hs256(payload)}`, /^invalid token: .+/);
    }
  });
});

describe('huge tokens', () => {
  it('are refused as tokens while they fit the HTTP header limit, and by the HTTP server beyond it; never 5xx', async () => {
    await expectRefused(`Bearer ${'a'.repeat(15_000)}`, /^invalid token: .+/);
    await expectRefused(`Bearer ${hs256(good({ role: 'ROOT', pad: 'x'.repeat(10_000) }))}`, /^invalid token claim role: .+/);
    for (const size of [20_000, 1_000_000]) {
      const answer = await send(`Bearer ${'a'.repeat(size)}`);
      // Node's HTTP server refuses headers over 16 KB before the gateway sees them.
      expect(answer.status).toBe(431);
    }
  });
});

describe('after all of the above', () => {
  it('nothing stored changed', async () => {
    expect(await fingerprints(db.pool, TABLES)).toEqual(before);
  });
});
