import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { parseGlobalId, toGlobalId } from '../../src/gateway/globalId.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember, seedReversal, seedSettlement } from '../benefits/seed.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/**
 * The attack (an audit's finding): an approval pays figures no reviewer saw. Reviewer 1 reads a
 * waiting claim B; reviewer 2 rejects an earlier stay A of the same member-year, which frees room
 * under the INPATIENT annual cap, so B is figured again (EARLIER_CLAIM_RELEASED) to a higher total;
 * reviewer 1's approval, made on the old figures, approved the new ones.
 *
 * default-2025, INPATIENT: 60 % (PUBLIC) of the list part, 50,000.00 a year. A 80,000.00 pays 48,000.00,
 * leaving B 10,000.00 only 2,000.00 of its 6,000.00; without A, B pays its 6,000.00.
 */
const R1 = { role: 'REVIEWER', sub: 'reviewer-1' } as const;
const R2 = { role: 'REVIEWER', sub: 'reviewer-2' } as const;
const cache = new RuleSetCache();
let db: TestDatabase;
let gw: TestGateway;

const READ = `query($id: ID!) { claim(id: $id) { status totalFen } }`;
const REJECT = `mutation($input: RejectClaimInput!) { rejectClaim(input: $input) { userErrors { field code message } } }`;
const APPROVE = `mutation($input: ApproveClaimInput!) { approveClaim(input: $input) { claim { status totalFen } userErrors { field code message } } }`;
const APPROVE_CLAIMS = `mutation($input: ApproveClaimsInput!) {
  approveClaims(input: $input) { results { claim { status totalFen } userErrors { field code message } } userErrors { field code message } }
}`;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

/** A member's stays A then B, both waiting for a reviewer; B's INPATIENT line capped by what A holds. */
async function twoWaitingStays() {
  const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  const a = await seedSettlement(db.pool, m, { psn: '80,000.00', setlTime: '2025-03-01 10:00:00' });
  const b = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-04-01 10:00:00' });
  for (const id of [a, b]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0, ruleSets: cache });
  return { a: toGlobalId('Claim', (await claimOf(db.pool, a))!.id), b: toGlobalId('Claim', (await claimOf(db.pool, b))!.id) };
}

/** Reviewer 1 reads B; reviewer 2 then rejects A, and B is figured again: returns what reviewer 1 saw and what B pays now. */
async function readThenRelease(a: string, b: string) {
  const seen = (await gw.query(R1, READ, { id: b })).data.claim;
  expect(seen).toEqual({ status: 'PENDING_REVIEW', totalFen: fen('2,000.00') });
  const rejected = await gw.query(R2, REJECT, { input: { claimId: a, reason: 'the stay is not covered' } });
  expect(rejected.data.rejectClaim.userErrors).toEqual([]);
  const now = (await gw.query(R1, READ, { id: b })).data.claim;
  // Control: B was figured again to more than reviewer 1 saw, and still waits.
  expect(now).toEqual({ status: 'PENDING_REVIEW', totalFen: fen('6,000.00') });
  return { seenFen: seen.totalFen as number, nowFen: now.totalFen as number };
}

/** The approvals audited of `claimGid`. */
async function approvalsAudited(claimGid: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM audit_log WHERE action = 'claim.approve' AND target_id = $1`, [String(parseGlobalId(claimGid)!.id)],
  );
  return rows[0]!.n;
}

describe('a waiting claim figured again between a reviewer reading it and approving it', () => {
  it('approveClaim on the total read is refused (CONFLICT naming both totals), nothing approved; the new total read again is approved', async () => {
    const { a, b } = await twoWaitingStays();
    const { seenFen, nowFen } = await readThenRelease(a, b);

    const stale = await gw.query(R1, APPROVE, { input: { claimId: b, checkedTotalFen: seenFen } });
    expect(stale.data.approveClaim).toEqual({ claim: null, userErrors: [{
      field: 'input.checkedTotalFen', code: 'CONFLICT',
      message: expect.stringMatching(new RegExp(`pays ${nowFen} fen .* not the ${seenFen} fen .*checked`)),
    }] });
    expect((await gw.query(R1, READ, { id: b })).data.claim).toEqual({ status: 'PENDING_REVIEW', totalFen: nowFen });
    expect(await approvalsAudited(b)).toBe(0);

    // Control: the reviewer reads the claim again and approves what it pays now.
    const checked = await gw.query(R1, APPROVE, { input: { claimId: b, checkedTotalFen: nowFen } });
    expect(checked.data.approveClaim).toEqual({ claim: { status: 'APPROVED', totalFen: nowFen }, userErrors: [] });
  });

  it('approveClaims refuses that claim in its result (CONFLICT on input.checkedTotalsFen[i]) after the platform reverses the earlier stay; the others are approved', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    const a = await seedSettlement(db.pool, m, { psn: '80,000.00', setlTime: '2025-03-01 10:00:00' });
    const b = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-04-01 10:00:00' });
    const other = await twoWaitingStays();
    for (const id of [a, b]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0, ruleSets: cache });
    const ids = [toGlobalId('Claim', (await claimOf(db.pool, b))!.id), other.a];
    const seen = await Promise.all(ids.map(async (id) => (await gw.query(R1, READ, { id })).data.claim.totalFen as number));

    // The platform reverses A (冲销): B is figured again without it.
    await adjudicateSettlements(db.pool, [await seedReversal(db.pool, m, a)], { autoApproveMaxFen: 0, ruleSets: cache });
    const nowFen = (await gw.query(R1, READ, { id: ids[0] })).data.claim.totalFen;
    expect({ seen: seen[0], now: nowFen }).toEqual({ seen: fen('2,000.00'), now: fen('6,000.00') });

    const res = await gw.query(R1, APPROVE_CLAIMS, { input: { claimIds: ids, checkedTotalsFen: seen } });
    expect(res.data.approveClaims).toEqual({ userErrors: [], results: [
      { claim: null, userErrors: [{ field: 'input.checkedTotalsFen[0]', code: 'CONFLICT', message: expect.stringContaining(`pays ${nowFen} fen`) }] },
      { claim: { status: 'APPROVED', totalFen: seen[1] }, userErrors: [] },
    ] });
    expect((await gw.query(R1, READ, { id: ids[0] })).data.claim).toEqual({ status: 'PENDING_REVIEW', totalFen: nowFen });
    expect(await approvalsAudited(ids[0]!)).toBe(0);
  });

  it('bulk totals not one for each claim (the whole request), or a negative total, are bad input (INVALID), nothing approved', async () => {
    const { a, b } = await twoWaitingStays();
    const seen = (await gw.query(R1, READ, { id: b })).data.claim.totalFen;
    const res = await gw.query(R1, APPROVE_CLAIMS, { input: { claimIds: [a, b], checkedTotalsFen: [seen] } });
    expect(res.data.approveClaims).toEqual({ results: null, userErrors: [{ field: 'input.checkedTotalsFen', code: 'INVALID', message: expect.stringContaining('one total for each claim') }] });
    expect(await approvalsAudited(a) + await approvalsAudited(b)).toBe(0);
    // A total is never negative: such a figure is bad input, not a claim figured again.
    const negative = await gw.query(R1, APPROVE, { input: { claimId: b, checkedTotalFen: -seen } });
    expect(negative.data.approveClaim).toEqual({ claim: null, userErrors: [{ field: 'input.checkedTotalFen', code: 'INVALID', message: expect.stringContaining('not negative') }] });
    expect(await approvalsAudited(b)).toBe(0);
  });
});
