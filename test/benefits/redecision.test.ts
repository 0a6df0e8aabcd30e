import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Worker } from 'bullmq';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { loadRuleSet, RuleSetCache } from '../../src/benefits/catalogue.ts';
import { enqueueDueRedecisions, redecideClaim, redecideIfFactsChanged, redecisionsDue } from '../../src/benefits/redecide.ts';
import { rejectClaim } from '../../src/benefits/review.ts';
import { verifyAuditChain } from '../../src/audit/audit.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { DomainError } from '../../src/kernel/errors.ts';
import { addDays } from '../../src/kernel/time.ts';
import * as benefitJobs from '../../jobs/benefits.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/waitFor.ts';
import { confirmProposal, waitingContributionPayments } from '../reconciliation/support.ts';
import { fen } from './support.ts';
import { claimOf, seedEnrolledMember, seedSettlement, totalsOf } from './seed.ts';

/**
 * Re-decision: a claim refused for a fact that later changes is decided again, once. Figures by
 * hand from default-2025: INPATIENT 60% (PUBLIC) of psn_part_amt, automatic approval up to 10,000.00.
 */
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };
const RECORD_PAYMENT = `mutation($i: RecordContributionPaymentInput!) { recordContributionPayment(input: $i) { userErrors { field message } } }`;
const CLAIM = `query($id: ID!) { claim(id: $id) { status totalFen contributionCovered
  redecisions { cause previousStatus previousReasonCodes previousTotalFen newStatus newReasonCodes newTotalFen decider { subject } ruleSet { ruleSetId } } } }`;

let db: TestDatabase;
let gw: TestGateway;
const ruleSets = new RuleSetCache();

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const count = async (sql: string, params: unknown[]) => (await db.pool.query<{ n: number }>(sql, params)).rows[0]!.n;

