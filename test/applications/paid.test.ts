import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { localId } from '../../src/gateway/globalId.ts';
import { matchAndContinue } from '../../src/settlements/matchingStep.ts';
import { openAccount, startBank, testFilePki } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, creditedByPayout, payoutsOf, setBankCard, submissionContext } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { ACCEPT, memberOf, seedApplicant, stay, submit } from './support.ts';

/**
 * Done when an application with attachments becomes a paid claim: filed by the member, accepted,
 * matched and adjudicated by the steps the workers run, then paid through a sealed batch to the bank
 * simulator, whose ledger is the oracle.
 */
const pki = testFilePki();
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

describe('an accepted application', () => {
  it('is paid once, the amount its claim granted, to the member\'s account; its turnaround shows the payment', async () => {
    const applicant = await seedApplicant(db.pool, gw.keys);
    await setBankCard(db.pool, applicant.memberId, openAccount());
    const filed = await submit(gw, memberOf(applicant), { stay: stay() });
    expect(filed.userErrors).toEqual([]);
    const accepted = (await gw.query({ role: 'REVIEWER', sub: 'reviewer-he' }, ACCEPT, { id: filed.application.id })).data.acceptApplication;
    expect(accepted.userErrors).toEqual([]);
    const settlementId = localId('id', accepted.application.settlement.id, 'Settlement');

    await matchAndContinue(db.pool, [settlementId], []);
    const [outcome] = await adjudicateSettlements(db.pool, [settlementId], { autoApproveMaxFen: Number.MAX_SAFE_INTEGER });
    expect(outcome).toMatchObject({ status: 'APPROVED', memberId: applicant.memberId });
    const { rows: [claim] } = await db.pool.query('SELECT id, total_fen AS "totalFen" FROM claims WHERE settlement_id = $1', [settlementId]);
    expect(claim.totalFen).toBeGreaterThan(0);

    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const [payout] = (await payoutsOf(db.pool)).filter((p) => p.claimId === claim.id);
      expect(payout).toMatchObject({ status: 'PAID', amountFen: claim.totalFen });
      expect((await creditedByPayout(db.pool, bank)).get(payout!.id)).toBe(claim.totalFen);
    } finally {
      ctx.remove();
    }

    const seen = await gw.query(memberOf(applicant), `query($id: ID!) { application(id: $id) { settlement { claim { status } } turnaround { paidAt paymentBreached } } }`, { id: filed.application.id });
    expect(seen.errors).toBeUndefined();
    expect(seen.data.application.settlement.claim.status).toBe('APPROVED');
    expect(seen.data.application.turnaround.paidAt).not.toBeNull();
  });
});
