import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { adjustClaimLine, approveClaim } from '../../src/benefits/review.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { fen } from './support.ts';
import { claimOf, seedEnrolledMember, seedSettlement } from './seed.ts';

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
    await approveClaim(db.pool, B, UNSCOPED, claim.id, null);

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
