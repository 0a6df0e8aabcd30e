import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/pool.ts';
import { withLuhnCheck, withResidentIdCheck } from '../../src/kernel/identifiers.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { protectBankCard } from '../../src/members/memberFields.ts';
import { importRoster } from '../../src/members/rosterImport.ts';
import { changeMember } from '../../src/members/store.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { approvePaymentPolicy, proposePaymentPolicy, releaseUnderPolicies } from '../../src/payouts/policies.ts';
import { lookupHash } from '../../src/privacy/personalData.ts';
import { openAccount, PAYEE_BANK } from '../banks/simulator/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { approvedClaims, finance, handMadePolicyRelease, keys, settings, setBankCard, type ApprovedClaim } from '../payouts/support.ts';

/**
 * A standing payment policy (即时办) releases a payout without a person only to the card on record,
 * unchanged for the policy's days, so that a card an insider put in place waits for a person. The
 * check read bank_card_changed_at alone, which a member's FIRST card never sets (a first card is no
 * change to the cooling-off): a member whose payout waited HELD for want of a card, given one today
 * by an insider (a staff write through changeMember, or a roster row), was paid to that card by the
 * policy within minutes, the member's SMS arriving after the money had gone. The card's history in
 * member_changes, which records a first card with its time, now refuses it: in the worker's
 * selection (lockReadyPayouts) and in the database's check of every policy release (migration 0054).
 * The ordinary batch is unchanged: a first card still starts no cooling-off there.
 */
let db: TestDatabase;
const financeZhao = { subject: 'finance-zhao', role: 'FINANCE' };
const insider = { subject: 'admin-insider', role: 'ADMIN' };

beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await db.drop();
});

