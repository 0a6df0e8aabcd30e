import { describe, expect, it } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import { fujianTree } from '../organisations/support.ts';
import type { TokenClaims } from '../../src/gateway/auth.ts';

/**
 * The large body limit given to a caller the upload would refuse: an organisation's FINANCE may
 * call no upload (uploadBankStatement is the hub's own work, attack 111), yet its role was on the
 * list of roles that may, so its bodies were read up to GRAPHQL_MAX_UPLOAD_BYTES, parsed, and only
 * then refused; an organisation's ADMIN (who may import a roster) had an uploadSettlements or
 * uploadBankStatement body of that size read and parsed too. The limit now follows each upload's
 * own rule: such a body is 413 (GRAPHQL_MAX_BODY_BYTES) before the mutation runs.
 */
const BODY_BYTES = 4096;
const UPLOAD_BYTES = 65_536;
const started = lazyTestGateway({ GRAPHQL_MAX_BODY_BYTES: String(BODY_BYTES), GRAPHQL_MAX_UPLOAD_BYTES: String(UPLOAD_BYTES) });

type Caller = Partial<TokenClaims> & Pick<TokenClaims, 'role'>;

const STATEMENT = 'mutation($c: String!) { uploadBankStatement(input: { fileName: "s.xml", content: $c }) { userErrors { message } } }';
const SETTLEMENTS = 'mutation($c: String!) { uploadSettlements(input: { fileName: "s.csv", content: $c }) { userErrors { message } } }';
const ROSTER = 'mutation($c: String!) { importRoster(input: { fileName: "r.csv", csv: $c }) { rosterImport { id } userErrors { message } } }';
// Between the two limits: only an upload the caller may call is read.
const content = 'x'.repeat(BODY_BYTES * 4);

let tree: Promise<unknown> | undefined;
/** The gateway, with the organisations the callers' tokens name (made once). */
async function gateway() {
  const { gw } = await started();
  await (tree ??= fujianTree(gw));
  return gw;
}

async function post(caller: Caller, query: string): Promise<{ status: number; errors?: { message: string; extensions: { code: string; limit?: string } }[] }> {
  const gw = await gateway();
  const response = await fetch(gw.url, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await gw.token(caller)}` },
    body: JSON.stringify({ query, variables: { c: content } }),
  });
  return { status: response.status, ...(await response.json() as object) };
}

describe('an upload body larger than GRAPHQL_MAX_BODY_BYTES', () => {
  it('is refused 413 before any mutation runs when the caller\'s upload would be refused: an organisation\'s FINANCE, or ADMIN for the hub\'s uploads', async () => {
    const refused: [Caller, string][] = [
      [{ role: 'FINANCE', org: 'JJ' }, STATEMENT],
      [{ role: 'ADMIN', org: 'QZ' }, STATEMENT],
      [{ role: 'ADMIN', org: 'QZ' }, SETTLEMENTS],
    ];
    for (const [caller, query] of refused) {
      const answer = await post(caller, query);
      expect(answer.status, `${caller.role}@${caller.org} ${query.match(/{ (\w+)\(/)?.[1]}`).toBe(413);
      expect(answer.errors?.[0]?.extensions).toEqual({ code: 'PAYLOAD_TOO_LARGE', limit: 'GRAPHQL_MAX_BODY_BYTES' });
    }
  });

  it('is still read for a caller the upload accepts: the hub\'s FINANCE and ADMIN, an organisation\'s ADMIN importing a roster', async () => {
    const accepted: [Caller, string][] = [
      [{ role: 'FINANCE' }, STATEMENT],
      [{ role: 'ADMIN' }, SETTLEMENTS],
      [{ role: 'ADMIN', org: 'QZ' }, ROSTER],
    ];
    for (const [caller, query] of accepted) {
      const answer = await post(caller, query);
      // The mutation ran: it judges the content (not a statement, not settlements), never the body's size.
      expect(answer.errors?.map((e) => e.extensions.code) ?? [], `${caller.role} ${query.match(/{ (\w+)\(/)?.[1]}`).not.toContain('PAYLOAD_TOO_LARGE');
      expect(answer.errors?.map((e) => e.extensions.code) ?? []).not.toContain('FORBIDDEN');
      expect(answer.status).not.toBe(413);
    }
  });
});
