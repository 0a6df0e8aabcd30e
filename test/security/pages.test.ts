import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { PAGE_ARGS, PAGE_PARAMS, PAGE_SELECTION, localIdOf, reader, seedPagedUnit, walk, type PagedUnit } from '../support/pages.ts';

/**
 * Issue 16, pages both ways, as an attacker would try them: `last` is bounded like `first` (the
 * object limit multiplies it along nesting), a cursor is data compared as a SQL parameter and
 * checked before, and a page read backward or in another order keeps the caller's scope.
 */

let db: TestDatabase;
let gw: TestGateway;
let own: PagedUnit;
let other: PagedUnit;
const ADMIN = { role: 'ADMIN', sub: 'admin-pages' } as const;

beforeAll(async () => {
  db = await freshDatabase();
  // The cost limit is raised so that the object limit, the one that reads `first` and `last`, is the one refusing.
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0', GRAPHQL_MAX_COST: '1000000' });
  own = await seedPagedUnit(db.pool, 7);
  other = await seedPagedUnit(db.pool, 9, 2);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

/** A cursor as a client could write one: the gateway's shape with values of its choosing. */
const forge = (content: unknown[]) => Buffer.from(`o:${JSON.stringify(content)}`).toString('base64url');

const refusedByObjectLimit = (result: Awaited<ReturnType<TestGateway['query']>>) => {
  expect(result.data).toBeUndefined();
  expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'GRAPHQL_MAX_NODES' });
};

describe('the object limit counts last as it counts first', () => {
  it('refuses last: 100000, written in the operation or passed as a variable', async () => {
    // Written in the operation, graphql-armor's cost rule sees the number too and may refuse first.
    const literal = await gw.query(ADMIN, '{ claims(last: 100000) { edges { node { id } } } }');
    expect(literal.data).toBeUndefined();
    expect(['GRAPHQL_MAX_NODES', 'GRAPHQL_MAX_COST']).toContain(literal.errors?.[0]?.extensions?.limit);
    refusedByObjectLimit(await gw.query(ADMIN, 'query($l: Int) { payouts(last: $l) { totalCount } }', { l: 100000 }));
    refusedByObjectLimit(await gw.query(ADMIN, 'query($l: Int) { members(first: 1, last: $l) { totalCount } }', { l: 100000 }));
  });

  it('multiplies last along nesting, mixed with first', async () => {
    // 100 + 100 × 100 = 10,100 objects, over the default 10,000.
    for (const [outer, inner] of [['last: 100', 'last: 100'], ['first: 100', 'last: 100'], ['last: 100', 'first: 100']]) {
      refusedByObjectLimit(await gw.query(ADMIN, `{ members(${outer}) { edges { node { claims(${inner}) { totalCount } } } } }`));
    }
    const within = await gw.query(ADMIN, '{ members(last: 90) { edges { node { claims(last: 100) { totalCount } } } } }');
    expect(within.errors).toBeUndefined();
  });
});

