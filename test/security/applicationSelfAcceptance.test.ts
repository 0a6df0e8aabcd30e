import { describe, expect, it } from 'vitest';
import { decideAppeal, fileAppeal } from '../../src/appeals/service.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { rejectClaim } from '../../src/benefits/review.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { toGlobalId, localId } from '../../src/gateway/globalId.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { matchAndContinue } from '../../src/settlements/matchingStep.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { seedSettlement } from '../benefits/seed.ts';
import { ACCEPT, memberOf, RESUBMIT, RETURN, seedApplicant, stay, submit } from '../applications/support.ts';

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
    const own = await decideAppeal(db.pool, new RuleSetCache(), { subject: PERSON, role: 'REVIEWER' }, UNSCOPED, appeal.id, 'UPHOLD', '材料齐全')
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
