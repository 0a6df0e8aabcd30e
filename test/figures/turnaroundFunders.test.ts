import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { figures, figuresQuery, turnaround } from '../../src/figures/service.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { approvedClaims, payoutsOf, settings } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The published turnaround of a claim paid by two funders: paid when the last of its payouts is
 * (as claim_payments, Claim.stage and the measured waiting say), never on the first funder's date
 * while the other has not paid. Decided Monday 2026-03-02; the union pays the next day, the other
 * funder a week later (6 working days after the decision); a cancelled payout is not waited for.
 */
let db: TestDatabase;
let claimId: number;
let secondPayout: number;

const turnaroundOf2026 = async () => turnaround(db.pool, await figures(db.pool, UNSCOPED, await figuresQuery(db.pool, UNSCOPED, { organisationId: null, planYear: 2026 })), []);

beforeAll(async () => {
  db = await freshDatabase();
  const [claim] = await approvedClaims(db.pool, 1);
  claimId = claim!.claimId;
  await planPayouts(db.pool, settings);
  const union = (await payoutsOf(db.pool)).find((p) => p.claimId === claimId)!;
  await db.pool.query(`UPDATE claims SET decided_at = timestamptz '2026-03-02 10:00:00+08' WHERE id = $1`, [claimId]);
  await db.pool.query(`UPDATE payouts SET status = 'PAID', paid_at = timestamptz '2026-03-03 10:00:00+08' WHERE id = $1`, [union.id]);
  const { rows: [prov, city] } = await db.pool.query<{ id: string }>(
    `INSERT INTO funders (code, name, organisation_id, account, account_name, agent, created_by)
     VALUES ('PROV', '省总工会', (SELECT id FROM organisations WHERE code = 'UNION'), '6222000000001', '省总工会', '102397000023', 'test'),
            ('CITY', '市总工会', (SELECT id FROM organisations WHERE code = 'UNION'), '6222000000002', '市总工会', '102397000023', 'test') RETURNING id`);
  const { rows: [second] } = await db.pool.query<{ id: string }>(
    `INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, funder_id)
     SELECT claim_id, member_id, unit_id, 100, 'SENT', $2 FROM payouts WHERE id = $1 RETURNING id`, [union.id, prov!.id]);
  secondPayout = Number(second!.id);
  await db.pool.query(
    `INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, status_reason, funder_id)
     SELECT claim_id, member_id, unit_id, 100, 'CANCELLED', 'test', $2 FROM payouts WHERE id = $1`, [union.id, city!.id]);
}, 120_000);

afterAll(async () => {
  await db?.drop();
});

describe('a claim paid by two funders, in the published turnaround', () => {
  it('is decided, not paid, while the second funder\'s payout is on its way', async () => {
    const { rows: [cp] } = await db.pool.query<{ status: string }>(`SELECT status FROM claim_payments WHERE claim_id = $1`, [claimId]);
    expect(cp!.status).toBe('SENT');
    expect(await turnaroundOf2026()).toMatchObject({ decided: 1, decisionMedianDays: expect.any(Number), paid: 0, paymentMedianDays: null, paymentP90Days: null });
  });

  it('is paid on the later funder\'s date once both have paid', async () => {
    await db.pool.query(`UPDATE payouts SET status = 'PAID', paid_at = timestamptz '2026-03-10 10:00:00+08' WHERE id = $1`, [secondPayout]);
    expect(await turnaroundOf2026()).toMatchObject({ decided: 1, paid: 1, paymentMedianDays: 6, paymentP90Days: 6 });
  });
});
