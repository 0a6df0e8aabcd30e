import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { fen } from '../benefits/support.ts';
import { quanzhouHardshipRules } from '../benefits/hardshipRules.ts';
import { claimOf, payContribution, seedEnrolment, seedMember, seedSettlement, seedUnit, totalOfClaim, type MemberSetup } from '../benefits/seed.ts';

/**
 * A member's targeted groups set and the claim they make payable approved by one person. Quanzhou's
 * rules (published and assigned by two ADMINs) pay CRITICAL only to members of the HARDSHIP group
 * (困难职工). One REVIEWER of QZ puts a member in HARDSHIP (`setEnrolmentCategories`, with a reason:
 * their job), the member's stay is decided with a 72,000.00 CNY CRITICAL line (PENDING_REVIEW), and
 * the same REVIEWER approved it: one person made the line payable and approved it, where a line they
 * had only lowered would have needed another approver.
 *
 * Refused by the review's four eyes (src/benefits/review.ts `reviewRefusal`): whoever set the groups
 * of a claim's enrolment (enrolments.categories_set_by, every one of them, migration 0057) approves
 * none of that member-year's claims alone — `approveClaim` and `approveClaims` answer CONFLICT on the
 * claim, as for an adjuster — and the database's trigger claims_categories_four_eyes refuses such an
 * approval whoever writes it. Another REVIEWER approves it; the setter may still reject. The API's
 * hint `Claim.viewerCanApprove` is false to every setter and true to another reviewer.
 */

let db: TestDatabase;
let gw: TestGateway;
const cache = new RuleSetCache();
/** Up to 10,000.00 CNY the rules approve alone: a stay with a CRITICAL line waits for a reviewer. */
const REVIEW = { autoApproveMaxFen: fen('10,000.00'), ruleSets: cache };
const CASE = { psn: '136,700.00', ownpay: '52,700.00', funds: '106,500.00', diagnoses: ['I34.0'], setlTime: '2026-06-01 10:00:00' };
let qz = 0;

const SETTER = { role: 'REVIEWER', org: 'QZ', sub: 'qz-reviewer-solo' } as const;
const OTHER = { role: 'REVIEWER', org: 'QZ', sub: 'qz-reviewer-other' } as const;
const SET = `mutation($input: SetEnrolmentCategoriesInput!) { setEnrolmentCategories(input: $input) { enrolment { memberCategories } userErrors { field code message } } }`;
const APPROVE = `mutation($input: ApproveClaimInput!) { approveClaim(input: $input) { claim { status totalFen decidedBy } userErrors { field code message } } }`;
const APPROVE_CLAIMS = `mutation($input: ApproveClaimsInput!) {
  approveClaims(input: $input) { results { claimId claim { status decidedBy } userErrors { field code message } } userErrors { field code } }
}`;
const REFUSAL = /qz-reviewer-solo set the targeted groups \(memberCategories\) of this claim's enrolment and cannot also approve it; another REVIEWER or ADMIN must \(four eyes\)/;

/** A member of a NON_PUBLIC unit of Quanzhou, enrolled for 2026 and paid for, in no targeted group. */
async function member(): Promise<MemberSetup> {
  const unit = await seedUnit(db.pool, 'PRIVATE', qz); // NON_PUBLIC, as a PRIVATE unit is registered
  const memberId = await seedMember(db.pool, unit.id);
  const enrolmentId = await seedEnrolment(db.pool, memberId, unit.id, { year: 2026, plan: 'PRIVATE', specialDisease: true });
  await payContribution(db.pool, unit.id, 2026);
  return { unitId: unit.id, creditCode: unit.creditCode, memberId, enrolmentId };
}

/** `who` puts the member in HARDSHIP; then the stay is decided. Returns the claim's id. */
async function hardshipClaim(m: MemberSetup, who: typeof SETTER | typeof OTHER = SETTER): Promise<number> {
  const set = await gw.query(who, SET, { input: { enrolmentId: toGlobalId('Enrolment', m.enrolmentId), memberCategories: ['HARDSHIP'], reason: '困难职工，补登记' } });
  expect(set.data.setEnrolmentCategories).toEqual({ enrolment: { memberCategories: ['HARDSHIP'] }, userErrors: [] });
  const id = await seedSettlement(db.pool, m, CASE);
  await adjudicateSettlements(db.pool, [id], REVIEW);
  const claim = (await claimOf(db.pool, id))!;
  expect({ status: claim.status, critical: claim.amounts.CRITICAL }).toEqual({ status: 'PENDING_REVIEW', critical: fen('72,000.00') });
  return claim.id;
}

