import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../src/kernel/transaction.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { applyManualPayment } from '../../src/members/contributions.ts';
import { lockContributionPayments, lockUnitInScope } from '../../src/members/store.ts';
import { decideProposal } from '../../src/reconciliation/proposals.ts';
import { manualPayments, owingUnit } from '../reconciliation/support.ts';
import { commitOnceWaitedOn, freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * FOUR_EYES_ABOVE_FEN on manual contribution payments is judged on what one person records alone
 * for a unit's plan year, not per payment: a year split into "transfers" each at the threshold
 * still needs a second person past it (attack 85's outcome, a unit made to look paid, by one
 * insider). A payment beyond what the unit owes needs one too. Each test failed on the code before.
 * The threshold here is below one enrolment's 100.00, so that no payment covers an enrolment,
 * which needs a second person whatever its amount (attack 137, smallUnitManualPayment.test.ts).
 */
let db: TestDatabase;
const FINANCE_A = { subject: 'finance-a', role: 'FINANCE' };
const FINANCE_B = { subject: 'finance-b', role: 'FINANCE' };
const ABOVE = 4_000;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

const { payment, record, paidFen, proposedBecause } = manualPayments(() => db.pool, ABOVE);

describe('manual contribution payments split under FOUR_EYES_ABOVE_FEN', () => {
  it('count together per person, unit and plan year: past the threshold they wait for a second person, who may then record alone', async () => {
    const unit = await owingUnit(db.pool, 1);
    expect(await record(FINANCE_A, payment(unit.id, ABOVE, 'SPLIT-1'))).toBeNull();
    const second = await record(FINANCE_A, payment(unit.id, ABOVE, 'SPLIT-2'));
    const third = await record(FINANCE_A, payment(unit.id, ABOVE, 'SPLIT-3'));
    expect([second, third]).toEqual([expect.any(Number), expect.any(Number)]);
    expect(await paidFen(unit.id)).toBe(ABOVE);
    expect(await proposedBecause(second!)).toBe(
      `finance-a would have recorded 80.00 by hand alone for unit ${unit.id}'s 2025 (this 40.00 included): above FOUR_EYES_ABOVE_FEN (40.00)`);

    // What a second person confirmed is not theirs alone: after confirming, they record a payment of their own at once.
    await decideProposal(db.pool, FINANCE_B, second!, true, 'checked the bank advice');
    expect(await record(FINANCE_B, payment(unit.id, 1_000, 'SPLIT-B'))).toBeNull();
    expect(await paidFen(unit.id)).toBe(2 * ABOVE + 1_000);
    await decideProposal(db.pool, FINANCE_A, third!, false, 'paid by SPLIT-B');
  });

  it('beyond what the unit owes waits for a second person, however small', async () => {
    const unit = await owingUnit(db.pool, 2);
    await decideProposal(db.pool, FINANCE_B, (await record(FINANCE_A, payment(unit.id, unit.owedFen, 'OWED-1')))!, true, 'checked the bank advice');
    const over = await record(FINANCE_B, payment(unit.id, 100, 'OWED-2'));
    expect(over).toEqual(expect.any(Number));
    expect(await paidFen(unit.id)).toBe(unit.owedFen);
    expect(await proposedBecause(over!)).toBe(`unit ${unit.id} owes 200.00 for 2025 and has paid 200.00: this 1.00 would pay beyond it`);
  });

  it('two of one person at the same moment cannot both pass under the threshold', async () => {
    const unit = await owingUnit(db.pool, 30);
    const first = payment(unit.id, 3_000, 'RACE-1');
    // The first, as recordManualPayment records one at once, held uncommitted until the second waits for it.
    const { work } = await commitOnceWaitedOn(db.pool, async (held) => {
      await lockUnitInScope(held as Tx, unit.id, UNSCOPED);
      await lockContributionPayments(held as Tx, 'exclusive');
      await applyManualPayment(held as Tx, FINANCE_A, first);
    }, () => record(FINANCE_A, payment(unit.id, 3_000, 'RACE-2')));
    expect(await work).toEqual(expect.any(Number));
    expect(await paidFen(unit.id)).toBe(3_000);
  });
});
