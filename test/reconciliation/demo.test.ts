import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { reconcileDemo } from '../../jobs/demo/reconciliation.ts';
import { startBank, testFilePki, UNION_ACCOUNT } from '../banks/simulator/support.ts';
import { advanceUntilFinal, approvedBatch, approvedClaims, keys, payoutsOf, submissionContext } from '../payouts/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { owingUnit } from './support.ts';

/** What `hub demo` calls after its payouts are paid: zero exceptions on the happy path, the injected faults as their kinds. */
const pki = testFilePki();
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('reconcileDemo', () => {
  it('reconciles the simulator\'s day with no exception, then shows its injected faults as their kinds', async () => {
    await approvedClaims(db.pool, 3);
    const unit = await owingUnit(db.pool, 4);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    const batch = await approvedBatch(db.pool);
    expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
    ctx.remove();
    const runtime = { db: db.pool, keys, config: parseConfig({ NODE_ENV: 'test', PAYOUT_ACCOUNT: UNION_ACCOUNT }) };

    const happy = await reconcileDemo(runtime, { url: bank.simulator.url, adapter: bank.adapter });
    expect(happy).toMatchObject({ reconciled: 4, exceptions: 0 });
    expect(happy.proofLines).toEqual([expect.stringMatching(new RegExp(`^${UNION_ACCOUNT} \\d{4}-\\d{2}-\\d{2}: opening .*; 4 entries; PROVEN$`))]);
    expect(happy.summary).toContain('1 unit contribution transfer(s)');
    expect((await payoutsOf(db.pool)).every((p) => p.status === 'SETTLED')).toBe(true);
    const paid = await db.pool.query(`SELECT sum(amount_fen)::bigint AS paid FROM contribution_payments WHERE unit_id = $1 AND source = 'BANK'`, [unit.id]);
    expect(paid.rows[0].paid).toBe(unit.owedFen);

    const faulty = await reconcileDemo(runtime, { url: bank.simulator.url, adapter: bank.adapter }, { faults: true });
    expect(faulty).toMatchObject({ reconciled: 5, exceptions: 2 });
    expect(faulty.summary).toContain('(RETURN_AFTER_SETTLEMENT 1, UNKNOWN_CREDIT 1)');
    expect(faulty.proofLines[0]).toContain('NOT PROVEN');
  });
});
