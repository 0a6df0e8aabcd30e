import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { parseGlobalId, toGlobalId } from '../../src/gateway/globalId.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, payContribution, seedEnrolledMember, seedSettlement, totalsOf, type MemberSetup } from '../benefits/seed.ts';
import { decidedClaim, FILE_APPEAL, memberToken, UPHOLD_PREVIEW } from '../appeals/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * The attack (attack 127's hole on the appeal's side): an uphold pays figures no reviewer saw.
 * Upholding decides the refused claim again against the member's year as it stands at that moment
 * and approves whatever the rules give then. Rejected claim B shows INPATIENT 2,000.00, capped by an
 * earlier stay A; another reviewer rejects A, freeing room under the cap; reviewer U upholds B's
 * appeal having read 2,000.00, and B was approved at 6,000.00. (An INELIGIBLE claim shows no line at
 * all: its upholder read no figure.) Now the reviewer reads `Appeal.upholdPreview` and names its
 * total (`checkedTotalFen`); the uphold compares it, under the member-year's lock, with what it figures.
 *
 * default-2025, INPATIENT: 60 % (PUBLIC) of the list part, 50,000.00 a year. A 80,000.00 pays 48,000.00,
 * leaving B 10,000.00 only 2,000.00 of its 6,000.00; without A, B pays its 6,000.00.
 */
const R1 = { role: 'REVIEWER', sub: 'reviewer-1' } as const;
const R2 = { role: 'REVIEWER', sub: 'reviewer-2' } as const;
const U = { role: 'REVIEWER', sub: 'reviewer-u' } as const;
const cache = new RuleSetCache();
let db: TestDatabase;
let gw: TestGateway;

const REJECT = `mutation($input: RejectClaimInput!) { rejectClaim(input: $input) { userErrors { field code message } } }`;
const DECIDE = `mutation($input: DecideAppealInput!) { decideAppeal(input: $input) {
  appeal { status claim { status totalFen lines { programme amountFen } } } userErrors { field code message } } }`;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

type Who = Parameters<TestGateway['query']>[0];

async function preview(who: Who, appealGid: string): Promise<{ totalFen: number; lines: { programme: string; amountFen: number }[] } | null> {
  const answer = await gw.query(who, UPHOLD_PREVIEW, { id: appealGid });
  expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
  return answer.data.node.upholdPreview;
}

async function fileAppeal(member: MemberSetup, claimGid: string): Promise<string> {
  const filed = await gw.query(memberToken(member), FILE_APPEAL, { input: { claimId: claimGid, reason: '出院小结已补交，请求复核' } });
  expect(filed.data.fileAppeal.userErrors).toEqual([]);
  return filed.data.fileAppeal.appeal.id;
}

/** What an uphold left: the appeal, the claim, its re-decisions, the member-year's INPATIENT total, the uphold's audit entries and notices. */
async function state(appealGid: string, claimId: number, memberId: number) {
  const appealId = String(parseGlobalId(appealGid)!.id);
  const { rows: [row] } = await db.pool.query(
    `SELECT a.status AS appeal, c.status AS claim, c.total_fen AS "totalFen",
            (SELECT count(*)::int FROM claim_redecisions r WHERE r.claim_id = c.id) AS redecisions,
            (SELECT count(*)::int FROM audit_log l WHERE l.action = 'appeal.uphold' AND l.target_id = $2) AS upholds,
            (SELECT count(*)::int FROM notifications n WHERE n.kind = 'APPEAL_DECIDED' AND n.subject_id = a.id) AS told
       FROM appeals a JOIN claims c ON c.id = a.claim_id WHERE c.id = $1`, [claimId, appealId],
  );
  return { ...row, inpatient: (await totalsOf(db.pool, memberId)).INPATIENT };
}

/** A member's stays A then B, both waiting; reviewer 1 rejects B (capped by A at 2,000.00) and the member appeals. */
async function rejectedAndAppealed() {
  const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  const a = await seedSettlement(db.pool, m, { psn: '80,000.00', setlTime: '2025-03-01 10:00:00' });
  const b = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-04-01 10:00:00' });
  for (const id of [a, b]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0, ruleSets: cache });
  const claimA = toGlobalId('Claim', (await claimOf(db.pool, a))!.id);
  const claimB = (await claimOf(db.pool, b))!;
  expect(claimB).toMatchObject({ status: 'PENDING_REVIEW', totalFen: fen('2,000.00') });
  const rejected = await gw.query(R1, REJECT, { input: { claimId: toGlobalId('Claim', claimB.id), reason: 'the discharge summary is missing' } });
  expect(rejected.data.rejectClaim.userErrors).toEqual([]);
  return { m, claimA, claimB: claimB.id, appealGid: await fileAppeal(m, toGlobalId('Claim', claimB.id)) };
}

