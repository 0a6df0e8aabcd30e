import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { approveRuleSetProposal, proposeRuleSet } from '../../src/benefits/ruleSetProposals.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { redecideIfFactsChanged, redecisionsDue } from '../../src/benefits/redecide.ts';
import { contributionCovered } from '../../src/members/model.ts';
import { applyManualPayment } from '../../src/members/contributions.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { fen } from './support.ts';
import { claimOf, seedEnrolment, seedMember, seedSettlement, seedUnit, type MemberSetup } from './seed.ts';
import defaultRuleSet from '../../src/benefits/ruleSets/default-2025.json' with { type: 'json' };

/**
 * Coverage per enrolment (ENROLMENT_ORDER, the default): a unit's payments cover its enrolments in
 * the order they were owed (enrolled_on, then id). Contributions: PUBLIC 100.00, the special-disease
 * add-on 25.00 (docs/design.md); default-2025 pays 60% of psn_part_amt.
 */
const OPTIONS = { autoApproveMaxFen: fen('10,000.00') };
const ENROLMENT = `query($id: ID!) { node(id: $id) { ... on Enrolment { contributionCovered contributionPaid } } }`;
const FINANCE = { subject: 'fin-1', role: 'FINANCE' as const };

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

let references = 0;
async function pay(unitId: number, amountFen: number): Promise<void> {
  await inTransaction(db.pool, (tx) => applyManualPayment(tx, FINANCE, { unitId, planYear: 2025, amountFen, reference: `COV-${unitId}-${(references += 1)}`, paidOn: '2025-02-01' }));
}

async function enrol(unitId: number, enrolledOn: string, specialDisease = false): Promise<MemberSetup> {
  const memberId = await seedMember(db.pool, unitId);
  const enrolmentId = await seedEnrolment(db.pool, memberId, unitId, { enrolledOn, firstEnrolledOn: '2020-01-01', specialDisease });
  return { unitId, creditCode: '', memberId, enrolmentId };
}

const covered = async (enrolmentId: number) =>
  (await gw.query({ role: 'ADMIN' }, ENROLMENT, { id: toGlobalId('Enrolment', enrolmentId) })).data.node as { contributionCovered: boolean; contributionPaid: boolean };

describe('the coverage rule (pure)', () => {
  it('covers an enrolment once the unit paid for it and every one owed before it; WHOLE_UNIT only when all is paid', () => {
    expect(contributionCovered('ENROLMENT_ORDER', { owedThroughFen: 10_000, owedFen: 30_000, paidFen: 10_000 })).toBe(true);
    expect(contributionCovered('ENROLMENT_ORDER', { owedThroughFen: 20_000, owedFen: 30_000, paidFen: 19_999 })).toBe(false);
    expect(contributionCovered('ENROLMENT_ORDER', { owedThroughFen: 0, owedFen: 0, paidFen: 0 })).toBe(false);
    expect(contributionCovered('WHOLE_UNIT', { owedThroughFen: 10_000, owedFen: 30_000, paidFen: 29_999 })).toBe(false);
    expect(contributionCovered('WHOLE_UNIT', { owedThroughFen: 30_000, owedFen: 30_000, paidFen: 30_000 })).toBe(true);
  });
});

