import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { approvePaymentPolicy, proposePaymentPolicy, releaseUnderPolicies, revokePaymentPolicy } from '../../src/payouts/policies.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { provinceFunder } from '../payouts/fundersSupport.ts';
import { approvedClaims, finance, handMadePolicyRelease, settings, type ApprovedClaim } from '../payouts/support.ts';

/**
 * Standing payment policies' trust boundaries: only FINANCE proposes, approves and revokes, never
 * one person both proposing and approving (API and database); another organisation's FINANCE
 * neither sees nor decides a funder's policy; and whatever writes the rows, the database releases
 * a batch under a policy only within every limit of a policy in force, never lets a revoked
 * policy's batch be handed to the bank, and never lets anything join a released batch.
 */

let db: TestDatabase;
let gw: TestGateway;
let claims: ApprovedClaim[];
let unionFunder: number;
let provinceFunderId: string;

const FINANCE_A = { role: 'FINANCE' as const, sub: 'finance-a' };
const FINANCE_B = { role: 'FINANCE' as const, sub: 'finance-b' };
const PROVINCE_FINANCE = { role: 'FINANCE' as const, sub: 'province-finance', org: 'FJ' };
const financeB = { subject: 'finance-b', role: 'FINANCE' };

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  claims = await approvedClaims(db.pool, 3);
  await planPayouts(db.pool, settings);
  unionFunder = (await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`)).rows[0]!.id;
  provinceFunderId = toGlobalId('Funder', (await provinceFunder(db.pool)).id);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const PROPOSE = `mutation($i: ProposePaymentPolicyInput!) { proposePaymentPolicy(input: $i) { policy { id status } userErrors { code field message } } }`;
const APPROVE = `mutation($id: ID!) { approvePaymentPolicy(input: { policyId: $id }) { policy { id status approver { subject } } userErrors { code message } } }`;

function proposal(funderId: string, over: Record<string, unknown> = {}) {
  const now = Date.now();
  return {
    funderId, maxPayoutFen: 500_000, dailySumFen: 10_000_000, dailyCount: 100, accountUnchangedDays: settings.coolingOffDays,
    validFrom: new Date(now - 60_000).toISOString(), validUntil: new Date(now + 86_400_000).toISOString(), reason: '即时办 small claims', ...over,
  };
}

/** A policy in force for the union's payouts, proposed by `finance`, approved by finance-b. */
async function policyInForce(over: Partial<{ maxPayoutFen: number; dailyCount: number }> = {}): Promise<number> {
  const now = Date.now();
  const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
    funderId: unionFunder, maxPayoutFen: 10_000_000, dailySumFen: 100_000_000, dailyCount: 1_000, accountUnchangedDays: settings.coolingOffDays,
    validFrom: new Date(now - 60_000), validUntil: new Date(now + 86_400_000), reason: 'test policy', ...over,
  });
  await approvePaymentPolicy(db.pool, financeB, UNSCOPED, policy.id);
  return policy.id;
}

const violation = { code: '23514' };

describe('who may decide a payment policy', () => {
  it('the proposer cannot approve it, nor can ADMIN, REVIEWER or a unit operator propose one; a second FINANCE person can', async () => {
    const union = toGlobalId('Funder', unionFunder);
    for (const role of ['ADMIN', 'REVIEWER', 'AUDITOR'] as const) {
      const refused = await gw.query({ role, sub: `x-${role}` }, PROPOSE, { i: proposal(union) });
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const proposed = await gw.query(FINANCE_A, PROPOSE, { i: proposal(union) });
    const id = proposed.data.proposePaymentPolicy.policy.id;
    expect(proposed.data.proposePaymentPolicy.policy.status).toBe('PROPOSED');
    const self = await gw.query(FINANCE_A, APPROVE, { id });
    expect(self.errors?.[0]).toMatchObject({ message: expect.stringMatching(/another FINANCE person must approve it/), extensions: { code: 'FORBIDDEN' } });
    const admin = await gw.query({ role: 'ADMIN', sub: 'admin-x' }, APPROVE, { id });
    expect(admin.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const second = await gw.query(FINANCE_B, APPROVE, { id });
    expect(second.data.approvePaymentPolicy.policy).toMatchObject({ status: 'ACTIVE', approver: { subject: 'finance-b' } });
    const revoked = await gw.query(FINANCE_B, `mutation($id: ID!) { revokePaymentPolicy(input: { policyId: $id, reason: "test over" }) { policy { status } cancelledBatchCount } }`, { id });
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data.revokePaymentPolicy).toEqual({ policy: { status: 'REVOKED' }, cancelledBatchCount: 0 });
  });

  it('refuses a policy shorter than the cooling-off, or looser than itself, naming the field', async () => {
    const union = toGlobalId('Funder', unionFunder);
    const cooling = await gw.query(FINANCE_A, PROPOSE, { i: proposal(union, { accountUnchangedDays: settings.coolingOffDays - 1 }) });
    expect(cooling.data.proposePaymentPolicy.userErrors[0]).toMatchObject({ code: 'INVALID', field: 'input.accountUnchangedDays' });
    const daily = await gw.query(FINANCE_A, PROPOSE, { i: proposal(union, { dailySumFen: 100 }) });
    expect(daily.data.proposePaymentPolicy.userErrors[0]).toMatchObject({ code: 'INVALID', field: 'input.dailySum' });
    const year = await gw.query(FINANCE_A, PROPOSE, { i: proposal(union, { validUntil: new Date(Date.now() + 400 * 86_400_000).toISOString() }) });
    expect(year.data.proposePaymentPolicy.userErrors[0]).toMatchObject({ code: 'INVALID', field: 'input.validUntil' });
  });

  it('another organisation\'s FINANCE neither sees nor decides a funder\'s policy, nor proposes one for it', async () => {
    const union = toGlobalId('Funder', unionFunder);
    const proposed = await gw.query(FINANCE_A, PROPOSE, { i: proposal(union) });
    const id = proposed.data.proposePaymentPolicy.policy.id;
    const seen = await gw.query(PROVINCE_FINANCE, `query($id: ID!) { paymentPolicy(id: $id) { id } node(id: $id) { id } paymentPolicies { totalCount } }`, { id });
    expect(seen.data).toEqual({ paymentPolicy: null, node: null, paymentPolicies: { totalCount: 0 } });
    const approve = await gw.query(PROVINCE_FINANCE, APPROVE, { id });
    expect(approve.data.approvePaymentPolicy.userErrors[0].code).toBe('NOT_FOUND');
    const foreign = await gw.query(PROVINCE_FINANCE, PROPOSE, { i: proposal(union) });
    expect(foreign.data.proposePaymentPolicy.userErrors[0]).toMatchObject({ code: 'NOT_FOUND' });
    // Its own funder's policy it may propose.
    const own = await gw.query(PROVINCE_FINANCE, PROPOSE, { i: proposal(provinceFunderId) });
    expect(own.data.proposePaymentPolicy.policy.status).toBe('PROPOSED');
  });

  it('members and unit operators do not read policies; a member sees that a payment was released, not by whom', async () => {
    const memberToken = { role: 'MEMBER' as const, sub: 'member-1', member: toGlobalId('Member', claims[0]!.memberId) };
    const member = await gw.query(memberToken, `{ paymentPolicies { totalCount } }`);
    expect(member.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // One payout (the oldest: this member's) released under a policy.
    const policyId = await policyInForce({ dailyCount: 1 });
    const [batch] = await releaseUnderPolicies(db.pool, settings);
    expect(batch!.nbOfTxs).toBe(1);
    const RELEASE = `{ payouts { edges { node { release { kind at policy { id } approver { subject } } attempts { release { kind policy { id } } } } } } }`;
    const own = (await gw.query(memberToken, RELEASE)).data.payouts.edges.map((e: { node: unknown }) => e.node);
    expect(own).toEqual([{ release: { kind: 'POLICY', at: expect.any(String), policy: null, approver: null }, attempts: [{ release: { kind: 'POLICY', policy: null } }] }]);
    const staff = (await gw.query(FINANCE_A, RELEASE)).data.payouts.edges.map((e: { node: { release: unknown } }) => e.node.release).filter(Boolean);
    expect(staff).toEqual([{ kind: 'POLICY', at: expect.any(String), policy: { id: toGlobalId('PaymentPolicy', policyId) }, approver: null }]);
    // Revoked before the bank had it: the batch is cancelled, the payout released by nothing.
    await revokePaymentPolicy(db.pool, finance, UNSCOPED, settings, policyId, 'test over');
    const after = (await gw.query(memberToken, RELEASE)).data.payouts.edges[0].node;
    expect(after.release).toBeNull();
  });

  it('a token cannot name one of the hub\'s own services as its subject (claims those decide are paid under policies)', async () => {
    // `cli` and `hub figures`: what the hub command did, which a person's token must not pass for.
    for (const sub of ['adjudication', 'redecision', 'payment-policy-1', 'cli', 'hub figures']) {
      const token = await gw.token({ role: 'REVIEWER', sub });
      const forged = await fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ viewer { role } }' }) });
      expect(forged.status).toBe(401);
      expect((await forged.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
  });
});

describe('the database, whoever writes the rows', () => {
  it('refuses an approval by the proposer or by another role, a change to a decided policy, and approving a revoked one', async () => {
    const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
      funderId: unionFunder, maxPayoutFen: 100, dailySumFen: 100, dailyCount: 1, accountUnchangedDays: settings.coolingOffDays,
      validFrom: new Date(), validUntil: new Date(Date.now() + 3_600_000), reason: 'db attack',
    });
    await expect(db.pool.query(`UPDATE payment_policies SET approved_by = proposed_by, approved_by_role = 'FINANCE', approved_at = now() WHERE id = $1`, [policy.id])).rejects.toMatchObject(violation);
    await expect(db.pool.query(`UPDATE payment_policies SET approved_by = 'admin-x', approved_by_role = 'ADMIN', approved_at = now() WHERE id = $1`, [policy.id])).rejects.toMatchObject(violation);
    await approvePaymentPolicy(db.pool, financeB, UNSCOPED, policy.id);
    await expect(db.pool.query(`UPDATE payment_policies SET max_payout_fen = 100000000 WHERE id = $1`, [policy.id])).rejects.toMatchObject(violation);
    await expect(db.pool.query(`UPDATE payment_policies SET approved_by = 'finance-c' WHERE id = $1`, [policy.id])).rejects.toMatchObject(violation);
    await revokePaymentPolicy(db.pool, finance, UNSCOPED, settings, policy.id, 'done with it');
    await expect(db.pool.query(`UPDATE payment_policies SET revoked_at = NULL, revoked_by = NULL, revoked_by_role = NULL, revoke_reason = NULL WHERE id = $1`, [policy.id])).rejects.toMatchObject(violation);
  });

  it('refuses to release a batch with a payout above the policy\'s amount, of a reviewed claim, or past the day', async () => {
    const small = await policyInForce({ maxPayoutFen: 1 });
    const [payout] = (await db.pool.query<{ id: number }>(`SELECT id FROM payouts WHERE status = 'READY' ORDER BY id LIMIT 1`)).rows;
    // A hand-made policy batch holding one payout above the amount per payout.
    await expect(handMadePolicyRelease(db.pool, small, payout!.id)).rejects.toThrow(/above the policy's amount per payout/);
    const generous = await policyInForce({ dailyCount: 1 });
    await db.pool.query(`UPDATE claims SET decided_by = 'reviewer-chen' WHERE id = (SELECT claim_id FROM payouts WHERE id = $1)`, [payout!.id]);
    await expect(handMadePolicyRelease(db.pool, generous, payout!.id)).rejects.toThrow(/not approved by the rules alone/);
    await db.pool.query(`UPDATE claims SET decided_by = 'adjudication' WHERE id = (SELECT claim_id FROM payouts WHERE id = $1)`, [payout!.id]);
    // One release takes the day's only payout; a hand-made second is past the day.
    const [first] = await releaseUnderPolicies(db.pool, settings);
    expect(first!.nbOfTxs).toBeGreaterThanOrEqual(1);
    const [other] = (await db.pool.query<{ id: number }>(`SELECT id FROM payouts WHERE status = 'READY' ORDER BY id LIMIT 1`)).rows;
    await revokePaymentPolicy(db.pool, finance, UNSCOPED, settings, small, 'not needed');
    await expect(handMadePolicyRelease(db.pool, generous, other!.id)).rejects.toThrow(/past payment policy .*'s day/);
  });

  it('refuses handing a revoked policy\'s batch to the bank, a person approving a policy batch, and a payment joining a released batch', async () => {
    await db.pool.query(`UPDATE payout_batches SET status = 'CANCELLED', cancel_reason = 'reset' WHERE status IN ('DRAFT', 'APPROVED')`);
    await db.pool.query(`UPDATE payout_attempts SET status = 'CANCELLED' WHERE status = 'PLANNED'`);
    await db.pool.query(`UPDATE payouts SET status = 'READY' WHERE status = 'IN_BATCH'`);
    await policyInForce();
    const [batch] = await releaseUnderPolicies(db.pool, settings);
    const { policyId } = (await db.pool.query<{ policyId: number }>(`SELECT policy_id AS "policyId" FROM payout_batches WHERE id = $1`, [batch!.id])).rows[0]!;
    await expect(db.pool.query(`UPDATE payout_batches SET approved_by = 'finance-b', approved_by_role = 'FINANCE', approved_at = now() WHERE id = $1`, [batch!.id]))
      .rejects.toMatchObject(violation);
    await expect(db.pool.query(
      `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc, creditor_account_masked, creditor_agent, remittance_info)
       SELECT p.id, 99, $1, 'JOIN-' || p.id, p.amount_fen, 'x', '\\x00', 'x', '000000000000', 'x' FROM payouts p ORDER BY p.id LIMIT 1`, [batch!.id],
    )).rejects.toThrow(/takes no more payments/);
    // Revoked in one transaction, handed over in another: the trigger refuses the hand-over.
    await db.pool.query(`UPDATE payment_policies SET revoked_by = 'finance-a', revoked_by_role = 'FINANCE', revoked_at = now(), revoke_reason = 'stop' WHERE id = $1`, [policyId]);
    await db.pool.query(`UPDATE payout_batches SET status = 'SEALED', file_enc = '\\x00', file_sha256 = '\\x00', seal = '\\x00' WHERE id = $1`, [batch!.id]);
    await expect(db.pool.query(`UPDATE payout_batches SET status = 'SUBMITTED', submission = 'SENDING' WHERE id = $1`, [batch!.id])).rejects.toThrow(/revoked or has ended/);
    // Nor is the check skipped by moving the status alone (the worker sends a SUBMITTED batch the bank has not received).
    await expect(db.pool.query(`UPDATE payout_batches SET status = 'SUBMITTED' WHERE id = $1`, [batch!.id])).rejects.toThrow(/only as it is handed to the bank/);
    // A person's batch can never claim a policy.
    await expect(db.pool.query(
      `INSERT INTO payout_batches (msg_id, pmt_inf_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date, nb_of_txs, ctrl_sum_fen, created_by, created_by_role, policy_id)
       VALUES ('PERSON-1', 'PERSON-1-1', 'SIM', $1, $2, $3, current_date, 1, 1, 'clerk-li', 'ADMIN', $4)`,
      [settings.account.account, settings.account.name, settings.account.agent, policyId],
    )).rejects.toMatchObject(violation);
  });
});
