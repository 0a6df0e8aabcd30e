import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import {
  approvePaymentPolicy, proposePaymentPolicy, releaseOneBatch, releaseUnderPolicies, revokePaymentPolicy, type PolicyProposal,
} from '../../src/payouts/policies.ts';
import { sealBatch } from '../../src/payouts/sealing.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { startBank, stopAll, testFilePki } from '../banks/simulator/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { advanceUntilFinal, approvedClaims, clerk, creditedByPayout, finance, payoutsOf, settings, submissionContext } from './support.ts';

/**
 * 即时办: a standing payment policy, approved by a second FINANCE person, releases the payouts
 * within it without a per-batch approval; whatever is outside it waits for the ordinary batch;
 * revoking it stops the flow at once. The bank's ledger is the oracle of what was paid.
 */
const pki = testFilePki();
const financeZhao = { subject: 'finance-zhao', role: 'FINANCE' };
let db: TestDatabase;

beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await stopAll();
  await db.drop();
});

async function unionFunderId(): Promise<number> {
  return (await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`)).rows[0]!.id;
}

async function activePolicy(limits: Partial<PolicyProposal> = {}): Promise<number> {
  const now = Date.now();
  const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
    funderId: await unionFunderId(), maxPayoutFen: 10_000_000, dailySumFen: 100_000_000, dailyCount: 1_000,
    accountUnchangedDays: settings.coolingOffDays, validFrom: new Date(now - 60_000), validUntil: new Date(now + 86_400_000), reason: '即时办 for small claims',
    ...limits,
  });
  await approvePaymentPolicy(db.pool, financeZhao, UNSCOPED, policy.id);
  return policy.id;
}

/** Each payout's releasing policy or approver, from its latest attempt's batch. */
async function releases(): Promise<Map<number, { policyId: number | null; approvedBy: string | null }>> {
  const { rows } = await db.pool.query<{ payoutId: number; policyId: number | null; approvedBy: string | null }>(
    `SELECT DISTINCT ON (a.payout_id) a.payout_id AS "payoutId", b.policy_id AS "policyId", b.approved_by AS "approvedBy"
       FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id ORDER BY a.payout_id, a.attempt_no DESC`,
  );
  return new Map(rows.map(({ payoutId, ...r }) => [payoutId, r]));
}

describe('standing payment policies', () => {
  it('releases nothing until a second FINANCE person approves; the proposer and other roles cannot', async () => {
    await approvedClaims(db.pool, 2);
    await planPayouts(db.pool, settings);
    const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
      funderId: await unionFunderId(), maxPayoutFen: 10_000_000, dailySumFen: 100_000_000, dailyCount: 100, accountUnchangedDays: settings.coolingOffDays,
      validFrom: new Date(Date.now() - 1_000), validUntil: new Date(Date.now() + 3_600_000), reason: 'small claims at once',
    });
    expect(await releaseUnderPolicies(db.pool, settings)).toEqual([]);
    await expect(approvePaymentPolicy(db.pool, finance, UNSCOPED, policy.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(approvePaymentPolicy(db.pool, clerk, UNSCOPED, policy.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await releaseUnderPolicies(db.pool, settings)).toEqual([]);
    await approvePaymentPolicy(db.pool, financeZhao, UNSCOPED, policy.id);
    await expect(approvePaymentPolicy(db.pool, { subject: 'finance-qian', role: 'FINANCE' }, UNSCOPED, policy.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    const released = await releaseUnderPolicies(db.pool, settings);
    expect(released.map((b) => b.nbOfTxs)).toEqual([2]);
  });

  it('pays within the limits at once and leaves the payout above the amount per payout for the ordinary approval', async () => {
    const claims = await approvedClaims(db.pool, 4);
    await planPayouts(db.pool, settings);
    const payouts = await payoutsOf(db.pool);
    // The amount per payout lets every payout but the largest through.
    const largest = Math.max(...payouts.map((p) => p.amountFen));
    const policyId = await activePolicy({ maxPayoutFen: largest - 1 });
    const released = await releaseUnderPolicies(db.pool, settings);
    expect(released).toHaveLength(1);
    expect(released[0]!.nbOfTxs).toBe(payouts.filter((p) => p.amountFen < largest).length);
    expect(await releaseUnderPolicies(db.pool, settings)).toEqual([]);
    const { rows: [batch] } = await db.pool.query<{ status: string; policyId: number; approvedBy: string | null; releasedAt: Date | null; submitRequested: boolean }>(
      `SELECT status, policy_id AS "policyId", approved_by AS "approvedBy", released_at AS "releasedAt", submit_requested_at IS NOT NULL AS "submitRequested"
         FROM payout_batches WHERE id = $1`, [released[0]!.id],
    );
    expect(batch).toMatchObject({ status: 'APPROVED', policyId, approvedBy: null, submitRequested: true });
    expect(batch!.releasedAt).toBeInstanceOf(Date);

    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      expect(await advanceUntilFinal(ctx, released[0]!.id)).toBe('ACCEPTED');
      // The largest waits READY for a clerk's batch and a FINANCE approval, as before policies.
      const waiting = (await payoutsOf(db.pool)).filter((p) => p.status === 'READY');
      expect(waiting.map((p) => p.amountFen)).toEqual([largest]);
      const ordinary = (await createBatch(db.pool, clerk, settings, 100))!;
      await approveBatch(db.pool, finance, ordinary.id);
      await requestSubmission(db.pool, finance, ordinary.id);
      expect(await advanceUntilFinal(ctx, ordinary.id)).toBe('ACCEPTED');

      // Every payout paid once, its exact amount; each names what released it.
      const credited = await creditedByPayout(db.pool, bank);
      expect([...credited.values()].sort()).toEqual(payouts.map((p) => p.amountFen).sort());
      expect(credited.size).toBe(claims.length);
      const releasedBy = await releases();
      for (const payout of payouts) {
        expect(releasedBy.get(payout.id)).toEqual(payout.amountFen === largest ? { policyId: null, approvedBy: finance.subject } : { policyId, approvedBy: null });
      }
      // The attempts carry when they were handed to the bank and accepted.
      const { rows } = await db.pool.query<{ sent: boolean; accepted: boolean }>(`SELECT sent_at IS NOT NULL AS sent, accepted_at IS NOT NULL AS accepted FROM payout_attempts`);
      expect(rows.every((r) => r.sent && r.accepted)).toBe(true);
    } finally {
      ctx.remove();
    }
  });

  it('stops at the day\'s count and sum of the paying account; the rest wait for the ordinary approval', async () => {
    await approvedClaims(db.pool, 5);
    await planPayouts(db.pool, settings);
    const payouts = await payoutsOf(db.pool);
    await activePolicy({ dailyCount: 3 });
    const first = await releaseUnderPolicies(db.pool, settings);
    expect(first.reduce((n, b) => n + b.nbOfTxs, 0)).toBe(3);
    expect(await releaseUnderPolicies(db.pool, settings)).toEqual([]);
    expect((await payoutsOf(db.pool)).filter((p) => p.status === 'READY')).toHaveLength(payouts.length - 3);

    // A second policy of the same account with a day's sum below what was released: nothing more goes.
    const releasedFen = first.reduce((sum, b) => sum + b.ctrlSumFen, 0);
    await activePolicy({ dailySumFen: releasedFen + 1, maxPayoutFen: releasedFen + 1 });
    expect(await releaseUnderPolicies(db.pool, settings)).toEqual([]);
  });

  it('two releases at once never pass the day\'s count together (one paying account, one release at a time)', async () => {
    await approvedClaims(db.pool, 6);
    await planPayouts(db.pool, settings);
    const policyId = await activePolicy({ dailyCount: 3 });
    const small = { ...settings, releaseBatchMax: 2 };
    const batches = await Promise.all([releaseOneBatch(db.pool, small, policyId), releaseOneBatch(db.pool, small, policyId), releaseOneBatch(db.pool, small, policyId)]);
    expect(batches.reduce((n, b) => n + (b?.nbOfTxs ?? 0), 0)).toBe(3);
    const { rows: [day] } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE b.policy_id = $1`, [policyId]);
    expect(day!.n).toBe(3);
  });

  it('does not release a payout to a card changed within the policy\'s days, nor one of a claim a reviewer decided', async () => {
    const claims = await approvedClaims(db.pool, 3);
    // Card replaced 2 days ago and confirmed by a second person: payable, but not under a 30-day policy.
    await db.pool.query(
      `UPDATE members SET bank_card_changed_at = now() - interval '2 days', bank_card_changed_by = 'clerk-li',
                          bank_card_confirmed_at = now(), bank_card_confirmed_by = 'clerk-zhou' WHERE id = $1`, [claims[0]!.memberId],
    );
    await db.pool.query(`UPDATE claims SET decided_by = 'reviewer-chen' WHERE id = $1`, [claims[1]!.claimId]);
    await planPayouts(db.pool, settings);
    await activePolicy({ accountUnchangedDays: 30 });
    const released = await releaseUnderPolicies(db.pool, settings);
    expect(released.map((b) => b.nbOfTxs)).toEqual([1]);
    const ready = await db.pool.query<{ claimId: number }>(`SELECT claim_id AS "claimId" FROM payouts WHERE status = 'READY' ORDER BY claim_id`);
    expect(ready.rows.map((r) => r.claimId)).toEqual([claims[0]!.claimId, claims[1]!.claimId]);
  });

  it('revoking stops the flow at once: a released, sealed batch is cancelled unsent and nothing more is released', async () => {
    await approvedClaims(db.pool, 2);
    await planPayouts(db.pool, settings);
    const policyId = await activePolicy({ dailyCount: 1 });
    const [released] = await releaseUnderPolicies(db.pool, settings);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      await sealBatch(db.pool, ctx.sealing, settings, released!.id);
      // Revoked by the other FINANCE person (either may).
      const revocation = await revokePaymentPolicy(db.pool, financeZhao, UNSCOPED, settings, policyId, 'bank reported fraud attempts');
      expect(revocation.cancelledBatches).toBe(1);
      expect(await advanceBatch(ctx, released!.id)).toEqual({ status: 'CANCELLED', waiting: false });
      expect(await bank.ledger()).toEqual([]);
      expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['READY', 'READY']);
      expect(await releaseUnderPolicies(db.pool, settings)).toEqual([]);
      await expect(revokePaymentPolicy(db.pool, finance, UNSCOPED, settings, policyId, 'again')).rejects.toMatchObject({ code: 'CONFLICT' });
    } finally {
      ctx.remove();
    }
  });

  it('a batch whose policy ended before it was handed over is cancelled by the worker, not sent', async () => {
    await approvedClaims(db.pool, 1);
    await planPayouts(db.pool, settings);
    // Valid a few seconds: long enough to release and seal on a loaded machine, then waited out.
    const validUntil = Date.now() + 6_000;
    await activePolicy({ validFrom: new Date(validUntil - 60_000), validUntil: new Date(validUntil) });
    const [released] = await releaseUnderPolicies(db.pool, settings);
    expect(released).toBeDefined();
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      await sealBatch(db.pool, ctx.sealing, settings, released!.id);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, validUntil + 100 - Date.now())));
      expect(await advanceBatch(ctx, released!.id)).toEqual({ status: 'CANCELLED', waiting: false });
      expect(await bank.ledger()).toEqual([]);
      expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['READY']);
    } finally {
      ctx.remove();
    }
  });
});
