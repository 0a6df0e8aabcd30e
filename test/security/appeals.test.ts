import { describe, expect, it } from 'vitest';
import { commitOnceWaitedOn } from '../support/db.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { decidedClaim, DECIDE_APPEAL, FILE_APPEAL, memberToken, upholdPreviewTotal } from '../appeals/support.ts';
import { fujianTree, placeUnit } from '../organisations/support.ts';
import { localId } from '../../src/gateway/globalId.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { REDECISION_ACTOR, redecideClaim, redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { payContribution, seedReversal } from '../benefits/seed.ts';

/**
 * Appeals as an attacker tries them: another member's or unit's claim, the wrong role, the claim's
 * own reviewer going round the service straight to the database, forged or oversized input, a
 * decision replayed, two filings racing.
 */
const started = lazyTestGateway();
const reason = 'please look again at the bill';

async function filedAppeal(reviewer = 'reviewer-a') {
  const { db, gw } = await started();
  const claim = await decidedClaim(db.pool, gw, 'REJECTED', reviewer);
  const filed = await gw.query(memberToken(claim.member), FILE_APPEAL, { input: { claimId: claim.claimGid, reason } });
  expect(filed.data.fileAppeal.userErrors).toEqual([]);
  return { ...claim, appealGid: filed.data.fileAppeal.appeal.id as string, appealId: localId('id', filed.data.fileAppeal.appeal.id, 'Appeal') };
}