describe('coverage per enrolment', () => {
  it('a late roster addition leaves the members paid for covered and approved; the late one is refused until paid, then decided again', async () => {
    const unit = await seedUnit(db.pool);
    const early1 = await enrol(unit.id, '2025-01-01');
    const early2 = await enrol(unit.id, '2025-01-01');
    // The unit pays for its two enrolments: 2 × 100.00.
    await pay(unit.id, 20_000);
    // Then a member is added to the roster in March: the unit now owes 300.00 and has paid 200.00.
    const late = await enrol(unit.id, '2025-03-01');

    expect(await covered(early1.enrolmentId)).toEqual({ contributionCovered: true, contributionPaid: false });
    expect(await covered(early2.enrolmentId)).toEqual({ contributionCovered: true, contributionPaid: false });
    expect(await covered(late.enrolmentId)).toEqual({ contributionCovered: false, contributionPaid: false });

    const s1 = await seedSettlement(db.pool, early1, { psn: '5,000.00' });
    const s3 = await seedSettlement(db.pool, late, { psn: '5,000.00' });
    await adjudicateSettlements(db.pool, [s1, s3], OPTIONS);
    // 5,000.00 × 60% = 3,000.00.
    expect(await claimOf(db.pool, s1)).toMatchObject({ status: 'APPROVED', totalFen: fen('3,000.00') });
    const refused = (await claimOf(db.pool, s3))!;
    expect(refused).toMatchObject({ status: 'INELIGIBLE', reasonCodes: ['CONTRIBUTION_UNPAID'] });

    // 99.99 more is not enough for the late one.
    await pay(unit.id, 9_999);
    expect(await redecisionsDue(db.pool, ruleSets)).not.toContain(refused.id);
    await pay(unit.id, 1);
    expect(await covered(late.enrolmentId)).toEqual({ contributionCovered: true, contributionPaid: true });
    expect(await redecisionsDue(db.pool, ruleSets)).toContain(refused.id);
    expect(await redecideIfFactsChanged(db.pool, refused.id, { ...OPTIONS, ruleSets })).toMatchObject({ before: 'INELIGIBLE', after: 'APPROVED' });
    expect(await claimOf(db.pool, s3)).toMatchObject({ status: 'APPROVED', totalFen: fen('3,000.00') });
  });

  it('orders enrolments of one day by id, and counts the special-disease add-on', async () => {
    const unit = await seedUnit(db.pool);
    const first = await enrol(unit.id, '2025-01-01');
    const second = await enrol(unit.id, '2025-01-01', true);
    // 100.00 + 125.00 = 225.00 owed; 220.00 paid covers the first only.
    await pay(unit.id, 22_000);
    expect((await covered(first.enrolmentId)).contributionCovered).toBe(true);
    expect((await covered(second.enrolmentId)).contributionCovered).toBe(false);
  });

  it('WHOLE_UNIT in the rule set keeps the old rule: nobody is covered until the unit has paid in full', async () => {
    const proposal = await proposeRuleSet(db.pool, ruleSets, { subject: 'admin', role: 'ADMIN' }, UNSCOPED, { definition: {
      ...defaultRuleSet, id: 'whole-unit-2025', version: 1, eligibility: { ...defaultRuleSet.eligibility, coverage: 'WHOLE_UNIT' },
    } });
    await approveRuleSetProposal(db.pool, ruleSets, { subject: 'second-admin', role: 'ADMIN' }, UNSCOPED, { proposalId: proposal.id });
    await db.pool.query(`UPDATE plan_year_rule_sets SET rule_set_id = 'whole-unit-2025' WHERE plan_year = 2025`);
    try {
      const unit = await seedUnit(db.pool);
      const early = await enrol(unit.id, '2025-01-01');
      await pay(unit.id, 10_000);
      const late = await enrol(unit.id, '2025-03-01');
      const s = await seedSettlement(db.pool, early, { psn: '5,000.00' });
      await adjudicateSettlements(db.pool, [s], OPTIONS);
      expect(await claimOf(db.pool, s)).toMatchObject({ status: 'INELIGIBLE', reasonCodes: ['CONTRIBUTION_UNPAID'] });
      expect((await covered(early.enrolmentId)).contributionCovered).toBe(false);
      await pay(unit.id, 10_000);
      expect((await covered(late.enrolmentId)).contributionCovered).toBe(true);
    } finally {
      await db.pool.query(`UPDATE plan_year_rule_sets SET rule_set_id = 'default-2025' WHERE plan_year = 2025`);
    }
  });
});
