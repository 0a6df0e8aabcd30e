import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import type { Actor } from '../../src/audit/audit.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { approvePaymentPolicy, proposePaymentPolicy, releaseUnderPolicies } from '../../src/payouts/policies.ts';
import { openAccount } from '../banks/simulator/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { fen } from '../benefits/support.ts';
import { quanzhouHardshipRules } from '../benefits/hardshipRules.ts';
import { claimOf, payContribution, seedEnrolment, seedMember, seedSettlement, seedUnit, type MemberSetup } from '../benefits/seed.ts';
import { finance, setBankCard, settings } from '../payouts/support.ts';

/**
 * A member's targeted group set by one person and a small claim it makes payable approved by the
 * rules alone. Quanzhou's rules (published and assigned by two ADMINs) pay CRITICAL only to members
 * of the HARDSHIP group (困难职工). An ADMIN of QZ puts a relative in HARDSHIP (`setEnrolmentCategories`,
 * with a reason); the relative's fully self-funded stay (全自费, so INPATIENT pays nothing) is paid
 * 880.00 CNY of CRITICAL only because of that group. Under AUTO_APPROVE_MAX_FEN (10,000.00) the rules
 * approved it, and a standing payment policy paid it within minutes: nobody but the setter ever saw
 * the group, while a claim above the limit would have waited for a reviewer other than them.
 *
 * Refused by the status the rules give (src/benefits/adjudicate.ts `claimStatusOf`): a claim with a
 * line paid only for the member's targeted groups (the engine's `dependsOnGroups`) waits for a
 * reviewer whatever its amount, in adjudication and in a re-decision alike, with a warning naming
 * the line and the groups; the review then refuses the setter's approval and another reviewer
 * decides (a person's approval, which the policy leaves to a batch two people decide). A small claim
 * paying nothing for a group is still approved by the rules and paid by the policy.
 */

let db: TestDatabase;
let gw: TestGateway;
const cache = new RuleSetCache();
const financeZhao: Actor = { subject: 'finance-zhao', role: 'FINANCE' };
/** The default AUTO_APPROVE_MAX_FEN: every claim below is small. */
const RULES = { autoApproveMaxFen: fen('10,000.00'), ruleSets: cache };
/** Fully self-funded (INPATIENT's basis 0): R 31,000.00 is 1,100.00 above CRITICAL's threshold, × 80 % = 880.00. */
const SELF_FUNDED = { psn: '31,000.00', ownpay: '31,000.00', funds: '2,000.00', setlTime: '2026-06-01 10:00:00' };
/** INPATIENT 20 % = 1,000.00; R 4,000.00 stays under CRITICAL's threshold, which pays nothing. */
const SMALL = { psn: '5,000.00', funds: '3,000.00', setlTime: '2026-06-02 10:00:00' };

const SETTER = { role: 'ADMIN', org: 'QZ', sub: 'qz-admin-relative' } as const;
const OTHER = { role: 'REVIEWER', org: 'QZ', sub: 'qz-reviewer-other' } as const;
const SET = `mutation($input: SetEnrolmentCategoriesInput!) { setEnrolmentCategories(input: $input) { enrolment { memberCategories } userErrors { field code message } } }`;
const APPROVE = `mutation($input: ApproveClaimInput!) { approveClaim(input: $input) { claim { status totalFen decidedBy } userErrors { field code message } } }`;
const GROUP_WARNING = 'CRITICAL pays 880.00 only to members in the targeted groups HARDSHIP of this member\'s enrolment: '
  + 'a reviewer who did not set the groups approves it, not the rules alone';
let qz = 0;
let policyId = 0;

/** A member of a unit of Quanzhou, enrolled for 2026 (paid for unless `paid: false`), in no targeted group, with a card on record since 2020. */
async function member(paid = true): Promise<MemberSetup> {
  const unit = await seedUnit(db.pool, 'PRIVATE', qz); // NON_PUBLIC, as a PRIVATE unit is registered
  const memberId = await seedMember(db.pool, unit.id);
  const enrolmentId = await seedEnrolment(db.pool, memberId, unit.id, { year: 2026, plan: 'PRIVATE' });
  if (paid) await payContribution(db.pool, unit.id, 2026);
  await setBankCard(db.pool, memberId, openAccount());
  await db.pool.query(`UPDATE members SET created_at = '2020-01-01' WHERE id = $1`, [memberId]);
  return { unitId: unit.id, creditCode: unit.creditCode, memberId, enrolmentId };
}

/** The ADMIN puts the member in HARDSHIP, alone. */
async function setHardship(m: MemberSetup): Promise<void> {
  const set = await gw.query(SETTER, SET, { input: { enrolmentId: toGlobalId('Enrolment', m.enrolmentId), memberCategories: ['HARDSHIP'], reason: '困难职工，补登记' } });
  expect(set.data.setEnrolmentCategories).toEqual({ enrolment: { memberCategories: ['HARDSHIP'] }, userErrors: [] });
}

/** The member's stay decided by the rules: the claim's status, amounts and warnings. */
async function decided(m: MemberSetup, stay: typeof SELF_FUNDED | typeof SMALL) {
  const settlementId = await seedSettlement(db.pool, m, stay);
  await adjudicateSettlements(db.pool, [settlementId], RULES);
  return (await claimOf(db.pool, settlementId))!;
}

