import { describe, expect, it } from 'vitest';
import { lazyTestGateway, type GraphQLResult } from '../support/gateway.ts';
import { decidedClaim, DECIDE_APPEAL, FILE_APPEAL, memberToken, pdf, png, uploadAttachment, upholdPreviewTotal } from './support.ts';
import { localId, toGlobalId } from '../../src/gateway/globalId.ts';
import { seedEnrolledMember, seedSettlement } from '../benefits/seed.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';

/**
 * Appeals (issue 17): a member asks for reconsideration of a decided claim; a second reviewer
 * decides. Done when an appeal is decided by a second reviewer.
 */
const started = lazyTestGateway({ APPEAL_PERIOD_DAYS: '60' });

const reviewer = (sub: string) => ({ role: 'REVIEWER' as const, sub });

async function file(who: Parameters<Awaited<ReturnType<typeof started>>['gw']['query']>[0], claimGid: string, extra: Record<string, unknown> = {}) {
  const { gw } = await started();
  const answer = await gw.query(who, FILE_APPEAL, { input: { claimId: claimGid, reason: '出院小结已补交 discharge summary attached', ...extra } });
  expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
  return answer.data.fileAppeal;
}

async function decide(who: Parameters<Awaited<ReturnType<typeof started>>['gw']['query']>[0], appealId: string, decision: 'UPHOLD' | 'DISMISS', reason = 'documents confirm the stay') {
  const { gw } = await started();
  // An uphold names the total its reviewer read (any figure where none shows: upholding is refused anyway).
  const checkedTotalFen = decision === 'UPHOLD' ? (await upholdPreviewTotal(gw, who, appealId)) ?? 0 : undefined;
  const answer = await gw.query(who, DECIDE_APPEAL, { input: { appealId, decision, reason, checkedTotalFen } });
  expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
  return answer.data.decideAppeal;
}

