import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { approveBatch, createBatch } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { provinceFunder, provincialLine } from '../payouts/fundersSupport.ts';
import { approvedClaims, clerk, settings, type ApprovedClaim } from '../payouts/support.ts';
import { placeUnit } from '../organisations/support.ts';

/**
 * Funders' trust boundaries: staff of one organisation see and decide only the batches and funders
 * of their organisation and those below it (a city's FINANCE never approves, sends or cancels the
 * province's batch, nor learns it exists); funders' figures are for staff who read batches.
 */

let db: TestDatabase;
let gw: TestGateway;
let claim: ApprovedClaim;
let provinceBatch: string;
let unionBatch: string;
let provinceFunderId: string;
let unionFunderId: string;

const CITY_FINANCE = { role: 'FINANCE' as const, sub: 'city-finance', org: 'UNION' };
const PROVINCE_FINANCE = { role: 'FINANCE' as const, sub: 'province-finance', org: 'FJ' };
const PROVINCE_FINANCE_B = { role: 'FINANCE' as const, sub: 'province-finance-b', org: 'FJ' };
const AUDITOR = { role: 'AUDITOR' as const, sub: 'auditor-chen' };

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  [claim] = await approvedClaims(db.pool, 1) as [ApprovedClaim];
  const province = await provinceFunder(db.pool);
  await provincialLine(db.pool, claim.claimId, province.id, 200_000);
  await planPayouts(db.pool, settings);
  const union = (await createBatch(db.pool, clerk, settings, 10))!;
  const fj = (await createBatch(db.pool, clerk, settings, 10, [province.id]))!;
  unionBatch = toGlobalId('PayoutBatch', union.id);
  provinceBatch = toGlobalId('PayoutBatch', fj.id);
  provinceFunderId = toGlobalId('Funder', province.id);
  unionFunderId = toGlobalId('Funder', (await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`)).rows[0]!.id);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const batchStatus = async (id: string) => (await gw.query({ role: 'ADMIN' }, `query($id: ID!) { payoutBatch(id: $id) { status } }`, { id })).data.payoutBatch.status;

describe('another organisation\'s FINANCE and the province\'s batch', () => {
  it('neither lists nor reads it, by id or as a node', async () => {
    const list = await gw.query(CITY_FINANCE, `{ payoutBatches { totalCount edges { node { id funder { code } } } } }`);
    expect(list.data.payoutBatches).toEqual({ totalCount: 1, edges: [{ node: { id: unionBatch, funder: { code: 'UNION' } } }] });
    const byId = await gw.query(CITY_FINANCE, `query($id: ID!) { payoutBatch(id: $id) { id } node(id: $id) { id } }`, { id: provinceBatch });
    expect(byId.data).toEqual({ payoutBatch: null, node: null });
    const filtered = await gw.query(CITY_FINANCE, `query($f: ID!) { payoutBatches(filter: { funderId: $f }) { totalCount } }`, { f: provinceFunderId });
    expect(filtered.data.payoutBatches.totalCount).toBe(0);
    // The province's own FINANCE sees its batch only.
    const own = await gw.query(PROVINCE_FINANCE, `{ payoutBatches { totalCount edges { node { id debtorAccount funder { code } } } } }`);
    expect(own.data.payoutBatches.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([provinceBatch]);
  });

  it('cannot approve, send or cancel it: refused as missing, and the batch is unchanged', async () => {
    for (const mutation of [
      `mutation($id: ID!) { approvePayoutBatch(input: { batchId: $id }) { batch { id } userErrors { field code } } }`,
      `mutation($id: ID!) { submitPayoutBatch(input: { batchId: $id }) { batch { id } userErrors { field code } } }`,
      `mutation($id: ID!) { cancelPayoutBatch(input: { batchId: $id, reason: "not ours to pay" }) { batch { id } userErrors { field code } } }`,
    ]) {
      const answer = await gw.query(CITY_FINANCE, mutation, { id: provinceBatch });
      expect(Object.values(answer.data)[0]).toEqual({ batch: null, userErrors: [{ field: 'input.batchId', code: 'NOT_FOUND' }] });
    }
    expect(await batchStatus(provinceBatch)).toBe('DRAFT');
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action LIKE 'payout.batch.%' AND actor = $1`, [CITY_FINANCE.sub]);
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('cannot make a batch of the province\'s payouts, naming its funder or forging the id', async () => {
    const create = `mutation($f: ID) { createPayoutBatch(input: { funderId: $f }) { batch { id } userErrors { field code } } }`;
    expect((await gw.query({ ...CITY_FINANCE, role: 'ADMIN' }, create, { f: provinceFunderId })).data.createPayoutBatch)
      .toEqual({ batch: null, userErrors: [{ field: 'input.funderId', code: 'NOT_FOUND' }] });
    expect((await gw.query({ role: 'ADMIN' }, create, { f: toGlobalId('Payout', 1) })).data.createPayoutBatch)
      .toEqual({ batch: null, userErrors: [{ field: 'input.funderId', code: 'INVALID' }] });
  });

  it('the province\'s FINANCE approves it, but not a batch it created itself (four eyes)', async () => {
    const approve = `mutation($id: ID!) { approvePayoutBatch(input: { batchId: $id }) { batch { status funder { code } } userErrors { code } } }`;
    expect((await gw.query(PROVINCE_FINANCE, approve, { id: provinceBatch })).data.approvePayoutBatch)
      .toEqual({ batch: { status: 'APPROVED', funder: { code: 'FJ' } }, userErrors: [] });
    // Nor the city's batch, which is outside the province's tree.
    expect((await gw.query(PROVINCE_FINANCE, approve, { id: unionBatch })).data.approvePayoutBatch).toEqual({ batch: null, userErrors: [{ code: 'NOT_FOUND' }] });
    expect(await batchStatus(unionBatch)).toBe('DRAFT');

    // The city's funder is not the province's to pay from.
    const create = `mutation($f: ID) { createPayoutBatch(input: { funderId: $f }) { batch { id funder { code } } userErrors { code } } }`;
    expect((await gw.query(PROVINCE_FINANCE, create, { f: unionFunderId })).data.createPayoutBatch).toEqual({ batch: null, userErrors: [{ code: 'NOT_FOUND' }] });

    // A new province payout, batched by one province FINANCE person: only another may approve it.
    const [next] = await approvedClaims(db.pool, 1);
    await provincialLine(db.pool, next!.claimId, localId('f', provinceFunderId, 'Funder'), 90_000);
    await planPayouts(db.pool, settings);
    // The city's staff, naming no funder, get a batch of their own funder's payouts, never the province's; then nothing.
    const cityCreate = `mutation { createPayoutBatch(input: {}) { batch { funder { code } paymentCount } userErrors { code } } }`;
    expect((await gw.query({ ...CITY_FINANCE, role: 'ADMIN' }, cityCreate)).data.createPayoutBatch)
      .toEqual({ batch: { funder: { code: 'UNION' }, paymentCount: 1 }, userErrors: [] });
    expect((await gw.query({ ...CITY_FINANCE, role: 'ADMIN' }, cityCreate)).data.createPayoutBatch).toEqual({ batch: null, userErrors: [{ code: 'CONFLICT' }] });
    const created = (await gw.query(PROVINCE_FINANCE, create, { f: provinceFunderId })).data.createPayoutBatch;
    expect(created).toMatchObject({ batch: { funder: { code: 'FJ' } }, userErrors: [] });
    const own = await gw.query(PROVINCE_FINANCE, approve, { id: created.batch.id });
    expect(own.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await gw.query(PROVINCE_FINANCE_B, approve, { id: created.batch.id })).data.approvePayoutBatch)
      .toEqual({ batch: { status: 'APPROVED', funder: { code: 'FJ' } }, userErrors: [] });
  });
});

