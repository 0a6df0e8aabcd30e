import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { createPayoutsOfApprovedClaims } from '../../src/payouts/store/payouts.ts';
import { planClaimPayouts } from '../../src/payouts/plan.ts';
import { approvedClaims, resetPayouts, type ApprovedClaim } from './support.ts';
import { provinceFunder, provincialLine } from './fundersSupport.ts';

/**
 * Planning reads the lines still to pay a page at a time, each page from the claim the last one
 * ended on: every (claim, funder) gets its payout once, a page cut between a claim's funders loses
 * neither, and a page never goes back below where it started.
 */

let db: TestDatabase;
let claims: ApprovedClaim[];

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function payoutsByClaim(): Promise<Map<number, number>> {
  const { rows } = await db.pool.query<{ claimId: number; n: number }>(`SELECT claim_id AS "claimId", count(*)::int AS n FROM payouts GROUP BY claim_id`);
  return new Map(rows.map((r) => [r.claimId, r.n]));
}

describe('planning payouts page by page', () => {
  beforeAll(async () => {
    await resetPayouts(db.pool);
    claims = (await approvedClaims(db.pool, 25)).sort((a, b) => a.claimId - b.claimId);
  });

  it('pages of 10 from where the last ended: 10, 10, then 5 and no more, each claim paid once', async () => {
    const pages = await planClaimPayouts(db.pool, 0, 10);
    expect(pages.map((p) => [p.created, p.more])).toEqual([[10, true], [10, true], [5, false]]);
    expect(pages.map((p) => p.lastClaimId)).toEqual([claims[9]!.claimId, claims[19]!.claimId, claims[24]!.claimId]);
    const paid = await payoutsByClaim();
    expect(claims.map((c) => paid.get(c.claimId))).toEqual(claims.map(() => 1));
  });

  it('leaves the claims below where the page starts to a later round', async () => {
    await resetPayouts(db.pool);
    claims = (await approvedClaims(db.pool, 6)).sort((a, b) => a.claimId - b.claimId);
    const page = await createPayoutsOfApprovedClaims(db.pool, 0, claims[3]!.claimId, 10);
    expect(page).toMatchObject({ created: 3, more: false, lastClaimId: claims[5]!.claimId });
    const paid = await payoutsByClaim();
    expect(claims.map((c) => paid.get(c.claimId) ?? 0)).toEqual([0, 0, 0, 1, 1, 1]);
    // The next round starts from the first claim again and finds the rest.
    expect(await createPayoutsOfApprovedClaims(db.pool, 0)).toMatchObject({ created: 3, more: false });
  });

  it('pays both funders of a claim when a page ends between them', async () => {
    await resetPayouts(db.pool);
    claims = (await approvedClaims(db.pool, 3)).sort((a, b) => a.claimId - b.claimId);
    const province = await provinceFunder(db.pool);
    await provincialLine(db.pool, claims[1]!.claimId, province.id, 300_000);
    // (claim 0, union), (claim 1, union) | (claim 1, province), (claim 2, union)
    const pages = await planClaimPayouts(db.pool, 0, 2);
    expect(pages.map((p) => [p.created, p.more])).toEqual([[2, true], [2, true], [0, false]]);
    const paid = await payoutsByClaim();
    expect(claims.map((c) => paid.get(c.claimId))).toEqual([1, 2, 1]);
  });
});
