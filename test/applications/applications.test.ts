import { describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { matchJobs } from '../../src/settlements/queue.ts';
import { matchAndContinue } from '../../src/settlements/matchingStep.ts';
import { seedEnrolledMember, seedSettlement } from '../benefits/seed.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/waitFor.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { preparePage, storePage } from '../../src/settlements/ingest.ts';
import { validateSettlement } from '../../src/settlements/validation.ts';
import { fenToCny } from '../../src/kernel/money.ts';
import { inTransaction } from '../../src/db/pool.ts';
import {
  ACCEPT, feedStay, memberOf, pdf, png, RESUBMIT, RETURN, seedApplicant, stay, submit, uploadAttachment,
} from './support.ts';

/**
 * Applications (issue 17): a member applies for a stay the feed does not carry; a reviewer accepts
 * it and it becomes a settlement of its own source, matched and adjudicated like one from the feed,
 * or returns it with a reason the member fixes. Done when an application with attachments becomes
 * a paid claim and a duplicate of a feed settlement is caught.
 */
const started = lazyTestGateway();
const reviewer = (sub = 'reviewer-zhao') => ({ role: 'REVIEWER' as const, sub });
const NO_LIMIT = { autoApproveMaxFen: Number.MAX_SAFE_INTEGER };

/** Runs the match and adjudication steps the workers run for these settlements. */
async function matchAndAdjudicate(ids: number[]) {
  const { db } = await started();
  const matched = await matchAndContinue(db.pool, ids, []);
  await adjudicateSettlements(db.pool, ids, NO_LIMIT);
  return matched;
}

/** The feed fields of the hospital cancelling the stay `s` on the platform (2305, its amounts negated: 冲销), naming `setlId`. */
function reversalOf(s: ReturnType<typeof stay>, setlId: string) {
  const a = s.amounts;
  const negative = (fen: number) => (fen === 0 ? '0' : `-${fenToCny(fen)}`);
  return {
    infno: '2305', init_setl_id: setlId, setl_time: `${s.dischargedOn} 16:00:00`, medfee_sumamt: negative(a.totalFeesFen),
    fulamt_ownpay_amt: negative(a.fullyOwnPayFen), overlmt_selfpay: negative(a.overLimitSelfPayFen), fund_pay_sumamt: negative(a.fundsTotalFen),
    psn_part_amt: negative(a.personBurdenFen), acct_pay: negative(a.personalAccountFen), psn_cash_pay: negative(a.cashPaidFen),
  };
}

describe('an application', () => {
  it('filed by a member with documents is accepted by a reviewer and becomes an approved claim, as the same stay from the feed would', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const me = memberOf(applicant);
    const filed = await submit(gw, me, { stay: stay() }, [{ kind: 'SETTLEMENT_SHEET', bytes: pdf(500) }, { kind: 'INVOICE', bytes: png(300) }]);
    expect(filed.userErrors).toEqual([]);
    expect(filed.application).toMatchObject({
      status: 'SUBMITTED', channel: 'ONLINE', round: 1, hospitalCode: 'H44010600001', inpatient: true,
      submittedBy: { subject: me.sub, role: 'MEMBER' }, decidedBy: null, settlement: null,
      attachments: [{ kind: 'SETTLEMENT_SHEET', contentType: 'application/pdf' }, { kind: 'INVOICE', contentType: 'image/png' }],
    });

    const accepted = (await gw.query(reviewer(), ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(accepted.userErrors).toEqual([]);
    expect(accepted.application).toMatchObject({ status: 'ACCEPTED', decidedBy: { subject: 'reviewer-zhao' }, settlement: { status: 'RECEIVED', source: 'applications' } });

    const applicationId = localId('id', filed.application.id, 'Application');
    const settlementId = localId('id', accepted.application.settlement.id, 'Settlement');
    const { rows: [settlement] } = await db.pool.query(
      `SELECT setl_id, infno, kind, medfee_sumamt, psn_part_amt, fixmedins_code, to_char(begndate, 'YYYY-MM-DD') AS begndate,
              to_char(enddate, 'YYYY-MM-DD') AS enddate, certno_hash = $2 AS "sameIdHash", psn_name_masked FROM settlements WHERE id = $1`,
      [settlementId, (await db.pool.query('SELECT id_number_hash FROM members WHERE id = $1', [applicant.memberId])).rows[0].id_number_hash],
    );
    expect(settlement).toEqual({
      setl_id: `APP-${applicationId}`, infno: '2304', kind: 'SETTLEMENT', medfee_sumamt: 3_234_567, psn_part_amt: 1_234_567,
      fixmedins_code: 'H44010600001', begndate: '2025-05-20', enddate: '2025-06-01', sameIdHash: true, psn_name_masked: '陈*请',
    });
    // The same match job a feed settlement gets.
    expect(await gw.queues.settlementMatch.getJob(matchJobs([settlementId])[0]!.jobId)).toBeTruthy();

    const [matched] = await matchAndAdjudicate([settlementId]);
    expect(matched).toEqual({ id: settlementId, status: 'MATCHED' });
    const { rows: [claim] } = await db.pool.query('SELECT status, total_fen AS "totalFen", member_id AS "memberId", enrolment_id AS "enrolmentId" FROM claims WHERE settlement_id = $1', [settlementId]);

    // The oracle: the same figures arriving from the feed for a member in the same position.
    const twin = await seedEnrolledMember(db.pool);
    const twinSettlement = await seedSettlement(db.pool, twin, { psn: '12,345.67', funds: '20,000.00', setlTime: '2025-06-01 00:00:00', diagnoses: ['I21.9'] });
    await adjudicateSettlements(db.pool, [twinSettlement], NO_LIMIT);
    const { rows: [twinClaim] } = await db.pool.query('SELECT status, total_fen AS "totalFen" FROM claims WHERE settlement_id = $1', [twinSettlement]);
    expect(twinClaim.totalFen).toBeGreaterThan(0);
    expect(claim).toEqual({ status: twinClaim.status, totalFen: twinClaim.totalFen, memberId: applicant.memberId, enrolmentId: applicant.enrolmentId });
    expect(claim.status).toBe('APPROVED');

    // Told once; every step audited.
    const { rows: told } = await db.pool.query(`SELECT member_id AS "memberId", facts FROM notifications WHERE kind = 'APPLICATION_ACCEPTED' AND subject_id = $1`, [applicationId]);
    expect(told).toEqual([{ memberId: applicant.memberId, facts: { totalFeesFen: 3_234_567, admittedOn: '2025-05-20', dischargedOn: '2025-06-01', round: 1 } }]);
    const { rows: audit } = await db.pool.query(`SELECT actor, action FROM audit_log WHERE target_type = 'Application' AND target_id = $1 ORDER BY seq`, [String(applicationId)]);
    expect(audit).toEqual([{ actor: me.sub, action: 'application.submit' }, { actor: 'reviewer-zhao', action: 'application.accept' }]);

    // The member follows it to its claim; the turnaround runs from the submission.
    const seen = await gw.query(me, `query($id: ID!) { application(id: $id) { status settlement { claim { status totalFen } } turnaround { decidedAt paidAt decisionBreached } } }`, { id: filed.application.id });
    expect(seen.errors).toBeUndefined();
    expect(seen.data.application).toMatchObject({ status: 'ACCEPTED', settlement: { claim: { status: 'APPROVED', totalFen: twinClaim.totalFen } }, turnaround: { paidAt: null, decisionBreached: false } });
    expect(seen.data.application.turnaround.decidedAt).not.toBeNull();
  });

  it('returned with a reason is fixed and resubmitted by the member, then accepted', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const me = memberOf(applicant);
    const wrong = stay({ admittedOn: '2025-03-02', dischargedOn: '2025-03-09', hospitalCode: 'H35050200001' }, { cashPaidFen: 1_000_000, personalAccountFen: 234_567 });
    const filed = await submit(gw, me, { stay: wrong });
    expect(filed.userErrors).toEqual([]);

    const returned = (await gw.query(reviewer(), RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'DATES_DIFFER', note: '出院日期与出院小结不符 the discharge summary says 2025-03-10' } })).data.returnApplication;
    expect(returned.userErrors).toEqual([]);
    expect(returned.application).toMatchObject({ status: 'RETURNED', returnReason: 'DATES_DIFFER', returnNote: '出院日期与出院小结不符 the discharge summary says 2025-03-10' });
    const applicationId = localId('id', filed.application.id, 'Application');
    const { rows: told } = await db.pool.query(`SELECT facts, event_key FROM notifications WHERE kind = 'APPLICATION_RETURNED' AND subject_id = $1`, [applicationId]);
    // A reason code, never the reviewer's free text.
    expect(told).toEqual([{ facts: { reasonCode: 'DATES_DIFFER', round: 1 }, event_key: 'round-1' }]);

    // Not accepted while returned.
    const early = (await gw.query(reviewer('reviewer-qian'), ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(early.userErrors).toEqual([{ field: 'input.applicationId', code: 'CONFLICT', message: expect.stringMatching(/RETURNED; only a SUBMITTED one is accepted/) }]);

    const uploadId = await uploadAttachment(gw, me, pdf(250));
    const fixed = { ...wrong, dischargedOn: '2025-03-10' };
    const again = (await gw.query(me, RESUBMIT, { input: { applicationId: filed.application.id, stay: fixed, attachments: [{ uploadId, kind: 'DISCHARGE_SUMMARY' }] } })).data.resubmitApplication;
    expect(again.userErrors).toEqual([]);
    expect(again.application).toMatchObject({ status: 'SUBMITTED', round: 2, dischargedOn: '2025-03-10', returnReason: null, returnNote: null, decidedBy: null });
    expect(again.application.attachments.map((a: { kind: string }) => a.kind)).toEqual(['SETTLEMENT_SHEET', 'DISCHARGE_SUMMARY']);

    const accepted = (await gw.query(reviewer('reviewer-qian'), ACCEPT, { id: filed.application.id, round: 2 })).data.acceptApplication;
    expect(accepted.userErrors).toEqual([]);
    const { rows: [settlement] } = await db.pool.query(`SELECT to_char(enddate, 'YYYY-MM-DD') AS enddate, acct_pay FROM settlements WHERE id = $1`, [localId('id', accepted.application.settlement.id, 'Settlement')]);
    expect(settlement).toEqual({ enddate: '2025-03-10', acct_pay: 234_567 });
    const { rows: audit } = await db.pool.query(`SELECT action FROM audit_log WHERE target_type = 'Application' AND target_id = $1 ORDER BY seq`, [String(applicationId)]);
    expect(audit.map((r) => r.action)).toEqual(['application.submit', 'application.return', 'application.resubmit', 'application.accept']);
  });

  it('filed by staff at the counter or by mail records the channel and names the member', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const clerk = { role: 'ADMIN' as const, sub: 'counter-clerk-lin' };
    const atCounter = await submit(gw, clerk, { memberId: toGlobalId('Member', applicant.memberId), channel: 'COUNTER', stay: stay({ dischargedOn: '2025-07-01', admittedOn: '2025-06-25' }) });
    expect(atCounter.userErrors).toEqual([]);
    expect(atCounter.application).toMatchObject({ channel: 'COUNTER', submittedBy: { subject: 'counter-clerk-lin', role: 'ADMIN' } });

    const operator = { role: 'UNIT_OPERATOR' as const, sub: 'unit-op-1', unit: applicant.creditCode };
    const byMail = await submit(gw, operator, { memberId: toGlobalId('Member', applicant.memberId), channel: 'MAIL', stay: stay({ dischargedOn: '2025-08-01', admittedOn: '2025-07-28' }) });
    expect(byMail.userErrors).toEqual([]);
    expect(byMail.application).toMatchObject({ channel: 'MAIL', submittedBy: { subject: 'unit-op-1', role: 'UNIT_OPERATOR' } });

    const { rows } = await db.pool.query(`SELECT channel, member_id AS "memberId", submitted_by AS "by" FROM applications WHERE member_id = $1 ORDER BY id`, [applicant.memberId]);
    expect(rows).toEqual([
      { channel: 'COUNTER', memberId: applicant.memberId, by: 'counter-clerk-lin' },
      { channel: 'MAIL', memberId: applicant.memberId, by: 'unit-op-1' },
    ]);
    // The member sees both as its own.
    const mine = await gw.query(memberOf(applicant), `{ viewer { member { applications { totalCount edges { node { channel } } } } } }`);
    expect(mine.data.viewer.member.applications).toEqual({ totalCount: 2, edges: [{ node: { channel: 'MAIL' } }, { node: { channel: 'COUNTER' } }] });
  });
});

