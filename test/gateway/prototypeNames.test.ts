import { describe, expect, it } from 'vitest';
import { lazyTestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';

/**
 * Names of Object.prototype members ("constructor", "toString" ...) where the gateway looks a name
 * up in an object: answered like any other unknown name. Bugs the bad-input sweep (issue 8) found
 * and fixed; each comment says the exact input, what happened before the fix and what happens now.
 */

const gateway = lazyTestGateway({ RATE_LIMIT_POINTS: '0' });

describe('Object.prototype names', () => {
  // BUG 11. src/gateway/resolvers.ts fetchNode: `nodeFetchers[parsed.type]` finds Object.prototype
  // members. Input: node(id: "Y29uc3RydWN0b3I6MQ") (base64url of "constructor:1"; also "toString:1",
  // "hasOwnProperty:1", "valueOf:1", "isPrototypeOf:1"), by any role, MEMBER included. Before the fix:
  // INTERNAL_SERVER_ERROR (with "constructor" the fetcher is `Object`, which hands back the request
  // context itself as the row; Apollo then fails to resolve type "constructor"). Now: node = null
  // like any other unknown type (Object.hasOwn(nodeFetchers, type)).
  it('answers node(id:) null for Object.prototype type names', async () => {
    const { gw: g } = await gateway();
    for (const type of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__proto__']) {
      for (const auth of [{ role: 'ADMIN' }, { role: 'MEMBER', member: toGlobalId('Member', 1) }] as const) {
        const result = await g.query(auth, `query($id: ID!) { node(id: $id) { id } }`, { id: toGlobalId(type, 1) });
        expect(result.errors, `${type} as ${auth.role}`).toBeUndefined();
        expect(result.data.node).toBeNull();
      }
    }
  });

  // The same lookup in src/gateway/graphiql.ts: /graphiql/assets/constructor handed Object to sendFile (500).
  it('answers 404 for a GraphiQL asset named like an Object.prototype member', async () => {
    const { gw: g } = await gateway();
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      expect((await fetch(`${new URL(g.url).origin}/graphiql/assets/${name}`)).status, name).toBe(404);
    }
  });
});
