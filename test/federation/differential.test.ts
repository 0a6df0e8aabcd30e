import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import type { GraphQLResult } from '../support/gateway.ts';
import { seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { approvedClaims, keys, type ApprovedClaim } from '../payouts/support.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { startFederation, startServer, type Caller, type Federation, type Server } from './support.ts';

/**
 * The same operations, answered by the in-process gateway (the composed API schema executed with
 * every resolver) and by gateway mode (@apollo/gateway planning over the hub's subgraphs, each
 * served alone, and an external member-portal subgraph): the answers must be the same.
 */
const ENV = { PII_KEY: keys.encryptionKey.toString('base64'), RATE_LIMIT_POINTS: '0' };

let db: TestDatabase;
let inProcess: Server;
let federation: Federation;
let claims: ApprovedClaim[];
let units: { id: string; creditCode: string }[];
let settlementId: number;

beforeAll(async () => {
  db = await freshDatabase();
  claims = await approvedClaims(db.pool, 2);
  await planPayouts(db.pool, { coolingOffDays: 0 });
  const { rows } = await db.pool.query<{ id: number; unit_id: number; credit_code: string; enrolment_id: number }>(
    `SELECT m.id, m.unit_id, u.credit_code, e.id AS enrolment_id FROM members m JOIN units u ON u.id = m.unit_id JOIN enrolments e ON e.member_id = m.id
      WHERE m.id = ANY($1::bigint[]) ORDER BY m.id`,
    [claims.map((c) => c.memberId)],
  );
  units = rows.map((r) => ({ id: toGlobalId('Unit', r.unit_id), creditCode: r.credit_code }));
  const first: MemberSetup = { memberId: rows[0]!.id, unitId: rows[0]!.unit_id, creditCode: rows[0]!.credit_code, enrolmentId: rows[0]!.enrolment_id };
  settlementId = await seedSettlement(db.pool, first, { psn: '2,000.00', setlTime: '2025-07-01 09:00:00' });
  inProcess = await startServer(db, ENV);
  federation = await startFederation(db, ENV);
}, 60_000);
afterAll(async () => {
  await federation?.close();
  await inProcess?.close();
  await db?.drop();
});

/** A subgraph's error has no `locations` in gateway mode: they would point into the gateway's query to the subgraph, not the client's. */
function withoutLocations(result: GraphQLResult): GraphQLResult {
  if (!result.errors) return result;
  return { ...result, errors: result.errors.map((error) => { const { locations: _, ...rest } = error as typeof error & { locations?: unknown }; return rest; }) };
}

const ADMIN: Caller = { role: 'ADMIN', sub: 'admin-chen' };
const operatorOf = (unit: number): Caller => ({ role: 'UNIT_OPERATOR', unit: units[unit]!.creditCode, sub: `operator-${unit}` });

const MEMBER = `
  query Member($id: ID!) {
    member(id: $id) {
      id name idNumberMasked viewerCanEdit
      unit { id name creditCode }
      claims(first: 5) { totalCount edges { node { id status totalFen viewerCanApprove settlement { id setlId member { id name } } lines { id } } } }
      payouts(first: 5) { totalCount edges { node { id status amountFen claim { id totalFen } member { id } } } }
    }
  }`;

const operations: { name: string; caller: () => Caller; query: string; variables?: () => Record<string, unknown> }[] = [
  { name: 'viewer of an operator', caller: () => operatorOf(0), query: `{ viewer { subject role unit { id name members(first: 5) { totalCount edges { node { id name } } } } member { id } } }` },
  { name: 'a member with claims and payouts', caller: () => ADMIN, query: MEMBER, variables: () => ({ id: toGlobalId('Member', claims[0]!.memberId) }) },
  {
    name: 'node and nodes of several domains',
    caller: () => ADMIN,
    query: `query($id: ID!, $ids: [ID!]!) {
      node(id: $id) { id ... on Member { name unit { name } } }
      nodes(ids: $ids) { __typename id ... on Claim { status totalFen member { name } } ... on Payout { amountFen status } ... on Unit { name } ... on Settlement { setlId } }
    }`,
    variables: () => ({
      id: toGlobalId('Member', claims[1]!.memberId),
      ids: [toGlobalId('Claim', claims[0]!.claimId), units[1]!.id, toGlobalId('Settlement', settlementId), toGlobalId('Payout', 1), toGlobalId('Claim', 999_999), 'bm90LWFuLWlk'],
    }),
  },
  { name: 'a connection with totalCount', caller: () => ADMIN, query: `{ members(first: 10) { totalCount pageInfo { hasNextPage hasPreviousPage } edges { node { id name unit { id } claims(first: 2) { totalCount } } } } }` },
  { name: 'a settlement with its member', caller: () => ADMIN, query: `query($id: ID!) { settlement(id: $id) { id setlId status member { id name unit { name } claims(first: 3) { totalCount } } claim { id } } }`, variables: () => ({ id: toGlobalId('Settlement', settlementId) }) },
  { name: "another unit's member, for an operator", caller: () => operatorOf(0), query: MEMBER, variables: () => ({ id: toGlobalId('Member', claims[1]!.memberId) }) },
  { name: "another unit's objects through node, for an operator", caller: () => operatorOf(0), query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, variables: () => ({ ids: [toGlobalId('Member', claims[1]!.memberId), toGlobalId('Claim', claims[1]!.claimId), toGlobalId('Member', claims[0]!.memberId)] }) },
  { name: 'a bad argument', caller: () => ADMIN, query: `{ members(first: 101) { totalCount } }` },
  { name: 'a field that does not exist', caller: () => ADMIN, query: `{ viewer { subject portalNickname } }` },
];

describe('in-process and gateway mode', () => {
  for (const op of operations) {
    it(`answer the same: ${op.name}`, async () => {
      const variables = op.variables?.();
      const expected = await inProcess.query(op.caller(), op.query, variables);
      const actual = await federation.gateway.query(op.caller(), op.query, variables);
      expect(withoutLocations(actual)).toEqual(withoutLocations(expected));
    });
  }

  it('have data to compare: the operations above are not all nulls and errors', async () => {
    const member = await inProcess.query(ADMIN, MEMBER, { id: toGlobalId('Member', claims[0]!.memberId) });
    expect(member.data.member.claims.totalCount).toBeGreaterThan(0);
    expect(member.data.member.payouts.totalCount).toBeGreaterThan(0);
    const hidden = await inProcess.query(operatorOf(0), MEMBER, { id: toGlobalId('Member', claims[1]!.memberId) });
    expect(hidden).toEqual({ data: { member: null } });
    const bad = await inProcess.query(ADMIN, `{ members(first: 101) { totalCount } }`);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it("gateway mode adds the member portal's field, with the caller's token forwarded to it", async () => {
    const id = toGlobalId('Member', claims[0]!.memberId);
    const token = await federation.subgraphs.hub!.query(ADMIN, '{ viewer { subject } }');
    expect(token.data.viewer.subject).toBe('admin-chen');
    const answer = await federation.gateway.query(ADMIN, `query($id: ID!) { member(id: $id) { id name portalNickname claims(first: 1) { totalCount } } }`, { id });
    const hub = await inProcess.query(ADMIN, `query($id: ID!) { member(id: $id) { id name claims(first: 1) { totalCount } } }`, { id });
    expect(answer.data.member).toEqual({ ...hub.data.member, portalNickname: `portal-${id}` });
    expect(federation.portal.authorizations.at(-1)).toMatch(/^Bearer ey/);
    // The hub's own API does not know the portal's field.
    expect((await inProcess.query(ADMIN, `query($id: ID!) { member(id: $id) { portalNickname } }`, { id })).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('gateway mode asks for a token before planning anything, as the in-process gateway does', async () => {
    const before = federation.portal.authorizations.length;
    const response = await fetch(federation.gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ viewer { subject } }' }) });
    expect(response.status).toBe(401);
    expect(federation.portal.authorizations.length).toBe(before);
  });
});