describe('cursors are data', () => {
  const CLAIMS = `query(${PAGE_PARAMS}, $orderBy: ClaimOrder) { claims(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } }`;
  const MEMBERS = `query(${PAGE_PARAMS}, $orderBy: MemberOrder) { members(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } }`;
  const SQL = "0); DELETE FROM claims; --";

  it('a forged cursor with SQL text where a number, time or key belongs is refused before any SQL', async () => {
    const claims = (await db.pool.query('SELECT count(*)::int AS n FROM claims')).rows[0].n;
    for (const [cursor, orderBy] of [
      [forge(['TOTAL', 'ASC', SQL, 1]), { field: 'TOTAL', direction: 'ASC' }],
      [forge(['DECIDED_AT', 'DESC', `2025-06-01T00:00:00.000000Z'; ${SQL}`, 1]), { field: 'DECIDED_AT', direction: 'DESC' }],
      [forge(['SETTLED_AT', 'ASC', null, 1]), { field: 'SETTLED_AT', direction: 'ASC' }],
      [forge(['TOTAL', 'ASC', '5', SQL]), { field: 'TOTAL', direction: 'ASC' }],
      [Buffer.from(`k:1 ${SQL}`).toString('base64url'), null],
      [forge(['total_fen); --', 'ASC', '5', 1]), { field: 'TOTAL', direction: 'ASC' }],
    ] as const) {
      const result = await gw.query(ADMIN, CLAIMS, { first: 3, after: cursor, orderBy });
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM claims')).rows[0].n).toBe(claims);
  });

  it('a name in a cursor is only ever compared as a parameter: SQL text there is a position in the alphabet', async () => {
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM members')).rows[0].n;
    const result = await gw.query(ADMIN, MEMBERS, { first: 100, after: forge(['NAME', 'ASC', `'; DELETE FROM members; --`, 0]), orderBy: { field: 'NAME', direction: 'ASC' } });
    expect(result.errors).toBeUndefined();
    const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM members WHERE (name, id) > ($1, 0) ORDER BY name, id`, [`'; DELETE FROM members; --`]);
    expect(result.data.members.edges.map((e: { node: { id: string } }) => localIdOf(e.node.id))).toEqual(rows.map((r) => r.id));
    expect((await db.pool.query('SELECT count(*)::int AS n FROM members')).rows[0].n).toBe(before);
  });
});

describe('scope holds in every order and both ways', () => {
  it('a unit operator walking members, claims and payouts in any order, either way, sees exactly their unit', async () => {
    const operator = { role: 'UNIT_OPERATOR', unit: own.creditCode, sub: 'operator-own' } as const;
    const lists = [
      { query: `query(${PAGE_PARAMS}, $orderBy: MemberOrder) { members(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } }`, path: ['members'], table: 'members', order: { field: 'NAME', direction: 'DESC' } },
      { query: `query(${PAGE_PARAMS}, $orderBy: ClaimOrder) { claims(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } }`, path: ['claims'], table: 'claims', order: { field: 'DECIDED_AT', direction: 'ASC' } },
      { query: `query(${PAGE_PARAMS}, $orderBy: PayoutOrder) { payouts(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } }`, path: ['payouts'], table: 'payouts', order: { field: 'STATUS', direction: 'ASC' } },
    ] as const;
    for (const { query, path, table, order } of lists) {
      const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM ${table} WHERE unit_id = $1`, [own.id]);
      const mine = new Set(rows.map((r) => r.id));
      expect(mine.size).toBeGreaterThan(2);
      for (const way of ['forward', 'backward'] as const) {
        const seen = await walk(reader(gw, operator, query, [...path]), 2, way, order, mine.size);
        expect(new Set(seen), `${table} ${way}`).toEqual(mine);
      }
    }
  });

  it('a cursor placed at another unit\'s row moves the page, never the scope', async () => {
    const operator = { role: 'UNIT_OPERATOR', unit: own.creditCode, sub: 'operator-own' } as const;
    const { rows: [foreign] } = await db.pool.query<{ id: number; total: string }>(
      `SELECT id, total_fen::text AS total FROM claims WHERE unit_id = $1 ORDER BY total_fen DESC, id DESC LIMIT 1`, [other.id],
    );
    const orderBy = { field: 'TOTAL', direction: 'ASC' };
    for (const variables of [{ first: 100, after: forge(['TOTAL', 'ASC', foreign!.total, foreign!.id]) }, { last: 100, before: forge(['TOTAL', 'ASC', foreign!.total, foreign!.id]) }]) {
      const result = await gw.query(operator, `query(${PAGE_PARAMS}, $orderBy: ClaimOrder) { claims(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } }`, { ...variables, orderBy });
      expect(result.errors).toBeUndefined();
      const units = await db.pool.query<{ unitId: number }>(
        'SELECT DISTINCT unit_id AS "unitId" FROM claims WHERE id = ANY($1::bigint[])', [result.data.claims.edges.map((e: { node: { id: string } }) => localIdOf(e.node.id))],
      );
      expect(units.rows.map((r) => r.unitId).filter((u) => u !== own.id)).toEqual([]);
      expect(result.data.claims.totalCount).toBe((await db.pool.query('SELECT 1 FROM claims WHERE unit_id = $1', [own.id])).rowCount);
    }
  });
});
