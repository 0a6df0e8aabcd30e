import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import {
  PAGE_ARGS, PAGE_PARAMS, PAGE_SELECTION, reader, seedPagedUnit, walk, type PagedUnit, type PageVariables, type ReadPage,
} from '../support/pages.ts';

/**
 * Issue 16, pages both ways: every connection reads `first`/`after` and `last`/`before`, the
 * connections users sort take `orderBy`, and `totalCount` counts the whole list. Walked in several
 * page sizes, each way and in each order, over values with ties, the pages together are exactly the
 * list as the database orders it (asked here with its own SQL), without a repeat.
 */

let db: TestDatabase;
let gw: TestGateway;
let unit: PagedUnit;
const ADMIN = { role: 'ADMIN', sub: 'admin-pages' } as const;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  unit = await seedPagedUnit(db.pool, 23);
  await seedPagedUnit(db.pool, 6, 1); // another unit's rows, among them in every order
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

type Order = PageVariables['orderBy'];

/** The ids of `from` (SQL after FROM) in the order a sort means: by `column` then id, NULLs last ascending, first descending. */
async function expected(from: string, column: string | null, direction: 'ASC' | 'DESC', params: unknown[] = []): Promise<number[]> {
  const order = column ? `${column} ${direction}, id ${direction}` : `id ${direction}`;
  const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM ${from} ORDER BY ${order}`, params);
  return rows.map((r) => r.id);
}

/** Walks `read` in every size, both ways, in `order`, and compares with `list`. */
async function walkAll(read: ReadPage, order: Order, list: number[], sizes = [1, 4, 7, 100]): Promise<void> {
  expect(new Set(list).size).toBe(list.length);
  for (const size of sizes) {
    for (const way of ['forward', 'backward'] as const) {
      const seen = await walk(read, size, way, order, list.length);
      expect(seen, `${way} in pages of ${size}, ${JSON.stringify(order)}`).toEqual(list);
    }
  }
}

const MEMBERS = `query(${PAGE_PARAMS}, $orderBy: MemberOrder, $unit: ID) {
  members(${PAGE_ARGS}, orderBy: $orderBy, filter: { unitId: $unit }) { ${PAGE_SELECTION} } }`;
const CLAIMS = `query(${PAGE_PARAMS}, $orderBy: ClaimOrder) { claims(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } }`;
const PAYOUTS = `query(${PAGE_PARAMS}, $orderBy: PayoutOrder) { payouts(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } }`;

describe('members', () => {
  const cases: [Order, string | null][] = [
    [null, null],
    [{ field: 'NAME', direction: 'ASC' }, 'name'], [{ field: 'NAME', direction: 'DESC' }, 'name'],
    [{ field: 'REGISTERED_AT', direction: 'ASC' }, 'created_at'], [{ field: 'REGISTERED_AT', direction: 'DESC' }, 'created_at'],
  ];
  for (const [order, column] of cases) {
    it(`walks a unit's members both ways, ${order ? `${order.field} ${order.direction}` : 'in registration order'}`, async () => {
      const read = reader(gw, ADMIN, MEMBERS, ['members'], { unit: toGlobalId('Unit', unit.id) });
      await walkAll(read, order, await expected('members WHERE unit_id = $1', column, order?.direction ?? 'ASC', [unit.id]));
    });
  }
});

describe('claims', () => {
  const cases: [Order, string | null][] = [
    [null, null],
    [{ field: 'DECIDED_AT', direction: 'ASC' }, 'decided_at'], [{ field: 'DECIDED_AT', direction: 'DESC' }, 'decided_at'],
    [{ field: 'TOTAL', direction: 'ASC' }, 'total_fen'], [{ field: 'TOTAL', direction: 'DESC' }, 'total_fen'],
    [{ field: 'SETTLED_AT', direction: 'ASC' }, 'setl_time'], [{ field: 'SETTLED_AT', direction: 'DESC' }, 'setl_time'],
  ];
  for (const [order, column] of cases) {
    it(`walks all claims both ways, ${order ? `${order.field} ${order.direction}` : 'newest first'}`, async () => {
      const list = await expected('claims', column, order?.direction ?? 'DESC');
      if (column === 'decided_at') expect((await db.pool.query('SELECT 1 FROM claims WHERE decided_at IS NULL')).rowCount).toBeGreaterThan(1);
      await walkAll(reader(gw, ADMIN, CLAIMS, ['claims']), order, list, [1, 5, 100]);
    });
  }
});

