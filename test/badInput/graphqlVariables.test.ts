import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { confirmUnitTerms, startTestGateway, type GraphQLResult, type TestGateway } from '../support/gateway.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { fingerprints } from '../support/fingerprint.ts';
import { luhnCard, luhnCardWrong, residentId, residentIdWrongCheck } from './support.ts';
import { withCreditCodeCheck } from '../../src/kernel/identifiers.ts';
import { textProblem } from '../../src/kernel/text.ts';

/**
 * Issue 8, GraphQL variables: wrong types, out-of-range `first`, malformed global IDs, bad
 * cursors, bad Fen and Date values, through a running gateway. Each is answered with a clear
 * error (`BAD_USER_INPUT` with `extensions.field` where the resolver checks it, or a variable /
 * validation error from GraphQL itself), never `INTERNAL_SERVER_ERROR`, and nothing stored changes.
 */

let db: TestDatabase;
let gw: TestGateway;
const ADMIN = { role: 'ADMIN' } as const;
const FINANCE = { role: 'FINANCE' } as const;
const TABLES = [
  'units', 'members', 'enrolments', 'contribution_payments', 'roster_imports', 'settlement_sources', 'settlement_runs',
  'settlements', 'settlement_rejections', 'claims', 'benefit_lines', 'payouts', 'payout_batches', 'audit_log',
] as const;
let unitId: string;
let memberId: string;
let before: Awaited<ReturnType<typeof fingerprints>>;

