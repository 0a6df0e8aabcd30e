import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addFunder } from '../../src/payouts/funders.ts';
import { approveBatch, createBatch, requestSubmission } from '../../src/payouts/decisions.ts';
import type { PayoutSettings } from '../../src/payouts/model.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { sealBatch } from '../../src/payouts/sealing.ts';
import { advanceBatch } from '../../src/payouts/submission.ts';
import { testFilePki, UNION_BANK } from '../banks/simulator/support.ts';
import { operator } from '../payouts/fundersSupport.ts';
import { approvedClaims, clerk, finance, resetPayouts, ScriptedBank, settings, submissionContext } from '../payouts/support.ts';
import { PAYING_ACCOUNT } from '../support/config.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The attack (audit P): UNION, the hub's own union, has no account in `funders`: each process pays
 * it from its own PAYOUT_ACCOUNT, and production asked for that only where BANK_URL was set.
 * A. A gateway started without PAYOUT_ACCOUNT (or with an old one) makes UNION batches debiting the
 *    simulator's (or the old) account; FINANCE approves; the worker would seal and send them under
 *    the union's initiating party and seal. The worker now refuses to seal a batch whose debtor is not
 *    the account its own settings give the batch's funder: the batch stays APPROVED, unsealed and
 *    unsent, the refusal audited (payout.batch.seal.refuse) and logged.
 * B. From a shell without the workers' PAYOUT_ACCOUNT, `hub funders add --account <the union's
 *    account>` passed its only check (the shell's own PAYOUT_ACCOUNT, the simulator's): another
 *    organisation's payouts would then be paid from the union's account, in batches that
 *    organisation's FINANCE approves. addFunder now refuses an account any UNION batch was paid from.
 * Production's side (every process names its paying account, with or without BANK_URL):
 * productionSettings.test.ts.
 */
const pki = testFilePki();
const bank = new ScriptedBank();
let db: TestDatabase;

/** The union's real account, as the workers (and a correctly started gateway) have it. */
const UNION_REAL: PayoutSettings = { ...settings, account: { ...settings.account, account: PAYING_ACCOUNT.PAYOUT_ACCOUNT } };
/** What a process started without PAYOUT_ACCOUNT pays UNION from: the simulator's account (the tests' `settings`). */
const SIMULATOR = settings;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await resetPayouts(db.pool);
  bank.reset();
});

/** A UNION batch of one payout made with `made`'s paying account, approved by another person and asked to be sent. */
async function approvedUnionBatch(made: PayoutSettings): Promise<{ id: number; msgId: string }> {
  await approvedClaims(db.pool, 1);
  await planPayouts(db.pool, made);
  const batch = (await createBatch(db.pool, clerk, made, 10))!;
  await approveBatch(db.pool, finance, batch.id);
  await requestSubmission(db.pool, finance, batch.id);
  return batch;
}

const batchRow = async (id: number) => (await db.pool.query<{ status: string; submission: string; debtorAccount: string; sealed: boolean }>(
  `SELECT status, submission, debtor_account AS "debtorAccount", file_enc IS NOT NULL OR sealed_at IS NOT NULL AS sealed FROM payout_batches WHERE id = $1`, [id],
)).rows[0];

describe('A: a UNION batch made with another paying account than the worker\'s', () => {
  it('is not sealed or sent: it stays APPROVED, the refusal audited with the accounts', async () => {
    const batch = await approvedUnionBatch(SIMULATOR);
    const worker = { ...submissionContext(db.pool, pki, { adapter: bank.adapter } as never), settings: UNION_REAL };
    try {
      expect(await advanceBatch(worker, batch.id)).toEqual({ status: 'APPROVED', waiting: false });
      expect(bank.sent).toEqual([]);
      expect(await batchRow(batch.id)).toEqual({ status: 'APPROVED', submission: 'NOT_SENT', debtorAccount: SIMULATOR.account.account, sealed: false });
      const sealed = await sealBatch(db.pool, worker.sealing, worker.settings, batch.id);
      expect(sealed).toMatchObject({ file: null, refused: expect.stringContaining(`its debtor account ${SIMULATOR.account.account} is not the one funder UNION pays from`) });
      expect(sealed.refused).toContain(`${UNION_REAL.account.account} (PAYOUT_ACCOUNT)`);
      expect(await batchRow(batch.id)).toMatchObject({ status: 'APPROVED', sealed: false });
      const { rows } = await db.pool.query<{ actor: string; reason: string; details: { batchId: number; debtorAccount: string } }>(
        `SELECT actor, reason, details FROM audit_log WHERE action = 'payout.batch.seal.refuse' AND target_id = $1 ORDER BY seq`, [batch.msgId],
      );
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({ actor: 'payout-worker', reason: sealed.refused, details: { batchId: batch.id, debtorAccount: SIMULATOR.account.account } });

      // The worker whose settings say the same account seals and sends it.
      const same = { ...worker, settings: SIMULATOR };
      expect(await advanceBatch(same, batch.id)).toMatchObject({ status: 'SUBMITTED' });
      expect(bank.sent).toEqual([batch.msgId]);
    } finally {
      worker.remove();
    }
  });
});

describe('B: registering a funder with the account UNION batches were paid from', () => {
  it('is refused, naming the account, whatever the shell\'s own PAYOUT_ACCOUNT says', async () => {
    await approvedUnionBatch(UNION_REAL);
    await db.pool.query(`INSERT INTO organisations (code, name, level, created_by) VALUES ('QZ', '泉州市某区总工会', 'COUNTY', 'test') ON CONFLICT DO NOTHING`);
    const funder = (account: string, code: string) => ({
      code, name: '某区总工会职工医疗互助资金', organisationCode: 'QZ', account, accountName: '泉州市总工会职工医疗互助专户', agent: UNION_BANK,
    });
    // The shell has no PAYOUT_ACCOUNT: its own check compares with the simulator's account only.
    await expect(addFunder(db.pool, operator, funder(UNION_REAL.account.account, 'QZ'), SIMULATOR.account.account)).rejects.toMatchObject({
      code: 'CONFLICT', field: 'account', message: expect.stringContaining(`account ${UNION_REAL.account.account} is the union's: UNION payout batches name it as the account they are paid from`),
    });
    expect((await db.pool.query(`SELECT 1 FROM funders WHERE code = 'QZ'`)).rowCount).toBe(0);
    // An account of its own is registered.
    expect(await addFunder(db.pool, operator, funder('1408010109024560042', 'QZ'), SIMULATOR.account.account)).toMatchObject({ code: 'QZ', account: '1408010109024560042' });
  });
});