describe('an appeal', () => {
  it('against a rejected claim is upheld by a second reviewer: the claim is decided again and approved, the member told', async () => {
    const { db, gw } = await started();
    const { member, claimId, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED', 'reviewer-a');
    const uploadId = await uploadAttachment(gw, memberToken(member), pdf(300));
    const filed = await file(memberToken(member), claimGid, { attachments: [{ uploadId, kind: 'DISCHARGE_SUMMARY', fileName: '出院小结.pdf' }] });
    expect(filed.userErrors).toEqual([]);
    expect(filed.appeal).toMatchObject({
      status: 'OPEN', claimStatusWhenFiled: 'REJECTED', filedBy: { subject: memberToken(member).sub, role: 'MEMBER' },
      attachments: [{ kind: 'DISCHARGE_SUMMARY', contentType: 'application/pdf', sizeBytes: 300, fileName: '出院小结.pdf' }],
    });

    const decided = await decide(reviewer('reviewer-b'), filed.appeal.id, 'UPHOLD');
    expect(decided.userErrors).toEqual([]);
    expect(decided.appeal).toMatchObject({ status: 'UPHELD', decider: { subject: 'reviewer-b' }, claim: { id: claimGid, status: 'APPROVED' } });

    const appealId = localId('id', filed.appeal.id, 'Appeal');
    const { rows: [claim] } = await db.pool.query('SELECT status, decided_by FROM claims WHERE id = $1', [claimId]);
    expect(claim).toEqual({ status: 'APPROVED', decided_by: 'reviewer-b' });
    const { rows: redecisions } = await db.pool.query('SELECT cause, previous_status, new_status FROM claim_redecisions WHERE claim_id = $1', [claimId]);
    expect(redecisions).toEqual([{ cause: 'APPEAL', previous_status: 'REJECTED', new_status: 'APPROVED' }]);
    const { rows: told } = await db.pool.query(`SELECT member_id, facts FROM notifications WHERE kind = 'APPEAL_DECIDED' AND subject_id = $1`, [appealId]);
    expect(told).toEqual([{ member_id: member.memberId, facts: { outcome: 'UPHELD', claimStatus: 'APPROVED', status: 'OVERTURNED' } }]);
    const { rows: audit } = await db.pool.query(`SELECT actor, action FROM audit_log WHERE target_type = 'Appeal' AND target_id = $1 ORDER BY seq`, [String(appealId)]);
    expect(audit).toEqual([{ actor: memberToken(member).sub, action: 'appeal.file' }, { actor: 'reviewer-b', action: 'appeal.uphold' }]);

    // The member sees it, on the claim and on itself.
    const seen = await gw.query(memberToken(member), `query($c: ID!, $m: ID!) {
      claim: node(id: $c) { ... on Claim { status appeals { status decisionReason decider { subject } attachments { fileName } } } }
      member: node(id: $m) { ... on Member { appeals { id status } } } }`, { c: claimGid, m: toGlobalId('Member', member.memberId) });
    expect(seen.data.claim).toEqual({
      status: 'APPROVED', appeals: [{ status: 'UPHELD', decisionReason: 'documents confirm the stay', decider: { subject: 'reviewer-b' }, attachments: [{ fileName: '出院小结.pdf' }] }],
    });
    expect(seen.data.member.appeals).toEqual([{ id: filed.appeal.id, status: 'UPHELD' }]);
  });

  it('dismissed leaves the claim as decided, and the member is told', async () => {
    const { db, gw } = await started();
    const { member, claimId, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED', 'reviewer-a');
    const filed = await file(memberToken(member), claimGid);
    const decided = await decide(reviewer('reviewer-c'), filed.appeal.id, 'DISMISS', 'the stay was not covered');
    expect(decided.appeal).toMatchObject({ status: 'DISMISSED', claim: { status: 'REJECTED' } });
    const { rows: [claim] } = await db.pool.query('SELECT status, decided_by FROM claims WHERE id = $1', [claimId]);
    expect(claim).toEqual({ status: 'REJECTED', decided_by: 'reviewer-a' });
    const { rows: told } = await db.pool.query(`SELECT facts FROM notifications WHERE kind = 'APPEAL_DECIDED' AND subject_id = $1`, [localId('id', filed.appeal.id, 'Appeal')]);
    expect(told).toEqual([{ facts: { outcome: 'DISMISSED', claimStatus: 'REJECTED', status: 'UPHELD' } }]);
  });

  it('cannot be decided by the reviewer who decided the claim, nor by the person who filed it', async () => {
    const { db, gw } = await started();
    const { claimGid } = await decidedClaim(db.pool, gw, 'REJECTED', 'reviewer-a');
    const filed = await file({ role: 'ADMIN', sub: 'admin-x' }, claimGid);
    expect(filed.userErrors).toEqual([]);
    const own = await gw.query(reviewer('reviewer-a'), `query($id: ID!) { node(id: $id) { ... on Appeal { viewerCanDecide } } }`, { id: filed.appeal.id });
    expect(own.data.node.viewerCanDecide).toBe(false);

    const byClaimReviewer = await decide(reviewer('reviewer-a'), filed.appeal.id, 'UPHOLD');
    expect(byClaimReviewer.appeal).toBeNull();
    expect(byClaimReviewer.userErrors).toEqual([expect.objectContaining({ field: 'input.appealId', code: 'CONFLICT', message: expect.stringContaining('four eyes') })]);
    const byFiler = await decide({ role: 'ADMIN', sub: 'admin-x' }, filed.appeal.id, 'DISMISS');
    expect(byFiler.userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT', message: expect.stringContaining('filed this appeal') })]);

    const other = await gw.query(reviewer('reviewer-b'), `query($id: ID!) { node(id: $id) { ... on Appeal { status viewerCanDecide } } }`, { id: filed.appeal.id });
    expect(other.data.node).toEqual({ status: 'OPEN', viewerCanDecide: true });
  });

  it('cannot be upheld by a reviewer who adjusted a line of the claim (upholding approves it)', async () => {
    const { db, gw } = await started();
    const member = await seedEnrolledMember(db.pool);
    const [outcome] = await adjudicateSettlements(db.pool, [await seedSettlement(db.pool, member, { psn: '20,000.00' })], { autoApproveMaxFen: 1_000_000 });
    const claimGid = toGlobalId('Claim', outcome!.claimId);
    const lines = await gw.query(reviewer('reviewer-b'), 'query($id: ID!) { node(id: $id) { ... on Claim { status lines { id amountFen } } } }', { id: claimGid });
    expect(lines.data.node.status).toBe('PENDING_REVIEW');
    const line = lines.data.node.lines[0];
    const adjusted = await gw.query(reviewer('reviewer-b'), 'mutation($input: AdjustClaimLineInput!) { adjustClaimLine(input: $input) { userErrors { message } } }',
      { input: { lineId: line.id, amountFen: line.amountFen - 100, reason: 'one receipt missing' } });
    expect(adjusted.data.adjustClaimLine.userErrors).toEqual([]);
    await gw.query(reviewer('reviewer-a'), 'mutation($id: ID!) { rejectClaim(input: { claimId: $id, reason: "not covered" }) { userErrors { message } } }', { id: claimGid });
    const filed = await file(memberToken(member), claimGid);
    const refused = await decide(reviewer('reviewer-b'), filed.appeal.id, 'UPHOLD');
    expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT', message: expect.stringContaining('adjusted a line') })]);
    // Dismissing approves nothing: allowed.
    expect((await decide(reviewer('reviewer-b'), filed.appeal.id, 'DISMISS')).appeal.status).toBe('DISMISSED');
  });

  it('is refused after APPEAL_PERIOD_DAYS, naming the period', async () => {
    // The period ends at 24:00 China time of its last day, moved past a weekend (test/appeals/period.test.ts
    // pins the hours and holidays): 75 days back is late whatever today is, 59 days back in time.
    const { db, gw } = await started();
    const { member, claimId, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    await db.pool.query(`UPDATE claims SET decided_at = now() - interval '75 days' WHERE id = $1`, [claimId]);
    const late = await file(memberToken(member), claimGid);
    expect(late.appeal).toBeNull();
    expect(late.userErrors).toEqual([expect.objectContaining({ field: 'input.claimId', code: 'CONFLICT', message: expect.stringContaining('APPEAL_PERIOD_DAYS: 60 days') })]);

    await db.pool.query(`UPDATE claims SET decided_at = now() - interval '59 days' WHERE id = $1`, [claimId]);
    const inTime = await file(memberToken(member), claimGid);
    expect(inTime.userErrors).toEqual([]);
    // appealableUntil: not the decision's instant + 60 × 24 h, but 24:00 China time of the 60th day after its China date.
    await db.pool.query(`UPDATE claims SET decided_at = '2025-03-03 16:00:00+08' WHERE id = $1`, [claimId]);
    const until = await gw.query(memberToken(member), 'query($id: ID!) { node(id: $id) { ... on Claim { appealableUntil } } }', { id: claimGid });
    expect(until.data.node.appealableUntil).toBe(new Date('2025-05-03T00:00:00+08:00').toISOString());
  });

  it('is one OPEN per claim: a second is refused until the first is decided', async () => {
    const { db, gw } = await started();
    const { member, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    const first = await file(memberToken(member), claimGid);
    const second = await file(memberToken(member), claimGid);
    expect(second.userErrors).toEqual([expect.objectContaining({ field: 'input.claimId', code: 'CONFLICT', message: expect.stringContaining('OPEN appeal already') })]);
    await decide(reviewer('reviewer-d'), first.appeal.id, 'DISMISS');
    const third = await file(memberToken(member), claimGid);
    expect(third.userErrors).toEqual([]);
  });

  it('is only for decided claims', async () => {
    const { db, gw } = await started();
    const pending = await decidedClaim(db.pool, gw, 'PENDING_REVIEW');
    const refused = await file(memberToken(pending.member), pending.claimGid);
    expect(refused.userErrors).toEqual([expect.objectContaining({ field: 'input.claimId', code: 'CONFLICT', message: expect.stringContaining('PENDING_REVIEW') })]);
    const approved = await decidedClaim(db.pool, gw, 'APPROVED');
    const filed = await file(memberToken(approved.member), approved.claimGid);
    expect(filed.userErrors).toEqual([]);
    // An approved claim is not decided again: its amounts follow the rules.
    const upheld = await decide(reviewer('reviewer-b'), filed.appeal.id, 'UPHOLD');
    expect(upheld.userErrors).toEqual([expect.objectContaining({ field: 'input.decision', code: 'CONFLICT', message: expect.stringContaining('dismiss the appeal') })]);
  });

  it('upheld on an ineligible claim whose facts are unchanged is refused: correct the facts or dismiss', async () => {
    const { db, gw } = await started();
    const { member, claimId, claimGid } = await decidedClaim(db.pool, gw, 'INELIGIBLE');
    const filed = await file(memberToken(member), claimGid);
    const upheld = await decide(reviewer('reviewer-b'), filed.appeal.id, 'UPHOLD');
    expect(upheld.appeal).toBeNull();
    expect(upheld.userErrors).toEqual([expect.objectContaining({ field: 'input.decision', code: 'CONFLICT', message: expect.stringContaining('correct the facts first') })]);
    const { rows: [state] } = await db.pool.query(
      `SELECT c.status, a.status AS appeal, (SELECT count(*)::int FROM claim_redecisions r WHERE r.claim_id = c.id) AS redecisions
         FROM claims c JOIN appeals a ON a.claim_id = c.id WHERE c.id = $1`, [claimId]);
    expect(state).toEqual({ status: 'INELIGIBLE', appeal: 'OPEN', redecisions: 0 });
    expect((await decide(reviewer('reviewer-b'), filed.appeal.id, 'DISMISS')).appeal.status).toBe('DISMISSED');
  });

  it('queue: staff list appeals by status, oldest first, in keyset pages', async () => {
    const { db, gw } = await started();
    const filedIds: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { member, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
      filedIds.push((await file(memberToken(member), claimGid)).appeal.id);
    }
    const all: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: GraphQLResult = await gw.query({ role: 'AUDITOR' }, 'query($after: String) { appeals(status: OPEN, first: 2, after: $after) { edges { node { id status } } pageInfo { hasNextPage endCursor } } }', { after });
      expect(page.errors).toBeUndefined();
      all.push(...page.data.appeals.edges.map((e: { node: { id: string; status: string } }) => { expect(e.node.status).toBe('OPEN'); return e.node.id; }));
      if (!page.data.appeals.pageInfo.hasNextPage) break;
      after = page.data.appeals.pageInfo.endCursor;
    }
    expect(all.slice(-3)).toEqual(filedIds);
    const sorted = [...all].sort((a, b) => localId('a', a, 'Appeal') - localId('b', b, 'Appeal'));
    expect(all).toEqual(sorted);

    // Read backwards, the same list in the same order; the count is the whole list's.
    const back: string[] = [];
    let before: string | null = null;
    for (;;) {
      const page: GraphQLResult = await gw.query({ role: 'AUDITOR' }, 'query($before: String) { appeals(status: OPEN, last: 2, before: $before) { totalCount edges { node { id } } pageInfo { hasPreviousPage startCursor } } }', { before });
      expect(page.errors).toBeUndefined();
      expect(page.data.appeals.totalCount).toBe(all.length);
      back.unshift(...page.data.appeals.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!page.data.appeals.pageInfo.hasPreviousPage) break;
      before = page.data.appeals.pageInfo.startCursor;
    }
    expect(back).toEqual(all);
  });

  it('attachments filed with it are the member\'s, whoever filed', async () => {
    const { db, gw } = await started();
    const { member, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    const admin = { role: 'ADMIN' as const, sub: 'admin-y' };
    const uploadId = await uploadAttachment(gw, admin, png(120));
    const filed = await file(admin, claimGid, { attachments: [{ uploadId, kind: 'APPEAL_EVIDENCE' }] });
    expect(filed.appeal.attachments).toEqual([expect.objectContaining({ kind: 'APPEAL_EVIDENCE', contentType: 'image/png', fileName: 'appeal_evidence.png' })]);
    const { rows } = await db.pool.query('SELECT member_id, uploaded_by FROM attachments WHERE id = $1', [localId('id', filed.appeal.attachments[0].id, 'Attachment')]);
    expect(rows).toEqual([{ member_id: member.memberId, uploaded_by: 'admin-y' }]);
  });
});
