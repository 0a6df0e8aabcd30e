import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { decideAppeal, fileAppeal } from '../../src/appeals/service.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecideIfFactsChanged, redecideInScope } from '../../src/benefits/redecide.ts';
import { rejectClaim } from '../../src/benefits/review.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { toGlobalId, localId } from '../../src/gateway/globalId.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { matchAndContinue } from '../../src/settlements/matchingStep.ts';
import { lazyTestGateway, type TestGateway } from '../support/gateway.ts';
import { payContribution, seedSettlement, seedUnit } from '../benefits/seed.ts';
import { ACCEPT, feedStay, memberOf, RESUBMIT, RETURN, seedApplicant, stay, submit, type Applicant } from '../applications/support.ts';
import { upholdTotal } from '../appeals/support.ts';

/**
 * Audit finding: an application's four eyes count only staff submitters. The same person — one
 * subject, as the identity provider names them — files their own stay as a MEMBER (ONLINE) and
 * accepts it as a REVIEWER: the figures they typed become a settlement nobody else looked at, and
 * its claim (under AUTO_APPROVE_MAX_FEN) is paid by the rules alone. An appeal is held to the
 * opposite rule (its filer, whatever their role, never decides it: decideRefusal and CHECK
 * appeals_four_eyes), so the hub does take a member's subject for the person; applications exempt it
 * (trigger applications_record_enterer collects `submitted_role <> 'MEMBER'` only; acceptApplication
 * checks `enteredBy`).
 */
const started = lazyTestGateway();
const PERSON = 'zhang.wei';
/** The default: up to 10,000.00 CNY the rules approve alone (as a re-decision asked for through the API does). */
const AUTO_APPROVE_MAX_FEN = 1_000_000;
/** A stay whose claim the rules approve alone (under AUTO_APPROVE_MAX_FEN). */
const SMALL = { totalFeesFen: 1_500_000, fundsTotalFen: 1_000_000, personBurdenFen: 500_000, cashPaidFen: 500_000 };
/** A stay whose claim pays 36,000.00 (person's burden 60,000.00), above it. */
const LARGE = { totalFeesFen: 15_000_000, fundsTotalFen: 9_000_000, personBurdenFen: 6_000_000, cashPaidFen: 6_000_000 };

