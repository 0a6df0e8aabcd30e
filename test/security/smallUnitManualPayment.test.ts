import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember, seedEnrolment, seedMember } from '../benefits/seed.ts';
import { contributionRefusedClaim, manualPayments } from '../reconciliation/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * Attack 137: one FINANCE person's manual payment, under FOUR_EYES_ABOVE_FEN, makes a unit's
 * payments cover an enrolment (a small unit's year brought to paid; under the default
 * ENROLMENT_ORDER coverage, also the first enrolments of a year left partly paid): the claims
 * refused for the unpaid contribution are decided again and approved by the rules alone, money
 * moved by one person. Such a payment now waits for a second person whatever its amount.
 * Each test failed on the code before.
 */
let db: TestDatabase;
const FINANCE_A = { subject: 'finance-a', role: 'FINANCE' };
const FINANCE_B = { subject: 'finance-b', role: 'FINANCE' };
const ABOVE = 100_000;
const ruleSets = new RuleSetCache();
const OPTIONS = { autoApproveMaxFen: fen('10,000.00'), ruleSets };

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

const { payment, record, paidFen, proposedBecause } = manualPayments(() => db.pool, ABOVE);

describe('a manual contribution payment under FOUR_EYES_ABOVE_FEN that makes the unit\'s payments cover an enrolment', () => {
  it('bringing a small unit\'s year to paid waits for a second person: the refused claim stays refused until another confirms', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    const refused = await contributionRefusedClaim(db.pool, m, OPTIONS);

    const proposal = await record(FINANCE_A, payment(m.unitId, 10_000, 'SMALL-UNIT-1'));
    expect(proposal).toEqual(expect.any(Number));
    expect(await paidFen(m.unitId)).toBe(0);
    expect(await redecideIfFactsChanged(db.pool, refused.id, OPTIONS)).toBeNull();
    expect(await claimOf(db.pool, refused.settlementId)).toMatchObject({ status: 'INELIGIBLE' });
    expect(await proposedBecause(proposal!)).toBe(
      `this 100.00 would make unit ${m.unitId}'s payments for 2025 cover 1 enrolment they do not cover yet (unpaid 100.00 of 100.00): their claims would be paid`);

    // The proposer cannot confirm; a second person does, and only then is the claim decided again.
    await expect(decideProposal(db.pool, FINANCE_A, proposal!, true, null)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await decideProposal(db.pool, FINANCE_B, proposal!, true, 'checked the bank advice');
    expect(await paidFen(m.unitId)).toBe(10_000);
    expect(await redecideIfFactsChanged(db.pool, refused.id, OPTIONS)).toMatchObject({ after: 'APPROVED' });
  });

  it('split into payments that each cover nothing until the last: the last waits, whoever records it', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    await contributionRefusedClaim(db.pool, m, OPTIONS);
    expect(await record(FINANCE_A, payment(m.unitId, 6_000, 'SPLIT-SMALL-1'))).toBeNull();
    expect(await record(FINANCE_A, payment(m.unitId, 3_999, 'SPLIT-SMALL-2'))).toBeNull();
    expect(await paidFen(m.unitId)).toBe(9_999);
    expect(await record(FINANCE_A, payment(m.unitId, 1, 'SPLIT-SMALL-3'))).toEqual(expect.any(Number));
    expect(await record(FINANCE_B, payment(m.unitId, 1, 'SPLIT-SMALL-B'))).toEqual(expect.any(Number));
    expect(await paidFen(m.unitId)).toBe(9_999);
  });

  it('leaving the year partly paid but covering its first enrolment (ENROLMENT_ORDER) waits too', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    await seedEnrolment(db.pool, await seedMember(db.pool, m.unitId), m.unitId);
    const refused = await contributionRefusedClaim(db.pool, m, OPTIONS);
    const proposal = await record(FINANCE_A, payment(m.unitId, 10_000, 'FIRST-OF-TWO'));
    expect(proposal).toEqual(expect.any(Number));
    expect(await paidFen(m.unitId)).toBe(0);
    expect(await redecideIfFactsChanged(db.pool, refused.id, OPTIONS)).toBeNull();
    expect(await proposedBecause(proposal!)).toBe(
      `this 100.00 would make unit ${m.unitId}'s payments for 2025 cover 1 enrolment they do not cover yet (unpaid 200.00 of 200.00): their claims would be paid`);
  });
});