/** Claim.viewerCanApprove for the setter and for another reviewer, the claim read once by each in a page of waiting claims and once on its own. */
async function hints(claimId: number): Promise<{ setter: boolean; other: boolean }> {
  const hint = async (who: typeof SETTER | typeof OTHER) => {
    const id = toGlobalId('Claim', claimId);
    const r = await gw.query(who, `query($id: ID!) { claim(id: $id) { viewerCanApprove }
      claims(first: 50, filter: { status: PENDING_REVIEW }) { edges { node { id viewerCanApprove } } } }`, { id });
    const inPage = r.data.claims.edges.find((e: { node: { id: string } }) => e.node.id === id).node.viewerCanApprove;
    expect(inPage).toBe(r.data.claim.viewerCanApprove);
    return inPage as boolean;
  };
  return { setter: await hint(SETTER), other: await hint(OTHER) };
}

const decision = async (claimId: number) => (await db.pool.query(`SELECT status, decided_by FROM claims WHERE id = $1`, [claimId])).rows[0];

beforeAll(async () => {
  db = await freshDatabase();
  ({ qz } = await quanzhouHardshipRules(db.pool, cache));
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

describe('four eyes on a member\'s targeted groups and the claims they make payable', () => {
  it('control: the same stay of a member in no targeted group is paid no CRITICAL line under Quanzhou\'s rules', async () => {
    const id = await seedSettlement(db.pool, await member(), CASE);
    await adjudicateSettlements(db.pool, [id], REVIEW);
    const claim = (await claimOf(db.pool, id))!;
    expect({ ruleSet: claim.ruleSetId, critical: claim.amounts.CRITICAL ?? 0 }).toEqual({ ruleSet: 'qz-hardship-2026', critical: 0 });
  });

  it('refuses the approval by the REVIEWER who put the member in HARDSHIP; another REVIEWER approves', async () => {
    const claimId = await hardshipClaim(await member());
    const input = { claimId: toGlobalId('Claim', claimId), checkedTotalFen: await totalOfClaim(db.pool, claimId), note: '已核' };
    // The API's hint says so beforehand: false to the setter, true to another reviewer.
    expect(await hints(claimId)).toEqual({ setter: false, other: true });

    const own = await gw.query(SETTER, APPROVE, { input });
    // Refused by the record (who set the groups), as an adjuster's approval is: a CONFLICT reported with the claim.
    expect(own.data.approveClaim).toEqual({ claim: null, userErrors: [{ field: 'input.claimId', code: 'CONFLICT', message: expect.stringMatching(REFUSAL) }] });
    expect(await decision(claimId)).toEqual({ status: 'PENDING_REVIEW', decided_by: null });

    const other = await gw.query(OTHER, APPROVE, { input });
    expect(other.data.approveClaim).toEqual({ claim: { status: 'APPROVED', totalFen: fen('98,800.00'), decidedBy: 'qz-reviewer-other' }, userErrors: [] });
    const { rows } = await db.pool.query(`SELECT actor FROM audit_log WHERE action = 'claim.approve' AND target_id = $1`, [String(claimId)]);
    expect(rows).toEqual([{ actor: 'qz-reviewer-other' }]);
  });

  it('refuses the approval by an ADMIN who put the member in HARDSHIP through enrolMember', async () => {
    const m = await member();
    const admin = { role: 'ADMIN', org: 'QZ', sub: 'qz-admin-solo' } as const;
    const ENROL = `mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { enrolment { memberCategories } userErrors { field code message } } }`;
    const enrolled = await gw.query(admin, ENROL, { i: {
      memberId: toGlobalId('Member', m.memberId), planYear: 2026, enrolledOn: '2026-01-01', plan: 'PRIVATE', specialDisease: true,
      memberCategories: ['HARDSHIP'], override: { rules: ['BACKDATED'], reason: '困难职工，补登记' },
    } });
    expect(enrolled.data.enrolMember).toEqual({ enrolment: { memberCategories: ['HARDSHIP'] }, userErrors: [] });
    const id = await seedSettlement(db.pool, m, CASE);
    await adjudicateSettlements(db.pool, [id], REVIEW);
    const claim = (await claimOf(db.pool, id))!;
    expect(claim.amounts.CRITICAL).toBe(fen('72,000.00'));

    const own = await gw.query(admin, APPROVE, { input: { claimId: toGlobalId('Claim', claim.id), checkedTotalFen: claim.totalFen, note: '已核' } });
    expect(own.data.approveClaim.userErrors).toEqual([{ field: 'input.claimId', code: 'CONFLICT', message: expect.stringContaining('qz-admin-solo set the targeted groups') }]);
    expect(await decision(claim.id)).toEqual({ status: 'PENDING_REVIEW', decided_by: null });
  });

  it('refuses it in a bulk approval too, the other claims approved; every setter is remembered, not only the last', async () => {
    const m = await member();
    const claimId = await hardshipClaim(m);
    // Another reviewer sets the groups again afterwards: the first setter still made the line payable.
    const again = await gw.query(OTHER, SET, { input: { enrolmentId: toGlobalId('Enrolment', m.enrolmentId), memberCategories: ['HARDSHIP', 'SANITATION'], reason: '环卫工人，补登记' } });
    expect(again.data.setEnrolmentCategories.userErrors).toEqual([]);
    const unrelated = await hardshipClaim(await member(), OTHER);
    const claimIds = [toGlobalId('Claim', claimId), toGlobalId('Claim', unrelated)];
    expect([await hints(claimId), await hints(unrelated)]).toEqual([{ setter: false, other: false }, { setter: true, other: false }]);

    const checkedTotalsFen = [await totalOfClaim(db.pool, claimId), await totalOfClaim(db.pool, unrelated)];
    const res = await gw.query(SETTER, APPROVE_CLAIMS, { input: { claimIds, checkedTotalsFen, note: '已核' } });
    expect(res.data.approveClaims.results).toEqual([
      { claimId: claimIds[0], claim: null, userErrors: [{ field: 'input.claimIds[0]', code: 'CONFLICT', message: expect.stringMatching(REFUSAL) }] },
      { claimId: claimIds[1], claim: { status: 'APPROVED', decidedBy: 'qz-reviewer-solo' }, userErrors: [] },
    ]);
    expect(await decision(claimId)).toEqual({ status: 'PENDING_REVIEW', decided_by: null });
    // The later setter is refused too.
    const later = await gw.query(OTHER, APPROVE, { input: { claimId: claimIds[0], checkedTotalFen: checkedTotalsFen[0], note: '已核' } });
    expect(later.data.approveClaim.userErrors).toMatchObject([{ field: 'input.claimId', code: 'CONFLICT', message: expect.stringContaining('qz-reviewer-other set the targeted groups') }]);
    expect((await db.pool.query(`SELECT categories_set_by FROM enrolments WHERE id = $1`, [m.enrolmentId])).rows[0]).toEqual({
      categories_set_by: ['qz-reviewer-solo', 'qz-reviewer-other'],
    });
  });

  it('the database refuses an approval by a setter too, whoever writes it; rejecting stays open to them', async () => {
    const m = await member();
    const claimId = await hardshipClaim(m);
    const write = db.pool.query(`UPDATE claims SET status = 'APPROVED', decided_by = 'qz-reviewer-solo', decided_at = now() WHERE id = $1`, [claimId]);
    await expect(write).rejects.toMatchObject({ code: '23514', constraint: 'claims_categories_four_eyes' });
    // No write drops a setter's name.
    await db.pool.query(`UPDATE enrolments SET categories_set_by = '{}' WHERE id = $1`, [m.enrolmentId]);
    expect((await db.pool.query(`SELECT categories_set_by FROM enrolments WHERE id = $1`, [m.enrolmentId])).rows[0]).toEqual({ categories_set_by: ['qz-reviewer-solo'] });
    // Rejecting is not money leaving: the setter may still reject.
    const reject = await gw.query(SETTER, `mutation($input: RejectClaimInput!) { rejectClaim(input: $input) { claim { status } userErrors { code } } }`, {
      input: { claimId: toGlobalId('Claim', claimId), reason: '不属于困难职工' },
    });
    expect(reject.data.rejectClaim).toEqual({ claim: { status: 'REJECTED' }, userErrors: [] });
  });
});
