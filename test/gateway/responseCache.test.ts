import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNamedType, isLeafType, isObjectType } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { countQueries, freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { loadTypeDefs } from '../../src/gateway/server.ts';
import { cacheHint } from '../../src/gateway/responseCache.ts';

/**
 * The roster response cache (src/gateway/responseCache.ts): a kept answer is never older than the
 * request that reads it, is never another scope's, and only roster answers are kept.
 */
let db: TestDatabase;
let gw: TestGateway;
let other: TestGateway;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  other = await startTestGateway(db);
  await db.pool.query(`INSERT INTO units (credit_code, name, plan_type, terms_confirmed) SELECT lpad(i::text, 18, '0'), 'unit ' || i, 'PUBLIC', true FROM generate_series(1, 3) i`);
  await db.pool.query(`INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
                       SELECT 1 + i % 3, 'member ' || i, '\\x00', sha256(i::text::bytea), '3505**********0000', '1980-01-01', 'F'
                         FROM generate_series(1, 30) i`);
  await db.pool.query(`INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
                       SELECT id, unit_id, 2025, 'PUBLIC', false, '2025-01-01', '2025-01-01' FROM members`);
});
afterAll(async () => {
  await other?.close();
  await gw?.close();
  await db?.drop();
});

const ADMIN = { role: 'ADMIN' } as const;
const PAGE = `query Page { members(first: 50) { totalCount edges { node { id name unit { name } enrolments { edges { node { planYear plan } } } } } } }`;
type Page = { members: { totalCount: number; edges: { node: { id: string; name: string; unit: { name: string }; enrolments: { edges: { node: { plan: string } }[] } } }[] } };

/** The page as the database holds it now, in the same shape. */
async function pageFromSql(unitId: number | null = null, memberId: number | null = null): Promise<Page> {
  const { rows } = await db.pool.query<{ id: number; name: string; unit: string; plans: string[] }>(
    `SELECT m.id, m.name, u.name AS unit, array(SELECT e.plan FROM enrolments e WHERE e.member_id = m.id ORDER BY e.plan_year DESC) AS plans
       FROM members m JOIN units u ON u.id = m.unit_id
      WHERE ($1::bigint IS NULL OR m.unit_id = $1) AND ($2::bigint IS NULL OR m.id = $2) ORDER BY m.id LIMIT 50`,
    [unitId, memberId],
  );
  return {
    members: {
      totalCount: rows.length,
      edges: rows.map((r) => ({ node: { id: toGlobalId('Member', r.id), name: r.name, unit: { name: r.unit }, enrolments: { edges: r.plans.map((plan) => ({ node: { plan } })) } } })),
    },
  };
}

const strip = (page: Page) => ({
  members: { totalCount: page.members.totalCount, edges: page.members.edges.map(({ node }) => ({ node: { id: node.id, name: node.name, unit: node.unit, enrolments: { edges: node.enrolments.edges.map((e) => ({ node: { plan: e.node.plan } })) } } })) },
});

