import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { markPayoutLinesPaid } from '../../src/benefits/store.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { claimTimelines, paymentWaiting } from '../../src/figures/waiting.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember, seedReversal, seedSettlement, type MemberSetup } from '../benefits/seed.ts';
import { approvedClaims, payoutsOf, settings } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * Measured waiting of claims whose settlement the platform reversed (冲销) afterwards, both received
 * on 2026-03-02: one approved at 09:10 and paid, then reversed; one reversed while under review.
 * A reversal is no decision: the paid claim keeps its 09:10 (never a negative wait from the
 * decision to the bank, nor one measured to the reversal), and the other has none.
 */
let db: TestDatabase;
let paidClaim: number;
let undecidedClaim: number;

/** The reversal of a claim's settlement, adjudicated now. */
async function reverse(claimId: number): Promise<void> {
  const { rows: [s] } = await db.pool.query<MemberSetup & { id: number }>(
    `SELECT s.id, s.member_id AS "memberId", s.enrolment_id AS "enrolmentId", s.unit_id AS "unitId", '' AS "creditCode"
       FROM settlements s JOIN claims c ON c.settlement_id = s.id WHERE c.id = $1`,
    [claimId],
  );
  await adjudicateSettlements(db.pool, [await seedReversal(db.pool, s!, s!.id)], { autoApproveMaxFen: Number.MAX_SAFE_INTEGER });
}

beforeAll(async () => {
  db = await freshDatabase();
  const [claim] = await approvedClaims(db.pool, 1);
  paidClaim = claim!.claimId;
  await planPayouts(db.pool, settings);
  const payout = (await payoutsOf(db.pool)).find((p) => p.claimId === paidClaim)!;
  // Received 09:00 China time, decided 09:10, sent 10:00, accepted 10:05, credited 10:30.
  await db.pool.query(`UPDATE settlements s SET received_at = timestamptz '2026-03-02 09:00:00+08' FROM claims c WHERE c.settlement_id = s.id AND c.id = $1`, [paidClaim]);
  await db.pool.query(`UPDATE claims SET decided_at = timestamptz '2026-03-02 09:10:00+08' WHERE id = $1`, [paidClaim]);
  const { rows: [b] } = await db.pool.query<{ id: string }>(
    `INSERT INTO payout_batches (msg_id, pmt_inf_id, funder_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date, nb_of_txs, ctrl_sum_fen, created_by, created_by_role)
     VALUES ('REV-1', 'REV-1', (SELECT id FROM funders WHERE code = 'UNION'), 'SIM', '6222999900001', '某工会', '102397000023', current_date, 1, 1, 'clerk', 'FINANCE') RETURNING id`);
  await db.pool.query(
    `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc, creditor_account_masked,
                                  creditor_agent, remittance_info, status, sent_at, accepted_at, status_at)
     VALUES ($1, 1, $2, 'REV-E2E-1', $3, '某', '\\x00', '6222 **** 0000', '102397000023', 'x', 'PAID',
             timestamptz '2026-03-02 10:00:00+08', timestamptz '2026-03-02 10:05:00+08', timestamptz '2026-03-02 10:30:00+08')`,
    [payout.id, b!.id, payout.amountFen]);
  await db.pool.query(`UPDATE payouts SET status = 'PAID', paid_at = timestamptz '2026-03-02 10:30:00+08' WHERE id = $1`, [payout.id]);
  await inTransaction(db.pool, (tx) => markPayoutLinesPaid(tx, [payout.id]));

  // Received 09:20, above the automatic approval: waits for a reviewer.
  const member = await seedEnrolledMember(db.pool);
  const settlement = await seedSettlement(db.pool, member, { psn: '40,000.00' });
  await adjudicateSettlements(db.pool, [settlement], { autoApproveMaxFen: fen('10,000.00') });
  undecidedClaim = (await claimOf(db.pool, settlement))!.id;
  await db.pool.query(`UPDATE settlements SET received_at = timestamptz '2026-03-02 09:20:00+08' WHERE id = $1`, [settlement]);

  // The platform reverses both stays afterwards (now).
  await reverse(paidClaim);
  await reverse(undecidedClaim);
}, 120_000);

afterAll(async () => {
  await db?.drop();
});

describe('claims reversed afterwards, in the measured waiting', () => {
  it('the paid claim keeps its decision (09:10) in its timeline; the one reversed under review has none', async () => {
    const { rows } = await db.pool.query<{ status: string }>(`SELECT status FROM claims WHERE id = ANY($1::bigint[]) ORDER BY id`, [[paidClaim, undecidedClaim]]);
    expect(rows.map((r) => r.status)).toEqual(['CANCELLED', 'CANCELLED']);
    const [paid, undecided] = await claimTimelines(db.pool, [paidClaim, undecidedClaim], UNSCOPED);
    expect(paid!.decidedAt).toEqual(new Date('2026-03-02T09:10:00+08:00'));
    expect(paid!.sentAt).toEqual(new Date('2026-03-02T10:00:00+08:00'));
    expect(undecided!.decidedAt).toBeNull();
  });

  it('measures receipt → decision and decision → bank from the decision, never a negative wait, and no reversal as a decision', async () => {
    const w = await paymentWaiting(db.pool, UNSCOPED, { from: '2026-03-02', to: '2026-03-02' });
    expect(w.overall.claims).toBe(2);
    const stage = (name: string) => w.overall.stages.find((s) => s.stage === name)!;
    // 10 minutes from receipt to the decision, 50 from the decision to the bank: the paid claim only.
    expect(stage('RECEIVED_TO_DECIDED')).toMatchObject({ count: 1, p50Seconds: 600, maxSeconds: 600 });
    expect(stage('DECIDED_TO_SENT')).toMatchObject({ count: 1, p50Seconds: 3000, maxSeconds: 3000 });
  });
});