/** Plans payouts and releases what the standing policy releases; the members paid under it. */
async function paidByPolicy(): Promise<number[]> {
  await planPayouts(db.pool, settings);
  await releaseUnderPolicies(db.pool, settings);
  const { rows } = await db.pool.query<{ memberId: number }>(
    `SELECT p.member_id AS "memberId" FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN payout_batches b ON b.id = a.batch_id
      WHERE b.policy_id = $1 ORDER BY p.member_id`, [policyId],
  );
  return rows.map((r) => r.memberId);
}

beforeAll(async () => {
  db = await freshDatabase();
  ({ qz } = await quanzhouHardshipRules(db.pool, cache));
  // A standing policy (即时办) of two FINANCE people pays the rules' approvals to cards on record for 30 days.
  const unionFunder = (await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`)).rows[0]!.id;
  const policy = await proposePaymentPolicy(db.pool, finance, UNSCOPED, settings, {
    funderId: unionFunder, maxPayoutFen: fen('10,000.00'), dailySumFen: fen('1,000,000.00'), dailyCount: 1_000, accountUnchangedDays: 30,
    validFrom: new Date(Date.now() - 60_000), validUntil: new Date(Date.now() + 86_400_000), reason: '即时办: small claims',
  });
  await approvePaymentPolicy(db.pool, financeZhao, UNSCOPED, policy.id);
  policyId = policy.id;
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('a targeted group set by one person under the automatic approval', () => {
  it('a small claim paid only because of the group waits for a reviewer, unpaid by the policy; the setter cannot approve it, another reviewer can', async () => {
    const relative = await member();
    await setHardship(relative);
    const claim = await decided(relative, SELF_FUNDED);
    expect({ status: claim.status, total: claim.totalFen, amounts: claim.amounts, warnings: claim.warnings }).toEqual({
      status: 'PENDING_REVIEW', total: fen('880.00'), amounts: { INPATIENT: 0, CRITICAL: fen('880.00') }, warnings: [GROUP_WARNING],
    });
    expect(await paidByPolicy()).not.toContain(relative.memberId);

    const input = { claimId: toGlobalId('Claim', claim.id), checkedTotalFen: claim.totalFen, note: '已核困难职工认定材料' };
    const own = await gw.query(SETTER, APPROVE, { input });
    expect(own.data.approveClaim).toEqual({
      claim: null, userErrors: [{ field: 'input.claimId', code: 'CONFLICT', message: expect.stringContaining('qz-admin-relative set the targeted groups') }],
    });
    const other = await gw.query(OTHER, APPROVE, { input });
    expect(other.data.approveClaim).toEqual({ claim: { status: 'APPROVED', totalFen: fen('880.00'), decidedBy: 'qz-reviewer-other' }, userErrors: [] });
    // Approved by a person, it is paid as their approvals are: in a batch two people decide, not by the policy.
    expect(await paidByPolicy()).not.toContain(relative.memberId);
    const { rows: payouts } = await db.pool.query(`SELECT status, amount_fen AS "amountFen" FROM payouts WHERE claim_id = $1`, [claim.id]);
    expect(payouts).toEqual([{ status: 'READY', amountFen: fen('880.00') }]);
  });

  it('a claim decided again when the unit pays waits for a reviewer too', async () => {
    const relative = await member(false);
    await setHardship(relative);
    const refused = await decided(relative, SELF_FUNDED);
    expect({ status: refused.status, reasonCodes: refused.reasonCodes }).toEqual({ status: 'INELIGIBLE', reasonCodes: ['CONTRIBUTION_UNPAID'] });

    await payContribution(db.pool, relative.unitId, 2026);
    const outcome = await redecideIfFactsChanged(db.pool, refused.id, RULES);
    expect(outcome).toMatchObject({ before: 'INELIGIBLE', after: 'PENDING_REVIEW' });
    const { rows: [after] } = await db.pool.query(`SELECT status, total_fen AS "totalFen", warnings, decided_by AS "decidedBy" FROM claims WHERE id = $1`, [refused.id]);
    expect(after).toEqual({ status: 'PENDING_REVIEW', totalFen: fen('880.00'), warnings: [GROUP_WARNING], decidedBy: null });
    expect(await paidByPolicy()).not.toContain(relative.memberId);
  });

  it('control: small claims paying nothing for a group are approved by the rules and paid by the policy, the group\'s member\'s too', async () => {
    const none = await member();
    const inGroup = await member();
    await setHardship(inGroup);
    // The HARDSHIP member's stay stays under CRITICAL's threshold: the group's line pays 0, nothing depends on it.
    for (const m of [none, inGroup]) {
      const claim = await decided(m, SMALL);
      expect({ status: claim.status, amounts: claim.amounts, warnings: claim.warnings }).toEqual({
        status: 'APPROVED', amounts: m === inGroup ? { INPATIENT: fen('1,000.00'), CRITICAL: 0 } : { INPATIENT: fen('1,000.00') }, warnings: [],
      });
    }
    expect(await paidByPolicy()).toEqual(expect.arrayContaining([none.memberId, inGroup.memberId]));
  });
});
