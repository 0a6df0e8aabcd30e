import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { queriesPerPageSize, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { approvedClaims, settings } from '../payouts/support.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { PAGE_DOCUMENTS } from '../gateway/pageDocuments.ts';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { seedEnrolledMember, seedSettlement } from './seed.ts';

/** A page of claims with what a claims list shows costs the same SQL statements for 5 claims as for 50. */

let db: TestDatabase;
let gw: TestGateway;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db, { RATE_LIMIT_POINTS: '0' });
  await approvedClaims(db.pool, 55);
  await planPayouts(db.pool, settings);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const PAGE = PAGE_DOCUMENTS.claims;

describe('the claims connection', () => {
  it('serves a page of claims with settlement, member, unit, lines and payout in a constant number of SQL statements', async () => {
    const [small, large] = await queriesPerPageSize(gw, PAGE, [5, 50]);
    expect(large!.result.errors).toBeUndefined();
    expect(large!.result.data.claims.edges).toHaveLength(50);
    expect(large!.result.data.claims.edges[0].node.lines.length).toBeGreaterThan(0);
    expect(large!.result.data.claims.edges[0].node.payout).not.toBeNull();
    expect(large!.queries).toBe(small!.queries);
  });

  // Claim.ruleSet read one rule set per claim (6 statements for a page of 5, 51 for 50) until it
  // went through a loader (ruleSetVersion).
  it('serves each claim\'s rule set in a constant number of SQL statements', async () => {
    const [small, large] = await queriesPerPageSize(gw, `query($n: Int) { claims(first: $n) { edges { node { id ruleSet { ruleSetId version } } } } }`, [5, 50]);
    expect(large!.result.errors).toBeUndefined();
    expect(large!.result.data.claims.edges[0].node.ruleSet).not.toBeNull();
    expect(large!.queries).toBe(small!.queries);
  });

  // Claim.viewerCanApprove reads who set each claim's member-year groups (four eyes, 0057): through a loader, not a statement a claim.
  it('serves each waiting claim\'s approval hint in a constant number of SQL statements', async () => {
    const settlements = [];
    for (let i = 0; i < 55; i += 1) settlements.push(await seedSettlement(db.pool, await seedEnrolledMember(db.pool)));
    await adjudicateSettlements(db.pool, settlements, { autoApproveMaxFen: 0 });
    const [small, large] = await queriesPerPageSize(gw, `query($n: Int) { claims(first: $n, filter: { status: PENDING_REVIEW }) { edges { node { id viewerCanApprove } } } }`, [5, 50]);
    expect(large!.result.errors).toBeUndefined();
    expect(large!.result.data.claims.edges).toHaveLength(50);
    expect(large!.result.data.claims.edges.every((e: { node: { viewerCanApprove: boolean } }) => e.node.viewerCanApprove)).toBe(true);
    expect(large!.queries).toBe(small!.queries);
  });
});
