import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { adjustClaimLine, rejectClaim } from '../../src/benefits/review.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { fen } from './support.ts';
import { approveAsRead, claimOf, seedEnrolledMember, seedSettlement, totalsOf } from './seed.ts';

/** What a reviewer's decisions leave for the member's other stays: grants and the year's room. */
const A = { subject: 'reviewer-a', role: 'REVIEWER' as const };
const B = { subject: 'reviewer-b', role: 'REVIEWER' as const };

let db: TestDatabase;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

/** What the member's claims pay for MAJOR_DISEASE, and the disease groups they hold granted. */
async function lumpSums(memberId: number) {
  const { rows: [paid] } = await db.pool.query<{ total: string }>(
    `SELECT coalesce(sum(coalesce(l.adjusted_fen, l.amount_fen)), 0) AS total FROM benefit_lines l JOIN claims c ON c.id = l.claim_id
      WHERE c.member_id = $1 AND l.programme = 'MAJOR_DISEASE' AND c.status IN ('APPROVED', 'PENDING_REVIEW')`, [memberId]);
  const { rows: grants } = await db.pool.query<{ claimId: number }>(`SELECT claim_id AS "claimId" FROM disease_group_grants WHERE member_id = $1`, [memberId]);
  return { paidFen: Number(paid!.total), grants: grants.map((g) => g.claimId) };
}

const lumpSumLine = async (claimId: number) => (await db.pool.query<{ id: number }>(
  `SELECT id FROM benefit_lines WHERE claim_id = $1 AND programme = 'MAJOR_DISEASE'`, [claimId])).rows[0]!.id;

describe('a first-diagnosis lump sum a reviewer cut to 0', () => {
  it('leaves the disease group open: the stay that confirms the diagnosis pays it', async () => {
    const m = await seedEnrolledMember(db.pool, { specialDisease: true });
    // (20,000 − 10,000) × 60 % = 6,000 INPATIENT + CANCER 6,000: above the automatic limit, it waits.
    const first = await seedSettlement(db.pool, m, { psn: '20,000.00', ownpay: '10,000.00', diagnoses: ['C34.1'], setlTime: '2025-04-01 10:00:00' });
    await adjudicateSettlements(db.pool, [first], { autoApproveMaxFen: fen('10,000.00') });
    const claim = (await claimOf(db.pool, first))!;
    expect(claim.status).toBe('PENDING_REVIEW');
    await adjustClaimLine(db.pool, A, UNSCOPED, await lumpSumLine(claim.id), 0, 'C34.1 not confirmed by pathology on this stay');
    expect(await lumpSums(m.memberId)).toEqual({ paidFen: 0, grants: [] });
    await approveAsRead(db.pool, B, claim.id);

    // Room under its personal part for both lines: 6,000 INPATIENT again, and the lump sum.
    const second = await seedSettlement(db.pool, m, { psn: '20,000.00', ownpay: '10,000.00', diagnoses: ['C34.1'], setlTime: '2025-06-01 10:00:00' });
    await adjudicateSettlements(db.pool, [second], { autoApproveMaxFen: fen('10,000.00') });
    const confirmed = (await claimOf(db.pool, second))!;
    expect(await lumpSums(m.memberId)).toEqual({ paidFen: fen('6,000.00'), grants: [confirmed.id] });
  });

  it('a lump sum lowered but not to 0 keeps its group granted (something was paid for it)', async () => {
    const m = await seedEnrolledMember(db.pool, { specialDisease: true });
    const first = await seedSettlement(db.pool, m, { psn: '20,000.00', ownpay: '10,000.00', diagnoses: ['C34.1'], setlTime: '2025-04-01 10:00:00' });
    await adjudicateSettlements(db.pool, [first], { autoApproveMaxFen: fen('10,000.00') });
    const claim = (await claimOf(db.pool, first))!;
    await adjustClaimLine(db.pool, A, UNSCOPED, await lumpSumLine(claim.id), fen('1.00'), 'part of the lump sum only');
    expect(await lumpSums(m.memberId)).toEqual({ paidFen: fen('1.00'), grants: [claim.id] });
  });
});

/** The claim's figures as the rules give them for the same stay of a member with no other claim: what it pays once the others are gone. */
async function decidedAlone(spec: Parameters<typeof seedSettlement>[2], enrolment: Parameters<typeof seedEnrolledMember>[1] = {}) {
  const alone = await seedEnrolledMember(db.pool, enrolment);
  const id = await seedSettlement(db.pool, alone, spec);
  await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0 });
  return { amounts: (await claimOf(db.pool, id))!.amounts, totals: await totalsOf(db.pool, alone.memberId) };
}

async function redecisionsOf(claimId: number) {
  const { rows } = await db.pool.query<{ cause: string; previousStatus: string; newStatus: string; decidedBy: string }>(
    `SELECT cause, previous_status AS "previousStatus", new_status AS "newStatus", decided_by AS "decidedBy" FROM claim_redecisions WHERE claim_id = $1 ORDER BY id`, [claimId]);
  return rows;
}

