import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { createPayoutsOfApprovedClaims } from '../../src/payouts/store/payouts.ts';
import { approvedClaims, resetPayouts, type ApprovedClaim } from './support.ts';

/**
 * Planning reads the approved lines a page at a time, each page after the claim the last one ended
 * on: every approved claim gets its payout once, and a page never goes back below where it started.
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
    const pages = [];
    for (let after = 0; ;) {
      const page = await createPayoutsOfApprovedClaims(db.pool, 0, after, 10);
      pages.push(page);
      if (!page.more) break;
      after = page.lastClaimId;
    }
    expect(pages.map((p) => [p.created, p.more])).toEqual([[10, true], [10, true], [5, false]]);
    expect(pages.map((p) => p.lastClaimId)).toEqual([claims[9]!.claimId, claims[19]!.claimId, claims[24]!.claimId]);
    const paid = await payoutsByClaim();
    expect(claims.map((c) => paid.get(c.claimId))).toEqual(claims.map(() => 1));
  });

  it('leaves the claims at or below where the page starts to a later round', async () => {
    await resetPayouts(db.pool);
    claims = (await approvedClaims(db.pool, 6)).sort((a, b) => a.claimId - b.claimId);
    const page = await createPayoutsOfApprovedClaims(db.pool, 0, claims[2]!.claimId, 10);
    expect(page).toMatchObject({ created: 3, more: false, lastClaimId: claims[5]!.claimId });
    const paid = await payoutsByClaim();
    expect(claims.map((c) => paid.get(c.claimId) ?? 0)).toEqual([0, 0, 0, 1, 1, 1]);
    // The next round starts from the first claim again and finds the rest.
    expect(await createPayoutsOfApprovedClaims(db.pool, 0)).toMatchObject({ created: 3, more: false });
  });
});