const leap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysIn = (y: number, m: number) => [31, leap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;

/** The first error, checked to be one a client can act on (never an internal error). */
/**
 * The first refusal of a request, as a top-level error reads: a mutation reports a caller's mistake
 * in its payload (`userErrors`, INVALID), which reads here as BAD_USER_INPUT with its field and
 * reason; a query, and a variable the schema refuses, in `errors`.
 */
function firstError(result: GraphQLResult, what: string): { message: string; extensions?: Record<string, unknown> } {
  const payload = result.data && (Object.values(result.data)[0] as { userErrors?: { field: string; code: string; message: string }[] } | null);
  const [userError] = payload?.userErrors ?? [];
  if (userError) {
    expect(userError.code, what).toBe('INVALID');
    return { message: userError.message, extensions: { code: 'BAD_USER_INPUT', field: userError.field, reason: userError.message.slice(userError.field.length + 2) } };
  }
  expect(result.errors, `${what}: expected an error, got ${JSON.stringify(result.data)}`).toBeDefined();
  for (const e of result.errors!) expect(e.extensions?.code, `${what}: ${e.message}`).not.toBe('INTERNAL_SERVER_ERROR');
  return result.errors![0]!;
}

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  // Good data first.
  const unit = await gw.query(ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "泉州市某中学", planType: PUBLIC }) { unit { id } } }`, { c: withCreditCodeCheck('12350500MB0000002') });
  unitId = unit.data.createUnit.unit.id;
  await confirmUnitTerms(gw, unitId);
  const [id] = fc.sample(residentId, { numRuns: 1, seed: 9 });
  const [card] = fc.sample(luhnCard, { numRuns: 1, seed: 9 });
  const member = await gw.query(ADMIN, `mutation($u: ID!, $id: String!, $card: String!) {
    createMember(input: { unitId: $u, name: "陈静", idNumber: $id, phone: "13800000001", bankAccount: { cardNumber: $card, bankCode: "102397000011" } }) { member { id } } }`, { u: unitId, id, card });
  memberId = member.data.createMember.member.id;
  const enrol = await gw.query(ADMIN, `mutation($m: ID!) { enrolMember(input: { memberId: $m, planYear: 2025, enrolledOn: "2025-01-02", override: { rules: [BACKDATED], reason: "test: a past plan year" } }) { userErrors { message } } }`, { m: memberId });
  expect(enrol.data.enrolMember.userErrors).toEqual([]);
  // Half the member's 100.00: one paying the year would wait for a second person (attack 137).
  const pay = await gw.query(FINANCE, `mutation($u: ID!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: 5000, reference: "BANKREF0001", paidOn: "2025-01-05" }) { contribution { paidFen } } }`, { u: unitId });
  expect(pay.data.recordContributionPayment.contribution.paidFen).toBe(5000);
  before = await fingerprints(db.pool, TABLES);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const CONNECTIONS = [
  'units(first: $first, after: $after) { edges { cursor } }',
  'members(first: $first, after: $after) { edges { cursor } }',
  'settlements(first: $first, after: $after) { edges { cursor } }',
  'claims(first: $first, after: $after) { edges { cursor } }',
  'payoutBatches(first: $first, after: $after) { edges { cursor } }',
  'settlementRejections(first: $first, after: $after) { edges { cursor } }',
  'settlementIngestionRuns(first: $first, after: $after) { edges { cursor } }',
];
const connectionQuery = (field: string) => `query($first: Int, $after: String) { ${field} }`;

describe('connection arguments', () => {
  it('first outside 1-100 is BAD_USER_INPUT on field "first"; beyond the object limit, a validation error naming it', async () => {
    const max = gw.config.GRAPHQL_MAX_NODES;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...CONNECTIONS), fc.oneof(fc.integer({ min: -(2 ** 31), max: 0 }), fc.integer({ min: 101, max }), fc.integer({ min: max + 1, max: 2 ** 31 - 1 })), async (field, first) => {
        const error = firstError(await gw.query(ADMIN, connectionQuery(field), { first }), `first ${first}`);
        if (first > max) {
          expect(error.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED' });
          expect(error.message).toContain('GRAPHQL_MAX_NODES');
        } else {
          expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first', reason: 'must be between 1 and 100' });
        }
      }),
      { numRuns: 80 },
    );
  });

  it('first of the wrong type is a variable error (BAD_USER_INPUT) naming $first, or the object limit when it is a huge number', async () => {
    const max = gw.config.GRAPHQL_MAX_NODES;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...CONNECTIONS), fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
        fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }),
        fc.string(), fc.boolean(), fc.constant([10]), fc.constant({ n: 10 }),
      ), async (field, first) => {
        const error = firstError(await gw.query(ADMIN, connectionQuery(field), { first }), `first ${JSON.stringify(first)}`);
        if (typeof first === 'number' && first > max) {
          // The object limit looks at the operation before variables are coerced.
          expect(error.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
          expect(error.message).toContain('GRAPHQL_MAX_NODES');
        } else {
          expect(error.extensions!.code).toBe('BAD_USER_INPUT');
          expect(error.message).toMatch(/^Variable "\$first" got invalid value /);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('an after that is not a cursor of this API is BAD_USER_INPUT on field "after"', async () => {
    const notCursor = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      fc.string({ minLength: 1, maxLength: 30 }).map((s) => Buffer.from(s).toString('base64url')),
      fc.constantFrom('k:1', 'k:-1', 'k:1.5', 'k:1e3', 'k:', 'x:1', 'k:99999999999999999999').map((s) => Buffer.from(s).toString('base64url')),
    ).filter((s) => !/^k:\d{1,15}$/.test(Buffer.from(s, 'base64url').toString('utf8')));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...CONNECTIONS), notCursor, async (field, after) => {
        const error = firstError(await gw.query(ADMIN, connectionQuery(field), { first: 5, after }), `after ${JSON.stringify(after)}`);
        // A U+0000 or lone surrogate is refused first, by the guard on every String argument (test/gateway/argumentValues.test.ts).
        const reason = textProblem(after) ?? 'is not a cursor returned by this connection';
        expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after', reason });
      }),
      { numRuns: 80 },
    );
  });
});

describe('global IDs', () => {
  const TYPES = ['Unit', 'Member', 'Settlement', 'Claim', 'PayoutBatch', 'RosterImport', 'SettlementRejection'] as const;
  const BY_ID: Record<(typeof TYPES)[number], string> = {
    Unit: 'unit(id: $id) { id }', Member: 'member(id: $id) { id }', Settlement: 'settlement(id: $id) { id }', Claim: 'claim(id: $id) { id }',
    PayoutBatch: 'payoutBatch(id: $id) { id }', RosterImport: 'rosterImport(id: $id) { id }', SettlementRejection: 'settlementRejection(id: $id) { id }',
  };
  /** IDs that are not a `type` ID by construction: another type, garbage, huge or negative numbers. */
  const malformedId = (type: string) => fc.oneof(
    fc.tuple(fc.constantFrom(...TYPES, 'Node', 'User', 'member', 'MEMBER'), fc.integer({ min: 1, max: 1e9 })).filter(([t]) => t !== type).map(([t, n]) => toGlobalId(t, n)),
    fc.stringMatching(/^\d{16,30}$/).map((n) => toGlobalId(type, n)),
    fc.constantFrom('-1', '1.5', '0x10', ' 1', '1 ', '1e3', '', 'one', '１').map((n) => toGlobalId(type, n)),
    fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !Buffer.from(s, 'base64url').toString('utf8').startsWith(`${type}:`)),
    fc.constantFrom(`${type}:1`, `${type}:${'9'.repeat(40)}`, '=', '====', '!!!!'),
  );

  it('an ID that is not of the type asked for is BAD_USER_INPUT on field "id"', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TYPES).chain((t) => fc.tuple(fc.constant(t), malformedId(t))), async ([type, id]) => {
        const error = firstError(await gw.query(ADMIN, `query($id: ID!) { ${BY_ID[type]} }`, { id }), `${type} ${JSON.stringify(id)}`);
        expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id', reason: `is not a ${type} ID` });
      }),
      { numRuns: 120 },
    );
  });

  it('a well-formed ID of nothing is null beside the rest of the answer; node() answers null for any malformed ID', async () => {
    for (const [field, id] of [['member', toGlobalId('Member', 999_999_999)], ['member', toGlobalId('Member', '999999999999999')], ['unit', toGlobalId('Unit', 0)], ['claim', toGlobalId('Claim', 7)]]) {
      const answer = await gw.query(ADMIN, `query($id: ID!) { viewer { role } ${field}(id: $id) { id } }`, { id });
      expect(answer.errors, id).toBeUndefined();
      expect(answer.data, id).toEqual({ viewer: { role: 'ADMIN' }, [field!]: null });
    }
    // Object.prototype names as types too (test/gateway/prototypeNames.test.ts).
    const notAnyNode = fc.oneof(
      fc.tuple(fc.constantFrom('User', 'Node', 'member', 'MEMBER', 'Viewer', 'constructor', 'toString'), fc.integer({ min: 1, max: 1e9 })).map(([t, n]) => toGlobalId(t, n)),
      fc.constantFrom('-1', '1.5', '', '1'.repeat(16)).map((n) => toGlobalId('Member', n)),
      fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !/^[A-Za-z]+:\d{1,15}$/.test(Buffer.from(s, 'base64url').toString('utf8'))),
    );
    await fc.assert(
      fc.asyncProperty(notAnyNode, async (id) => {
        const result = await gw.query(ADMIN, `query($id: ID!) { node(id: $id) { id } }`, { id });
        expect(result.errors).toBeUndefined();
        expect(result.data.node).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('IDs inside filters and inputs are named by their path', async () => {
    const cases: [string, Record<string, unknown>, string, string][] = [
      ['query($v: ID) { members(filter: { unitId: $v }) { totalCount } }', {}, 'filter.unitId', 'Unit'],
      ['query($v: ID) { settlements(filter: { memberId: $v }) { totalCount } }', {}, 'filter.memberId', 'Member'],
      ['query($v: ID) { claims(filter: { memberId: $v }) { totalCount } }', {}, 'filter.memberId', 'Member'],
      ['mutation($v: ID!) { createMember(input: { unitId: $v, name: "李四", idNumber: "350521198503120019" }) { userErrors { field code message } } }', {}, 'input.unitId', 'Unit'],
      ['mutation($v: ID!) { enrolMember(input: { memberId: $v, planYear: 2025 }) { userErrors { field code message } } }', {}, 'input.memberId', 'Member'],
      ['mutation($v: ID!) { revealMemberPersonalData(input: { memberId: $v, reason: "audit check" }) { userErrors { field code message } } }', {}, 'input.memberId', 'Member'],
      ['mutation($v: ID!) { recordContributionPayment(input: { unitId: $v, planYear: 2025, amountFen: 1, reference: "X1", paidOn: "2025-01-01" }) { userErrors { field code message } } }', {}, 'input.unitId', 'Unit'],
    ];
    await fc.assert(
      // An empty string is taken as "no filter" by the list filters (left out here, see the report).
      fc.asyncProperty(fc.constantFrom(...cases).chain((c) => fc.tuple(fc.constant(c), malformedId(c[3]).filter((v) => v !== ''))), async ([[query, , field, type], v]) => {
        const error = firstError(await gw.query(ADMIN, query, { v }), `${field} ${JSON.stringify(v)}`);
        expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field, reason: `is not a ${type} ID` });
      }),
      { numRuns: 80 },
    );
  });
});

describe('Fen', () => {
  const PAY = `mutation($u: ID!, $a: Fen!, $r: String!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: $a, reference: $r, paidOn: "2025-03-05" }) { userErrors { field code message } } }`;
  const notFen = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.oneof(fc.double({ min: 2 ** 53, max: 1e300, noNaN: true }), fc.double({ min: -1e300, max: -(2 ** 53), noNaN: true })),
    fc.oneof(fc.integer().map(String), fc.constantFrom('100.00', '1e3', '', 'NaN')),
    fc.boolean(), fc.constant([100]), fc.constant({ fen: 100 }),
  );

  it('a Fen that is not a whole safe number (float, string, out of range) is a variable error; nothing is recorded', async () => {
    await fc.assert(
      fc.asyncProperty(notFen, async (a) => {
        const error = firstError(await gw.query(FINANCE, PAY, { u: unitId, a, r: 'BANKREF9' }), `Fen ${JSON.stringify(a)}`);
        expect(error.extensions!.code).toBe('BAD_USER_INPUT');
        expect(error.message).toMatch(/^Variable "\$a" got invalid value .*; Expected type "Fen"\. Fen must be a whole number of fen \(1 CNY = 100 fen\)$/s);
      }),
      { numRuns: 80 },
    );
    // Numbers JSON can carry but a double cannot hold exactly.
    for (const raw of ['9007199254740993', '12345678901234567890', '1e400', '-0.5', '100.5']) {
      const response = await fetch(gw.url, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await gw.token(FINANCE)}` },
        body: `{"query": ${JSON.stringify(PAY)}, "variables": {"u": ${JSON.stringify(unitId)}, "r": "BANKREF9", "a": ${raw}}}`,
      });
      const body = (await response.json()) as GraphQLResult;
      expect(firstError(body, raw).extensions!.code, raw).toBe('BAD_USER_INPUT');
    }
  });

  it('a Fen of 0 or below is BAD_USER_INPUT on input.amountFen', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 0 }), async (a) => {
        const error = firstError(await gw.query(FINANCE, PAY, { u: unitId, a, r: 'BANKREF9' }), `Fen ${a}`);
        expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amountFen', reason: 'must be a positive whole number of fen' });
      }),
      { numRuns: 40 },
    );
  });

  it('Fen literals and Fen filters are checked the same way', async () => {
    for (const literal of ['1.5', '"100"', '99999999999999999999', 'true', '1e3']) {
      const error = firstError(await gw.query(FINANCE, `mutation($u: ID!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: ${literal}, reference: "BANKREF9", paidOn: "2025-03-05" }) { userErrors { field code message } } }`, { u: unitId }), literal);
      expect(error.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(error.message).toMatch(/Fen/);
    }
    await fc.assert(
      fc.asyncProperty(notFen, fc.constantFrom('minTotalFen', 'maxTotalFen'), async (v, key) => {
        const error = firstError(await gw.query(ADMIN, `query($v: Fen) { claims(filter: { ${key}: $v }) { totalCount } }`, { v }), `${key} ${JSON.stringify(v)}`);
        expect(error.extensions!.code).toBe('BAD_USER_INPUT');
      }),
      { numRuns: 40 },
    );
    const crossed = firstError(await gw.query(ADMIN, `{ claims(filter: { minTotalFen: 200, maxTotalFen: 100 }) { totalCount } }`), 'crossed');
    expect(crossed.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.maxTotalFen', reason: 'must not be below minTotalFen' });
  });
});

