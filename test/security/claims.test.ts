import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember, seedSettlement, totalOfClaim } from '../benefits/seed.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

/** Attack 8: a REVIEWER adjusts a claim's benefit line and approves the same claim. */

let db: TestDatabase;
let gw: TestGateway;
/** Claim ids (40,000 × 60% = 24,000 each: above the automatic-approval threshold, so PENDING_REVIEW). */
let first: number;
let second: number;

const ADJUST = `mutation($i: AdjustClaimLineInput!) { adjustClaimLine(input: $i) { claim { id lines { id programme } } userErrors { message } } }`;
const APPROVE = `mutation($id: ID!, $total: Fen!) { approveClaim(input: { claimId: $id, checkedTotalFen: $total, note: "checked" }) { claim { status decidedBy } userErrors { field code message } } }`;
const STATUS = `query($id: ID!) { claim(id: $id) { status decidedBy } }`;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
  const member = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  const settlements = [
    await seedSettlement(db.pool, member, { psn: '40,000.00', setlTime: '2025-04-01 10:00:00' }),
    await seedSettlement(db.pool, member, { psn: '40,000.00', setlTime: '2025-05-01 10:00:00' }),
  ];
  await adjudicateSettlements(db.pool, settlements, { autoApproveMaxFen: fen('10,000.00') });
  [first, second] = (await Promise.all(settlements.map(async (s) => (await claimOf(db.pool, s))!.id))) as [number, number];
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

async function adjustInpatient(sub: string, claimId: number, amount: string) {
  const claim = await gw.query({ role: 'REVIEWER', sub }, `query($id: ID!) { claim(id: $id) { lines { id programme } } }`, { id: toGlobalId('Claim', claimId) });
  const line = claim.data.claim.lines.find((l: { programme: string }) => l.programme === 'INPATIENT');
  const res = await gw.query({ role: 'REVIEWER', sub }, ADJUST, { i: { lineId: line.id, amountFen: fen(amount), reason: 'items not covered by the programme' } });
  expect(res.data.adjustClaimLine.userErrors).toEqual([]);
}

describe('four eyes on claims', () => {
  it('refuses the approval by the reviewer who adjusted the claim; another reviewer approves', async () => {
    const id = toGlobalId('Claim', first);
    await adjustInpatient('rev-maker', first, '20,000.00');

    const own = await gw.query({ role: 'REVIEWER', sub: 'rev-maker' }, APPROVE, { id, total: await totalOfClaim(db.pool, first) });
    // Refused by the claim's own record (who adjusted it), reported with the claim.
    expect(own.data.approveClaim).toEqual({ claim: null, userErrors: [{
      field: 'input.claimId', code: 'CONFLICT', message: expect.stringMatching(/rev-maker adjusted this claim and cannot also approve it; another REVIEWER or ADMIN must/),
    }] });
    expect((await gw.query({ role: 'ADMIN' }, STATUS, { id })).data.claim).toEqual({ status: 'PENDING_REVIEW', decidedBy: null });

    const checker = await gw.query({ role: 'REVIEWER', sub: 'rev-checker' }, APPROVE, { id, total: await totalOfClaim(db.pool, first) });
    expect(checker.data.approveClaim).toEqual({ claim: { status: 'APPROVED', decidedBy: 'rev-checker' }, userErrors: [] });
    const { rows } = await db.pool.query(`SELECT actor, action FROM audit_log WHERE action IN ('claim.adjust_line', 'claim.approve') AND target_id IN ($1, $2) ORDER BY seq`, [
      String(first),
      // the adjustment is audited on its line
      String((await db.pool.query(`SELECT id FROM benefit_lines WHERE claim_id = $1 AND programme = 'INPATIENT'`, [first])).rows[0].id),
    ]);
    expect(rows).toEqual([
      { actor: 'rev-maker', action: 'claim.adjust_line' },
      { actor: 'rev-checker', action: 'claim.approve' },
    ]);
  });

  it('remembers every adjuster, not only the last one of a line', async () => {
    const id = toGlobalId('Claim', second);
    await adjustInpatient('rev-early', second, '22,000.00');
    await adjustInpatient('rev-late', second, '21,000.00');
    for (const sub of ['rev-early', 'rev-late']) {
      const res = await gw.query({ role: 'REVIEWER', sub }, APPROVE, { id, total: await totalOfClaim(db.pool, second) });
      expect(res.data.approveClaim.userErrors, sub).toMatchObject([{ code: 'CONFLICT', message: expect.stringContaining('four eyes') }]);
    }
  });

  it('the database refuses an approval by an adjuster too', async () => {
    const write = db.pool.query(`UPDATE claims SET status = 'APPROVED', decided_by = 'rev-early', decided_at = now() WHERE id = $1`, [second]);
    await expect(write).rejects.toMatchObject({ code: '23514', constraint: 'claims_four_eyes' });
    // Rejecting is not money leaving: the adjuster may still reject.
    await db.pool.query(`UPDATE claims SET status = 'REJECTED', decided_by = 'rev-early', decision_reason = 'test' WHERE id = $1`, [second]);
  });
});
