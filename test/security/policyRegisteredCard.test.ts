import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { withLuhnCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { createBatch } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { approvePaymentPolicy, proposePaymentPolicy, releaseUnderPolicies } from '../../src/payouts/policies.ts';
import { lookupHash } from '../../src/privacy/personalData.ts';
import { PAYEE_BANK } from '../banks/simulator/support.ts';
import { payContribution, seedEnrolment, seedUnit, type MemberSetup } from '../benefits/seed.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedClaims, approvedStays, clerk, finance, handMadePolicyRelease, keys, settings } from '../payouts/support.ts';

/**
 * A standing payment policy (即时办) releases a payout without a person only to a card on record for
 * the policy's days. 0054 held a first card given to an existing member (its member_changes row); a
 * card the member was REGISTERED with has no such row, and was not held: an insider registering a
 * person not yet a member (createMember, or a new row of a roster import), with their own card, was
 * paid by the policy at once for that person's rules-approved stays. Such a card is on record since
 * the registration (members.created_at): in the worker's selection (lockReadyPayouts) and in the
 * database's check of every policy release (migration 0059), the member waits for the policy's days
 * or a person's batch.
 */
let db: TestDatabase;
let gw: TestGateway;
const financeZhao = { subject: 'finance-zhao', role: 'FINANCE' };
const insider = { role: 'ADMIN', sub: 'admin-insider' } as const;
const CREATE = `mutation($input: CreateMemberInput!) { createMember(input: $input) { member { id } userErrors { field code message } } }`;
const ROSTER_HEADER = 'name,id_number,phone,bank_card,bank_code,unit_credit_code,plan_year,special_disease\n';

beforeEach(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
});
afterEach(async () => {
  await gw.close();
  await db.drop();
});