describe('payouts', () => {
  const cases: [Order, string | null][] = [
    [null, null],
    [{ field: 'STATUS', direction: 'ASC' }, 'status'], [{ field: 'STATUS', direction: 'DESC' }, 'status'],
    [{ field: 'CREATED_AT', direction: 'ASC' }, 'created_at'], [{ field: 'CREATED_AT', direction: 'DESC' }, 'created_at'],
    [{ field: 'AMOUNT', direction: 'ASC' }, 'amount_fen'], [{ field: 'AMOUNT', direction: 'DESC' }, 'amount_fen'],
  ];
  for (const [order, column] of cases) {
    it(`walks all payouts both ways, ${order ? `${order.field} ${order.direction}` : 'newest first'}`, async () => {
      await walkAll(reader(gw, ADMIN, PAYOUTS, ['payouts']), order, await expected('payouts', column, order?.direction ?? 'DESC'), [1, 6, 100]);
    });
  }
});

describe('nested connections', () => {
  it('walks Unit.members by name both ways, and each member\'s payouts by amount', async () => {
    const unitMembers = `query($id: ID!, ${PAGE_PARAMS}, $orderBy: MemberOrder) {
      unit(id: $id) { members(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } } }`;
    const order = { field: 'NAME', direction: 'DESC' } as const;
    await walkAll(reader(gw, ADMIN, unitMembers, ['unit', 'members'], { id: toGlobalId('Unit', unit.id) }), order,
      await expected('members WHERE unit_id = $1', 'name', 'DESC', [unit.id]), [2, 9]);

    const memberPayouts = `query($id: ID!, ${PAGE_PARAMS}, $orderBy: PayoutOrder) {
      node(id: $id) { ... on Member { payouts(${PAGE_ARGS}, orderBy: $orderBy) { ${PAGE_SELECTION} } } } }`;
    const withPayouts = (await db.pool.query<{ memberId: number }>(
      `SELECT member_id AS "memberId" FROM payouts WHERE unit_id = $1 GROUP BY member_id HAVING count(*) > 1 ORDER BY member_id LIMIT 2`, [unit.id],
    )).rows;
    expect(withPayouts).toHaveLength(2);
    for (const { memberId } of withPayouts) {
      await walkAll(reader(gw, ADMIN, memberPayouts, ['node', 'payouts'], { id: toGlobalId('Member', memberId) }), { field: 'AMOUNT', direction: 'ASC' },
        await expected('payouts WHERE member_id = $1', 'amount_fen', 'ASC', [memberId]), [1, 2]);
    }
  });

  it('counts nested connections in full: enrolments, changes and payouts of each member of a page', async () => {
    const query = `query($unit: ID) { members(first: 100, filter: { unitId: $unit }) { edges { node { id
      enrolments(first: 1) { totalCount edges { node { planYear } } }
      payouts(first: 1) { totalCount }
      claims(last: 1) { totalCount pageInfo { hasPreviousPage hasNextPage } } } } } }`;
    const result = await gw.query(ADMIN, query, { unit: toGlobalId('Unit', unit.id) });
    expect(result.errors).toBeUndefined();
    const { rows } = await db.pool.query<{ id: number; enrolments: number; payouts: number; claims: number }>(
      `SELECT m.id, (SELECT count(*)::int FROM enrolments e WHERE e.member_id = m.id) AS enrolments,
              (SELECT count(*)::int FROM payouts p WHERE p.member_id = m.id) AS payouts,
              (SELECT count(*)::int FROM claims c WHERE c.member_id = m.id) AS claims
         FROM members m WHERE m.unit_id = $1 ORDER BY m.id`, [unit.id],
    );
    const counted = result.data.members.edges.map((e: any) => ({ // eslint-disable-line @typescript-eslint/no-explicit-any
      id: Number(Buffer.from(e.node.id, 'base64url').toString().split(':')[1]),
      enrolments: e.node.enrolments.totalCount, payouts: e.node.payouts.totalCount, claims: e.node.claims.totalCount,
    }));
    expect(counted).toEqual(rows);
    expect(rows.some((r) => r.payouts > 1)).toBe(true);
    // last: 1 without before: the end of the list, more before it when there are.
    for (const [i, e] of result.data.members.edges.entries()) {
      expect(e.node.claims.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: rows[i]!.claims > 1 });
    }
  });

  it('a page backward from a forward page\'s start is the page before it, in the same order', async () => {
    const read = reader(gw, ADMIN, CLAIMS, ['claims']);
    const order = { field: 'TOTAL', direction: 'DESC' } as const;
    const first = await read({ first: 4, orderBy: order });
    const second = await read({ first: 4, after: first.pageInfo.endCursor, orderBy: order });
    const back = await read({ last: 4, before: second.pageInfo.startCursor, orderBy: order });
    expect(back.edges.map((e) => e.node.id)).toEqual(first.edges.map((e) => e.node.id));
    expect(back.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
    expect(second.pageInfo.hasPreviousPage).toBe(true);
  });
});