describe('re-decision after the unit pays', () => {
  it('approves a claim refused CONTRIBUTION_UNPAID once, though the trigger fires twice, with one notification and one audit entry', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    const settlementId = await seedSettlement(db.pool, m, { psn: '10,000.00' });
    await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
    const refused = (await claimOf(db.pool, settlementId))!;
    expect(refused).toMatchObject({ status: 'INELIGIBLE', reasonCodes: ['CONTRIBUTION_UNPAID'], totalFen: 0 });
    // Adjudication told the member of its decision.
    const decided = await db.pool.query(`SELECT facts FROM notifications WHERE kind = 'CLAIM_DECIDED' AND subject_id = $1`, [refused.id]);
    expect(decided.rows).toEqual([{ facts: { status: 'INELIGIBLE', amountFen: 0, planYear: 2025, reasonCodes: 'CONTRIBUTION_UNPAID', reasonCode: 'CONTRIBUTION_UNPAID' } }]);
    expect(await redecisionsDue(db.pool, ruleSets)).not.toContain(refused.id);

    // The real payment path: FINANCE records the unit's 100.00 (one PUBLIC enrolment) through the API;
    // as it pays the year, it waits for another FINANCE person, who confirms it (attack 137).
    const paid = await gw.query({ role: 'FINANCE', sub: 'finance-wang' }, RECORD_PAYMENT, {
      i: { unitId: toGlobalId('Unit', m.unitId), planYear: 2025, amountFen: 10_000, reference: `PAY-${m.unitId}`, paidOn: '2025-06-10' },
    });
    expect(paid.data.recordContributionPayment.userErrors).toEqual([]);
    expect(await redecisionsDue(db.pool, ruleSets)).not.toContain(refused.id);
    const second = { role: 'FINANCE' as const, sub: 'finance-zhao' };
    const [waiting] = await waitingContributionPayments(gw, second);
    expect((await confirmProposal(gw, second, waiting!.id)).userErrors).toEqual([]);
    expect(await redecisionsDue(db.pool, ruleSets)).toContain(refused.id);

    const services = { db: db.pool, connection: gw.redis, prefix: gw.prefix, queues: gw.queues, adjudication: { concurrency: 10, ...OPTIONS, ruleSets }, announce: async () => undefined };
    const workers: Worker[] = await benefitJobs.start(services);
    try {
      // The trigger fires twice at once (two sweeps), and the worker's step is also called directly twice.
      await Promise.all([
        enqueueDueRedecisions(db.pool, gw.queues.claimAdjudication, ruleSets),
        enqueueDueRedecisions(db.pool, gw.queues.claimAdjudication, ruleSets),
        redecideIfFactsChanged(db.pool, refused.id, { ...OPTIONS, ruleSets }),
        redecideIfFactsChanged(db.pool, refused.id, { ...OPTIONS, ruleSets }),
      ]);
      await waitFor('the claim approved', async () => (await claimOf(db.pool, settlementId))!.status === 'APPROVED');
      await waitFor('the queue drained', async () => {
        const jobs = await gw.queues.claimAdjudication.getJobCounts('active', 'waiting', 'delayed');
        return (jobs.active ?? 0) + (jobs.waiting ?? 0) + (jobs.delayed ?? 0) === 0;
      });
    } finally {
      for (const w of workers) await w.close();
    }
    // And once more after it is done: nothing left to do.
    expect(await redecideIfFactsChanged(db.pool, refused.id, { ...OPTIONS, ruleSets })).toBeNull();
    expect(await redecisionsDue(db.pool, ruleSets)).not.toContain(refused.id);

    // 10,000.00 × 60% = 6,000.00, at most 10,000.00: APPROVED at once.
    const claim = (await claimOf(db.pool, settlementId))!;
    expect(claim).toMatchObject({ id: refused.id, status: 'APPROVED', totalFen: fen('6,000.00'), reasonCodes: [] });
    expect(claim.lines.filter((l) => l.amountFen > 0).map((l) => [l.programme, l.amountFen, l.status])).toEqual([['INPATIENT', fen('6,000.00'), 'APPROVED']]);
    expect(await totalsOf(db.pool, m.memberId)).toEqual({
      INPATIENT: fen('6,000.00'), CRITICAL: 0, MAJOR_DISEASE: 0, outOfPocket: fen('10,000.00') - fen('6,000.00'), claims: 1,
    });
    expect(await count(`SELECT count(*)::int AS n FROM claim_redecisions WHERE claim_id = $1`, [refused.id])).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'claim.redecide' AND target_id = $1`, [String(refused.id)])).toBe(1);
    const told = await db.pool.query(`SELECT member_id AS "memberId", facts FROM notifications WHERE kind = 'CLAIM_REDECIDED' AND subject_id = $1`, [refused.id]);
    expect(told.rows).toEqual([{
      memberId: m.memberId,
      facts: {
        cause: 'CONTRIBUTION_PAID', before: 'INELIGIBLE', after: 'APPROVED', status: 'APPROVED', amountFen: fen('6,000.00'), planYear: 2025,
        reasonCodes: '', reasonCode: null,
      },
    }]);
    expect((await verifyAuditChain(db.pool)).firstBroken).toBeNull();

    const shown = await gw.query({ role: 'ADMIN' }, CLAIM, { id: toGlobalId('Claim', refused.id) });
    expect(shown.data.claim).toEqual({
      status: 'APPROVED', totalFen: fen('6,000.00'), contributionCovered: true,
      redecisions: [{
        cause: 'CONTRIBUTION_PAID', previousStatus: 'INELIGIBLE', previousReasonCodes: ['CONTRIBUTION_UNPAID'], previousTotalFen: 0,
        newStatus: 'APPROVED', newReasonCodes: [], newTotalFen: fen('6,000.00'), decider: { subject: 'redecision' }, ruleSet: { ruleSetId: 'default-2025' },
      }],
    });
  });

  it('lets no refused claim become payable except by re-decision (the claims trigger)', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    const settlementId = await seedSettlement(db.pool, m);
    await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
    const { id } = (await claimOf(db.pool, settlementId))!;
    await expect(db.pool.query(`UPDATE claims SET status = 'APPROVED' WHERE id = $1`, [id])).rejects.toThrow(/only by re-decision/);
  });
});

describe('re-decision of facts other than payment', () => {
  it('keeps a decision the new facts do not change, and decides again when the enrolment is corrected', async () => {
    // First enrolled 2025-05-01: a stay on 2025-06-01 falls in the 90-day waiting period.
    const m = await seedEnrolledMember(db.pool, { firstEnrolledOn: '2025-05-01', enrolledOn: '2025-05-01' });
    const settlementId = await seedSettlement(db.pool, m, { psn: '5,000.00' });
    await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
    const { id } = (await claimOf(db.pool, settlementId))!;
    expect((await claimOf(db.pool, settlementId))!.reasonCodes).toEqual(['WAITING_PERIOD']);

    // Asked again with nothing changed: the same decision, no history, nobody told.
    const same = await inTransaction(db.pool, (tx) => redecideClaim(tx, id, { actor: { subject: 'rev', role: 'REVIEWER' }, cause: 'CORRECTION', ruleSets }));
    expect(same).toEqual({ claimId: id, before: 'INELIGIBLE', after: 'INELIGIBLE', totalFen: 0 });
    expect(await count(`SELECT count(*)::int AS n FROM claim_redecisions WHERE claim_id = $1`, [id])).toBe(0);
    expect(await redecisionsDue(db.pool, ruleSets)).not.toContain(id);

    // The enrolment is corrected: a renewal on 1 January of a chain begun in 2020, so no waiting period
    // (one dated in May would be a late renewal, waiting from its own date).
    await db.pool.query(`UPDATE enrolments SET first_enrolled_on = '2020-01-01', enrolled_on = '2025-01-01' WHERE id = $1`, [m.enrolmentId]);
    expect(await redecisionsDue(db.pool, ruleSets)).toContain(id);
    const outcome = await redecideIfFactsChanged(db.pool, id, { ...OPTIONS, ruleSets });
    // 5,000.00 × 60% = 3,000.00.
    expect(outcome).toMatchObject({ claimId: id, before: 'INELIGIBLE', after: 'APPROVED' });
    expect((await claimOf(db.pool, settlementId))!.totalFen).toBe(fen('3,000.00'));
    const history = await db.pool.query(`SELECT cause, new_status AS "newStatus" FROM claim_redecisions WHERE claim_id = $1`, [id]);
    expect(history.rows).toEqual([{ cause: 'ENROLMENT_CHANGED', newStatus: 'APPROVED' }]);
  });

  it('a claim refused again for other reasons is decided when it is refused again', async () => {
    const m = await seedEnrolledMember(db.pool, { firstEnrolledOn: '2025-05-01', enrolledOn: '2025-05-01', paid: false });
    const settlementId = await seedSettlement(db.pool, m, { psn: '5,000.00' });
    await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
    const { id, reasonCodes } = (await claimOf(db.pool, settlementId))!;
    expect(reasonCodes).toContain('WAITING_PERIOD');
    await db.pool.query(`UPDATE enrolments SET first_enrolled_on = '2020-01-01', enrolled_on = '2025-01-01' WHERE id = $1`, [m.enrolmentId]);
    expect(await redecideIfFactsChanged(db.pool, id, { ...OPTIONS, ruleSets })).toMatchObject({ before: 'INELIGIBLE', after: 'INELIGIBLE' });
    const { rows } = await db.pool.query(
      `SELECT c.reason_codes AS "reasonCodes", c.decided_by AS "decidedBy", c.decided_at = r.decided_at AS "decidedThen"
         FROM claims c JOIN claim_redecisions r ON r.claim_id = c.id WHERE c.id = $1`, [id]);
    expect(rows).toEqual([{ reasonCodes: ['CONTRIBUTION_UNPAID'], decidedBy: null, decidedThen: true }]);
  });
});

describe('re-decision when only the enrolment\'s own date is corrected', () => {
  const rules = loadRuleSet('default-2025');
  // A renewal of a chain begun in 2020, recorded as dated past the back-dating limit: a late renewal, which
  // waits the waiting period from its own date; a stay the day after falls in it.
  const LATE = addDays('2025-01-01', rules.enrolment.maxBackdatingDays + 1);
  const lateRenewalRefused = async () => {
    const m = await seedEnrolledMember(db.pool, { firstEnrolledOn: '2020-01-01', enrolledOn: LATE });
    const settlementId = await seedSettlement(db.pool, m, { psn: '5,000.00', setlTime: `${addDays(LATE, 1)} 10:00:00` });
    await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
    const claim = (await claimOf(db.pool, settlementId))!;
    expect(claim).toMatchObject({ status: 'INELIGIBLE', reasonCodes: ['WAITING_PERIOD'] });
    return { m, settlementId, id: claim.id };
  };

  it('decides again when enrolled_on alone is corrected to the year\'s first day (no late renewal after all)', async () => {
    const { m, settlementId, id } = await lateRenewalRefused();
    await db.pool.query(`UPDATE enrolments SET enrolled_on = '2025-01-01' WHERE id = $1`, [m.enrolmentId]);
    expect(await redecisionsDue(db.pool, ruleSets)).toContain(id);
    expect(await redecideIfFactsChanged(db.pool, id, { ...OPTIONS, ruleSets })).toMatchObject({ claimId: id, before: 'INELIGIBLE', after: 'APPROVED' });
    // 5,000.00 × 60% = 3,000.00.
    expect((await claimOf(db.pool, settlementId))!.totalFen).toBe(fen('3,000.00'));
    const history = await db.pool.query(`SELECT cause FROM claim_redecisions WHERE claim_id = $1`, [id]);
    expect(history.rows).toEqual([{ cause: 'ENROLMENT_CHANGED' }]);
  });

  it('takes facts stored before the date was kept as unknown: its appearing is no change', async () => {
    const { m, id } = await lateRenewalRefused();
    await db.pool.query(`UPDATE claims SET facts = facts - 'enrolledOn' WHERE id = $1`, [id]);
    expect(await redecisionsDue(db.pool, ruleSets)).not.toContain(id);
    expect(await redecideIfFactsChanged(db.pool, id, { ...OPTIONS, ruleSets })).toBeNull();
    // Another fact corrected still counts.
    await db.pool.query(`UPDATE enrolments SET enrolled_on = '2025-01-01', first_enrolled_on = '2019-01-01' WHERE id = $1`, [m.enrolmentId]);
    expect(await redecisionsDue(db.pool, ruleSets)).toContain(id);
  });
});

describe('redecideClaim for appeals', () => {
  it('approves a rejected claim above the automatic limit when a reviewer upholds the appeal, counting it again once', async () => {
    const m = await seedEnrolledMember(db.pool);
    // 40,000.00 × 60% = 24,000.00: above 10,000.00, so it waits for review.
    const settlementId = await seedSettlement(db.pool, m, { psn: '40,000.00' });
    await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
    const { id } = (await claimOf(db.pool, settlementId))!;
    const reviewer = { subject: 'rev-1', role: 'REVIEWER' as const };
    await rejectClaim(db.pool, reviewer, { unitId: null, memberId: null, organisationId: null }, id, 'receipts missing');
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ INPATIENT: 0, claims: 0 });
    const rejectedTold = await db.pool.query(`SELECT facts ->> 'status' AS status FROM notifications WHERE kind = 'CLAIM_DECIDED' AND subject_id = $1`, [id]);
    expect(rejectedTold.rows).toEqual([{ status: 'REJECTED' }]);

    const appeal = { subject: 'rev-2', role: 'REVIEWER' as const };
    const outcome = await inTransaction(db.pool, (tx) => redecideClaim(tx, id, { actor: appeal, cause: 'APPEAL', approve: true, ruleSets }));
    expect(outcome).toEqual({ claimId: id, before: 'REJECTED', after: 'APPROVED', totalFen: fen('24,000.00') });
    const claim = (await claimOf(db.pool, settlementId))!;
    expect(claim).toMatchObject({ status: 'APPROVED', totalFen: fen('24,000.00') });
    // One line per programme: the rejected ones are kept only in the history row.
    expect(claim.lines.map((l) => [l.programme, l.status])).toEqual(expect.arrayContaining([['INPATIENT', 'APPROVED']]));
    expect(new Set(claim.lines.map((l) => l.programme)).size).toBe(claim.lines.length);
    const { rows: [decider] } = await db.pool.query(`SELECT decided_by AS "decidedBy" FROM claims WHERE id = $1`, [id]);
    expect(decider).toEqual({ decidedBy: 'rev-2' });
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ INPATIENT: fen('24,000.00'), claims: 1 });

    // Decided again a second time: refused, nothing doubles.
    const again = inTransaction(db.pool, (tx) => redecideClaim(tx, id, { actor: appeal, cause: 'APPEAL', approve: true, ruleSets }));
    await expect(again).rejects.toBeInstanceOf(DomainError);
    await expect(again).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ INPATIENT: fen('24,000.00'), claims: 1 });
    expect(await count(`SELECT count(*)::int AS n FROM benefit_lines WHERE claim_id = $1 AND programme = 'INPATIENT'`, [id])).toBe(1);
    const previous = await db.pool.query(`SELECT previous_lines -> 0 ->> 'status' AS status FROM claim_redecisions WHERE claim_id = $1`, [id]);
    expect(previous.rows).toEqual([{ status: 'REJECTED' }]);
  });

  it('without approval, an appeal of a claim above the limit goes back to review', async () => {
    const m = await seedEnrolledMember(db.pool);
    const settlementId = await seedSettlement(db.pool, m, { psn: '40,000.00' });
    await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
    const { id } = (await claimOf(db.pool, settlementId))!;
    await rejectClaim(db.pool, { subject: 'rev-1', role: 'REVIEWER' }, { unitId: null, memberId: null, organisationId: null }, id, 'receipts missing');
    const outcome = await inTransaction(db.pool, (tx) => redecideClaim(tx, id, { actor: { subject: 'rev-2', role: 'REVIEWER' }, cause: 'APPEAL', ruleSets, ...OPTIONS }));
    expect(outcome.after).toBe('PENDING_REVIEW');
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ INPATIENT: fen('24,000.00'), claims: 1 });
  });
});

describe('adjudication order', () => {
  it('decides the claims of a batch by settlement time, then id, whatever order the ids arrive in', async () => {
    // Stay A (March) 60,000.00 → 36,000.00; stay B (April) 40,000.00 → 24,000.00, but the 50,000.00
    // INPATIENT cap leaves 14,000.00. Decided A first, as their times say, for both members.
    const first = await seedEnrolledMember(db.pool);
    const second = await seedEnrolledMember(db.pool);
    const a1 = await seedSettlement(db.pool, first, { psn: '60,000.00', setlTime: '2025-03-01 10:00:00' });
    const b1 = await seedSettlement(db.pool, first, { psn: '40,000.00', setlTime: '2025-04-01 10:00:00' });
    // The second member's settlements are stored the other way round (B has the lower id).
    const b2 = await seedSettlement(db.pool, second, { psn: '40,000.00', setlTime: '2025-04-01 10:00:00' });
    const a2 = await seedSettlement(db.pool, second, { psn: '60,000.00', setlTime: '2025-03-01 10:00:00' });
    await adjudicateSettlements(db.pool, [b1, a2, a1, b2], OPTIONS);
    for (const [a, b] of [[a1, b1], [a2, b2]] as const) {
      expect((await claimOf(db.pool, a))!.amounts.INPATIENT).toBe(fen('36,000.00'));
      expect((await claimOf(db.pool, b))!.amounts.INPATIENT).toBe(fen('14,000.00'));
    }
  });
});
