import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjudicateSettlements } from '../../src/benefits/adjudicate.ts';
import { replayYear } from '../../src/benefits/replay.ts';
import { loadRuleSet } from '../../src/benefits/catalogue.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { fen } from './support.ts';
import { seedEnrolledMember, seedSettlement } from './seed.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let db: TestDatabase;
let first: number;
let second: number;

async function snapshot() {
  const { rows } = await db.pool.query(
    `SELECT (SELECT jsonb_agg(c ORDER BY c.id) FROM claims c) AS claims, (SELECT jsonb_agg(l ORDER BY l.id) FROM benefit_lines l) AS lines,
            (SELECT jsonb_agg(t ORDER BY t.member_id) FROM member_year_totals t) AS totals, (SELECT count(*) FROM audit_log) AS audits`,
  );
  return rows[0];
}

beforeAll(async () => {
  db = await freshDatabase();
  const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
  first = await seedSettlement(db.pool, m, { psn: '10,000.00', ownpay: '2,000.00', setlTime: '2025-02-01 10:00:00' });
  second = await seedSettlement(db.pool, m, { psn: '40,000.00', setlTime: '2025-03-01 10:00:00' });
  await adjudicateSettlements(db.pool, [first, second], { autoApproveMaxFen: fen('10,000.00') });
});

afterAll(() => db.drop());

/*
 * Under default-2025 (stored): first (10,000 − 2,000) × 60% = 4,800, R 5,200; second 40,000 × 60% = 24,000,
 * R 5,200 + 16,000 = 21,200 (below 50,000: no CRITICAL). Total 28,800.
 * Under jinjiang-example: first 8,000 × 20% = 1,600, R 8,400; second 40,000 × 20% = 8,000, out-of-pocket
 * 32,000, R 8,400 -> 40,400, above 29,900 by 10,500 × 80% = 8,400 CRITICAL. Total 1,600 + 16,400 = 18,000.
 */
const EXPECTED = {
  ruleSet: 'jinjiang-example', ruleSetVersion: 1, planYear: 2025, claims: 2, changed: 2,
  totals: {
    before: { INPATIENT: fen('28,800.00'), CRITICAL: 0, MAJOR_DISEASE: 0, total: fen('28,800.00') },
    after: { INPATIENT: fen('9,600.00'), CRITICAL: fen('8,400.00'), MAJOR_DISEASE: 0, total: fen('18,000.00') },
    difference: { INPATIENT: -fen('19,200.00'), CRITICAL: fen('8,400.00'), MAJOR_DISEASE: 0, total: -fen('10,800.00') },
  },
};

describe('replay', () => {
  it('reports the differences per claim and in total, and changes nothing', async () => {
    const before = await snapshot();
    const report = await replayYear(db.pool, loadRuleSet('jinjiang-example'), 2025);
    expect(report).toMatchObject(EXPECTED);
    expect(report.differences.map((d) => [d.settlementId, d.difference])).toEqual([
      [first, { INPATIENT: -fen('3,200.00'), CRITICAL: 0, MAJOR_DISEASE: 0, total: -fen('3,200.00') }],
      [second, { INPATIENT: -fen('16,000.00'), CRITICAL: fen('8,400.00'), MAJOR_DISEASE: 0, total: -fen('7,600.00') }],
    ]);
    expect(await snapshot()).toEqual(before);
  });

  it('under the rule set used, nothing differs', async () => {
    const report = await replayYear(db.pool, loadRuleSet('default-2025'), 2025);
    expect(report).toMatchObject({ claims: 2, changed: 0, differences: [] });
  });

  it('hub benefits replay prints the same report', async () => {
    const { stdout } = await promisify(execFile)('node', ['bin/hub.mjs', 'benefits', 'replay', '--rules', 'jinjiang-example', '--year', '2025'], {
      cwd: ROOT, env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' },
    });
    expect(JSON.parse(stdout)).toMatchObject(EXPECTED);
  });

  it('follows the order claims were decided, not the settlement dates (a late-arriving earlier stay)', async () => {
    const m = await seedEnrolledMember(db.pool, { plan: 'PUBLIC' });
    // Two stays whose out-of-pocket passes the 50,000 CRITICAL threshold only together: which one
    // crosses it depends on the order. The later-dated one arrives, and is decided, first.
    const later = await seedSettlement(db.pool, m, { psn: '100,000.00', setlTime: '2025-09-01 10:00:00' });
    await adjudicateSettlements(db.pool, [later], { autoApproveMaxFen: fen('1,000,000.00') });
    const earlier = await seedSettlement(db.pool, m, { psn: '100,000.00', setlTime: '2025-04-01 10:00:00' });
    await adjudicateSettlements(db.pool, [earlier], { autoApproveMaxFen: fen('1,000,000.00') });
    const { rows } = await db.pool.query<{ critical: number }>(
      `SELECT coalesce(sum(l.amount_fen) FILTER (WHERE l.programme = 'CRITICAL'), 0)::bigint AS critical
         FROM claims c JOIN benefit_lines l ON l.claim_id = c.id WHERE c.settlement_id = $1`, [later],
    );
    expect(rows[0]!.critical).toBe(0); // decided first: 40,000 out of pocket, below the threshold
    const report = await replayYear(db.pool, loadRuleSet('default-2025'), 2025);
    expect(report).toMatchObject({ changed: 0, differences: [] });
  });
});