describe('filing', () => {
  it('a member cannot appeal another member\'s claim, nor a unit operator another unit\'s: NOT_FOUND, as for no claim', async () => {
    const { db, gw } = await started();
    const a = await decidedClaim(db.pool, gw, 'REJECTED');
    const b = await decidedClaim(db.pool, gw, 'REJECTED');
    for (const who of [memberToken(b.member), { role: 'UNIT_OPERATOR' as const, unit: b.member.creditCode }]) {
      const answer = await gw.query(who, FILE_APPEAL, { input: { claimId: a.claimGid, reason } });
      expect(answer.data.fileAppeal.userErrors).toEqual([expect.objectContaining({ field: 'input.claimId', code: 'NOT_FOUND' })]);
    }
    const own = await gw.query({ role: 'UNIT_OPERATOR', unit: a.member.creditCode, sub: 'op-a' }, FILE_APPEAL, { input: { claimId: a.claimGid, reason } });
    expect(own.data.fileAppeal.appeal).toMatchObject({ status: 'OPEN', filedBy: { subject: 'op-a', role: 'UNIT_OPERATOR' } });
  });

  it('is refused to roles that do not file for members', async () => {
    const { db, gw } = await started();
    const { claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    for (const role of ['REVIEWER', 'FINANCE', 'AUDITOR', 'SERVICE'] as const) {
      const answer = await gw.query({ role }, FILE_APPEAL, { input: { claimId: claimGid, reason } });
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('refuses a reason too short or too long, and an ID of another type', async () => {
    const { db, gw } = await started();
    const { member, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    const long = await gw.query(memberToken(member), FILE_APPEAL, { input: { claimId: claimGid, reason: '长'.repeat(2001) } });
    expect(long.data.fileAppeal.userErrors).toEqual([expect.objectContaining({ field: 'input.reason', message: expect.stringContaining('at most 2000') })]);
    const short = await gw.query(memberToken(member), FILE_APPEAL, { input: { claimId: claimGid, reason: ' no ' } });
    expect(short.data.fileAppeal.userErrors).toEqual([expect.objectContaining({ field: 'input.reason' })]);
    const memberAsClaim = await gw.query(memberToken(member), FILE_APPEAL, { input: { claimId: memberToken(member).member, reason } });
    expect(memberAsClaim.data.fileAppeal.userErrors).toEqual([expect.objectContaining({ field: 'input.claimId', message: expect.stringContaining('not a Claim ID') })]);
  });

  it('two filings at once: exactly one appeal', async () => {
    const { db, gw } = await started();
    const { member, claimGid, claimId } = await decidedClaim(db.pool, gw, 'REJECTED');
    const answers = await Promise.all(Array.from({ length: 4 }, () => gw.query(memberToken(member), FILE_APPEAL, { input: { claimId: claimGid, reason } })));
    expect(answers.filter((a) => a.data.fileAppeal.appeal).length).toBe(1);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM appeals WHERE claim_id = $1', [claimId]);
    expect(rows[0].n).toBe(1);
  });
});

describe('deciding', () => {
  it('is refused to every role but REVIEWER and ADMIN', async () => {
    const { gw } = await started();
    const { appealGid, member } = await filedAppeal();
    for (const who of [memberToken(member), { role: 'UNIT_OPERATOR' as const, unit: member.creditCode }, { role: 'FINANCE' as const }, { role: 'AUDITOR' as const }, { role: 'SERVICE' as const }]) {
      const answer = await gw.query(who, DECIDE_APPEAL, { input: { appealId: appealGid, decision: 'UPHOLD', reason: 'looks right' } });
      expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('replayed: the second decision is refused and the claim is decided again once', async () => {
    const { db, gw } = await started();
    const { appealGid, claimId } = await filedAppeal();
    const checkedTotalFen = await upholdPreviewTotal(gw, { role: 'REVIEWER', sub: 'r-b' }, appealGid);
    const input = { appealId: appealGid, decision: 'UPHOLD', reason: 'documents confirm', checkedTotalFen };
    const [first, second] = await Promise.all([gw.query({ role: 'REVIEWER', sub: 'r-b' }, DECIDE_APPEAL, { input }), gw.query({ role: 'REVIEWER', sub: 'r-c' }, DECIDE_APPEAL, { input })]);
    const decided = [first, second].filter((a) => a.data.decideAppeal.appeal);
    expect(decided).toHaveLength(1);
    const refused = [first, second].find((a) => !a.data.decideAppeal.appeal)!;
    expect(refused.data.decideAppeal.userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT', message: expect.stringContaining('UPHELD already') })]);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM claim_redecisions WHERE claim_id = $1', [claimId]);
    expect(rows[0].n).toBe(1);
  });

  it('members and other members\' appeals: a member sees only its own; staff lists are for REVIEWER, ADMIN, AUDITOR', async () => {
    const { db, gw } = await started();
    const { appealGid } = await filedAppeal();
    const other = await decidedClaim(db.pool, gw, 'REJECTED');
    expect((await gw.query(memberToken(other.member), 'query($id: ID!) { node(id: $id) { id } }', { id: appealGid })).data.node).toBeNull();
    expect((await gw.query({ role: 'FINANCE' }, 'query($id: ID!) { node(id: $id) { id } }', { id: appealGid })).data.node).toBeNull();
    for (const role of ['MEMBER', 'UNIT_OPERATOR', 'FINANCE'] as const) {
      const who = role === 'MEMBER' ? memberToken(other.member) : role === 'UNIT_OPERATOR' ? { role, unit: other.member.creditCode } : { role };
      expect((await gw.query(who, '{ appeals { edges { node { id } } } }')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });
});

describe('a claim decided again while its appeal is open', () => {
  it('the reviewer who rejected the claim after the appeal was filed cannot decide the appeal; another can', async () => {
    const { db, gw } = await started();
    const { member, claimId, claimGid } = await decidedClaim(db.pool, gw, 'INELIGIBLE');
    const filed = await gw.query(memberToken(member), FILE_APPEAL, { input: { claimId: claimGid, reason } });
    const appealGid = filed.data.fileAppeal.appeal.id as string;
    // The unit pays: the claim is decided again (PENDING_REVIEW above the limit), and a reviewer rejects it.
    await payContribution(db.pool, member.unitId);
    expect(await redecideIfFactsChanged(db.pool, claimId, { ruleSets: new RuleSetCache(), autoApproveMaxFen: 1_000_000 })).toMatchObject({ after: 'PENDING_REVIEW' });
    const rejecter = { role: 'REVIEWER' as const, sub: 'reviewer-r' };
    const rejected = await gw.query(rejecter, 'mutation($id: ID!) { rejectClaim(input: { claimId: $id, reason: "no discharge summary" }) { claim { status } } }', { id: claimGid });
    expect(rejected.data.rejectClaim.claim.status).toBe('REJECTED');
    const HINT = 'query($id: ID!) { node(id: $id) { ... on Appeal { viewerCanDecide } } }';
    expect((await gw.query(rejecter, HINT, { id: appealGid })).data.node.viewerCanDecide).toBe(false);
    const own = await gw.query(rejecter, DECIDE_APPEAL, { input: { appealId: appealGid, decision: 'DISMISS', reason: 'the rejection stands' } });
    expect(own.data.decideAppeal).toEqual({ appeal: null, userErrors: [expect.objectContaining({ field: 'input.appealId', code: 'CONFLICT', message: expect.stringContaining('four eyes') })] });
    const other = await gw.query({ role: 'REVIEWER', sub: 'reviewer-s' }, DECIDE_APPEAL, { input: { appealId: appealGid, decision: 'DISMISS', reason: 'the rejection stands' } });
    expect(other.data.decideAppeal).toMatchObject({ appeal: { status: 'DISMISSED', decider: { subject: 'reviewer-s' } }, userErrors: [] });
  });
});

describe('a rejected claim whose settlement the platform reversed (冲销)', () => {
  // A reversal leaves a REJECTED claim as it is (nothing of it counts), so nothing but this stops an appeal from paying the void stay.
  async function reverse(claimId: number) {
    const { db } = await started();
    const { rows: [s] } = await db.pool.query<{ id: number; memberId: number; enrolmentId: number; unitId: number }>(
      `SELECT s.id, s.member_id AS "memberId", s.enrolment_id AS "enrolmentId", s.unit_id AS "unitId" FROM settlements s JOIN claims c ON c.settlement_id = s.id WHERE c.id = $1`, [claimId],
    );
    const reversal = await seedReversal(db.pool, { ...s!, creditCode: '' }, s!.id);
    await adjudicateSettlements(db.pool, [reversal], { autoApproveMaxFen: 1_000_000 });
    expect((await db.pool.query('SELECT outcome FROM claim_reversals WHERE claim_id = $1', [claimId])).rows).toEqual([{ outcome: 'ALREADY_CANCELLED' }]);
  }
  const claimState = async (claimId: number) => {
    const { db } = await started();
    const { rows: [state] } = await db.pool.query(
      `SELECT c.status, (SELECT count(*)::int FROM benefit_lines l WHERE l.claim_id = c.id AND l.status = 'APPROVED') AS "approvedLines",
              (SELECT count(*)::int FROM payouts p WHERE p.claim_id = c.id) AS payouts FROM claims c WHERE c.id = $1`, [claimId],
    );
    return state;
  };

  it('an appeal filed before the reversal is not upheld (CONFLICT on input.decision): the claim stays REJECTED, nothing to pay', async () => {
    const { gw } = await started();
    const { claimId, appealGid } = await filedAppeal();
    // The reviewer read what upholding paid before the reversal came; afterwards nothing shows.
    const checkedTotalFen = await upholdPreviewTotal(gw, { role: 'REVIEWER', sub: 'reviewer-b' }, appealGid);
    expect(checkedTotalFen).toBeGreaterThan(0);
    await reverse(claimId);
    expect(await upholdPreviewTotal(gw, { role: 'REVIEWER', sub: 'reviewer-b' }, appealGid)).toBeNull();
    const upheld = await gw.query({ role: 'REVIEWER', sub: 'reviewer-b' }, DECIDE_APPEAL, { input: { appealId: appealGid, decision: 'UPHOLD', reason: 'the bill is clear', checkedTotalFen } });
    expect(upheld.data.decideAppeal).toEqual({ appeal: null, userErrors: [expect.objectContaining({ field: 'input.decision', code: 'CONFLICT', message: expect.stringContaining('reversed') })] });
    expect(await claimState(claimId)).toEqual({ status: 'REJECTED', approvedLines: 0, payouts: 0 });
    const { db } = await started();
    // Nor does a re-decision by any other path take it up.
    await expect(inTransaction(db.pool, (tx) => redecideClaim(tx, claimId, { actor: REDECISION_ACTOR, cause: 'CORRECTION', approve: true, ruleSets: new RuleSetCache() })))
      .rejects.toMatchObject({ code: 'CONFLICT', field: 'input.claimId' });
    const dismissed = await gw.query({ role: 'REVIEWER', sub: 'reviewer-b' }, DECIDE_APPEAL, { input: { appealId: appealGid, decision: 'DISMISS', reason: 'the stay was reversed' } });
    expect(dismissed.data.decideAppeal.appeal).toMatchObject({ status: 'DISMISSED', claim: { status: 'REJECTED' } });
  });

  it('an appeal filed after the reversal is refused (CONFLICT on input.claimId)', async () => {
    const { db, gw } = await started();
    const { member, claimId, claimGid } = await decidedClaim(db.pool, gw, 'REJECTED');
    await reverse(claimId);
    const filed = await gw.query(memberToken(member), FILE_APPEAL, { input: { claimId: claimGid, reason } });
    expect(filed.data.fileAppeal).toEqual({ appeal: null, userErrors: [expect.objectContaining({ field: 'input.claimId', code: 'CONFLICT', message: expect.stringContaining('reversed') })] });
  });
});

describe('staff racing a move', () => {
  it('filing for a member ADMIN moves to another unit: the old unit\'s operator is refused once the move commits (NOT_FOUND), no appeal filed', async () => {
    const { db, gw } = await started();
    const a = await decidedClaim(db.pool, gw, 'REJECTED');
    const b = await decidedClaim(db.pool, gw, 'REJECTED');
    // ADMIN's move of A's member to unit B commits while unit A's operator's filing waits: for the
    // member, or (checked before the move without a lock) at the insert, whose foreign key check waits
    // for the claim, held FOR UPDATE here as well (as a review of it holds it).
    const { work: filing } = await commitOnceWaitedOn(
      db.pool,
      async (moving) => {
        await moving.query('UPDATE members SET unit_id = $2 WHERE id = $1', [a.member.memberId, b.member.unitId]);
        await moving.query('SELECT 1 FROM claims WHERE id = $1 FOR UPDATE', [a.claimId]);
      },
      () => gw.query({ role: 'UNIT_OPERATOR', unit: a.member.creditCode, sub: 'op-a' }, FILE_APPEAL, { input: { claimId: a.claimGid, reason } }),
    );
    const { data } = await filing;
    expect(data.fileAppeal).toEqual({ appeal: null, userErrors: [expect.objectContaining({ field: 'input.claimId', code: 'NOT_FOUND' })] });
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM appeals WHERE claim_id = $1', [a.claimId]);
    expect(rows[0].n).toBe(0);
  });

  it('deciding the appeal of a member whose unit ADMIN moves to another organisation: that organisation\'s reviewer is refused once the move commits (NOT_FOUND), the appeal OPEN', async () => {
    const { db, gw } = await started();
    await fujianTree(gw);
    const { appealGid, appealId, claimId, member } = await filedAppeal();
    await placeUnit(db.pool, member.unitId, 'QZ');
    const checkedTotalFen = await upholdPreviewTotal(gw, { role: 'REVIEWER', org: 'QZ', sub: 'qz-reviewer' }, appealGid);
    // The unit moves from QZ to XM while QZ's reviewer waits for the appeal (held in the same transaction
    // here): the old check, a subquery of members and units under FOR UPDATE, ran again after the wait
    // on the unit as it was before the move.
    const { work: deciding } = await commitOnceWaitedOn(
      db.pool,
      async (moving) => {
        await placeUnit(moving, member.unitId, 'XM');
        await moving.query('SELECT 1 FROM appeals WHERE id = $1 FOR UPDATE', [appealId]);
      },
      () => gw.query({ role: 'REVIEWER', org: 'QZ', sub: 'qz-reviewer' }, DECIDE_APPEAL, { input: { appealId: appealGid, decision: 'UPHOLD', reason: 'documents confirm', checkedTotalFen } }),
    );
    const { data } = await deciding;
    expect(data.decideAppeal).toEqual({ appeal: null, userErrors: [expect.objectContaining({ field: 'input.appealId', code: 'NOT_FOUND' })] });
    const { rows } = await db.pool.query(
      'SELECT a.status, (SELECT count(*)::int FROM claim_redecisions WHERE claim_id = $2) AS redecisions FROM appeals a WHERE a.id = $1', [appealId, claimId]);
    expect(rows[0]).toEqual({ status: 'OPEN', redecisions: 0 });
  });
});

describe('the database', () => {
  it('refuses a decision by the claim\'s decider or the appeal\'s filer, whoever writes it (four eyes)', async () => {
    const { db } = await started();
    const { appealId } = await filedAppeal('reviewer-q');
    const decide = (by: string) => db.pool.query(
      `UPDATE appeals SET status = 'UPHELD', decided_by = $2, decided_role = 'REVIEWER', decided_at = now(), decision_reason = 'ok ok' WHERE id = $1`, [appealId, by]);
    await expect(decide('reviewer-q')).rejects.toMatchObject({ code: '23514', constraint: 'appeals_four_eyes' });
    const { rows: [{ filed_by: filer }] } = await db.pool.query('SELECT filed_by FROM appeals WHERE id = $1', [appealId]);
    await expect(decide(filer)).rejects.toMatchObject({ code: '23514', constraint: 'appeals_four_eyes' });
    await decide('reviewer-z');
  });

  it('takes the claim\'s decider and status from the claim, never from the writer', async () => {
    const { db, gw } = await started();
    const { claimId } = await decidedClaim(db.pool, gw, 'REJECTED', 'reviewer-real');
    const { rows: [row] } = await db.pool.query(
      `INSERT INTO appeals (claim_id, member_id, claim_status_when_filed, claim_decided_by, reason, filed_by, filed_role)
       VALUES ($1, 1, 'APPROVED', 'somebody-else', 'forged row', 'x', 'MEMBER') RETURNING claim_decided_by, claim_status_when_filed, member_id`, [claimId]);
    const { rows: [claim] } = await db.pool.query('SELECT member_id FROM claims WHERE id = $1', [claimId]);
    expect(row).toEqual({ claim_decided_by: 'reviewer-real', claim_status_when_filed: 'REJECTED', member_id: claim.member_id });
  });

  it('keeps a decided appeal as decided, and refuses an appeal of an undecided claim', async () => {
    const { db, gw } = await started();
    const { appealGid, appealId } = await filedAppeal();
    await gw.query({ role: 'REVIEWER', sub: 'r-x' }, DECIDE_APPEAL, { input: { appealId: appealGid, decision: 'DISMISS', reason: 'not covered' } });
    await expect(db.pool.query(`UPDATE appeals SET status = 'UPHELD' WHERE id = $1`, [appealId])).rejects.toMatchObject({ code: '23514' });
    await expect(db.pool.query(`UPDATE appeals SET decision_reason = 'rewritten' WHERE id = $1`, [appealId])).rejects.toMatchObject({ code: '23514' });
    const pending = await decidedClaim(db.pool, gw, 'PENDING_REVIEW');
    await expect(db.pool.query(`INSERT INTO appeals (claim_id, reason, filed_by, filed_role) VALUES ($1, 'why not', 'x', 'MEMBER')`, [pending.claimId]))
      .rejects.toMatchObject({ code: '23514' });
  });
});