describe('duplicates of a feed settlement', () => {
  it('a stay the feed already carried is refused on submission, naming the settlement', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-04-01', dischargedOn: '2025-04-08' });
    const fed = await feedStay(db.pool, gw.keys, applicant, s);
    expect(fed.inserted).toBe(1);
    const { rows: [feedRow] } = await db.pool.query(`SELECT id FROM settlements WHERE source = 'feed' ORDER BY id DESC LIMIT 1`);

    const filed = await submit(gw, memberOf(applicant), { stay: s });
    expect(filed).toEqual({ application: null, userErrors: [{ field: 'input.stay', code: 'CONFLICT', message: expect.stringContaining(`settlement ${feedRow.id} from source feed`) }] });
    // Another total, or another discharge day, is another stay.
    const other = await submit(gw, memberOf(applicant), { stay: stay({ admittedOn: '2025-04-01', dischargedOn: '2025-04-09' }) });
    expect(other.userErrors).toEqual([]);
  });

  it('a feed settlement that arrives while the application waits makes the acceptance refused', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-09-01', dischargedOn: '2025-09-03' });
    const filed = await submit(gw, memberOf(applicant), { stay: s });
    expect(filed.userErrors).toEqual([]);
    // The feed tells the dates too; it agrees with the application.
    await feedStay(db.pool, gw.keys, applicant, s, { begndate: '2025-09-01', enddate: '2025-09-03' });
    const accepted = (await gw.query(reviewer(), ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(accepted).toEqual({ application: null, userErrors: [{ field: 'input.applicationId', code: 'CONFLICT', message: expect.stringMatching(/already settled: settlement \d+ from source feed/) }] });
    const { rows } = await db.pool.query(`SELECT status, settlement_id FROM applications WHERE id = $1`, [localId('id', filed.application.id, 'Application')]);
    expect(rows).toEqual([{ status: 'SUBMITTED', settlement_id: null }]);
    // The reviewer returns it as a duplicate instead.
    const returned = (await gw.query(reviewer(), RETURN, { input: { applicationId: filed.application.id, round: 1, reason: 'DUPLICATE', note: 'the platform settled this stay on 2025-09-03' } })).data.returnApplication;
    expect(returned.application.status).toBe('RETURNED');
  });

  it('a feed settlement arriving after the application was accepted is marked DUPLICATE of it and never paid twice', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-10-10', dischargedOn: '2025-10-20' });
    const filed = await submit(gw, memberOf(applicant), { stay: s });
    const accepted = (await gw.query(reviewer(), ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(accepted.userErrors).toEqual([]);
    const applicationSettlement = localId('id', accepted.application.settlement.id, 'Settlement');
    await matchAndAdjudicate([applicationSettlement]);

    // The platform reports the same stay later (its settlement time on the discharge day, no dates given).
    const fed = await feedStay(db.pool, gw.keys, applicant, s);
    expect(fed.inserted).toBe(1);
    expect(fed.toMatch).toEqual([]);
    const { rows: [feedRow] } = await db.pool.query(
      `SELECT id, status, duplicate_of_id AS "duplicateOf", member_id AS "memberId" FROM settlements WHERE source = 'feed' AND certno_hash = (SELECT id_number_hash FROM members WHERE id = $1)`,
      [applicant.memberId],
    );
    expect(feedRow).toMatchObject({ status: 'DUPLICATE', duplicateOf: applicationSettlement, memberId: applicant.memberId });
    // Even if its match and adjudication jobs ran, nothing more is decided: one claim, the application's.
    await matchAndAdjudicate([feedRow.id]);
    const { rows: claims } = await db.pool.query(`SELECT settlement_id AS "settlementId", status FROM claims WHERE member_id = $1`, [applicant.memberId]);
    expect(claims).toEqual([{ settlementId: applicationSettlement, status: 'APPROVED' }]);
    const seen = await gw.query(memberOf(applicant), `query($id: ID!) { settlement(id: $id) { status hospitalCode dischargedOn duplicateOf { id source hospitalCode admittedOn dischargedOn } } }`, { id: toGlobalId('Settlement', feedRow.id) });
    expect(seen.data.settlement).toEqual({
      status: 'DUPLICATE', hospitalCode: 'H44010600001', dischargedOn: null,
      duplicateOf: { id: toGlobalId('Settlement', applicationSettlement), source: 'applications', hospitalCode: 'H44010600001', admittedOn: '2025-10-10', dischargedOn: '2025-10-20' },
    });
  });

  /**
   * The same-stay rule ignored the care setting: an outpatient visit the platform settled at the
   * hospital on the discharge day, for the same total, became DUPLICATE of the accepted inpatient
   * stay and was never paid. One stay only if both are inpatient or both not (med_type starting with 2).
   */
  it('an outpatient visit at the same hospital on the discharge day, for the same total, is no copy of an accepted inpatient stay', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-11-10', dischargedOn: '2025-11-14' });
    const filed = await submit(gw, memberOf(applicant), { stay: s });
    const accepted = (await gw.query(reviewer(), ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(accepted.userErrors).toEqual([]);
    await matchAndAdjudicate([localId('id', accepted.application.settlement.id, 'Settlement')]);

    // The platform's outpatient visit (11), settled on the discharge day at the same hospital, no dates given.
    const visit = await feedStay(db.pool, gw.keys, applicant, s, { med_type: '11' });
    expect(visit.toMatch).toHaveLength(1);
    await matchAndAdjudicate(visit.toMatch);
    const { rows } = await db.pool.query(`SELECT med_type, status, duplicate_of_id AS "duplicateOf" FROM settlements WHERE id = $1`, visit.toMatch);
    expect(rows).toEqual([{ med_type: '11', status: 'MATCHED', duplicateOf: null }]);
  });

  /**
   * The other way round: an application for an inpatient stay was refused as already settled by
   * the feed's outpatient visit at the hospital on the discharge day, for the same total.
   */
  it('an application for an inpatient stay is not refused for an outpatient visit the feed carried at the same hospital on the discharge day', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-11-20', dischargedOn: '2025-11-24' });
    await feedStay(db.pool, gw.keys, applicant, s, { med_type: '11' });
    const filed = await submit(gw, memberOf(applicant), { stay: s });
    expect(filed.userErrors).toEqual([]);
    expect(filed.application).toMatchObject({ status: 'SUBMITTED', inpatient: true });
  });

  it('the platform reversing its copy of an accepted application\'s stay cancels the application\'s claim, and a new copy of the stay is no duplicate of it', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-10-21', dischargedOn: '2025-10-25' });
    const filed = await submit(gw, memberOf(applicant), { stay: s });
    const accepted = (await gw.query(reviewer(), ACCEPT, { id: filed.application.id })).data.acceptApplication;
    const applicationSettlement = localId('id', accepted.application.settlement.id, 'Settlement');
    await matchAndAdjudicate([applicationSettlement]);
    await feedStay(db.pool, gw.keys, applicant, s);
    const { rows: [copy] } = await db.pool.query<{ setlId: string; status: string }>(
      `SELECT setl_id AS "setlId", status FROM settlements WHERE source = 'feed' AND duplicate_of_id = $1`, [applicationSettlement],
    );
    expect(copy!.status).toBe('DUPLICATE');

    // The hospital cancels the stay on the platform (2305, naming the platform's copy).
    const reversed = await feedStay(db.pool, gw.keys, applicant, s, reversalOf(s, copy!.setlId));
    await matchAndAdjudicate(reversed.toMatch);
    const { rows: claims } = await db.pool.query(
      `SELECT c.settlement_id AS "settlementId", c.status, r.outcome FROM claims c LEFT JOIN claim_reversals r ON r.claim_id = c.id WHERE c.member_id = $1`, [applicant.memberId],
    );
    expect(claims).toEqual([{ settlementId: applicationSettlement, status: 'CANCELLED', outcome: 'CANCELLED' }]);

    // Settled again with the same figures: a stay of its own now, decided and paid as one.
    const again = await feedStay(db.pool, gw.keys, applicant, s);
    expect(again.toMatch).toHaveLength(1);
  });

  it('a stay the platform sent without its hospital is refused through another source\'s copy naming it, naming the platform\'s settlement', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-02-03', dischargedOn: '2025-02-07' });
    const setlId = `NOCODE${applicant.memberId}`;
    // The platform's copy names no hospital; its claim is approved.
    const platform = await feedStay(db.pool, gw.keys, applicant, s, { setl_id: setlId, fixmedins_code: null });
    await matchAndAdjudicate(platform.toMatch);
    // A hospital's file brings the same settlement with the hospital's code: a copy of the platform's.
    await db.pool.query(`INSERT INTO settlement_sources (name, kind) VALUES ('hospital-file', 'FILE') ON CONFLICT DO NOTHING`);
    const a = s.amounts;
    const copy = await inTransaction(db.pool, (tx) => storePage(tx, 'hospital-file', null, preparePage(gw.keys, [{ position: 'line 1', fields: {
      setl_id: setlId, mdtrt_id: 'M1', psn_no: 'P1', psn_name: '陈申请', certno: applicant.idNumber, insutype: '310', med_type: s.medicalType,
      setl_time: `${s.dischargedOn} 10:30:00`, medfee_sumamt: fenToCny(a.totalFeesFen), fulamt_ownpay_amt: '0', overlmt_selfpay: '0',
      fund_pay_sumamt: fenToCny(a.fundsTotalFen), psn_part_amt: fenToCny(a.personBurdenFen), acct_pay: '0', psn_cash_pay: fenToCny(a.cashPaidFen),
      fixmedins_code: s.hospitalCode,
    } }])));
    await matchAndAdjudicate(copy.toMatch);
    const [platformId] = platform.toMatch;
    const { rows: copies } = await db.pool.query(`SELECT id, source, status, duplicate_of_id AS "duplicateOf" FROM settlements WHERE setl_id = $1 ORDER BY id`, [setlId]);
    expect(copies).toEqual([
      { id: platformId, source: 'feed', status: 'MATCHED', duplicateOf: null },
      { id: copy.toMatch[0], source: 'hospital-file', status: 'DUPLICATE', duplicateOf: platformId },
    ]);

    const filed = await submit(gw, memberOf(applicant), { stay: s });
    expect(filed).toEqual({ application: null, userErrors: [{ field: 'input.stay', code: 'CONFLICT', message: expect.stringContaining(`already settled: settlement ${platformId} from source feed`) }] });
    const { rows: claims } = await db.pool.query(`SELECT settlement_id AS "settlementId", status FROM claims WHERE member_id = $1`, [applicant.memberId]);
    expect(claims).toEqual([{ settlementId: platformId, status: 'APPROVED' }]);
  });

  it('a stay the platform reversed (冲销) after a reviewer rejected its claim is refused, naming the settlement and its reversal', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-02-10', dischargedOn: '2025-02-14' });
    const setlId = `REJECTED${applicant.memberId}`;
    const fed = await feedStay(db.pool, gw.keys, applicant, s, { setl_id: setlId });
    const [settlementId] = fed.toMatch;
    await matchAndContinue(db.pool, fed.toMatch, []);
    // Above the automatic approval: reviewer-a rejects it.
    const [decided] = await adjudicateSettlements(db.pool, fed.toMatch, { autoApproveMaxFen: 0 });
    expect(decided!.status).toBe('PENDING_REVIEW');
    const rejected = await gw.query(reviewer('reviewer-a'), `mutation($id: ID!) { rejectClaim(input: { claimId: $id, reason: "no discharge summary" }) { claim { status } } }`, { id: toGlobalId('Claim', decided!.claimId) });
    expect(rejected.data.rejectClaim.claim.status).toBe('REJECTED');
    // The platform reverses it; the rejected claim stays as it is.
    const reversal = await feedStay(db.pool, gw.keys, applicant, s, reversalOf(s, setlId));
    await matchAndAdjudicate(reversal.toMatch);

    const filed = await submit(gw, memberOf(applicant), { stay: s });
    expect(filed).toEqual({ application: null, userErrors: [{ field: 'input.stay', code: 'CONFLICT', message: expect.stringContaining(`settlement ${settlementId} from source feed, which the platform reversed (冲销)`) }] });
    const { rows: claims } = await db.pool.query(`SELECT settlement_id AS "settlementId", status FROM claims WHERE member_id = $1`, [applicant.memberId]);
    expect(claims).toEqual([{ settlementId, status: 'REJECTED' }]);
  });

  it('an application waiting while the platform settles its stay, pays it and reverses it is not accepted', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-02-17', dischargedOn: '2025-02-20' });
    const filed = await submit(gw, memberOf(applicant), { stay: s });
    expect(filed.userErrors).toEqual([]);
    const setlId = `CANCELLED${applicant.memberId}`;
    const fed = await feedStay(db.pool, gw.keys, applicant, s, { setl_id: setlId });
    await matchAndAdjudicate(fed.toMatch);
    const reversal = await feedStay(db.pool, gw.keys, applicant, s, reversalOf(s, setlId));
    await matchAndAdjudicate(reversal.toMatch);
    const [settlementId] = fed.toMatch;
    const { rows: claims } = await db.pool.query(`SELECT settlement_id AS "settlementId", status FROM claims WHERE member_id = $1`, [applicant.memberId]);
    expect(claims).toEqual([{ settlementId, status: 'CANCELLED' }]);

    const accepted = (await gw.query(reviewer('reviewer-b'), ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(accepted).toEqual({ application: null, userErrors: [{ field: 'input.applicationId', code: 'CONFLICT', message: expect.stringContaining(`settlement ${settlementId} from source feed, which the platform reversed (冲销)`) }] });
    const { rows } = await db.pool.query(`SELECT status, settlement_id FROM applications WHERE id = $1`, [localId('id', filed.application.id, 'Application')]);
    expect(rows).toEqual([{ status: 'SUBMITTED', settlement_id: null }]);
  });

  it('a second application for a stay already applied for is refused', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-11-01', dischargedOn: '2025-11-05' });
    const first = await submit(gw, memberOf(applicant), { stay: s });
    expect(first.userErrors).toEqual([]);
    const clerk = { role: 'ADMIN' as const, sub: 'clerk-2' };
    const second = await submit(gw, clerk, { memberId: toGlobalId('Member', applicant.memberId), channel: 'MAIL', stay: s });
    expect(second.userErrors).toEqual([{ field: 'input.stay', code: 'CONFLICT', message: expect.stringContaining(`application ${localId('id', first.application.id, 'Application')} is already for this stay`) }]);
  });

  it('an outpatient visit on the day, hospital and total of an inpatient application is another visit, not a second application', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const day = { admittedOn: '2025-10-08', dischargedOn: '2025-10-08' };
    const inpatient = await submit(gw, memberOf(applicant), { stay: stay({ ...day, medicalType: '21' }) });
    expect(inpatient.userErrors).toEqual([]);
    const outpatient = await submit(gw, memberOf(applicant), { stay: stay({ ...day, medicalType: '14' }) });
    expect(outpatient.userErrors).toEqual([]);
    expect([inpatient.application.inpatient, outpatient.application.inpatient]).toEqual([true, false]);
    // Another inpatient application for that day still is the same stay.
    const again = await submit(gw, memberOf(applicant), { stay: stay({ ...day, medicalType: '22' }) });
    expect(again.userErrors).toEqual([{ field: 'input.stay', code: 'CONFLICT', message: expect.stringContaining(`application ${localId('id', inpatient.application.id, 'Application')} is already for this stay`) }]);
  });

  it('a feed page and an acceptance of the same stay at the same time: whichever commits first, the other sees it', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const s = stay({ admittedOn: '2025-12-01', dischargedOn: '2025-12-05' });
    const filed = await submit(gw, memberOf(applicant), { stay: s });
    await db.pool.query(`INSERT INTO settlement_sources (name, kind) VALUES ('feed', 'FILE') ON CONFLICT DO NOTHING`);
    const a = s.amounts;
    const prepared = preparePage(gw.keys, [{ position: 'item 1', fields: {
      setl_id: `RACE${applicant.memberId}`, mdtrt_id: 'M1', psn_no: 'P1', psn_name: '陈申请', certno: applicant.idNumber, insutype: '310', med_type: '21',
      setl_time: '2025-12-05 09:00:00', medfee_sumamt: fenToCny(a.totalFeesFen), fulamt_ownpay_amt: '0', overlmt_selfpay: '0',
      fund_pay_sumamt: fenToCny(a.fundsTotalFen), psn_part_amt: fenToCny(a.personBurdenFen), acct_pay: '0', psn_cash_pay: fenToCny(a.cashPaidFen),
      fixmedins_code: s.hospitalCode,
    } }]);
    // The feed page is stored and not yet committed when the reviewer accepts.
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const stored = await storePage(client as Tx, 'feed', null, prepared);
      expect(stored.inserted).toBe(1);
      const accepting = gw.query(reviewer(), ACCEPT, { id: filed.application.id });
      await waitFor('the acceptance to wait for the feed page', async () => {
        const { rows } = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND query LIKE '%settlement-stays%'`);
        return rows.length > 0;
      });
      await client.query('COMMIT');
      const accepted = (await accepting).data.acceptApplication;
      expect(accepted.userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT', message: expect.stringMatching(/already settled: settlement \d+ from source feed/) })]);
    } finally {
      client.release();
    }
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM settlements WHERE source = 'applications' AND setl_id = $1`, [`APP-${localId('id', filed.application.id, 'Application')}`]);
    expect(rows[0].n).toBe(0);
  });
});