describe('roster answers are kept', () => {
  it('a repeated page is answered from memory: the same answer, one SQL statement (the epoch look) instead of the page queries', async () => {
    const first = await countQueries(() => gw.query<Page>(ADMIN, PAGE));
    expect(first.result.errors).toBeUndefined();
    expect(strip(first.result.data!)).toEqual(await pageFromSql());
    expect(first.queries).toBeGreaterThan(1);
    const again = await countQueries(() => gw.query<Page>(ADMIN, PAGE));
    expect(again.result).toEqual(first.result);
    expect(again.queries).toBe(1);
    const metrics = await (await fetch(new URL('/metrics', gw.url))).text();
    expect(metrics).toMatch(/hub_graphql_cache_hits_total\{operation="Page"\} [1-9]/);
  });

  it('a roster change committed before a request is in its answer, on this gateway and on another, every time', async () => {
    await other.query(ADMIN, PAGE);
    for (let round = 0; round < 15; round++) {
      // Each kind of roster change: a member renamed, a unit renamed, an enrolment added or removed.
      if (round % 3 === 0) await db.pool.query(`UPDATE members SET name = 'renamed ' || $1 WHERE id = 1 + $1 % 30`, [round]);
      if (round % 3 === 1) await db.pool.query(`UPDATE units SET name = 'unit renamed ' || $1 WHERE id = 1 + $1 % 3`, [round]);
      if (round % 3 === 2) {
        await db.pool.query(`INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
                             SELECT id, unit_id, 2026, 'PRIVATE', false, '2026-01-01', '2025-01-01' FROM members WHERE id = 1 + $1 % 30
                             ON CONFLICT DO NOTHING`, [round]);
        await db.pool.query(`DELETE FROM enrolments WHERE plan_year = 2026 AND member_id = 1 + ($1 + 10) % 30`, [round]);
      }
      const expected = await pageFromSql();
      const [here, there] = await Promise.all([gw.query<Page>(ADMIN, PAGE), other.query<Page>(ADMIN, PAGE)]);
      expect(strip(here.data!)).toEqual(expected);
      expect(strip(there.data!)).toEqual(expected);
    }
  });

  it('a change that began before the gateway looked and committed after it is still seen', async () => {
    const tx = await db.pool.connect();
    try {
      await tx.query('BEGIN');
      await tx.query(`UPDATE members SET name = 'slow change' WHERE id = 5`); // in progress while the page is kept
      await db.pool.query('SELECT pg_current_xact_id()'); // a later transaction ends first: the slow one is below the snapshot's xmax
      const during = await gw.query<Page>(ADMIN, PAGE);
      expect(during.data!.members.edges.map((e) => e.node.name)).not.toContain('slow change');
      expect((await countQueries(() => gw.query<Page>(ADMIN, PAGE))).queries).toBe(1); // kept
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
    const after = await gw.query<Page>(ADMIN, PAGE);
    expect(after.data!.members.edges.map((e) => e.node.name)).toContain('slow change');
    expect(strip(after.data!)).toEqual(await pageFromSql());
  });

  it('an answer is kept per scope: a unit operator and a member never get the administrator\'s page, nor each other\'s', async () => {
    await gw.query(ADMIN, PAGE);
    for (const unitId of [1, 2, 1]) {
      const page = await gw.query<Page>({ role: 'UNIT_OPERATOR', unit: String(unitId).padStart(18, '0') }, PAGE);
      expect(strip(page.data!)).toEqual(await pageFromSql(unitId));
    }
    for (const memberId of [7, 8, 7]) {
      const page = await gw.query<Page>({ role: 'MEMBER', member: toGlobalId('Member', memberId) }, PAGE);
      expect(strip(page.data!)).toEqual(await pageFromSql(null, memberId));
    }
  });
});

describe('other answers are not kept', () => {
  it('a query touching anything but the roster is executed every time (a unit\'s contribution is paid from bank statements)', async () => {
    const query = `query Paid { members(first: 5) { edges { node { enrolments { edges { node { contributionPaid } } } } } } }`;
    const paidOf = async () => (await gw.query(ADMIN, query)).data.members.edges[0].node.enrolments.edges[0].node.contributionPaid;
    expect(await paidOf()).toBe(false);
    const again = await countQueries(() => gw.query(ADMIN, query));
    expect(again.queries).toBeGreaterThan(1);
    const unitOfFirst = (await db.pool.query<{ unit_id: number }>(`SELECT unit_id FROM members ORDER BY id LIMIT 1`)).rows[0]!.unit_id;
    const owed = (await gw.query(ADMIN, `query($id: ID!) { unit(id: $id) { contribution(planYear: 2025) { owedFen } } }`, { id: toGlobalId('Unit', unitOfFirst) })).data.unit.contribution.owedFen;
    await db.pool.query(`INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
                         VALUES ($1, 2025, $2, 'REF-CACHE-1', '2025-02-01', 'MANUAL', 'test')`, [unitOfFirst, owed]);
    expect(await paidOf()).toBe(true);
  });

  it('an answer with errors is not kept, nor a mutation\'s', async () => {
    // A unit's id where a member's is asked for: refused, with the members page beside it.
    const refused = `query Refused { members(first: 1) { totalCount } member(id: "${toGlobalId('Unit', 1)}") { name } }`;
    for (let i = 0; i < 2; i++) {
      const { result, queries } = await countQueries(() => gw.query(ADMIN, refused));
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(queries).toBeGreaterThan(1);
    }
  });

  it('RESPONSE_CACHE_MB=0 turns the cache off: every request is executed', async () => {
    const uncached = await startTestGateway(db, { RESPONSE_CACHE_MB: '0' });
    try {
      const first = await uncached.query<Page>(ADMIN, PAGE);
      const again = await countQueries(() => uncached.query<Page>(ADMIN, PAGE));
      expect(again.result).toEqual(first);
      expect(again.queries).toBeGreaterThan(1);
    } finally {
      await uncached.close();
    }
  });
});

describe('what the schema lets the gateway keep', () => {
  it('every field of a kept type is reviewed: it comes from units, members or enrolments (whose changes end an epoch) or is marked maxAge 0', () => {
    // A field added to one of these types must be checked the same way before it joins this list.
    const schema = makeExecutableSchema({ typeDefs: loadTypeDefs() });
    const kept: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || !cacheHint(type.astNode)) continue;
      for (const field of Object.values(type.getFields())) {
        const uncached = cacheHint(field.astNode)?.maxAge === 0;
        if (isLeafType(getNamedType(field.type)) && !uncached) kept.push(`${type.name}.${field.name}`);
      }
    }
    expect(kept.sort()).toEqual([
      'BankAccount.bankCode', 'BankAccount.cardNumberMasked', 'BankAccount.changedAt', 'BankAccount.changedBy',
      'BankAccount.confirmedAt', 'BankAccount.confirmedBy', 'BankAccount.id', 'BankAccount.payableFrom',
      'Enrolment.contributionFen', 'Enrolment.enrolledOn', 'Enrolment.firstEnrolledOn', 'Enrolment.id', 'Enrolment.memberCategories', 'Enrolment.plan',
      'Enrolment.planYear', 'Enrolment.specialDisease', 'Enrolment.specialDiseaseFrom',
      'EnrolmentConnection.totalCount', 'EnrolmentEdge.cursor',
      'Member.birthDate', 'Member.createdAt', 'Member.firstEnrolledOn', 'Member.gender', 'Member.id', 'Member.idNumberMasked',
      'Member.name', 'Member.phone', 'Member.updatedAt',
      'MemberConnection.totalCount', 'MemberEdge.cursor',
      'PageInfo.endCursor', 'PageInfo.hasNextPage', 'PageInfo.hasPreviousPage', 'PageInfo.startCursor',
      'Unit.createdAt', 'Unit.creditCode', 'Unit.id', 'Unit.name', 'Unit.planType', 'Unit.smallMicro', 'Unit.unitType',
      'Unit.updatedAt',
      'UnitConnection.totalCount', 'UnitEdge.cursor',
    ]);
  });
});
