import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { localId } from '../../src/gateway/globalId.ts';
import { matchAndContinue } from '../../src/settlements/matchingStep.ts';
import { lazyTestGateway } from '../support/gateway.ts';
import { ACCEPT, feedStay, memberOf, seedApplicant, stay, submit, type Applicant } from '../applications/support.ts';

/**
 * One inpatient stay paid twice through the hospital code a member types. The code is only checked
 * for its form, and the same-stay rules (the exact one and the one for other figures) both asked for
 * the same hospital: a member applying for a stay the platform had reported and paid, with every
 * figure and day of the sheet but another hospital's code (a digit changed, a campus's code), was
 * accepted by a reviewer reading the sheet and paid again by the rules alone, and likewise the
 * platform's record of an applied stay. A person is an inpatient at one hospital at a time: two
 * inpatient stays of one person discharged within a day of each other now wait for a reviewer,
 * whichever hospitals they name.
 */
const started = lazyTestGateway();
const NO_LIMIT = { autoApproveMaxFen: Number.MAX_SAFE_INTEGER };
const reviewer = { role: 'REVIEWER' as const, sub: 'reviewer-sun' };
const SHEET_HOSPITAL = 'H44010600001';
const TYPED_HOSPITAL = 'H44010600007';

async function matchAndAdjudicate(db: pg.Pool, ids: number[]) {
  await matchAndContinue(db, ids, []);
  await adjudicateSettlements(db, ids, NO_LIMIT);
}

async function claimOf(db: pg.Pool, settlementId: number) {
  const { rows } = await db.query<{ status: string; warnings: string[] }>(`SELECT status, warnings FROM claims WHERE settlement_id = $1`, [settlementId]);
  return rows[0]!;
}

async function latestFeed(db: pg.Pool, applicant: Applicant): Promise<number> {
  const { rows } = await db.query(
    `SELECT id FROM settlements WHERE source = 'feed' AND certno_hash = (SELECT id_number_hash FROM members WHERE id = $1) ORDER BY id DESC LIMIT 1`,
    [applicant.memberId],
  );
  return rows[0].id;
}

/** The member's application for `s`, accepted by a reviewer, matched and adjudicated; answers its settlement's id. */
async function appliedAndDecided(applicant: Applicant, s: ReturnType<typeof stay>): Promise<number> {
  const { db, gw } = await started();
  const filed = await submit(gw, memberOf(applicant), { stay: s });
  expect(filed.userErrors).toEqual([]);
  const accepted = (await gw.query(reviewer, ACCEPT, { id: filed.application.id })).data.acceptApplication;
  expect(accepted.userErrors).toEqual([]);
  const settlementId = localId('id', accepted.application.settlement.id, 'Settlement');
  await matchAndAdjudicate(db.pool, [settlementId]);
  return settlementId;
}

/** The platform's record of `s`, stored, matched and adjudicated; answers its settlement's id. */
async function fedAndDecided(applicant: Applicant, s: ReturnType<typeof stay>): Promise<number> {
  const { db, gw } = await started();
  await feedStay(db.pool, gw.keys, applicant, s, { begndate: s.admittedOn, enddate: s.dischargedOn });
  const feed = await latestFeed(db.pool, applicant);
  await matchAndAdjudicate(db.pool, [feed]);
  return feed;
}

describe('an inpatient stay applied for under another hospital\'s code', () => {
  it('an application for a stay the platform paid, every figure the sheet\'s but the hospital code, waits for a reviewer naming the platform\'s settlement', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const dates = { admittedOn: '2025-08-03', dischargedOn: '2025-08-11' };
    const feed = await fedAndDecided(applicant, stay({ ...dates, hospitalCode: SHEET_HOSPITAL }));
    expect(await claimOf(db.pool, feed)).toMatchObject({ status: 'APPROVED', warnings: [] });

    const applied = await appliedAndDecided(applicant, stay({ ...dates, hospitalCode: TYPED_HOSPITAL }));
    const claim = await claimOf(db.pool, applied);
    expect(claim.status).toBe('PENDING_REVIEW');
    expect(claim.warnings).toEqual([expect.stringContaining(`settlement ${feed} (`)]);
    expect(claim.warnings[0]).toContain(`inpatient at ${TYPED_HOSPITAL} and at ${SHEET_HOSPITAL}`);
  });

  it('the platform\'s record of a paid application\'s stay at another hospital, discharged a day later, waits for a reviewer naming the application', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const applied = await appliedAndDecided(applicant, stay({ admittedOn: '2025-09-01', dischargedOn: '2025-09-09', hospitalCode: TYPED_HOSPITAL }));
    expect(await claimOf(db.pool, applied)).toMatchObject({ status: 'APPROVED', warnings: [] });

    const feed = await fedAndDecided(applicant, stay({ admittedOn: '2025-09-01', dischargedOn: '2025-09-10', hospitalCode: SHEET_HOSPITAL }));
    const claim = await claimOf(db.pool, feed);
    expect(claim.status).toBe('PENDING_REVIEW');
    expect(claim.warnings).toEqual([expect.stringContaining(`settlement ${applied} (`)]);
  });

  it('an outpatient visit at another hospital that day, or an inpatient stay elsewhere ending two days apart, is paid without a warning', async () => {
    const { db, gw } = await started();
    const applicant = await seedApplicant(db.pool, gw.keys);
    const applied = await appliedAndDecided(applicant, stay({ admittedOn: '2025-10-01', dischargedOn: '2025-10-08', hospitalCode: TYPED_HOSPITAL }));
    const others = [
      stay({ admittedOn: '2025-10-08', dischargedOn: '2025-10-08', hospitalCode: SHEET_HOSPITAL, medicalType: '11' }),
      stay({ admittedOn: '2025-10-08', dischargedOn: '2025-10-10', hospitalCode: SHEET_HOSPITAL }),
    ];
    for (const other of others) {
      const feed = await fedAndDecided(applicant, other);
      expect(await claimOf(db.pool, feed), JSON.stringify(other)).toMatchObject({ status: 'APPROVED', warnings: [] });
    }
    expect(await claimOf(db.pool, applied)).toMatchObject({ status: 'APPROVED', warnings: [] });
  });
});