describe('dates, enums, numbers and input shapes', () => {
  /** Not a calendar date written yyyy-MM-dd. Year 0000 (any year outside 1900–2999) is in test/gateway/argumentValues.test.ts. */
  const badDate = fc.oneof(
    fc.record({ y: fc.integer({ min: 1, max: 9999 }), m: fc.integer({ min: 0, max: 99 }), d: fc.integer({ min: 0, max: 99 }) })
      .filter(({ y, m, d }) => !(m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m)))
      .map(({ y, m, d }) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`),
    fc.constantFrom('2025-02-29', '2100-02-29', '2025-6-1', '2025/06/01', '20250601', '2025-06-01T00:00:00Z', '2025-06-01 ', ' 2025-06-01', '+2025-06-01', '12025-06-01', 'today', ''),
    fc.string({ maxLength: 12 }).filter((s) => !/^\d{4}-\d{2}-\d{2}$/.test(s)),
    fc.integer(), fc.boolean(), fc.constant(['2025-06-01']),
  );

  it('a bad Date is a variable error, wherever it is used', async () => {
    const uses: [string, Parameters<TestGateway['query']>[0], (d: unknown) => Record<string, unknown>, string][] = [
      [`mutation($u: ID!, $d: Date!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: 100, reference: "BANKREF8", paidOn: $d }) { userErrors { field code message } } }`, FINANCE, (d) => ({ u: unitId, d }), '$d'],
      [`mutation($m: ID!, $d: Date) { enrolMember(input: { memberId: $m, planYear: 2026, enrolledOn: $d }) { userErrors { field code message } } }`, ADMIN, (d) => ({ m: memberId, d }), '$d'],
      [`query($f: SettlementFilter) { settlements(filter: $f) { totalCount } }`, ADMIN, (d) => ({ f: { settledFrom: d } }), '$f'],
      [`query($f: SettlementFilter) { settlements(filter: $f) { totalCount } }`, ADMIN, (d) => ({ f: { settledTo: d } }), '$f'],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...uses), badDate, async ([query, auth, variables, name], d) => {
        const error = firstError(await gw.query(auth, query, variables(d)), `date ${JSON.stringify(d)}`);
        expect(error.extensions!.code).toBe('BAD_USER_INPUT');
        expect(error.message.startsWith(`Variable "${name}" got invalid value`)).toBe(true);
      }),
      { numRuns: 120 },
    );
  });

  it('wrong enum values, out-of-range Ints and malformed inputs are refused; domain checks name the input field', async () => {
    const refusals: [Parameters<TestGateway['query']>[0], string, Record<string, unknown>, Record<string, unknown> | null][] = [
      [ADMIN, `mutation($t: PlanType!) { createUnit(input: { creditCode: "91350500MA0000003X", name: "x", planType: $t }) { userErrors { field code message } } }`, { t: 'public' }, null],
      [ADMIN, `query($s: SettlementStatus) { settlements(filter: { status: $s }) { totalCount } }`, { s: 'NOPE' }, null],
      [ADMIN, `query($y: Int) { members(filter: { planYear: $y }) { totalCount } }`, { y: 2 ** 31 }, null],
      [ADMIN, `query($y: Int) { members(filter: { planYear: $y }) { totalCount } }`, { y: '2025' }, null],
      [ADMIN, `mutation($i: CreateUnitInput!) { createUnit(input: $i) { userErrors { field code message } } }`, { i: null }, null],
      [ADMIN, `mutation($i: CreateUnitInput!) { createUnit(input: $i) { userErrors { field code message } } }`, { i: 'unit' }, null],
      [ADMIN, `mutation($i: CreateUnitInput!) { createUnit(input: $i) { userErrors { field code message } } }`, { i: [] }, null],
      [ADMIN, `mutation($i: CreateUnitInput!) { createUnit(input: $i) { userErrors { field code message } } }`, { i: { creditCode: withCreditCodeCheck('91350500MA0000003'), name: 'x', planType: 'PUBLIC', admin: true } }, null],
      [ADMIN, `mutation($i: CreateUnitInput!) { createUnit(input: $i) { userErrors { field code message } } }`, { i: { name: 'x', planType: 'PUBLIC' } }, null],
      [ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "x", planType: PUBLIC }) { userErrors { field code message } } }`, { c: '91350500MA0000003' }, { field: 'input.creditCode', reason: 'must be 18 characters, got 17' }],
      [ADMIN, `mutation($c: String!) { createUnit(input: { creditCode: $c, name: "x", planType: PUBLIC }) { userErrors { field code message } } }`, { c: '91350500MA000000IO' }, { field: 'input.creditCode', reason: 'may only contain digits and the letters A-Y without I, O, S, V, Z' }],
      [ADMIN, `mutation($n: String!) { createUnit(input: { creditCode: "${withCreditCodeCheck('91350500MA0000003')}", name: $n, planType: PUBLIC }) { userErrors { field code message } } }`, { n: '   ' }, { field: 'input.name', reason: 'must be 1 to 200 characters' }],
      [ADMIN, `mutation($n: String!) { createUnit(input: { creditCode: "${withCreditCodeCheck('91350500MA0000003')}", name: $n, planType: PUBLIC }) { userErrors { field code message } } }`, { n: '单'.repeat(201) }, { field: 'input.name', reason: 'must be 1 to 200 characters' }],
      [FINANCE, `mutation($u: ID!, $y: Int!) { recordContributionPayment(input: { unitId: $u, planYear: $y, amountFen: 100, reference: "BANKREF7", paidOn: "2025-01-01" }) { userErrors { field code message } } }`, { u: '', y: 2025 }, { field: 'input.unitId', reason: 'is not a Unit ID' }],
      [ADMIN, `mutation($m: ID!, $r: String!) { revealMemberPersonalData(input: { memberId: $m, reason: $r }) { userErrors { field code message } } }`, { r: ' ok ' }, { field: 'input.reason', reason: 'say why (at least 4 characters)' }],
    ];
    for (const [auth, query, variables, expected] of refusals) {
      const vars = 'm' in variables || query.includes('$m') ? { m: memberId, ...variables } : variables;
      const error = firstError(await gw.query(auth, query, vars), `${query.slice(0, 50)} ${JSON.stringify(variables).slice(0, 50)}`);
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', ...(expected ?? {}) });
    }
    for (const y of [1999, 2101, 0, -2025, 2 ** 31 - 1]) {
      const error = firstError(await gw.query(FINANCE, `mutation($u: ID!, $y: Int!) { recordContributionPayment(input: { unitId: $u, planYear: $y, amountFen: 100, reference: "BANKREF7", paidOn: "2025-01-01" }) { userErrors { field code message } } }`, { u: unitId, y }), `year ${y}`);
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.planYear' });
      const enrol = firstError(await gw.query(ADMIN, `mutation($m: ID!, $y: Int!) { enrolMember(input: { memberId: $m, planYear: $y }) { userErrors { field code message } } }`, { m: memberId, y }), `enrol ${y}`);
      expect(enrol.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.planYear' });
    }
  });

  it('member fields are checked with the roster rules: ID check digit, Luhn, CNAPS, phone', async () => {
    const CREATE = `mutation($i: CreateMemberInput!) { createMember(input: $i) { userErrors { field code message } } }`;
    const bad = fc.oneof(
      residentIdWrongCheck.map(({ id, expected }) => ({ patch: { idNumber: id }, field: 'input.idNumber', reason: `check digit is ${id[17]}, expected ${expected}` })),
      fc.tuple(residentId, luhnCardWrong).map(([idNumber, cardNumber]) => ({ patch: { idNumber, bankAccount: { cardNumber, bankCode: '102397000011' } }, field: 'input.bankAccount.cardNumber', reason: 'card number check digit (Luhn) is wrong' })),
      fc.tuple(residentId, luhnCard, fc.stringMatching(/^\d{1,11}$/)).map(([idNumber, cardNumber, bankCode]) => ({ patch: { idNumber, bankAccount: { cardNumber, bankCode } }, field: 'input.bankAccount.bankCode', reason: 'must be the 12-digit CNAPS bank code' })),
      fc.tuple(residentId, fc.constantFrom('12345', '23800000000', '+8613800000000')).map(([idNumber, phone]) => ({ patch: { idNumber, phone }, field: 'input.phone', reason: 'must be a mobile number (11 digits) or a landline with area code' })),
    );
    await fc.assert(
      fc.asyncProperty(bad, async ({ patch, field, reason }) => {
        const error = firstError(await gw.query(ADMIN, CREATE, { i: { unitId, name: '李四', ...patch } }), field);
        expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field, reason });
      }),
      { numRuns: 60 },
    );
  });

  it('no string a client sends makes an internal error', async () => {
    // U+0000 included: it is BAD_USER_INPUT naming the argument (test/gateway/argumentValues.test.ts).
    const text = fc.string({ unit: 'binary', maxLength: 60 });
    const uses: [Parameters<TestGateway['query']>[0], string, (s: string) => Record<string, unknown>][] = [
      [ADMIN, `query($s: String) { members(filter: { name: $s }) { totalCount } }`, (s) => ({ s })],
      [ADMIN, `query($s: String) { units(filter: { name: $s, creditCode: $s }) { totalCount } }`, (s) => ({ s })],
      [ADMIN, `query($s: String) { settlements(filter: { source: $s }) { totalCount } }`, (s) => ({ s })],
      [ADMIN, `query($s: String) { settlementRejections(filter: { source: $s }) { totalCount } }`, (s) => ({ s })],
      [ADMIN, `query($s: String) { settlementIngestionRuns(source: $s) { totalCount } }`, (s) => ({ s })],
      [ADMIN, `query($s: JSON!) { benefitPreview(ruleSetId: "default-2025", input: $s) { eligible } }`, (s) => ({ s })],
      [ADMIN, `query($s: JSON!) { benefitPreview(ruleSetId: "default-2025", input: $s) { eligible } }`, (s) => ({ s: { settlement: { setl_id: s, medfee_sumamt: s }, plan: s, [s]: s } })],
      [ADMIN, `query($s: String!) { ruleSet(ruleSetId: $s) { version } }`, (s) => ({ s })],
      [ADMIN, `mutation($s: String!) { createUnit(input: { creditCode: $s, name: "x", planType: PUBLIC }) { userErrors { field code message } } }`, (s) => ({ s: `Ω${s}` })],
      [ADMIN, `mutation($m: ID!, $s: String!) { revealMemberPersonalData(input: { memberId: $m, reason: $s }) { userErrors { field code message } } }`, (s) => ({ m: memberId, s: s.trim().length >= 4 ? s.slice(0, 3) : s })],
      [FINANCE, `mutation($u: ID!, $s: String!) { recordContributionPayment(input: { unitId: $u, planYear: 2025, amountFen: 100, reference: $s, paidOn: "2025-01-01" }) { userErrors { field code message } } }`, (s) => ({ u: unitId, s: `${s}${'x'.repeat(40)}` })],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...uses), text, async ([auth, query, variables], s) => {
        const result = await gw.query(auth, query, variables(s));
        for (const e of result.errors ?? []) expect(e.extensions?.code, `${query.slice(0, 60)} ${JSON.stringify(s)}: ${e.message}`).not.toBe('INTERNAL_SERVER_ERROR');
      }),
      { numRuns: 150 },
    );
  });
});

describe('after all of the above', () => {
  it('nothing stored changed', async () => {
    expect(await fingerprints(db.pool, TABLES)).toEqual(before);
  });
});