describe('one person files and accepts their own application', () => {
  it('control: the appeal a member filed is not decided by the same person as REVIEWER (four eyes on the filer, whatever role filed)', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const asMember = { role: 'MEMBER' as const, sub: PERSON, member: toGlobalId('Member', applicant.memberId) };
    const filed = await submit(gw, asMember, { stay: stay({ admittedOn: '2025-03-01', dischargedOn: '2025-03-09' }) });
    const accepted = await gw.query({ role: 'REVIEWER', sub: 'reviewer-other' }, ACCEPT, { id: filed.application.id });
    const settlementId = localId('id', accepted.data.acceptApplication.application.settlement.id, 'Settlement');
    await matchAndContinue(db.pool, [settlementId], []);
    await adjudicateSettlements(db.pool, [settlementId], { autoApproveMaxFen: 0 });
    const { rows: [claim] } = await db.pool.query<{ id: number }>(`SELECT id FROM claims WHERE settlement_id = $1`, [settlementId]);
    await rejectClaim(db.pool, { subject: 'reviewer-other', role: 'REVIEWER' }, UNSCOPED, claim!.id, '材料不全');
    const appeal = await fileAppeal(db.pool, gw.keys, { subject: PERSON, role: 'MEMBER' }, { unitId: null, memberId: applicant.memberId, organisationId: null },
      { days: 60, holidays: [] }, { claimId: claim!.id, reason: '已补交材料，请求复核', attachments: [] });
    const own = await decideAppeal(db.pool, new RuleSetCache(), { subject: PERSON, role: 'REVIEWER' }, UNSCOPED, appeal.id, 'UPHOLD', '材料齐全', await upholdTotal(db.pool, claim!.id))
      .catch((error: unknown) => error);
    expect(own).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining(`${PERSON} filed this appeal`) });
  });

  it('the member\'s own ONLINE application is not accepted by the same person as REVIEWER', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const asMember = { role: 'MEMBER' as const, sub: PERSON, member: toGlobalId('Member', applicant.memberId) };
    const filed = await submit(gw, asMember, { stay: stay({ admittedOn: '2025-04-01', dischargedOn: '2025-04-09' }) });
    expect(filed.userErrors).toEqual([]);

    const own = await gw.query({ role: 'REVIEWER', sub: PERSON }, ACCEPT, { id: filed.application.id });
    expect(own.data.acceptApplication.userErrors).toEqual([
      { field: 'input.applicationId', code: 'CONFLICT', message: expect.stringContaining(PERSON) },
    ]);
    const { rows: [row] } = await db.pool.query(`SELECT status, settlement_id FROM applications WHERE id = $1`, [localId('id', filed.application.id, 'Application')]);
    expect(row).toEqual({ status: 'SUBMITTED', settlement_id: null });
  });

  it('the database refuses it too, whoever writes, even when the statement clears who filed it; another reviewer accepts', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const asMember = { role: 'MEMBER' as const, sub: PERSON, member: toGlobalId('Member', applicant.memberId) };
    const filed = await submit(gw, asMember, { stay: stay({ admittedOn: '2025-04-11', dischargedOn: '2025-04-19' }) });
    const id = localId('id', filed.application.id, 'Application');
    // Every other rule of the row holds (a settlement to point at), so only four eyes can refuse it.
    const settlementId = await seedSettlement(db.pool, applicant);
    for (const clearing of ['', `, member_submitters = '{}'`]) {
      const direct = db.pool.query(`UPDATE applications SET status = 'ACCEPTED', decided_by = $3, decided_at = now(), settlement_id = $2${clearing} WHERE id = $1`, [id, settlementId, PERSON]);
      await expect(direct, clearing).rejects.toThrow(/applications_four_eyes/);
    }
    await db.pool.query(`DELETE FROM settlements WHERE id = $1`, [settlementId]);

    const other = (await gw.query({ role: 'REVIEWER', sub: 'reviewer-other' }, ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(other.userErrors).toEqual([]);
    expect(other.application.status).toBe('ACCEPTED');
  });

  it('every round\'s member submitter: staff and another login resubmitting after them do not free them to accept it', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const asMember = { role: 'MEMBER' as const, sub: PERSON, member: toGlobalId('Member', applicant.memberId) };
    const filed = await submit(gw, asMember, { stay: stay({ admittedOn: '2025-04-21', dischargedOn: '2025-04-29' }) });
    const input = { applicationId: filed.application.id, stay: stay({ admittedOn: '2025-04-21', dischargedOn: '2025-04-29' }), attachments: [] };
    const returnIt = async (round: number) => {
      const returned = await gw.query({ role: 'REVIEWER', sub: 'reviewer-sun' }, RETURN, { input: { applicationId: filed.application.id, round, reason: 'FIGURES_DIFFER', note: 'please confirm the figures' } });
      expect(returned.data.returnApplication.userErrors).toEqual([]);
    };
    // Round 2 by an ADMIN for the member, round 3 by the member under another subject: PERSON submitted neither.
    await returnIt(1);
    const byAdmin = (await gw.query({ role: 'ADMIN', sub: 'admin-helper' }, RESUBMIT, { input })).data.resubmitApplication;
    expect(byAdmin.application.submittedBy).toEqual({ subject: 'admin-helper', role: 'ADMIN' });
    await returnIt(2);
    const byMember = (await gw.query(memberOf(applicant), RESUBMIT, { input })).data.resubmitApplication;
    expect(byMember.application.submittedBy).toEqual({ subject: `member-${applicant.memberId}`, role: 'MEMBER' });

    for (const [role, sub] of [['REVIEWER', PERSON], ['ADMIN', `member-${applicant.memberId}`]] as const) {
      const own = (await gw.query({ role, sub }, ACCEPT, { id: filed.application.id, round: 3 })).data.acceptApplication;
      expect(own, sub).toEqual({ application: null, userErrors: [
        { field: 'input.applicationId', code: 'CONFLICT', message: `input.applicationId: ${sub} filed this application as the member and cannot also accept it; another REVIEWER or ADMIN must (four eyes)` },
      ] });
    }
    const id = localId('id', filed.application.id, 'Application');
    const { rows: [row] } = await db.pool.query(`SELECT status, member_submitters, entered_by FROM applications WHERE id = $1`, [id]);
    expect(row).toEqual({ status: 'SUBMITTED', member_submitters: [PERSON, `member-${applicant.memberId}`], entered_by: ['admin-helper'] });

    const other = (await gw.query({ role: 'REVIEWER', sub: 'reviewer-other' }, ACCEPT, { id: filed.application.id, round: 3 })).data.acceptApplication;
    expect(other.userErrors).toEqual([]);
  });

  it('returning their own application stays open to its filer: it only delays their own claim', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const asMember = { role: 'MEMBER' as const, sub: PERSON, member: toGlobalId('Member', applicant.memberId) };
    const filed = await submit(gw, asMember, { stay: stay({ admittedOn: '2025-05-01', dischargedOn: '2025-05-09' }) });
    const returned = (await gw.query({ role: 'REVIEWER', sub: PERSON }, RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'OTHER', note: 'withdrawn by myself' } })).data.returnApplication;
    expect(returned.userErrors).toEqual([]);
    expect(returned.application.status).toBe('RETURNED');
  });
});

