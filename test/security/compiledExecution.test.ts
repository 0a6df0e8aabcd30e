import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type GraphQLResult, type TestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { approvedClaims } from '../payouts/support.ts';

/**
 * Queries are compiled once per document (src/gateway/execution.ts) and the compiled function is
 * shared by every caller. Each attack runs one document text for several callers in turn, the most
 * privileged first (so its compiled function is the one reused), and holds every answer to what
 * graphql-js answers the same caller (a gateway with GRAPHQL_COMPILED_DOCUMENTS=0), besides what
 * the scope rules say it must be.
 */

let db: TestDatabase;
let compiled: TestGateway;
let interpreted: TestGateway;
let units: { code: string; memberId: number }[];

beforeAll(async () => {
  db = await freshDatabase();
  compiled = await startTestGateway(db, { RATE_LIMIT_POINTS: '0', RESPONSE_CACHE_MB: '0' });
  interpreted = await startTestGateway(db, { RATE_LIMIT_POINTS: '0', RESPONSE_CACHE_MB: '0', GRAPHQL_COMPILED_DOCUMENTS: '0' });
  const claims = await approvedClaims(db.pool, 3);
  const { rows } = await db.pool.query<{ code: string; memberId: number }>(
    `SELECT u.credit_code AS code, m.id AS "memberId" FROM members m JOIN units u ON u.id = m.unit_id WHERE m.id = ANY($1::bigint[]) ORDER BY m.id`,
    [claims.map((c) => c.memberId)],
  );
  units = rows;
});
afterAll(async () => {
  await compiled?.close();
  await interpreted?.close();
  await db?.drop();
});

type Caller = Parameters<TestGateway['query']>[0] & object;

/** The compiled gateway's answer, after checking graphql-js answers the same caller alike. */
async function answer(caller: Caller, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult> {
  const result = await compiled.query(caller, query, variables);
  expect(result, `${JSON.stringify(caller)} ${JSON.stringify(variables)}`).toEqual(await interpreted.query(caller, query, variables));
  return result;
}

const MEMBERS = `query($n: Int) { members(first: $n) { totalCount edges { node { id name idNumberMasked unit { creditCode } claims { edges { node { id totalFen } } } } } } }`;

describe('a compiled query shared by callers', () => {
  it('shows each caller its own scope: staff all units, a unit operator its unit, a member itself', async () => {
    const admin = await answer({ role: 'ADMIN' }, MEMBERS, { n: 50 });
    expect(admin.data.members.totalCount).toBe(3);
    for (const [i, unit] of units.entries()) {
      const operator = await answer({ role: 'UNIT_OPERATOR', unit: unit.code, sub: `operator-${i}` }, MEMBERS, { n: 50 });
      expect(operator.data.members.edges.map((e: { node: { unit: { creditCode: string } } }) => e.node.unit.creditCode)).toEqual([unit.code]);
      const member = await answer({ role: 'MEMBER', member: toGlobalId('Member', unit.memberId), sub: `member-${i}` }, MEMBERS, { n: 50 });
      expect(member.data.members.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([toGlobalId('Member', unit.memberId)]);
      expect(member.data.members.edges[0].node.claims.edges).toHaveLength(1);
    }
  });

  it('refuses a field to a role that may not read it, with the same FORBIDDEN errors, after a role that may', async () => {
    const query = `{ members(first: 10) { edges { node { id changes { totalCount } } } } }`;
    expect((await answer({ role: 'ADMIN' }, query)).errors).toBeUndefined();
    const reviewer = await answer({ role: 'REVIEWER' }, query);
    // Member.changes is non-null: the refusal empties the page, as graphql-js does.
    expect(reviewer.data).toBeNull();
    expect(reviewer.errors).toEqual([expect.objectContaining({ extensions: { code: 'FORBIDDEN' }, path: ['members', 'edges', 0, 'node', 'changes'] })]);
  });

  it('asks for a refused field only when variables include it: the same document, refused or not', async () => {
    const query = `query($withChanges: Boolean!) { members(first: 10) { edges { node { id changes @include(if: $withChanges) { totalCount } } } } }`;
    expect((await answer({ role: 'ADMIN' }, query, { withChanges: true })).errors).toBeUndefined();
    const without = await answer({ role: 'REVIEWER' }, query, { withChanges: false });
    expect(without.errors).toBeUndefined();
    expect(without.data.members.edges[0].node).not.toHaveProperty('changes');
    const withChanges = await answer({ role: 'REVIEWER' }, query, { withChanges: true });
    expect(withChanges.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('refuses variables as graphql-js does, after the document was compiled with good ones', async () => {
    expect((await answer({ role: 'ADMIN' }, MEMBERS, { n: null })).errors).toBeUndefined();
    for (const n of ['fifty', 1.5, '5', 101, 0]) {
      expect((await answer({ role: 'ADMIN' }, MEMBERS, { n })).errors?.[0]?.extensions?.code, String(n)).toBe('BAD_USER_INPUT');
    }
  });

  it('refuses a whole query to a role without it, after a role with it', async () => {
    const query = `{ payoutBatches(first: 5) { edges { node { id } } } }`;
    expect((await answer({ role: 'FINANCE' }, query)).errors).toBeUndefined();
    const refused = await answer({ role: 'UNIT_OPERATOR', unit: units[0]!.code }, query);
    expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });
});
