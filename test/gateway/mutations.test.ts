import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { reconcileJobId } from '../../src/reconciliation/queue.ts';
import { withCreditCodeCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember, seedSettlement, totalOfClaim } from '../benefits/seed.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { ensureUnit, startTestGateway, type TestGateway } from '../support/gateway.ts';

/** Mutations in one shape: `input` → payload with what was produced and every `userErrors` at once. */

let db: TestDatabase;
let gw: TestGateway;
let unitId: string;
/** Claims waiting for review (24,000 CNY each, above the automatic-approval threshold). */
let pending: number[];

const ADMIN = { role: 'ADMIN', sub: 'admin-zhang' } as const;
const REVIEWER = { role: 'REVIEWER', sub: 'rev-wu' } as const;
const FINANCE = { role: 'FINANCE', sub: 'finance-li' } as const;
const CREATE_MEMBER = `mutation($input: CreateMemberInput!) { createMember(input: $input) { member { id } userErrors { field code message } } }`;
const APPROVE_CLAIMS = `mutation($input: ApproveClaimsInput!) {
  approveClaims(input: $input) { results { claimId claim { id status decidedBy } userErrors { field code message } } userErrors { field code message } }
}`;

const count = async (sql: string) => (await db.pool.query<{ n: number }>(sql)).rows[0]!.n;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  unitId = await ensureUnit(gw, withCreditCodeCheck('91350582MA2XN0KJ1'));
  const member = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  const settlements = [];
  for (const month of ['04', '05', '06']) settlements.push(await seedSettlement(db.pool, member, { psn: '40,000.00', setlTime: `2025-${month}-01 10:00:00` }));
  await adjudicateSettlements(db.pool, settlements, { autoApproveMaxFen: fen('10,000.00') });
  pending = await Promise.all(settlements.map(async (s) => (await claimOf(db.pool, s))!.id));
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('userErrors', () => {
  it('reports every bad field of createMember at once, and writes nothing', async () => {
    const members = await count(`SELECT count(*)::int AS n FROM members`);
    const audited = await count(`SELECT count(*)::int AS n FROM audit_log`);
    const res = await gw.query(ADMIN, CREATE_MEMBER, { input: {
      unitId, name: ' ', idNumber: '350502198808080010', phone: '12345', bankAccount: { cardNumber: '12ab', bankCode: '104397000010' },
    } });
    expect(res.errors).toBeUndefined();
    expect(res.data.createMember).toEqual({ member: null, userErrors: [
      { field: 'input.name', code: 'INVALID', message: 'input.name: is required' },
      { field: 'input.idNumber', code: 'INVALID', message: expect.stringMatching(/^input\.idNumber: /) },
      { field: 'input.phone', code: 'INVALID', message: expect.stringMatching(/^input\.phone: must be a mobile number/) },
      { field: 'input.bankAccount.cardNumber', code: 'INVALID', message: 'input.bankAccount.cardNumber: must be 12 to 30 digits' },
    ] });
    expect(await count(`SELECT count(*)::int AS n FROM members`)).toBe(members);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log`)).toBe(audited);
  });

  it('reports a missing object as NOT_FOUND and a refused decision as CONFLICT, naming the field', async () => {
    const idNumber = withResidentIdCheck('35050219900101002');
    const created = await gw.query(ADMIN, CREATE_MEMBER, { input: { unitId, name: '陈静', idNumber } });
    expect(created.data.createMember).toEqual({ member: { id: expect.any(String) }, userErrors: [] });
    const twice = await gw.query(ADMIN, CREATE_MEMBER, { input: { unitId, name: '陈静', idNumber } });
    expect(twice.data.createMember).toEqual({ member: null, userErrors: [{ field: 'input.idNumber', code: 'CONFLICT', message: 'a member with this ID number already exists' }] });

    const missing = await gw.query(ADMIN, `mutation($id: ID!) { updateMember(input: { memberId: $id, name: "陈静" }) { member { id } userErrors { field code message } } }`,
      { id: toGlobalId('Member', 999_999) });
    expect(missing.data.updateMember).toEqual({ member: null, userErrors: [{ field: 'input.memberId', code: 'NOT_FOUND', message: 'member not found' }] });
    const wrongType = await gw.query(ADMIN, `mutation($id: ID!) { updateMember(input: { memberId: $id, name: "陈静" }) { userErrors { field code message } } }`, { id: unitId });
    expect(wrongType.data.updateMember.userErrors).toEqual([{ field: 'input.memberId', code: 'INVALID', message: 'input.memberId: is not a Member ID' }]);
  });

  it('keeps FORBIDDEN a top-level error: the payload says nothing to a caller without the right', async () => {
    const members = await count(`SELECT count(*)::int AS n FROM members`);
    const res = await gw.query(REVIEWER, CREATE_MEMBER, { input: { unitId, name: ' ', idNumber: 'x' } });
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(res.data).toBeNull();
    expect(await count(`SELECT count(*)::int AS n FROM members`)).toBe(members);
  });
});

describe('arguments named by the object they name', () => {
  const NONE = (type: string) => toGlobalId(type, 999_999);
  // Each mutation's ID argument, given an ID of no object: the userError names the input field.
  const cases: [mutation: string, who: { role: string; sub: string }, input: Record<string, unknown>, field: string][] = [
    ['updateUnit', ADMIN, { unitId: NONE('Unit'), name: '新名称' }, 'input.unitId'],
    ['confirmUnitTermsChange', ADMIN, { unitId: NONE('Unit'), proposedAt: '2026-06-01T00:00:00.000Z' }, 'input.unitId'],
    ['withdrawUnitTermsChange', ADMIN, { unitId: NONE('Unit'), reason: '录入错误' }, 'input.unitId'],
    ['approvePayoutBatch', FINANCE, { batchId: NONE('PayoutBatch') }, 'input.batchId'],
    ['submitPayoutBatch', FINANCE, { batchId: NONE('PayoutBatch') }, 'input.batchId'],
    ['retryBankDocument', FINANCE, { documentId: NONE('BankDocument') }, 'input.documentId'],
    ['confirmBankDocument', FINANCE, { documentId: NONE('BankDocument'), reason: '已电话核实' }, 'input.documentId'],
    ['writeOffReconciliationException', FINANCE, { exceptionId: NONE('ReconciliationException'), reason: '银行差错' }, 'input.exceptionId'],
    ['matchReconciliationException', FINANCE, { exceptionId: NONE('ReconciliationException'), endToEndIds: ['E2E-1'] }, 'input.exceptionId'],
    ['confirmFourEyesProposal', FINANCE, { proposalId: NONE('FourEyesProposal') }, 'input.proposalId'],
    ['rejectFourEyesProposal', FINANCE, { proposalId: NONE('FourEyesProposal') }, 'input.proposalId'],
    ['retrySettlementRejection', ADMIN, { rejectionId: NONE('SettlementRejection'), corrections: [] }, 'input.rejectionId'],
  ];
  it.each(cases)('%s takes input and names the missing object by its field', async (mutation, who, input, field) => {
    const type = `${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input`;
    const inputType = mutation.endsWith('FourEyesProposal') ? 'DecideFourEyesProposalInput' : type;
    const res = await gw.query(who as typeof ADMIN, `mutation($input: ${inputType}!) { ${mutation}(input: $input) { userErrors { field code } } }`, { input });
    expect(res.errors).toBeUndefined();
    expect(res.data[mutation].userErrors).toEqual([{ field, code: 'NOT_FOUND' }]);
  });

  it('refuses the former argument shapes', async () => {
    const batchId = NONE('PayoutBatch');
    for (const old of [`mutation { approvePayoutBatch(batchId: "${batchId}") { __typename } }`, `mutation { retryBankDocument(id: "${batchId}") { __typename } }`,
      `mutation { requestReconciliation(account: "35050164620700000001") { __typename } }`, `mutation { createPayoutBatch { __typename } }`]) {
      const res = await gw.query(FINANCE, old);
      expect(res.errors?.[0]?.extensions?.code, old).toBe('GRAPHQL_VALIDATION_FAILED');
    }
  });

  it('requestReconciliation queues the account and says so', async () => {
    const REQUEST = `mutation($input: RequestReconciliationInput!) { requestReconciliation(input: $input) { account queued userErrors { field code } } }`;
    const account = '35050164620700000001';
    const res = await gw.query(FINANCE, REQUEST, { input: { account } });
    expect(res.data.requestReconciliation).toEqual({ account, queued: true, userErrors: [] });
    expect(await gw.queues.reconciliation.getJob(reconcileJobId(account))).toBeTruthy();
    const bad = await gw.query(FINANCE, REQUEST, { input: { account: 'not an account' } });
    expect(bad.data.requestReconciliation).toEqual({ account: null, queued: null, userErrors: [{ field: 'input.account', code: 'INVALID' }] });
  });
});

describe('approveClaims', () => {
  it('decides each claim on its own: one approved, one already decided, one missing; each approval audited', async () => {
    const [fresh, decided] = pending.map((id) => toGlobalId('Claim', id)) as [string, string];
    const [freshTotal, decidedTotal] = await Promise.all(pending.map((id) => totalOfClaim(db.pool, id))) as [number, number];
    const first = await gw.query(ADMIN, `mutation($id: ID!, $total: Fen!) { approveClaim(input: { claimId: $id, checkedTotalFen: $total }) { userErrors { code } } }`,
      { id: decided, total: decidedTotal });
    expect(first.data.approveClaim.userErrors).toEqual([]);
    const missing = toGlobalId('Claim', 999_999);

    const res = await gw.query(REVIEWER, APPROVE_CLAIMS, { input: { claimIds: [decided, missing, fresh], checkedTotalsFen: [decidedTotal, 0, freshTotal], note: '批量复核' } });
    expect(res.errors).toBeUndefined();
    expect(res.data.approveClaims).toEqual({ userErrors: [], results: [
      { claimId: decided, claim: null, userErrors: [{ field: 'input.claimIds[0]', code: 'CONFLICT', message: 'the claim is APPROVED, not PENDING_REVIEW' }] },
      { claimId: missing, claim: null, userErrors: [{ field: 'input.claimIds[1]', code: 'NOT_FOUND', message: 'claim not found' }] },
      { claimId: fresh, claim: { id: fresh, status: 'APPROVED', decidedBy: 'rev-wu' }, userErrors: [] },
    ] });
    const { rows } = await db.pool.query(`SELECT actor, target_id AS "targetId", reason FROM audit_log WHERE action = 'claim.approve' AND actor = 'rev-wu'`);
    expect(rows).toEqual([{ actor: 'rev-wu', targetId: String(pending[0]), reason: '批量复核' }]);
  });

  it('refuses an empty list in the payload, approving nothing', async () => {
    const res = await gw.query(REVIEWER, APPROVE_CLAIMS, { input: { claimIds: [], checkedTotalsFen: [] } });
    expect(res.data.approveClaims).toEqual({ results: null, userErrors: [{ field: 'input.claimIds', code: 'INVALID', message: 'input.claimIds: must list 1 to 100 claims' }] });
  });
});
