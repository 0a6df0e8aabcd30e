import { describe, expect, it } from 'vitest';
import { ensureUnit, lazyTestGateway } from '../support/gateway.ts';
import { hub } from '../support/hub.ts';
import { ROLES, type TokenClaims } from '../../src/gateway/auth.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';

/**
 * A token carrying another role's scope: each role's scope comes from one claim (scopeOf: a
 * UNIT_OPERATOR's from `unit`, a MEMBER's from `member`, staff's from `org`), yet an ADMIN token
 * with a member claim, a FINANCE or SERVICE token with a unit claim, or a MEMBER token with a unit
 * claim was accepted, and the principal carried both (`viewer { unit member }` answered them, and an
 * import by such an ADMIN took the token's unit as its default). Such a token is now refused, 401.
 */
const started = lazyTestGateway();

const VIEWER = '{ viewer { role unit { id } member { id } } }';
const CREDIT_CODE = withCreditCodeCheck('91350500MA0000925');
const MEMBER_ID = toGlobalId('Member', 1);

async function answer(token: string, url: string): Promise<{ status: number; body: { data?: unknown; errors?: { message: string; extensions: { code: string } }[] } }> {
  const response = await fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: VIEWER }),
  });
  return { status: response.status, body: await response.json() as never };
}

describe('a token naming another role\'s scope', () => {
  it('is refused UNAUTHENTICATED (401), naming the claim: a unit on any role but UNIT_OPERATOR, a member on any role but MEMBER', async () => {
    const { gw } = await started();
    await ensureUnit(gw, CREDIT_CODE);
    const incoherent: (Partial<TokenClaims> & Pick<TokenClaims, 'role'>)[] = [
      ...ROLES.filter((role) => role !== 'UNIT_OPERATOR').map((role) => ({ role, unit: CREDIT_CODE, ...(role === 'MEMBER' ? { member: MEMBER_ID } : {}) })),
      ...ROLES.filter((role) => role !== 'MEMBER').map((role) => ({ role, member: MEMBER_ID, ...(role === 'UNIT_OPERATOR' ? { unit: CREDIT_CODE } : {}) })),
    ];
    for (const claims of incoherent) {
      const { status, body } = await answer(await gw.token(claims), gw.url);
      const claim = claims.role === 'UNIT_OPERATOR' || (claims.role !== 'MEMBER' && claims.member) ? 'member' : 'unit';
      expect(status, JSON.stringify(claims)).toBe(401);
      expect(body.data ?? null).toBeNull();
      expect(body.errors?.[0], JSON.stringify(claims)).toMatchObject({
        message: `invalid token claim ${claim}: only ${claim === 'unit' ? 'UNIT_OPERATOR' : 'MEMBER'} tokens may name a ${claim}`,
        extensions: { code: 'UNAUTHENTICATED' },
      });
    }
  });

  it('still accepts each role with its own scope only', async () => {
    const { gw } = await started();
    const unitId = await ensureUnit(gw, CREDIT_CODE);
    const coherent = [
      { claims: { role: 'UNIT_OPERATOR', unit: CREDIT_CODE }, unit: { id: unitId }, member: null },
      { claims: { role: 'MEMBER', member: MEMBER_ID }, unit: null, member: null },
      { claims: { role: 'ADMIN' }, unit: null, member: null },
      { claims: { role: 'SERVICE' }, unit: null, member: null },
    ] as const;
    for (const { claims, unit, member } of coherent) {
      const { status, body } = await answer(await gw.token(claims), gw.url);
      expect(status, claims.role).toBe(200);
      expect(body.data, claims.role).toEqual({ viewer: { role: claims.role, unit, member } });
    }
  });

  it('is never minted by `hub token`: --unit goes with UNIT_OPERATOR only, --member with MEMBER only (exit 2, one line)', async () => {
    for (const [args, line] of [
      [['--role', 'FINANCE', '--unit', CREDIT_CODE], '--unit goes with UNIT_OPERATOR only'],
      [['--role', 'ADMIN', '--member', MEMBER_ID], '--member goes with MEMBER only'],
      [['--role', 'UNIT_OPERATOR', '--unit', CREDIT_CODE, '--member', MEMBER_ID], '--member goes with MEMBER only'],
    ] as const) {
      const run = await hub(['token', ...args]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.lines).toEqual([expect.stringContaining(line)]);
    }
    expect((await hub(['token', '--role', 'UNIT_OPERATOR', '--unit', CREDIT_CODE])).code).toBe(0);
  });
});