describe('a claim rejected while a later one of the member-year waits', () => {
  it('one stay reported twice: the copy kept is figured again without the rejected one, and pays the lump sum that one held', async () => {
    const m = await seedEnrolledMember(db.pool, { specialDisease: true });
    // The member's own figures (misread) wait for a reviewer and take the CANCER grant.
    const applied = await seedSettlement(db.pool, m, { psn: '21,000.00', ownpay: '10,000.00', diagnoses: ['C34.1'], setlTime: '2025-04-01 10:00:00' });
    await adjudicateSettlements(db.pool, [applied], { autoApproveMaxFen: 0 });
    // The platform's record of the stay, while the other still waits: figured with the group already granted.
    const feedSpec = { psn: '20,000.00', ownpay: '10,000.00', diagnoses: ['C34.1'], setlTime: '2025-04-01 11:00:00' };
    const feed = await seedSettlement(db.pool, m, feedSpec);
    await adjudicateSettlements(db.pool, [feed], { autoApproveMaxFen: 0 });
    const feedClaim = (await claimOf(db.pool, feed))!;
    expect(feedClaim.amounts.MAJOR_DISEASE).toBe(0);

    await rejectClaim(db.pool, A, UNSCOPED, (await claimOf(db.pool, applied))!.id, 'same stay as the platform\'s record, misread figures');
    const alone = await decidedAlone(feedSpec, { specialDisease: true });
    const refigured = (await claimOf(db.pool, feed))!;
    expect({ status: refigured.status, amounts: refigured.amounts }).toEqual({ status: 'PENDING_REVIEW', amounts: alone.amounts });
    expect(alone.amounts.MAJOR_DISEASE).toBeGreaterThan(0);
    expect(await lumpSums(m.memberId)).toEqual({ paidFen: alone.amounts.MAJOR_DISEASE, grants: [feedClaim.id] });
    expect(await totalsOf(db.pool, m.memberId)).toEqual(alone.totals);
    expect(await redecisionsOf(feedClaim.id)).toEqual([{ cause: 'EARLIER_CLAIM_RELEASED', previousStatus: 'PENDING_REVIEW', newStatus: 'PENDING_REVIEW', decidedBy: A.subject }]);

    // The reviewer approves it as figured now.
    await approveAsRead(db.pool, B, feedClaim.id);
    expect((await claimOf(db.pool, feed))!).toMatchObject({ status: 'APPROVED', amounts: alone.amounts });
  });

  it('the year\'s room goes to the later claims still waiting, a line a reviewer lowered staying as low; one decided before keeps its lines', async () => {
    const m = await seedEnrolledMember(db.pool);
    const earlier = await seedSettlement(db.pool, m, { psn: '3,000.00', setlTime: '2025-02-01 10:00:00' });
    const big = await seedSettlement(db.pool, m, { psn: '80,000.00', setlTime: '2025-03-01 10:00:00' });
    const adjusted = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-04-01 10:00:00' });
    const laterSpec = { psn: '20,000.00', setlTime: '2025-05-01 10:00:00' };
    const later = await seedSettlement(db.pool, m, laterSpec);
    for (const id of [earlier, big, adjusted, later]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0 });
    const alone = await decidedAlone(laterSpec);
    // The big stay took nearly all the year's INPATIENT room: the later ones were cut by the annual cap.
    const cut = (await claimOf(db.pool, adjusted))!.amounts.INPATIENT!;
    expect(cut).toBeGreaterThan(1);
    expect((await claimOf(db.pool, later))!.amounts.INPATIENT).toBeLessThan(alone.amounts.INPATIENT!);
    const earlierBefore = await claimOf(db.pool, earlier);
    const { rows: [line] } = await db.pool.query<{ id: number }>(
      `SELECT l.id FROM benefit_lines l JOIN claims c ON c.id = l.claim_id WHERE c.settlement_id = $1 AND l.programme = 'INPATIENT'`, [adjusted]);
    const lowered = Math.floor(cut / 2);
    await adjustClaimLine(db.pool, B, UNSCOPED, line!.id, lowered, 'half of the invoice is for a companion bed');

    await rejectClaim(db.pool, A, UNSCOPED, (await claimOf(db.pool, big))!.id, 'not an inpatient stay of the member');
    expect(await claimOf(db.pool, earlier)).toEqual(earlierBefore);
    // The room is back, but the reviewer's adjustment still caps that line.
    const adjustedNow = (await claimOf(db.pool, adjusted))!;
    expect(adjustedNow.amounts.INPATIENT).toBe(lowered);
    expect(adjustedNow.lines.find((l) => l.programme === 'INPATIENT')!.amountFen).toBeGreaterThan(cut);
    const { rows: [kept] } = await db.pool.query(
      `SELECT l.adjustment_reason AS reason, l.adjusted_by AS "by", c.adjusted_by AS "claimAdjustedBy" FROM benefit_lines l JOIN claims c ON c.id = l.claim_id
        WHERE c.settlement_id = $1 AND l.programme = 'INPATIENT'`, [adjusted]);
    expect(kept).toEqual({ reason: 'half of the invoice is for a companion bed', by: B.subject, claimAdjustedBy: [B.subject] });
    expect((await claimOf(db.pool, later))!.amounts).toEqual(alone.amounts);
    // The year counts what its claims pay now: the three that remain.
    const remaining = await Promise.all([earlier, adjusted, later].map(async (id) => (await claimOf(db.pool, id))!.amounts.INPATIENT!));
    expect((await totalsOf(db.pool, m.memberId)).INPATIENT).toBe(remaining.reduce((a, b) => a + b, 0));
    // B adjusted it: B still cannot approve it.
    await expect(approveAsRead(db.pool, B, adjustedNow.id)).rejects.toThrow(/four eyes/);
  });
});
