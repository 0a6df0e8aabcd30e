import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { openAccount, startBank, testFilePki } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, creditedByPayout, payoutsOf, setBankCard, settings, submissionContext } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { confirmProposal, waitingContributionPayments } from '../reconciliation/support.ts';
import { fen } from './support.ts';
import { claimOf, seedEnrolledMember, seedSettlement } from './seed.ts';

/**
 * Done when a claim refused for an unpaid contribution is paid after the unit pays, exactly once,
 * with one notification of its new decision: refused, the unit pays through the API, the re-decision
 * runs twice, the payout goes through a sealed batch to the bank simulator (whose ledger is the
 * oracle), and planning again finds nothing more to pay. Figures by hand from default-2025:
 * INPATIENT 60 % (PUBLIC) of psn_part_amt 8,000.00 = 4,800.00.
 */
const pki = testFilePki();
const ruleSets = new RuleSetCache();
const OPTIONS = { autoApproveMaxFen: fen('10,000.00'), ruleSets };
let db: TestDatabase;
let gw: TestGateway;

beforeAll(async () => {
  db = await freshDatabase();
  gw = await startTestGateway(db);
});
afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const notifications = async (kind: string) =>
  (await db.pool.query<{ subject_id: number; member_id: number }>(`SELECT subject_id, member_id FROM notifications WHERE kind = $1 ORDER BY id`, [kind])).rows;

describe('a claim refused CONTRIBUTION_UNPAID', () => {
  it('is paid once after the unit pays, with one notification of the new decision and one of the payment', async () => {
    const m = await seedEnrolledMember(db.pool, { paid: false });
    await setBankCard(db.pool, m.memberId, openAccount());
    const settlementId = await seedSettlement(db.pool, m, { psn: '8,000.00' });
    await adjudicateSettlements(db.pool, [settlementId], OPTIONS);
    const refused = (await claimOf(db.pool, settlementId))!;
    expect(refused).toMatchObject({ status: 'INELIGIBLE', reasonCodes: ['CONTRIBUTION_UNPAID'] });
    expect(await planPayouts(db.pool, settings)).toMatchObject({ created: 0 }); // nothing to pay while refused

    const paid = await gw.query({ role: 'FINANCE', sub: 'finance-wang' }, `mutation($i: RecordContributionPaymentInput!) { recordContributionPayment(input: $i) { userErrors { field message } } }`, {
      i: { unitId: toGlobalId('Unit', m.unitId), planYear: 2025, amountFen: 10_000, reference: `PAY-${m.unitId}`, paidOn: '2025-06-10' },
    });
    expect(paid.data.recordContributionPayment.userErrors).toEqual([]);
    // Paying the year, it waits for another FINANCE person, who confirms it (attack 137).
    const confirmer = { role: 'FINANCE' as const, sub: 'finance-zhao' };
    const [waiting] = await waitingContributionPayments(gw, confirmer);
    expect((await confirmProposal(gw, confirmer, waiting!.id)).userErrors).toEqual([]);
    const [first, second] = await Promise.all([redecideIfFactsChanged(db.pool, refused.id, OPTIONS), redecideIfFactsChanged(db.pool, refused.id, OPTIONS)]);
    expect([first?.after, second?.after].sort()).toEqual(['APPROVED', undefined]);
    expect((await claimOf(db.pool, settlementId))!).toMatchObject({ status: 'APPROVED', totalFen: fen('4,800.00') });

    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const payouts = (await payoutsOf(db.pool)).filter((p) => p.claimId === refused.id);
      expect(payouts).toHaveLength(1);
      expect(payouts[0]).toMatchObject({ status: 'PAID', amountFen: fen('4,800.00') });
      expect([...(await creditedByPayout(db.pool, bank)).entries()]).toEqual([[payouts[0]!.id, fen('4,800.00')]]);
      // Planning and the re-decision again change nothing: the claim is paid once.
      expect(await planPayouts(db.pool, settings)).toMatchObject({ created: 0 });
      expect(await redecideIfFactsChanged(db.pool, refused.id, OPTIONS)).toBeNull();
      expect((await payoutsOf(db.pool)).filter((p) => p.claimId === refused.id)).toHaveLength(1);
      expect(await notifications('PAYOUT_PAID')).toEqual([{ subject_id: payouts[0]!.id, member_id: m.memberId }]);
    } finally {
      ctx.remove();
    }
    expect(await notifications('CLAIM_REDECIDED')).toEqual([{ subject_id: refused.id, member_id: m.memberId }]);
  });
});