/** Two members' payouts, the first waiting HELD without a card, the second to its long-standing card; a 30-day policy in force. */
async function heldForACardUnderPolicy(): Promise<{ noCard: ApprovedClaim; withCard: ApprovedClaim; policyId: number }> {
  const [noCard, withCard] = await approvedClaims(db.pool, 2, { 0: null });
  await planPayouts(db.pool, settings);
  const funderId = (await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`)).rows[0]!.id;
  const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
    funderId, maxPayoutFen: 10_000_000, dailySumFen: 100_000_000, dailyCount: 1_000, accountUnchangedDays: 30,
    validFrom: new Date(Date.now() - 60_000), validUntil: new Date(Date.now() + 86_400_000), reason: '即时办: cards unchanged for 30 days',
  });
  await approvePaymentPolicy(db.pool, financeZhao, UNSCOPED, policy.id);
  return { noCard: noCard!, withCard: withCard!, policyId: policy.id };
}

async function memberUnit(memberId: number): Promise<{ id: number; creditCode: string }> {
  const { rows } = await db.pool.query<{ id: number; creditCode: string }>(
    'SELECT u.id, u.credit_code AS "creditCode" FROM members m JOIN units u ON u.id = m.unit_id WHERE m.id = $1', [memberId],
  );
  return rows[0]!;
}

/** The members paid under the policy. */
async function paidUnder(policyId: number): Promise<number[]> {
  const { rows } = await db.pool.query<{ memberId: number }>(
    `SELECT p.member_id AS "memberId" FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN payout_batches b ON b.id = a.batch_id
      WHERE b.policy_id = $1 ORDER BY p.member_id`, [policyId],
  );
  return rows.map((r) => r.memberId);
}

async function payoutStatus(memberId: number): Promise<string> {
  return (await db.pool.query<{ status: string }>('SELECT status FROM payouts WHERE member_id = $1', [memberId])).rows[0]!.status;
}

describe('a standing payment policy and a card put on record today', () => {
  it('does not release a payout to a first card a staff write added today; the ordinary batch may still take it', async () => {
    const { noCard, withCard, policyId } = await heldForACardUnderPolicy();
    expect(await payoutStatus(noCard.memberId)).toBe('HELD');
    // An insider gives the first member a card (their own) as staff do (updateMember's store write).
    const unit = await memberUnit(noCard.memberId);
    await inTransaction(db.pool, (tx) => changeMember(tx, noCard.memberId, unit.id, { bankCard: protectBankCard(keys, openAccount(), PAYEE_BANK) },
      { actor: insider, action: 'member.update' }));
    await planPayouts(db.pool, settings);

    const released = await releaseUnderPolicies(db.pool, settings);
    expect(released.length).toBeGreaterThan(0);
    // Only the long-standing card is released; the card put on record today waits (30 days, or a person's batch).
    expect(await paidUnder(policyId)).toEqual([withCard.memberId]);
    expect(await payoutStatus(noCard.memberId)).toBe('READY');
  });

  it('does not release a payout to a first card a roster row added today', async () => {
    const { noCard, withCard, policyId } = await heldForACardUnderPolicy();
    const idNumber = withResidentIdCheck('35052119850312001');
    await db.pool.query('UPDATE members SET id_number_hash = $2 WHERE id = $1', [noCard.memberId, lookupHash(keys, idNumber)]);
    const unit = await memberUnit(noCard.memberId);
    const importId = (await db.pool.query<{ id: number }>(
      `INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('t.csv', '\\x', $1) RETURNING id`, [insider.subject],
    )).rows[0]!.id;
    const result = await importRoster(db.pool, keys,
      'name,id_number,phone,bank_card,bank_code,unit_credit_code,plan_year,special_disease\n'
      + `测试,${idNumber},,${withLuhnCheck('622202140891234567')},${PAYEE_BANK},${unit.creditCode},2025,false\n`,
      { importId, today: '2025-01-10' });
    expect(result).toMatchObject({ rowsUpdated: 1, rowsRejected: 0, errors: [] });
    await planPayouts(db.pool, settings);
    expect(await payoutStatus(noCard.memberId)).toBe('READY');

    await releaseUnderPolicies(db.pool, settings);
    expect(await paidUnder(policyId)).toEqual([withCard.memberId]);
  });

  it('the database refuses a policy batch paying a first card put on record within the policy\'s days', async () => {
    const { noCard, policyId } = await heldForACardUnderPolicy();
    const unit = await memberUnit(noCard.memberId);
    await inTransaction(db.pool, (tx) => changeMember(tx, noCard.memberId, unit.id, { bankCard: protectBankCard(keys, openAccount(), PAYEE_BANK) },
      { actor: insider, action: 'member.update' }));
    await planPayouts(db.pool, settings);
    const payoutId = (await db.pool.query<{ id: number }>('SELECT id FROM payouts WHERE member_id = $1', [noCard.memberId])).rows[0]!.id;
    // A hand-made policy batch of that payout, as any writer of the rows could make it.
    await expect(handMadePolicyRelease(db.pool, policyId, payoutId)).rejects.toThrow(/put on record or changed within the policy's days/);
  });

  it('releases a payout to a first card on record for the policy\'s days', async () => {
    const { noCard, withCard, policyId } = await heldForACardUnderPolicy();
    // The first card, given 31 days ago (its history row as changeMember writes it, dated then).
    await setBankCard(db.pool, noCard.memberId, openAccount());
    await db.pool.query(
      `INSERT INTO member_changes (member_id, at, actor, role, action, field, before, after)
       SELECT id, now() - interval '31 days', 'clerk-li', 'ADMIN', 'member.update', 'BANK_ACCOUNT', NULL, bank_card_masked || ' / ' || bank_code
         FROM members WHERE id = $1`, [noCard.memberId],
    );
    await planPayouts(db.pool, settings);

    await releaseUnderPolicies(db.pool, settings);
    expect(await paidUnder(policyId)).toEqual([noCard.memberId, withCard.memberId].sort((a, b) => a - b));
  });
});