describe('refusals', () => {
  const errorOf = async (query: string, variables: Record<string, unknown>) => {
    const result = await gw.query(ADMIN, query, variables);
    expect(result.errors, JSON.stringify(variables)).toBeDefined();
    return result.errors![0]!;
  };

  it('first and last together, or a cursor on the other side, are BAD_USER_INPUT naming the fields', async () => {
    const both = await errorOf(CLAIMS, { first: 2, last: 2 });
    expect(both.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'last' });
    expect(both.message).toMatch(/^last: cannot be given with first/);
    const cursor = (await reader(gw, ADMIN, CLAIMS, ['claims'])({ first: 1 })).pageInfo.endCursor;
    expect((await errorOf(CLAIMS, { first: 2, before: cursor })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'before' });
    expect((await errorOf(CLAIMS, { last: 2, after: cursor })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect((await errorOf(CLAIMS, { last: 0 })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'last', reason: 'must be between 1 and 100' });
  });

  it('a cursor of another order is refused: it would place the page elsewhere', async () => {
    const read = reader(gw, ADMIN, CLAIMS, ['claims']);
    const byTotal = (await read({ first: 2, orderBy: { field: 'TOTAL', direction: 'ASC' } })).pageInfo.endCursor;
    const byId = (await read({ first: 2 })).pageInfo.endCursor;
    for (const [cursor, orderBy] of [[byTotal, { field: 'TOTAL', direction: 'DESC' }], [byTotal, { field: 'SETTLED_AT', direction: 'ASC' }], [byTotal, null], [byId, { field: 'TOTAL', direction: 'ASC' }]] as const) {
      const error = await errorOf(CLAIMS, { first: 2, after: cursor, orderBy });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after', reason: 'is not a cursor of this ordering' });
    }
  });

  it('a tampered cursor is refused as not ours, before any SQL', async () => {
    const read = reader(gw, ADMIN, PAYOUTS, ['payouts']);
    const orderBy = { field: 'CREATED_AT', direction: 'ASC' } as const;
    const cursor = (await read({ first: 2, orderBy })).pageInfo.endCursor!;
    const [field, direction, value, key] = JSON.parse(Buffer.from(cursor, 'base64url').toString().slice(2)) as [string, string, string, number];
    expect([field, direction, typeof value, typeof key]).toEqual(['CREATED_AT', 'ASC', 'string', 'number']);
    const forge = (content: unknown[]) => Buffer.from(`o:${JSON.stringify(content)}`).toString('base64url');
    for (const bad of [
      forge([field, direction, '2025-02-30T00:00:00.000000Z', key]), forge([field, direction, 'yesterday', key]), forge([field, direction, 12, key]),
      forge([field, direction, null, key]), forge([field, direction, value, -1]), forge([field, direction, value, 1.5]), forge([field, direction, value]),
      Buffer.from(`${Buffer.from(cursor, 'base64url').toString()}--`).toString('base64url'), cursor.slice(0, -3),
    ]) {
      const error = await errorOf(PAYOUTS, { last: 2, before: bad, orderBy });
      expect(error.extensions, Buffer.from(bad, 'base64url').toString()).toMatchObject({ code: 'BAD_USER_INPUT', field: 'before', reason: 'is not a cursor returned by this connection' });
    }
  });
});