describe('an appeal upheld after the member\'s year changed since the reviewer read what upholding pays', () => {
  it('the uphold on the figure read is refused (CONFLICT naming both totals), nothing decided; the figure read again is paid, as previewed', async () => {
    const { m, claimA, claimB, appealGid } = await rejectedAndAppealed();
    const seen = (await preview(U, appealGid))!;
    expect(seen.totalFen).toBe(fen('2,000.00'));
    expect(seen.lines).toContainEqual({ programme: 'INPATIENT', amountFen: fen('2,000.00') });

    // Another reviewer rejects A: upholding B now figures it against a year without A.
    const rejected = await gw.query(R2, REJECT, { input: { claimId: claimA, reason: 'not a stay of the member' } });
    expect(rejected.data.rejectClaim.userErrors).toEqual([]);
    const before = await state(appealGid, claimB, m.memberId);
    // B still shows the 2,000.00 it was figured at; the year holds neither stay.
    expect(before).toEqual({ appeal: 'OPEN', claim: 'REJECTED', totalFen: seen.totalFen, redecisions: 0, upholds: 0, told: 0, inpatient: 0 });

    const stale = await gw.query(U, DECIDE, { input: { appealId: appealGid, decision: 'UPHOLD', reason: 'the summary shows the stay', checkedTotalFen: seen.totalFen } });
    const nowFen = fen('6,000.00');
    expect(stale.data.decideAppeal).toEqual({ appeal: null, userErrors: [{
      field: 'input.checkedTotalFen', code: 'CONFLICT',
      message: expect.stringMatching(new RegExp(`pays ${nowFen} fen .* not the ${seen.totalFen} fen .*checked`)),
    }] });
    expect(await state(appealGid, claimB, m.memberId)).toEqual(before);

    // Control: the reviewer reads the preview again and upholds what it shows; the uphold pays exactly that.
    const again = (await preview(U, appealGid))!;
    expect(again.totalFen).toBe(nowFen);
    const upheld = await gw.query(U, DECIDE, { input: { appealId: appealGid, decision: 'UPHOLD', reason: 'the summary shows the stay', checkedTotalFen: again.totalFen } });
    expect(upheld.data.decideAppeal).toEqual({ appeal: { status: 'UPHELD', claim: { status: 'APPROVED', totalFen: nowFen, lines: again.lines } }, userErrors: [] });
    expect(await state(appealGid, claimB, m.memberId)).toEqual({ appeal: 'UPHELD', claim: 'APPROVED', totalFen: nowFen, redecisions: 1, upholds: 1, told: 1, inpatient: nowFen });
    // Decided: upholding is refused anyway, so no figure shows.
    expect(await preview(U, appealGid)).toBeNull();
  });

  it('an uphold naming no figure, or a negative one, is bad input (INVALID on input.checkedTotalFen), nothing decided; a dismissal needs none', async () => {
    const { m, claimB, appealGid } = await rejectedAndAppealed();
    const before = await state(appealGid, claimB, m.memberId);
    const missing = await gw.query(U, DECIDE, { input: { appealId: appealGid, decision: 'UPHOLD', reason: 'the summary shows the stay' } });
    expect(missing.data.decideAppeal).toEqual({ appeal: null, userErrors: [{
      field: 'input.checkedTotalFen', code: 'INVALID', message: expect.stringContaining('is required to UPHOLD'),
    }] });
    const negative = await gw.query(U, DECIDE, { input: { appealId: appealGid, decision: 'UPHOLD', reason: 'the summary shows the stay', checkedTotalFen: -fen('2,000.00') } });
    expect(negative.data.decideAppeal).toEqual({ appeal: null, userErrors: [{ field: 'input.checkedTotalFen', code: 'INVALID', message: expect.stringContaining('not negative') }] });
    expect(await state(appealGid, claimB, m.memberId)).toEqual(before);

    const dismissed = await gw.query(U, DECIDE, { input: { appealId: appealGid, decision: 'DISMISS', reason: 'the rejection stands' } });
    expect(dismissed.data.decideAppeal).toMatchObject({ appeal: { status: 'DISMISSED', claim: { status: 'REJECTED' } }, userErrors: [] });
  });

  it('an INELIGIBLE claim, which has no lines: the preview shows what upholding pays once the facts allow it, and the uphold pays that', async () => {
    const { member, claimId, claimGid } = await decidedClaim(db.pool, gw, 'INELIGIBLE');
    const appealGid = await fileAppeal(member, claimGid);
    // Still ineligible on its facts (the unit has not paid): upholding is refused, no figure shows.
    expect(await preview(U, appealGid)).toBeNull();
    await payContribution(db.pool, member.unitId);
    const seen = (await preview(U, appealGid))!;
    expect(seen.totalFen).toBeGreaterThan(0);
    // Only for whoever may decide the appeal now: not the member, nor an AUDITOR.
    for (const who of [memberToken(member), { role: 'AUDITOR' as const }]) expect(await preview(who, appealGid)).toBeNull();

    const upheld = await gw.query(U, DECIDE, { input: { appealId: appealGid, decision: 'UPHOLD', reason: 'the unit has paid', checkedTotalFen: seen.totalFen } });
    expect(upheld.data.decideAppeal).toEqual({ appeal: { status: 'UPHELD', claim: { status: 'APPROVED', totalFen: seen.totalFen, lines: seen.lines } }, userErrors: [] });
    expect((await state(appealGid, claimId, member.memberId)).totalFen).toBe(seen.totalFen);
  });
});
