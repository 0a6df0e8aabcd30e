import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { seedEnrolledMember, seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { startServer, type Server } from '../federation/support.ts';
import { productionEnv } from '../support/config.ts';

/**
 * A subgraph served alone (`hub serve --subgraph NAME`) is as guarded as the whole API: the token
 * comes first, `_entities` resolves an object only when `node(id:)` would show it to the caller,
 * bounded in count, and in production the subgraph does not describe itself (`_service`).
 */
let db: TestDatabase;
let members: Server;
let benefits: Server;
let production: Server;
let whole: Server;
let a: MemberSetup;
let b: MemberSetup;
let settlementOfA: number;

const PRODUCTION = productionEnv();
const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Member { id name idNumberMasked phone } ... on Unit { id name } } }`;
const member = (m: MemberSetup) => ({ __typename: 'Member', id: toGlobalId('Member', m.memberId) });

beforeAll(async () => {
  db = await freshDatabase();
  a = await seedEnrolledMember(db.pool);
  b = await seedEnrolledMember(db.pool);
  settlementOfA = await seedSettlement(db.pool, a);
  const { rows } = await db.pool.query<{ id: number; credit_code: string }>('SELECT id, credit_code FROM units WHERE id = ANY($1::bigint[])', [[a.unitId, b.unitId]]);
  for (const row of rows) if (row.id === a.unitId) a.creditCode = row.credit_code; else b.creditCode = row.credit_code;
  members = await startServer(db, {}, { subgraph: 'members' });
  benefits = await startServer(db, {}, { subgraph: 'benefits' });
  production = await startServer(db, PRODUCTION, { subgraph: 'members' });
  whole = await startServer(db, {});
});
afterAll(async () => {
  for (const server of [members, benefits, production, whole]) await server?.close();
  await db?.drop();
});

const operatorOf = (m: MemberSetup) => ({ role: 'UNIT_OPERATOR', unit: m.creditCode, sub: `operator-${m.unitId}` }) as const;

describe('a subgraph served alone', () => {
  it('refuses _entities without a valid token, before reading the body', async () => {
    for (const authorization of [undefined, 'Bearer not-a-token', 'Basic YWRtaW46YWRtaW4=']) {
      const response = await fetch(members.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ query: ENTITIES, variables: { r: [member(a)] } }),
      });
      expect(response.status, String(authorization)).toBe(401);
      expect(JSON.stringify(await response.json())).not.toContain(String(a.memberId));
    }
  });

  it("resolves another unit's member to null for a unit operator, and their own", async () => {
    const result = await members.query(operatorOf(a), ENTITIES, { r: [member(b), member(a)] });
    expect(result.errors).toBeUndefined();
    expect(result.data._entities[0]).toBeNull();
    expect(result.data._entities[1]).toMatchObject({ __typename: 'Member', id: toGlobalId('Member', a.memberId), name: expect.any(String) });
  });

  it("resolves a member's claims (a field benefits adds) only in the caller's scope", async () => {
    const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id claims(first: 5) { totalCount } } } }`;
    const own = await benefits.query(operatorOf(a), query, { r: [member(a)] });
    expect(own.data._entities).toEqual([{ id: toGlobalId('Member', a.memberId), claims: { totalCount: expect.any(Number) } }]);
    const other = await benefits.query(operatorOf(b), query, { r: [member(a)] });
    expect(other).toEqual({ data: { _entities: [null] } });
  });

  it('does not take an ID of one type for another, nor a malformed one', async () => {
    const result = await members.query({ role: 'ADMIN' }, ENTITIES, {
      r: [
        { __typename: 'Member', id: toGlobalId('Settlement', settlementOfA) },
        { __typename: 'Member', id: toGlobalId('Unit', a.unitId) },
        { __typename: 'Member', id: a.memberId },
        { __typename: 'Member', id: 'constructor' },
        { __typename: 'Member' },
        member(a),
      ],
    });
    expect(result.errors).toBeUndefined();
    expect(result.data._entities.slice(0, 5)).toEqual([null, null, null, null, null]);
    expect(result.data._entities[5].id).toBe(toGlobalId('Member', a.memberId));
  });

  it('resolves at most GRAPHQL_MAX_NODES representations in one call', async () => {
    const limited = await startServer(db, { GRAPHQL_MAX_NODES: '3' }, { subgraph: 'members' });
    try {
      const refused = await limited.query({ role: 'ADMIN' }, ENTITIES, { r: Array.from({ length: 4 }, () => member(a)) });
      expect(refused.data).toBeUndefined();
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_NODES' });
      const allowed = await limited.query({ role: 'ADMIN' }, ENTITIES, { r: Array.from({ length: 3 }, () => member(a)) });
      expect(allowed.data._entities).toHaveLength(3);
    } finally {
      await limited.close();
    }
  });

  it('counts each representation toward GRAPHQL_MAX_NODES, multiplying the pages under it, as nodes(ids:) does', async () => {
    const limited = await startServer(db, { GRAPHQL_MAX_NODES: '3' }, { subgraph: 'members' });
    try {
      const query = `query($r: [_Any!]!, $first: Int) { _entities(representations: $r) { ... on Member { enrolments(first: $first) { totalCount } } } }`;
      const refused = await limited.query({ role: 'ADMIN' }, query, { r: [member(a), member(a), member(a)], first: 3 });
      expect(refused.data).toBeUndefined();
      expect(refused.errors?.[0]).toMatchObject({
        message: expect.stringContaining('asks for up to 12 objects'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_NODES' },
      });
      // One representation and a page of two: three objects.
      const allowed = await limited.query({ role: 'ADMIN' }, query, { r: [member(a)], first: 2 });
      expect(allowed.errors).toBeUndefined();
      expect(allowed.data._entities).toEqual([{ enrolments: { totalCount: 1 } }]);
    } finally {
      await limited.close();
    }
  });

  it('takes at most 100 representations in one call, as nodes(ids:) takes 100 IDs', async () => {
    const refused = await members.query({ role: 'ADMIN' }, ENTITIES, { r: Array.from({ length: 101 }, () => member(a)) });
    expect(refused.data).toBeUndefined();
    expect(refused.errors?.[0]).toMatchObject({
      message: '_entities(representations:) lists 101 IDs; at most 100 per request field', extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_NODES' },
    });
    const allowed = await members.query({ role: 'ADMIN' }, ENTITIES, { r: Array.from({ length: 100 }, () => member(a)) });
    expect(allowed.data._entities).toHaveLength(100);
  });

  it('describes itself (_service) outside production only', async () => {
    const sdl = await members.query({ role: 'ADMIN' }, '{ _service { sdl } }');
    expect(sdl.data._service.sdl).toMatch(/type Member implements Node[^{]*@key\(fields: "id"\)/);
    const refused = await production.query({ role: 'ADMIN' }, '{ _service { sdl } }');
    expect(refused.data).toBeUndefined();
    expect(refused.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    // Entities still resolve there: a router composes from the published SDL, then calls _entities.
    const entities = await production.query({ role: 'ADMIN' }, ENTITIES, { r: [member(a)] });
    expect(entities.data._entities[0].id).toBe(toGlobalId('Member', a.memberId));
  });
});

describe('the whole API (the default)', () => {
  it('has no _entities or _service: nothing resolves a representation outside node(id:)', async () => {
    for (const query of [ENTITIES, '{ _service { sdl } }']) {
      const result = await whole.query({ role: 'ADMIN' }, query, { r: [member(a)] });
      expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(result.data).toBeUndefined();
    }
  });
});
