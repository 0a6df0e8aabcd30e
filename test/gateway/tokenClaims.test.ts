import { describe, expect, it } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import { signDevelopmentToken } from '../../src/gateway/auth.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';

/**
 * Correctly signed bearer tokens whose claims the gateway must still refuse (401, never 500): bugs
 * the bad-input sweep (issue 8) found and fixed; each comment says the exact input, what happened
 * before the fix and what happens now.
 */

const gateway = lazyTestGateway({ RATE_LIMIT_POINTS: '0' });

describe('bearer tokens', () => {
  // BUG 12. src/gateway/auth.ts createAuthenticator: the unit claim goes to SQL unchecked. Input: a
  // correctly signed token {"sub":"x","role":"UNIT_OPERATOR","unit":"91350500MA000000\u0000C"} (18
  // characters). Before the fix: HTTP 500 INTERNAL_SERVER_ERROR (PostgreSQL refuses U+0000). Now: HTTP 401
  // UNAUTHENTICATED ("the token's unit ... is not registered" or "invalid token claim unit").
  // Likewise a "sub" with U+0000 is accepted and every audited mutation then fails with
  // INTERNAL_SERVER_ERROR (the audit insert refuses it): expected 401 "invalid token claim sub".
  it('answers 401, not 500, to a unit or sub claim with U+0000', async () => {
    const { gw: g } = await gateway();
    for (const claims of [{ sub: 'x', role: 'UNIT_OPERATOR', unit: '91350500MA000000\u0000C' }, { sub: 'a\u0000b', role: 'ADMIN' }] as const) {
      const token = await signDevelopmentToken(g.config, claims);
      const response = await fetch(g.url, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: `mutation { createUnit(input: { creditCode: "${withCreditCodeCheck('91350500MA0000009')}", name: "x", planType: PUBLIC }) { unit { id } } }` }),
      });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  // BUG 13 (policy). jwtVerify is not asked to require "exp": a correctly
  // signed token without an exp claim never expires. Input: HS256 {"sub":"x","role":"ADMIN"} with no
  // exp. Before the fix: accepted forever (HTTP 200). Now: HTTP 401 'invalid token: missing required "exp"
  // claim' (jose `requiredClaims: ['exp']`); `hub token` and identity providers always set exp.
  it('refuses a token without exp', async () => {
    const { gw: g } = await gateway();
    const { SignJWT } = await import('jose');
    const token = await new SignJWT({ role: 'ADMIN' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').sign(new TextEncoder().encode(g.config.JWT_SECRET));
    const response = await fetch(g.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ units(first: 1) { totalCount } }' }) });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { errors: { message: string }[] }).errors[0]!.message).toBe('invalid token: missing required "exp" claim');
  });
});