/** A 30-day policy in force, and a member registered long ago with a card and a rules-approved claim: the policy's control. */
async function policyInForce(): Promise<{ policyId: number; longStanding: number }> {
  const [longStanding] = await approvedClaims(db.pool, 1);
  const funderId = (await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`)).rows[0]!.id;
  const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
    funderId, maxPayoutFen: 10_000_000, dailySumFen: 100_000_000, dailyCount: 1_000, accountUnchangedDays: 30,
    validFrom: new Date(Date.now() - 60_000), validUntil: new Date(Date.now() + 86_400_000), reason: '即时办: cards unchanged for 30 days',
  });
  await approvePaymentPolicy(db.pool, financeZhao, UNSCOPED, policy.id);
  return { policyId: policy.id, longStanding: longStanding!.memberId };
}

/** A unit that paid its 2025 contributions. */
async function payingUnit(): Promise<{ id: number; creditCode: string }> {
  const unit = await seedUnit(db.pool);
  await payContribution(db.pool, unit.id);
  return unit;
}

/** A person registered today by the insider through createMember, with a card, enrolled; their stay approved by the rules. */
async function registeredByCreateMember(): Promise<number> {
  const unit = await payingUnit();
  const card = withLuhnCheck('622202140891234577');
  const created = await gw.query(insider, CREATE, { input: {
    unitId: toGlobalId('Unit', unit.id), name: '新会员', idNumber: withResidentIdCheck('35052119850312021'), bankAccount: { cardNumber: card, bankCode: PAYEE_BANK },
  } });
  expect(created.data.createMember.userErrors).toEqual([]);
  const memberId = localId('id', created.data.createMember.member.id, 'Member');
  const enrolmentId = await seedEnrolment(db.pool, memberId, unit.id, { firstEnrolledOn: '2025-01-01' });
  await approvedStays(db.pool, [{ member: { unitId: unit.id, creditCode: unit.creditCode, memberId, enrolmentId }, card }]);
  return memberId;
}

/** A person new to the roster, registered today by a roster import's row with a card and enrolled; their stay approved by the rules. */
async function registeredByRosterImport(): Promise<number> {
  const unit = await payingUnit();
  const idNumber = withResidentIdCheck('35052119850312031');
  const card = withLuhnCheck('622202140891234567');
  const importId = (await db.pool.query<{ id: number }>(
    `INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('t.csv', '\\x', $1) RETURNING id`, [insider.sub],
  )).rows[0]!.id;
  const result = await importRoster(db.pool, keys, `${ROSTER_HEADER}测试,${idNumber},,${card},${PAYEE_BANK},${unit.creditCode},2025,false\n`,
    { importId, today: '2025-01-10' });
  expect(result).toMatchObject({ rowsInserted: 1, rowsRejected: 0, errors: [] });
  const { rows: [member] } = await db.pool.query<MemberSetup>(
    `SELECT m.unit_id AS "unitId", $2::text AS "creditCode", m.id AS "memberId", e.id AS "enrolmentId"
       FROM members m JOIN enrolments e ON e.member_id = m.id WHERE m.id_number_hash = $1`, [lookupHash(keys, idNumber), unit.creditCode],
  );
  await approvedStays(db.pool, [{ member: member!, card }]);
  return member!.memberId;
}

/** The members paid under the policy. */
async function paidUnder(policyId: number): Promise<number[]> {
  const { rows } = await db.pool.query<{ memberId: number }>(
    `SELECT p.member_id AS "memberId" FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN payout_batches b ON b.id = a.batch_id
      WHERE b.policy_id = $1 ORDER BY p.member_id`, [policyId],
  );
  return rows.map((r) => r.memberId);
}

async function payoutOf(memberId: number): Promise<{ id: number; status: string }> {
  return (await db.pool.query<{ id: number; status: string }>('SELECT id, status FROM payouts WHERE member_id = $1', [memberId])).rows[0]!;
}

/** The member's registration dated `days` back, as if made then. */
async function registeredDaysAgo(memberId: number, days: number): Promise<void> {
  await db.pool.query(`UPDATE members SET created_at = now() - make_interval(days => $2) WHERE id = $1`, [memberId, days]);
}

describe('a standing payment policy and the card a member was registered with today', () => {
  it.each([
    ['createMember', registeredByCreateMember],
    ['a roster import', registeredByRosterImport],
  ] as const)('does not release a payout of a member %s registered with a card today: it waits for a person\'s batch', async (_how, register) => {
    const { policyId, longStanding } = await policyInForce();
    const registered = await register();
    await planPayouts(db.pool, settings);
    expect((await payoutOf(registered)).status).toBe('READY');

    await releaseUnderPolicies(db.pool, settings);
    // Only the long-standing card is released; the card registered today waits.
    expect(await paidUnder(policyId)).toEqual([longStanding]);
    expect((await payoutOf(registered)).status).toBe('READY');
    // A person's batch takes it (a card given at registration starts no cooling-off there).
    expect(await createBatch(db.pool, clerk, settings, 1000)).not.toBeNull();
    expect((await payoutOf(registered)).status).toBe('IN_BATCH');
  });

  it('the database refuses a policy batch paying a card a member was registered with within the policy\'s days', async () => {
    const { policyId } = await policyInForce();
    const byCreateMember = await registeredByCreateMember();
    const byRoster = await registeredByRosterImport();
    await planPayouts(db.pool, settings);
    for (const memberId of [byCreateMember, byRoster]) {
      await expect(handMadePolicyRelease(db.pool, policyId, (await payoutOf(memberId)).id))
        .rejects.toThrow(/not within payment policy .*: the card was put on record or changed within the policy's days/);
    }
    expect(await paidUnder(policyId)).toEqual([]);
  });

  it('releases them once the member was registered the policy\'s days ago', async () => {
    const { policyId, longStanding } = await policyInForce();
    const byCreateMember = await registeredByCreateMember();
    const byRoster = await registeredByRosterImport();
    await planPayouts(db.pool, settings);
    // 29 days: still within the policy's 30.
    for (const memberId of [byCreateMember, byRoster]) await registeredDaysAgo(memberId, 29);
    await releaseUnderPolicies(db.pool, settings);
    expect(await paidUnder(policyId)).toEqual([longStanding]);

    for (const memberId of [byCreateMember, byRoster]) await registeredDaysAgo(memberId, 31);
    await releaseUnderPolicies(db.pool, settings);
    expect(await paidUnder(policyId)).toEqual([longStanding, byCreateMember, byRoster].sort((a, b) => a - b));
  });
});