describe('funders and their figures', () => {
  const FUNDERS = `{ funders { id code accountMasked organisation { code } balance(planYear: 2025) { approvedFen payoutsFen balanced } } }`;

  it('lists the funders of the caller\'s tree only, for the roles that read batches', async () => {
    const city = await gw.query(CITY_FINANCE, FUNDERS);
    expect(city.data.funders.map((f: { code: string }) => f.code)).toEqual(['UNION']);
    const province = await gw.query(PROVINCE_FINANCE_B, FUNDERS);
    const { rows: [fj] } = await db.pool.query<{ fen: number }>(
      `SELECT sum(amount_fen)::bigint AS fen FROM benefit_lines WHERE funder_id = $1 AND status = 'APPROVED'`, [localId('f', provinceFunderId, 'Funder')],
    );
    expect(province.data.funders).toEqual([{
      id: provinceFunderId, code: 'FJ', accountMasked: expect.stringMatching(/^1408 \*{4} \*{4} 9876$/), organisation: { code: 'FJ' },
      balance: { approvedFen: fj!.fen, payoutsFen: fj!.fen, balanced: true },
    }]);
    expect((await gw.query(AUDITOR, FUNDERS)).data.funders.map((f: { code: string }) => f.code)).toEqual(['FJ', 'UNION']);
    // The province's funder is no node for the city's staff.
    expect((await gw.query(CITY_FINANCE, `query($id: ID!) { node(id: $id) { id } }`, { id: provinceFunderId })).data.node).toBeNull();
  });

  it('refuses the funders list to unit operators and members, and shows members no figures of their payouts\' funders', async () => {
    const { rows: [unit] } = await db.pool.query<{ creditCode: string }>('SELECT u.credit_code AS "creditCode" FROM units u JOIN members m ON m.unit_id = u.id WHERE m.id = $1', [claim.memberId]);
    for (const who of [{ role: 'UNIT_OPERATOR' as const, unit: unit!.creditCode }, { role: 'MEMBER' as const, member: toGlobalId('Member', claim.memberId) }, { role: 'REVIEWER' as const }]) {
      const answer = await gw.query(who, `{ funders { id } }`);
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const member = { role: 'MEMBER' as const, member: toGlobalId('Member', claim.memberId), sub: 'member-self' };
    const own = await gw.query(member, `query($id: ID!) { claim(id: $id) { payouts { amountFen funder { code balance(planYear: 2025) { approvedFen } } } } }`, { id: toGlobalId('Claim', claim.claimId) });
    expect(own.errors).toBeUndefined();
    expect(own.data.claim.payouts.map((p: { funder: { code: string; balance: unknown } }) => [p.funder.code, p.funder.balance]).sort())
      .toEqual([['FJ', null], ['UNION', null]]);
  });

  it('refuses a plan year out of range', async () => {
    const answer = await gw.query(AUDITOR, `{ funders { balance(planYear: 99999) { balanced } } }`);
    expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('a county\'s staff and the funds above it', () => {
  const COUNTY_FINANCE = { role: 'FINANCE' as const, sub: 'jj-finance', org: 'JJ' };
  const PAYOUTS = `query($id: ID!) { claim(id: $id) { payouts {
    funder { code balance(planYear: 2025) { approvedFen paidFen } }
    release { kind approver { subject } } attempts { batch { id } release { kind approver { subject } } } } } }`;
  let county: { claimGid: string; batchGid: string };
  const inCounty = async () => (county ??= await (async () => {
    // Claimant's unit in county JJ below UNION, the claim paid by UNION and by the province (FJ, another tree).
    await db.pool.query(`INSERT INTO organisations (code, name, level, parent_id, created_by)
      VALUES ('JJ', '晋江市总工会', 'COUNTY', (SELECT id FROM organisations WHERE code = 'UNION'), 'test')`);
    const [paid] = await approvedClaims(db.pool, 1) as [ApprovedClaim];
    const { rows: [unit] } = await db.pool.query<{ id: number }>('SELECT unit_id AS id FROM members WHERE id = $1', [paid.memberId]);
    await placeUnit(db.pool, unit!.id, 'JJ');
    await provincialLine(db.pool, paid.claimId, localId('f', provinceFunderId, 'Funder'), 70_000);
    await planPayouts(db.pool, settings);
    const batch = (await createBatch(db.pool, clerk, settings, 10, [localId('f', unionFunderId, 'Funder')]))!;
    await approveBatch(db.pool, { subject: 'union-fin-zhang', role: 'FINANCE' }, batch.id);
    return { claimGid: toGlobalId('Claim', paid.claimId), batchGid: toGlobalId('PayoutBatch', batch.id) };
  })());
  type Payout = { funder: { code: string; balance: { approvedFen: number } | null }; release: { kind: string; approver: { subject: string } | null } | null };
  const byFunder = (payouts: Payout[]) => Object.fromEntries(payouts.map((p) => [p.funder.code, p]));

  it('a county FINANCE reads no balance of UNION\'s or the province\'s fund through its member\'s payouts (null, as from funders); the hub\'s AUDITOR does', async () => {
    const { claimGid } = await inCounty();
    expect((await gw.query(COUNTY_FINANCE, `{ funders { code } }`)).data.funders).toEqual([]);
    const own = await gw.query(COUNTY_FINANCE, PAYOUTS, { id: claimGid });
    expect(own.errors).toBeUndefined();
    expect(own.data.claim.payouts.map((p: Payout) => [p.funder.code, p.funder.balance]).sort()).toEqual([['FJ', null], ['UNION', null]]);
    const hub = await gw.query(AUDITOR, PAYOUTS, { id: claimGid });
    const funds = byFunder(hub.data.claim.payouts);
    expect(funds.UNION!.funder.balance!.approvedFen).toBeGreaterThan(0);
    expect(funds.FJ!.funder.balance!.approvedFen).toBeGreaterThanOrEqual(70_000);
  });

  it('a county FINANCE that cannot read UNION\'s batch learns only that and when its member\'s payout was approved, not by whom', async () => {
    const { claimGid, batchGid } = await inCounty();
    expect((await gw.query(COUNTY_FINANCE, `query($id: ID!) { payoutBatch(id: $id) { id } }`, { id: batchGid })).data.payoutBatch).toBeNull();
    const own = await gw.query(COUNTY_FINANCE, PAYOUTS, { id: claimGid });
    expect(own.errors).toBeUndefined();
    expect(byFunder(own.data.claim.payouts).UNION).toMatchObject({
      release: { kind: 'APPROVAL', approver: null }, attempts: [{ batch: null, release: { kind: 'APPROVAL', approver: null } }],
    });
    // UNION's staff read the batch, and so who approved it.
    const city = await gw.query(CITY_FINANCE, PAYOUTS, { id: claimGid });
    expect(byFunder(city.data.claim.payouts).UNION).toMatchObject({
      release: { kind: 'APPROVAL', approver: { subject: 'union-fin-zhang' } },
      attempts: [{ batch: { id: batchGid }, release: { approver: { subject: 'union-fin-zhang' } } }],
    });
  });
});

describe('reconciliation and an organisation\'s staff', () => {
  it('refuses statements, exceptions and reconciling to staff of an organisation: every funder\'s account is the hub\'s own staff\'s', async () => {
    for (const who of [CITY_FINANCE, PROVINCE_FINANCE, { role: 'AUDITOR' as const, org: 'FJ' }]) {
      const read = await gw.query(who, `{ reconciliationExceptions { totalCount } bankStatements { totalCount } }`);
      expect(read.data).toBeNull();
      expect(read.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const run = await gw.query(PROVINCE_FINANCE, `mutation($a: String!) { requestReconciliation(input: { account: $a }) { account } }`, { a: '1408010109024569876' });
    expect(run.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // The hub's own staff read them.
    expect((await gw.query(AUDITOR, `{ reconciliationExceptions { totalCount } }`)).data.reconciliationExceptions).toEqual({ totalCount: 0 });
  });
});