/**
 * Audit finding: the four eyes above end at acceptance. Nothing after it read who entered or
 * submitted the application (entered_by, member_submitters), so the member who is also a REVIEWER
 * had their own claim approved alone once another reviewer accepted the figures: by upholding the
 * appeal their unit's operator filed against its rejection (decideAppeal checked the claim's
 * decider, the filer, adjusters and group setters), or by approving the claim of a stay the platform
 * had paid already, which waited with the same-stay warning (reviewRefusal checked adjusters and
 * group setters). Now none of them approves the claim — approveClaim, approveClaims, an appeal
 * upheld, a re-decision asked for — and trigger claims_applicant_four_eyes (0069) refuses any write
 * of such an approval.
 */
describe('one person has the claim of their own application approved alone', () => {
  const cache = new RuleSetCache();
  const OTHER = { role: 'REVIEWER' as const, sub: 'reviewer-other' };
  const APPROVE = `mutation($input: ApproveClaimInput!) { approveClaim(input: $input) { claim { status decidedBy } userErrors { field code message } } }`;
  const APPROVE_CLAIMS = `mutation($input: ApproveClaimsInput!) { approveClaims(input: $input) { results { claim { status } userErrors { field code message } } } }`;
  const own = (who: string, act = 'also approve it', others = 'another REVIEWER or ADMIN') =>
    `${who} entered or submitted the application this claim was settled from and cannot ${act}; ${others} must (four eyes)`;
  const decision = async (db: pg.Pool, claimId: number) => (await db.query(`SELECT status, decided_by FROM claims WHERE id = $1`, [claimId])).rows[0];

  /** `who` files the application of `s` for the applicant (PERSON as the member unless told); OTHER accepts it; its claim is decided. Answers the claim. */
  async function acceptedClaim(gw: TestGateway, db: pg.Pool, applicant: Applicant, s: ReturnType<typeof stay>, who: Parameters<TestGateway['query']>[0] | null = null) {
    const asMember = { role: 'MEMBER' as const, sub: PERSON, member: toGlobalId('Member', applicant.memberId) };
    const filed = await submit(gw, who ?? asMember, who ? { memberId: toGlobalId('Member', applicant.memberId), channel: 'COUNTER', stay: s } : { stay: s });
    expect(filed.userErrors).toEqual([]);
    const accepted = (await gw.query(OTHER, ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(accepted.userErrors).toEqual([]);
    const settlementId = localId('id', accepted.application.settlement.id, 'Settlement');
    await matchAndContinue(db, [settlementId], []);
    await adjudicateSettlements(db, [settlementId], { ruleSets: cache, autoApproveMaxFen: AUTO_APPROVE_MAX_FEN });
    const { rows: [claim] } = await db.query<{ id: number; status: string; totalFen: number; warnings: string[] }>(
      `SELECT id, status, total_fen AS "totalFen", warnings FROM claims WHERE settlement_id = $1`, [settlementId],
    );
    return claim!;
  }

  /** Claim.viewerCanApprove for the applicant and for another reviewer. */
  async function hints(gw: TestGateway, claimId: number) {
    const hint = async (sub: string) => (await gw.query({ role: 'REVIEWER', sub }, `query($id: ID!) { claim(id: $id) { viewerCanApprove } }`, { id: toGlobalId('Claim', claimId) }))
      .data.claim.viewerCanApprove as boolean;
    return { applicant: await hint(PERSON), other: await hint(OTHER.sub) };
  }

  it('an appeal the unit\'s operator filed is not upheld by the applicant as REVIEWER: the claim stays REJECTED; another reviewer upholds it', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const claim = await acceptedClaim(gw, db.pool, applicant, stay({ admittedOn: '2025-06-02', dischargedOn: '2025-06-12' }, LARGE));
    // Above AUTO_APPROVE_MAX_FEN: it waits for a reviewer, who rejects it.
    expect(claim).toMatchObject({ status: 'PENDING_REVIEW', totalFen: 3_600_000, warnings: [] });
    await rejectClaim(db.pool, { subject: 'reviewer-zhao', role: 'REVIEWER' }, UNSCOPED, claim.id, '材料不全');
    const appeal = await fileAppeal(db.pool, gw.keys, { subject: 'operator-1', role: 'UNIT_OPERATOR' }, { ...UNSCOPED, unitId: applicant.unitId },
      { days: 60, holidays: [] }, { claimId: claim.id, reason: '已补交材料，请求复核', attachments: [] });

    const uphold = async (subject: string) => decideAppeal(db.pool, cache, { subject, role: 'REVIEWER' }, UNSCOPED, appeal.id, 'UPHOLD', '材料齐全', await upholdTotal(db.pool, claim.id));
    await expect(uphold(PERSON)).rejects.toMatchObject({
      code: 'CONFLICT', field: 'input.appealId', message: own(PERSON, 'uphold its appeal, which approves it', 'another reviewer'),
    });
    expect(await decision(db.pool, claim.id)).toEqual({ status: 'REJECTED', decided_by: 'reviewer-zhao' });

    expect(await uphold('reviewer-wu')).toMatchObject({ status: 'UPHELD', decidedBy: 'reviewer-wu' });
    expect(await decision(db.pool, claim.id)).toEqual({ status: 'APPROVED', decided_by: 'reviewer-wu' });
  });

  it('the claim of their application for a stay the platform paid, waiting beside it, is not approved by the applicant as REVIEWER, alone or in bulk', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    await feedStay(db.pool, gw.keys, applicant, stay({ admittedOn: '2025-07-01', dischargedOn: '2025-07-08' }));
    const { rows: [feed] } = await db.pool.query(
      `SELECT id FROM settlements WHERE source = 'feed' AND certno_hash = (SELECT id_number_hash FROM members WHERE id = $1)`, [applicant.memberId],
    );
    await matchAndContinue(db.pool, [feed.id], []);
    await adjudicateSettlements(db.pool, [feed.id], { ruleSets: cache, autoApproveMaxFen: Number.MAX_SAFE_INTEGER });
    expect((await db.pool.query(`SELECT status FROM claims WHERE settlement_id = $1`, [feed.id])).rows).toEqual([{ status: 'APPROVED' }]);

    // 100.00 more and discharged a day later: no duplicate of the platform's record on submission or acceptance.
    const claim = await acceptedClaim(gw, db.pool, applicant, stay({ admittedOn: '2025-07-01', dischargedOn: '2025-07-09' }, { totalFeesFen: 3_244_567, fundsTotalFen: 2_010_000 }));
    expect(claim).toMatchObject({ status: 'PENDING_REVIEW', warnings: [expect.stringContaining(`settlement ${feed.id} (`)] });
    expect(await hints(gw, claim.id)).toEqual({ applicant: false, other: true });

    const input = { claimId: toGlobalId('Claim', claim.id), checkedTotalFen: claim.totalFen, note: '已核实为两次住院' };
    const alone = await gw.query({ role: 'REVIEWER', sub: PERSON }, APPROVE, { input });
    expect(alone.data.approveClaim).toEqual({ claim: null, userErrors: [{ field: 'input.claimId', code: 'CONFLICT', message: own(PERSON) }] });
    const bulk = await gw.query({ role: 'REVIEWER', sub: PERSON }, APPROVE_CLAIMS, { input: { claimIds: [input.claimId], checkedTotalsFen: [claim.totalFen] } });
    expect(bulk.data.approveClaims.results).toEqual([{ claim: null, userErrors: [{ field: 'input.claimIds[0]', code: 'CONFLICT', message: own(PERSON) }] }]);
    expect(await decision(db.pool, claim.id)).toEqual({ status: 'PENDING_REVIEW', decided_by: null });
  });

  it('staff who entered it for the member do not approve it either; the database refuses such an approval whoever writes it', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const counter = { role: 'ADMIN' as const, sub: 'admin-counter' };
    const entered = await acceptedClaim(gw, db.pool, applicant, stay({ admittedOn: '2025-08-04', dischargedOn: '2025-08-14' }, LARGE), counter);
    expect(entered.status).toBe('PENDING_REVIEW');
    const input = { claimId: toGlobalId('Claim', entered.id), checkedTotalFen: entered.totalFen };
    expect((await gw.query(counter, APPROVE, { input })).data.approveClaim.userErrors).toEqual([{ field: 'input.claimId', code: 'CONFLICT', message: own('admin-counter') }]);

    const filed = await acceptedClaim(gw, db.pool, await seedApplicant(db.pool, gw.keys), stay({ admittedOn: '2025-09-01', dischargedOn: '2025-09-11' }, LARGE));
    for (const [claimId, subject] of [[entered.id, 'admin-counter'], [filed.id, PERSON]] as const) {
      const write = db.pool.query(`UPDATE claims SET status = 'APPROVED', decided_by = $2, decided_at = now() WHERE id = $1`, [claimId, subject]);
      await expect(write, subject).rejects.toMatchObject({ code: '23514', constraint: 'claims_applicant_four_eyes' });
    }
    expect([await decision(db.pool, entered.id), await decision(db.pool, filed.id)]).toEqual([
      { status: 'PENDING_REVIEW', decided_by: null }, { status: 'PENDING_REVIEW', decided_by: null },
    ]);
    // Another reviewer approves it.
    expect((await gw.query(OTHER, APPROVE, { input })).data.approveClaim).toEqual({ claim: { status: 'APPROVED', decidedBy: OTHER.sub }, userErrors: [] });
  });

  it('a re-decision asked for by the operator who entered it, which the rules approve, is refused naming them; the sweep approves it', async () => {
    const { db, gw } = await started();
    // The unit has not paid for the year: the claim is refused until it does.
    const unit = await seedUnit(db.pool);
    const applicant = await seedApplicant(db.pool, gw.keys, unit.id);
    const operator = { role: 'UNIT_OPERATOR' as const, sub: 'operator-1', unit: unit.creditCode };
    const claim = await acceptedClaim(gw, db.pool, applicant, stay({ admittedOn: '2025-10-08', dischargedOn: '2025-10-12' }, SMALL), operator);
    expect(claim.status).toBe('INELIGIBLE');
    await payContribution(db.pool, unit.id);

    const asked = redecideInScope(db.pool, { subject: 'operator-1', role: 'UNIT_OPERATOR' }, { ...UNSCOPED, unitId: unit.id }, claim.id, cache);
    await expect(asked).rejects.toMatchObject({
      code: 'CONFLICT', field: 'input.claimId', message: own('operator-1', 'have it approved in their name by deciding it again', 'the re-decision sweep or another person'),
    });
    expect(await decision(db.pool, claim.id)).toMatchObject({ status: 'INELIGIBLE' });
    expect(await redecideIfFactsChanged(db.pool, claim.id, { ruleSets: cache })).toMatchObject({ before: 'INELIGIBLE', after: 'APPROVED' });
    expect(await decision(db.pool, claim.id)).toEqual({ status: 'APPROVED', decided_by: 'redecision' });
  });
});
