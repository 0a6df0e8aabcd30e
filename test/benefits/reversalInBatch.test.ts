import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, seedEnrolledMember, seedReversal, seedSettlement, totalsOf } from '../benefits/seed.ts';

/**
 * A reversal (冲正) and the stay's corrected settlement (重新结算) arrive in one feed page, so one
 * adjudication batch. The batch decided its settlements first and applied its reversals after: the
 * corrected settlement was figured against a year still holding the reversed claim (its cap room,
 * out-of-pocket and first-diagnosis grant), paying 10,000.00 too little under the cap, a CRITICAL
 * 25,000.00 the rules do not give, or no lump sum at all. Reversals now come first.
 */
const OPTIONS = { autoApproveMaxFen: fen('100,000.00') };
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

describe('a reversal (冲正) and the corrected re-settlement adjudicated in one batch', () => {
  it('the re-settlement is decided against the year without the reversed claim (INPATIENT cap)', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    // Original: psn 50,000.00 → INPATIENT 60% = 30,000.00, R 20,000.00.
    const original = await seedSettlement(db.pool, m, { psn: '50,000.00', setlTime: '2025-06-01 10:00:00' });
    await adjudicateSettlements(db.pool, [original], OPTIONS);
    expect((await claimOf(db.pool, original))!.amounts).toMatchObject({ INPATIENT: fen('30,000.00') });
    // The platform reverses it (setl_time 2025-06-02) and settles the stay again on 2025-06-03 with the same figures.
    const reversal = await seedReversal(db.pool, m, original);
    const corrected = await seedSettlement(db.pool, m, { psn: '50,000.00', setlTime: '2025-06-03 10:00:00' });
    // Both arrive in one feed page: one match batch, one adjudication job.
    await adjudicateSettlements(db.pool, [reversal, corrected], OPTIONS);
    expect((await claimOf(db.pool, original))!.status).toBe('CANCELLED');
    // The year holds only the corrected settlement: it must pay what the original paid, 30,000.00.
    const claim = (await claimOf(db.pool, corrected))!;
    expect(claim.amounts.INPATIENT).toBe(fen('30,000.00'));
    expect(await totalsOf(db.pool, m.memberId)).toMatchObject({ INPATIENT: fen('30,000.00'), outOfPocket: fen('20,000.00'), claims: 1 });
  });

  it('the re-settlement is decided against the year without the reversed claim (CRITICAL threshold)', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PRIVATE' });
    // Original: psn 60,000.00, fully self-funded 40,000.00 → INPATIENT 50% × 20,000 = 10,000.00; R 50,000.00 (at the threshold).
    const original = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '40,000.00', setlTime: '2025-06-01 10:00:00' });
    const reversal = await seedReversal(db.pool, m, original);
    const corrected = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '40,000.00', setlTime: '2025-06-03 10:00:00' });
    // All three in one batch (the sweeper's page, or one feed page).
    await adjudicateSettlements(db.pool, [original, reversal, corrected], OPTIONS);
    expect((await claimOf(db.pool, original))!.status).toBe('CANCELLED');
    const claim = (await claimOf(db.pool, corrected))!;
    // Alone in the year: INPATIENT 10,000.00, R = 50,000.00, not above the 50,000 threshold → no CRITICAL.
    expect(claim.amounts).toEqual({ INPATIENT: fen('10,000.00'), CRITICAL: 0 });
  });

  it('the re-settlement of a first-diagnosis stay still pays the lump sum the reversed claim held (MAJOR_DISEASE)', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', specialDisease: true });
    // psn 20,000.00, fully self-funded 10,000.00 → INPATIENT 6,000.00; first diagnosis C34.1 → CANCER 6,000.00.
    const spec = (setlTime: string) => ({ psn: '20,000.00', ownpay: '10,000.00', diagnoses: ['C34.1'], setlTime });
    const original = await seedSettlement(db.pool, m, spec('2025-06-01 10:00:00'));
    await adjudicateSettlements(db.pool, [original], OPTIONS);
    expect((await claimOf(db.pool, original))!.amounts).toMatchObject({ INPATIENT: fen('6,000.00'), MAJOR_DISEASE: fen('6,000.00') });
    const reversal = await seedReversal(db.pool, m, original);
    const corrected = await seedSettlement(db.pool, m, spec('2025-06-03 10:00:00'));
    await adjudicateSettlements(db.pool, [reversal, corrected], OPTIONS);
    expect((await claimOf(db.pool, original))!.status).toBe('CANCELLED');
    // The reversed claim's grant is released: the corrected stay is the first diagnosis that stands.
    expect((await claimOf(db.pool, corrected))!.amounts.MAJOR_DISEASE).toBe(fen('6,000.00'));
  });
});