describe('the feed\'s own stay fields', () => {
  const record = (extra: Record<string, unknown>) => ({
    setl_id: 'S1', mdtrt_id: 'M1', psn_no: 'P1', psn_name: '张三', certno: '11010519491231002X', insutype: '310', med_type: '21',
    setl_time: '2025-06-01 10:00:00', medfee_sumamt: '100.00', fulamt_ownpay_amt: '0', overlmt_selfpay: '0', fund_pay_sumamt: '60.00',
    psn_part_amt: '40.00', acct_pay: '0', psn_cash_pay: '40.00', ...extra,
  });

  it('are kept when given, optional, and refused naming the field when wrong', () => {
    expect(validateSettlement(record({})).value?.stay).toEqual({ hospitalCode: null, admittedOn: null, dischargedOn: null });
    expect(validateSettlement(record({ fixmedins_code: 'H35050200001', begndate: '2025-05-28 08:00:00', enddate: '2025-06-01' })).value?.stay)
      .toEqual({ hospitalCode: 'H35050200001', admittedOn: '2025-05-28', dischargedOn: '2025-06-01' });
    expect(validateSettlement(record({ begndate: '2025-02-30' })).problems).toEqual([{ field: 'begndate', reason: expect.stringMatching(/yyyy-MM-dd/) }]);
    expect(validateSettlement(record({ begndate: '2025-06-02', enddate: '2025-06-01' })).problems).toEqual([{ field: 'enddate', reason: 'is before begndate 2025-06-02' }]);
    expect(validateSettlement(record({ fixmedins_code: 'H'.repeat(31) })).problems).toEqual([{ field: 'fixmedins_code', reason: 'must be at most 30 characters' }]);
  });
});
