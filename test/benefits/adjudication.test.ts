import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { verifyAuditChain } from '../../src/audit/audit.ts';
import { createPool } from '../../src/db/pool.ts';
import { commitOnceWaitedOn, freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';
import { TEST_REDIS_URL } from '../support/gateway.ts';
import { fen } from './support.ts';
import { approveAsRead, claimOf, seedEnrolledMember, seedReversal, seedSettlement, totalsOf } from './seed.ts';
import * as adjudication from '../../jobs/benefits.ts';
import { enqueueAdjudications, enqueueMatchedSettlements } from '../../src/benefits/queue.ts';
import { closeQueues, createQueues, unfinishedJobs, type Queues } from '../../src/queues.ts';

/** Figures by hand from docs/design.md's rules; `fen('16,800.00')` = 1,680,000 fen. */
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };

/** The adjudication worker's services over a pool of this test's schema. */
const servicesOf = (pool: typeof db.pool, queues: Queues, options: { maxBatch?: number } = {}) => ({
  db: pool, connection: redis, prefix, queues, adjudication: { concurrency: 1000, ...OPTIONS, ...options }, announce: async () => undefined,
});

let db: TestDatabase;
let redis: Redis;
const prefix = `test-adj-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  db = await freshDatabase();
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  const left = await redis.keys(`${prefix}*`);
  if (left.length) await redis.del(...left);
  redis.disconnect();
  await db.drop();
});

async function waitForClaims(settlementIds: number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM claims WHERE settlement_id = ANY($1)`, [settlementIds]);
    if (rows[0]!.n === settlementIds.length) return;
    if (Date.now() > deadline) throw new Error(`only ${rows[0]!.n} of ${settlementIds.length} claims after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('adjudication job', () => {
  it('the Jinjiang case through the AfterMatch hook and the job, under jinjiang-example', async () => {
    // This test's schema assigns plan year 2025 to the jinjiang-example rule set.
    await db.pool.query(`UPDATE plan_year_rule_sets SET rule_set_id = 'jinjiang-example' WHERE plan_year = 2025`);
    try {
      const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', specialDisease: true });
      const id = await seedSettlement(db.pool, m, {
        psn: '136,700.00', funds: '106,500.00', ownpay: '52,700.00', overlmt: '0', diagnoses: ['I34.0'],
      });
      const queues = createQueues(redis, prefix);
      const [worker] = await adjudication.start(servicesOf(db.pool, queues));
      try {
        await enqueueMatchedSettlements(queues.claimAdjudication)([{ id, status: 'MATCHED' }]);
        await waitForClaims([id]);
      } finally {
        await worker!.close();
        await closeQueues(queues);
      }
      const claim = (await claimOf(db.pool, id))!;
      expect(claim.ruleSetId).toBe('jinjiang-example');
      // INPATIENT (136,700 − 52,700 − 0) × 20% = 16,800; R = 136,700 − 16,800 = 119,900;
      // CRITICAL (119,900 − 29,900) × 80% = 72,000; MAJOR_DISEASE HEART_VALVE 10,000.
      expect(claim.amounts).toEqual({ INPATIENT: fen('16,800.00'), CRITICAL: fen('72,000.00'), MAJOR_DISEASE: fen('10,000.00') });
      expect(claim.totalFen).toBe(fen('98,800.00'));
      // The member pays 136,700 − 98,800 = 37,900.
      expect(fen('136,700.00') - claim.totalFen).toBe(fen('37,900.00'));
      expect(claim.lines[0]!.explanation).toContain('基数 84,000.00 × 20% = 16,800.00');
      // 98,800 is above the 10,000 auto-approval threshold.
      expect(claim.status).toBe('PENDING_REVIEW');
      expect(await totalsOf(db.pool, m.memberId)).toEqual({
        INPATIENT: fen('16,800.00'), CRITICAL: fen('72,000.00'), MAJOR_DISEASE: fen('10,000.00'), outOfPocket: fen('119,900.00'), claims: 1,
      });
    } finally {
      await db.pool.query(`UPDATE plan_year_rule_sets SET rule_set_id = 'default-2025' WHERE plan_year = 2025`);
    }
  });

  it('a job carries a batch of settlements, each decided once however often it is queued; a job queued with one settlement id by an earlier release still runs', async () => {
    const queues = createQueues(redis, prefix);
    const [worker] = await adjudication.start(servicesOf(db.pool, queues));
    try {
      const batch = [];
      for (let i = 0; i < 5; i += 1) batch.push(await seedSettlement(db.pool, await seedEnrolledMember(db.pool, { plan: 'PUBLIC' }), { psn: '10,000.00', ownpay: '2,000.00' }));
      const legacy = await seedSettlement(db.pool, await seedEnrolledMember(db.pool, { plan: 'PUBLIC' }), { psn: '10,000.00', ownpay: '2,000.00' });
      await queues.claimAdjudication.add('adjudicate', { settlementId: legacy }, { jobId: `claim-adjudicate-legacy-${legacy}` });
      // The same settlements queued again in other batches (a sweep cuts its pages its own way).
      await enqueueAdjudications(queues.claimAdjudication, batch);
      await enqueueAdjudications(queues.claimAdjudication, batch.slice(0, 3));
      await enqueueAdjudications(queues.claimAdjudication, [...batch.slice(2), legacy]);
      await waitForClaims([...batch, legacy]);
      const jobsLeft = () => unfinishedJobs(queues.claimAdjudication);
      for (let i = 0; i < 200 && (await jobsLeft()) > 0; i += 1) await new Promise((r) => setTimeout(r, 50));
      expect(await jobsLeft()).toBe(0);
      expect(await queues.claimAdjudication.getJobCounts('failed')).toEqual({ failed: 0 });
      const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM claims WHERE settlement_id = ANY($1)`, [[...batch, legacy]]);
      expect(rows[0]!.n).toBe(batch.length + 1);
    } finally {
      await worker!.close();
      await closeQueues(queues);
    }
  });

  it('a batch with an approved claim asks the payout worker for a release at once (即时办); one waiting request stands for any number', async () => {
    const queues = createQueues(redis, prefix);
    const [worker] = await adjudication.start(servicesOf(db.pool, queues));
    try {
      await queues.payouts.remove('release-on-decision');
      // Waits for a reviewer: nothing to release.
      const large = await seedSettlement(db.pool, await seedEnrolledMember(db.pool, { plan: 'PUBLIC' }), { psn: '136,700.00', ownpay: '2,000.00' });
      await enqueueMatchedSettlements(queues.claimAdjudication)([{ id: large, status: 'MATCHED' }]);
      await waitForClaims([large]);
      expect((await claimOf(db.pool, large))!.status).toBe('PENDING_REVIEW');
      expect(await queues.payouts.getJob('release-on-decision')).toBeUndefined();
      const small = [];
      for (let i = 0; i < 3; i += 1) small.push(await seedSettlement(db.pool, await seedEnrolledMember(db.pool, { plan: 'PUBLIC' }), { psn: '10,000.00', ownpay: '2,000.00' }));
      await enqueueMatchedSettlements(queues.claimAdjudication)(small.map((id) => ({ id, status: 'MATCHED' as const })));
      await waitForClaims(small);
      const requests = (await queues.payouts.getJobs(['waiting', 'delayed', 'prioritized'])).filter((j) => j.name === 'release');
      expect(requests.map((j) => j.id)).toEqual(['release-on-decision']);
    } finally {
      await worker!.close();
      await queues.payouts.remove('release-on-decision');
      await closeQueues(queues);
    }
  });

  it('approves a small claim automatically and stores lines under default-2025', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const id = await seedSettlement(db.pool, m, { psn: '10,000.00', ownpay: '2,000.00' });
    const [outcome] = await adjudicateSettlements(db.pool, [id], OPTIONS);
    expect(outcome).toMatchObject({ settlementId: id, status: 'APPROVED' });
    const claim = (await claimOf(db.pool, id))!;
    // (10,000 − 2,000) × 60% = 4,800; R = 10,000 − 4,800 = 5,200 is under the 50,000 threshold.
    expect(claim.amounts).toEqual({ INPATIENT: fen('4,800.00'), CRITICAL: 0 });
    expect(claim.lines.map((l) => l.status)).toEqual(['APPROVED', 'APPROVED']);
    expect(claim.ruleSetId).toBe('default-2025');
  });

  it('plan differences: PRIVATE pays 50%, PUBLIC 60% of the same basis', async () => {
    const pub = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const priv = await seedEnrolledMember(db.pool, { plan: 'PRIVATE' });
    const a = await seedSettlement(db.pool, pub, { psn: '20,000.00', ownpay: '4,000.00' });
    const b = await seedSettlement(db.pool, priv, { psn: '20,000.00', ownpay: '4,000.00' });
    await adjudicateSettlements(db.pool, [a, b], OPTIONS);
    // basis 16,000: × 60% = 9,600; × 50% = 8,000.
    expect((await claimOf(db.pool, a))!.amounts.INPATIENT).toBe(fen('9,600.00'));
    expect((await claimOf(db.pool, b))!.amounts.INPATIENT).toBe(fen('8,000.00'));
  });

  it('waiting period: a first enrolment 61 days before the stay is INELIGIBLE with the reason', async () => {
    const m = await seedEnrolledMember(db.pool, { firstEnrolledOn: '2025-03-01', enrolledOn: '2025-03-01' });
    const id = await seedSettlement(db.pool, m, { setlTime: '2025-05-01 09:00:00' });
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    const claim = (await claimOf(db.pool, id))!;
    expect(claim.status).toBe('INELIGIBLE');
    expect(claim.reasonCodes).toEqual(['WAITING_PERIOD']);
    expect(claim.reasons[0]).toContain('2025-05-30');
    expect(claim.lines).toEqual([]);
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ INPATIENT: 0, outOfPocket: 0 });
  });

  it('missing contribution: INELIGIBLE with CONTRIBUTION_UNPAID', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    const id = await seedSettlement(db.pool, m);
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    const claim = (await claimOf(db.pool, id))!;
    expect(claim.status).toBe('INELIGIBLE');
    expect(claim.reasonCodes).toEqual(['CONTRIBUTION_UNPAID']);
  });

  it('pays the first-diagnosis lump sum once per disease group across two claims', async () => {
    const m = await seedEnrolledMember(db.pool, { specialDisease: true });
    const first = await seedSettlement(db.pool, m, { psn: '20,000.00', ownpay: '10,000.00', diagnoses: ['C34.1'], setlTime: '2025-04-01 10:00:00' });
    const second = await seedSettlement(db.pool, m, { psn: '20,000.00', ownpay: '10,000.00', diagnoses: ['C34.1'], setlTime: '2025-05-01 10:00:00' });
    await adjudicateSettlements(db.pool, [first], OPTIONS);
    await adjudicateSettlements(db.pool, [second], OPTIONS);
    // Each: (20,000 − 10,000) × 60% = 6,000 INPATIENT; CANCER 6,000 only the first time.
    expect((await claimOf(db.pool, first))!.amounts).toMatchObject({ INPATIENT: fen('6,000.00'), MAJOR_DISEASE: fen('6,000.00') });
    expect((await claimOf(db.pool, second))!.amounts).toMatchObject({ INPATIENT: fen('6,000.00'), MAJOR_DISEASE: 0 });
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ INPATIENT: fen('12,000.00'), MAJOR_DISEASE: fen('6,000.00') });
    const { rows } = await db.pool.query(`SELECT disease_group FROM disease_group_grants WHERE member_id = $1`, [m.memberId]);
    expect(rows).toEqual([{ disease_group: 'CANCER' }]);
  });

  it('is idempotent: adjudicating the same settlements again changes nothing', async () => {
    const m = await seedEnrolledMember(db.pool);
    const id = await seedSettlement(db.pool, m, { psn: '10,000.00' });
    expect(await adjudicateSettlements(db.pool, [id], OPTIONS)).toHaveLength(1);
    const before = await totalsOf(db.pool, m.memberId);
    expect(await adjudicateSettlements(db.pool, [id, id], OPTIONS)).toEqual([]);
    expect(await totalsOf(db.pool, m.memberId)).toEqual(before);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM claims WHERE settlement_id = $1`, [id]);
    expect(rows[0].n).toBe(1);
  });

  it('a reversal before payment cancels the claim and restores the member-year totals', async () => {
    const m = await seedEnrolledMember(db.pool);
    const kept = await seedSettlement(db.pool, m, { psn: '5,000.00', setlTime: '2025-03-01 10:00:00' });
    const reversed = await seedSettlement(db.pool, m, { psn: '10,000.00', ownpay: '2,000.00' });
    await adjudicateSettlements(db.pool, [kept, reversed], OPTIONS);
    // kept: 5,000 × 60% = 3,000, R 2,000; reversed: 8,000 × 60% = 4,800, R 5,200.
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ INPATIENT: fen('7,800.00'), outOfPocket: fen('7,200.00'), claims: 2 });
    const reversal = await seedReversal(db.pool, m, reversed);
    expect(await adjudicateSettlements(db.pool, [reversal], OPTIONS)).toMatchObject([{ settlementId: reversal, status: 'CANCELLED', reversal: true }]);
    const claim = (await claimOf(db.pool, reversed))!;
    expect(claim.status).toBe('CANCELLED');
    expect(claim.lines.map((l) => l.status)).toEqual(['CANCELLED', 'CANCELLED']);
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ INPATIENT: fen('3,000.00'), outOfPocket: fen('2,000.00'), claims: 1 });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM recoveries WHERE claim_id = $1`, [claim.id]);
    expect(rows[0].n).toBe(0);
    // Applying the reversal again is a no-op.
    expect(await adjudicateSettlements(db.pool, [reversal], OPTIONS)).toEqual([]);
  });

  it('a reversal after a line was marked PAID creates a recovery', async () => {
    const m = await seedEnrolledMember(db.pool);
    const id = await seedSettlement(db.pool, m, { psn: '10,000.00', ownpay: '2,000.00' });
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    const claim = (await claimOf(db.pool, id))!;
    // The payouts step marks the paid line.
    await db.pool.query(`UPDATE benefit_lines SET status = 'PAID', paid_at = now() WHERE claim_id = $1 AND programme = 'INPATIENT'`, [claim.id]);
    const reversal = await seedReversal(db.pool, m, id);
    await adjudicateSettlements(db.pool, [reversal], OPTIONS);
    const { rows } = await db.pool.query<{ amount_fen: number; status: string; reversal_settlement_id: number }>(
      `SELECT amount_fen, status, reversal_settlement_id FROM recoveries WHERE claim_id = $1`, [claim.id],
    );
    expect(rows).toEqual([{ amount_fen: fen('4,800.00'), status: 'OPEN', reversal_settlement_id: reversal }]);
    const after = (await claimOf(db.pool, id))!;
    expect(after.status).toBe('CANCELLED');
    expect(after.lines.map((l) => [l.programme, l.status])).toEqual([['INPATIENT', 'PAID'], ['CRITICAL', 'CANCELLED']]);
    const { rows: rev } = await db.pool.query(`SELECT outcome, recovery_fen FROM claim_reversals WHERE reversal_settlement_id = $1`, [reversal]);
    expect(rev).toEqual([{ outcome: 'CANCELLED', recovery_fen: fen('4,800.00') }]);
  });

  it('a reversal keeps who decided the claim and when (the rules, a reviewer); one still under review is closed by the reversal', async () => {
    const decisionOf = async (settlementId: number) => (await db.pool.query<{ status: string; decidedBy: string | null; decidedAt: Date | null }>(
      `SELECT status, decided_by AS "decidedBy", decided_at AS "decidedAt" FROM claims WHERE settlement_id = $1`, [settlementId])).rows[0]!;
    const members = [await seedEnrolledMember(db.pool), await seedEnrolledMember(db.pool), await seedEnrolledMember(db.pool)];
    // Approved by the rules (below OPTIONS' 10,000), approved by a reviewer, left for review.
    const settlements = [
      await seedSettlement(db.pool, members[0]!, { psn: '5,000.00' }),
      await seedSettlement(db.pool, members[1]!, { psn: '40,000.00' }),
      await seedSettlement(db.pool, members[2]!, { psn: '40,000.00' }),
    ];
    const [byRules, byReviewer, undecided] = settlements as [number, number, number];
    await adjudicateSettlements(db.pool, settlements, OPTIONS);
    await approveAsRead(db.pool, { subject: 'rev-1', role: 'REVIEWER' }, (await claimOf(db.pool, byReviewer))!.id);
    // Decided the day before the reversal came.
    await db.pool.query(`UPDATE claims SET decided_at = decided_at - interval '1 day' WHERE settlement_id = ANY($1::bigint[])`, [[byRules, byReviewer]]);
    const approved = [await decisionOf(byRules), await decisionOf(byReviewer)];
    expect(approved.map((d) => [d.status, d.decidedBy])).toEqual([['APPROVED', 'adjudication'], ['APPROVED', 'rev-1']]);

    const reversals = [];
    for (const [i, id] of settlements.entries()) reversals.push(await seedReversal(db.pool, members[i]!, id));
    await adjudicateSettlements(db.pool, reversals, OPTIONS);
    expect(await decisionOf(byRules)).toEqual({ ...approved[0], status: 'CANCELLED' });
    expect(await decisionOf(byReviewer)).toEqual({ ...approved[1], status: 'CANCELLED' });
    const closed = await decisionOf(undecided);
    expect(closed).toMatchObject({ status: 'CANCELLED', decidedBy: 'reversal' });
    expect(closed.decidedAt).not.toBeNull();
    // When each was reversed is the reversal's own record.
    const { rows } = await db.pool.query(`SELECT outcome FROM claim_reversals WHERE reversal_settlement_id = ANY($1::bigint[])`, [reversals]);
    expect(rows).toEqual([{ outcome: 'CANCELLED' }, { outcome: 'CANCELLED' }, { outcome: 'CANCELLED' }]);
  });

  it('a settlement reversed before adjudication gets a CANCELLED claim without lines', async () => {
    const m = await seedEnrolledMember(db.pool);
    const id = await seedSettlement(db.pool, m);
    const reversal = await seedReversal(db.pool, m, id);
    await adjudicateSettlements(db.pool, [reversal], OPTIONS);
    await adjudicateSettlements(db.pool, [id], OPTIONS);
    const claim = (await claimOf(db.pool, id))!;
    expect(claim).toMatchObject({ status: 'CANCELLED', totalFen: 0, lines: [] });
  });

  it('concurrent claims at the cap: several connections together never pass the 50,000 INPATIENT cap', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    // Each stay: 30,000 × 60% = 18,000 INPATIENT; 12 of them would be 216,000 without the cap.
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) ids.push(await seedSettlement(db.pool, m, { psn: '30,000.00', setlTime: `2025-07-${String(i + 1).padStart(2, '0')} 10:00:00` }));
    const pools = [0, 1, 2, 3].map(() => createPool({ connectionString: TEST_DATABASE_URL, schema: db.schema, max: 4 }));
    try {
      await Promise.all(ids.map((id, i) => adjudicateSettlements(pools[i % pools.length]!, [id], OPTIONS)));
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    const { rows } = await db.pool.query<{ sum: number }>(
      `SELECT sum(l.amount_fen)::bigint AS sum FROM benefit_lines l JOIN claims c ON c.id = l.claim_id
        WHERE c.member_id = $1 AND l.programme = 'INPATIENT'`, [m.memberId],
    );
    expect(rows[0]!.sum).toBe(fen('50,000.00'));
    expect((await totalsOf(db.pool, m.memberId)).INPATIENT).toBe(fen('50,000.00'));
  });

  it('a batch decides the member-years no other transaction holds at once; a held one after its holder commits, from the totals it left', async () => {
    const held = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const free = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    // Two stays of the held member, 50,000 × 60% = 30,000 INPATIENT each, listed latest first.
    const heldIds = [
      await seedSettlement(db.pool, held, { psn: '50,000.00', setlTime: '2025-07-02 10:00:00' }),
      await seedSettlement(db.pool, held, { psn: '50,000.00', setlTime: '2025-07-01 10:00:00' }),
    ];
    const freeId = await seedSettlement(db.pool, free, { psn: '10,000.00' });
    await db.pool.query(`INSERT INTO member_year_totals (member_id, plan_year) VALUES ($1, 2025) ON CONFLICT DO NOTHING`, [held.memberId]);
    // Another transaction holds the held member's year, as a concurrent batch does, and pays 10,000 of its cap.
    const { work: adjudicating } = await commitOnceWaitedOn(
      db.pool,
      async (holder) => {
        await holder.query(`UPDATE member_year_totals SET inpatient_fen = inpatient_fen + $2 WHERE member_id = $1 AND plan_year = 2025`, [held.memberId, fen('10,000.00')]);
      },
      () => adjudicateSettlements(db.pool, [...heldIds, freeId], OPTIONS),
      // A waiting batch's claims are not committed.
      async () => {
        expect((await claimOf(db.pool, freeId))?.totalFen).toBe(fen('6,000.00'));
        expect(await claimOf(db.pool, heldIds[0]!)).toBeNull();
      },
    );
    expect((await adjudicating).map((o) => o.settlementId).sort()).toEqual([...heldIds, freeId].sort());
    // The holder's 10,000 counted: INPATIENT pays the earlier stay 30,000, the later one the 10,000 left of the 50,000 cap.
    expect((await claimOf(db.pool, heldIds[1]!))?.amounts.INPATIENT).toBe(fen('30,000.00'));
    expect((await claimOf(db.pool, heldIds[0]!))?.amounts.INPATIENT).toBe(fen('10,000.00'));
    expect((await totalsOf(db.pool, held.memberId)).INPATIENT).toBe(fen('50,000.00'));
  });

  it('concurrent claims at the cap through several BullMQ workers, and the sweeper re-derives lost jobs', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PRIVATE' });
    // Each stay: 40,000 × 50% = 20,000 INPATIENT; 9 of them would be 180,000 without the cap.
    const ids: number[] = [];
    for (let i = 0; i < 9; i++) ids.push(await seedSettlement(db.pool, m, { psn: '40,000.00', setlTime: `2025-08-${String(i + 1).padStart(2, '0')} 10:00:00` }));
    const queues = createQueues(redis, prefix);
    const pools = [0, 1, 2].map(() => createPool({ connectionString: TEST_DATABASE_URL, schema: db.schema, max: 3 }));
    // Small batches and three workers: the settlements of one member land in different transactions.
    const workers: Worker[] = (await Promise.all(pools.map((p) => adjudication.start(servicesOf(p, queues, { maxBatch: 2 }))))).flat();
    try {
      // Nothing was enqueued (as if Redis lost the jobs): the sweep finds them from the rows.
      expect(await adjudication.sweep(servicesOf(db.pool, queues))).toBeGreaterThanOrEqual(ids.length);
      await waitForClaims(ids);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(pools.map((p) => p.end()));
    }
    const { rows } = await db.pool.query<{ sum: number }>(
      `SELECT sum(l.amount_fen)::bigint AS sum FROM benefit_lines l JOIN claims c ON c.id = l.claim_id
        WHERE c.member_id = $1 AND l.programme = 'INPATIENT'`, [m.memberId],
    );
    expect(rows[0]!.sum).toBe(fen('50,000.00'));
    expect(await adjudication.sweep(servicesOf(db.pool, queues))).toBe(0);
    await closeQueues(queues);
  });

  it('audits every automatic decision in the hash chain', async () => {
    // Each batch's audit entry lists its claims: together, every adjudicated claim exactly once.
    const { rows } = await db.pool.query<{ id: number; status: string }>(
      `SELECT (c ->> 0)::bigint AS id, c ->> 2 AS status FROM audit_log, jsonb_array_elements(details -> 'claims') c
        WHERE action = 'claims.adjudicate' ORDER BY 1`,
    );
    const { rows: claims } = await db.pool.query<{ id: number; status: string }>(
      `SELECT id, CASE WHEN status IN ('CANCELLED', 'REJECTED') THEN NULL ELSE status END AS status FROM claims WHERE rule_set_id IS NOT NULL ORDER BY id`,
    );
    expect(rows.map((r) => r.id)).toEqual(claims.map((c) => c.id));
    expect(rows.filter((r, i) => claims[i]!.status !== null && claims[i]!.status !== r.status)).toEqual([]);
    const { rows: reversals } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'claim.reverse'`);
    const { rows: applied } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM claim_reversals`);
    expect(reversals[0]!.n).toBe(applied[0]!.n);
    expect((await verifyAuditChain(db.pool)).firstBroken).toBeNull();
  });
});
