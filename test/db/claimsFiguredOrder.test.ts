import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { RuleSetCache } from '../../src/benefits/catalogue.ts';
import { redecideIfFactsChanged } from '../../src/benefits/redecide.ts';
import { adjustClaimLine } from '../../src/benefits/review.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { fen } from '../benefits/support.ts';
import { claimOf, payContribution, seedEnrolledMember, seedSettlement, totalsOf } from '../benefits/seed.ts';
import { freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';

/**
 * 0062 keeps the order a member-year's claims were figured against it (claims.figured_seq). Claims
 * from before it are put in the order they were last figured: a claim decided again (not one figured
 * again in its place) after the claims created before its re-decision, whatever its id.
 */
const MIGRATIONS = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));
const cache = new RuleSetCache();
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

/** 0062 and every migration after it, to undo and apply again. */
const FROM_0062 = readdirSync(MIGRATIONS).filter((f) => /^\d{4}_.*\.sql$/.test(f) && Number(f.slice(0, 4)) >= 62).length;

async function migrateFrom0062(direction: 'up' | 'down'): Promise<void> {
  await runner({
    databaseUrl: TEST_DATABASE_URL, dir: MIGRATIONS, direction, count: FROM_0062, migrationsTable: 'pgmigrations', schema: db.schema,
    checkOrder: true, singleTransaction: true, noLock: true, log: () => undefined,
  });
}

describe('the order claims were figured in (0062)', () => {
  it('puts a claim decided again before it after the claims it was decided again after, not at its id', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC', paid: false });
    // A is refused (the unit had not paid); once it pays, B and C are decided, then A again: last, against both.
    const a = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-03-01 10:00:00' });
    await adjudicateSettlements(db.pool, [a], { autoApproveMaxFen: 0, ruleSets: cache });
    await payContribution(db.pool, m.unitId, 2025);
    const b = await seedSettlement(db.pool, m, { psn: '10,000.00', setlTime: '2025-04-01 10:00:00' });
    const c = await seedSettlement(db.pool, m, { psn: '60,000.00', ownpay: '60,000.00', setlTime: '2025-05-01 10:00:00' });
    for (const id of [b, c]) await adjudicateSettlements(db.pool, [id], { autoApproveMaxFen: 0, ruleSets: cache });
    const claimA = (await claimOf(db.pool, a))!.id;
    expect(await redecideIfFactsChanged(db.pool, claimA, { ruleSets: cache, autoApproveMaxFen: 0 })).toMatchObject({ after: 'PENDING_REVIEW' });

    await migrateFrom0062('down');
    await migrateFrom0062('up');

    const { rows } = await db.pool.query<{ settlementId: number }>(
      `SELECT settlement_id AS "settlementId" FROM claims WHERE member_id = $1 ORDER BY figured_seq`, [m.memberId]);
    expect(rows.map((r) => r.settlementId)).toEqual([b, c, a]);

    // One fen off B: C, waiting after B, is figured again after B alone and keeps 7,000.00 (after A too, it took 30,000.00).
    const { rows: [line] } = await db.pool.query<{ id: number }>(
      `SELECT l.id FROM benefit_lines l JOIN claims c ON c.id = l.claim_id WHERE c.settlement_id = $1 AND l.programme = 'INPATIENT'`, [b]);
    await adjustClaimLine(db.pool, { subject: 'reviewer-1', role: 'REVIEWER' }, UNSCOPED, line!.id, fen('5,999.99'), 'one fen of the invoice is not covered');
    expect({ a: (await claimOf(db.pool, a))!.amounts.CRITICAL, c: (await claimOf(db.pool, c))!.amounts.CRITICAL, totals: (await totalsOf(db.pool, m.memberId)).CRITICAL })
      .toEqual({ a: fen('30,000.00'), c: fen('7,000.00'), totals: fen('37,000.00') });

    // New claims come after those from before.
    const d = await seedSettlement(db.pool, m, { psn: '1,000.00', setlTime: '2025-06-01 10:00:00' });
    await adjudicateSettlements(db.pool, [d], { autoApproveMaxFen: 0, ruleSets: cache });
    const { rows: [last] } = await db.pool.query<{ settlementId: number }>(
      `SELECT settlement_id AS "settlementId" FROM claims WHERE member_id = $1 ORDER BY figured_seq DESC LIMIT 1`, [m.memberId]);
    expect(last!.settlementId).toBe(d);
  });
});
