import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPain001Payments } from '../../src/banks/simulator/pain001Reader.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { approveBatch, createBatch, requestSubmission, retryPayout } from '../../src/payouts/decisions.ts';
import { addFunder } from '../../src/payouts/funders.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { funderBalances } from '../../src/payouts/store/funders.ts';
import { fetchFromBank } from '../../src/reconciliation/fetch.ts';
import { reconcileAccount } from '../../src/reconciliation/run.ts';
import { startBank, testFilePki, UNION_ACCOUNT, UNION_BANK } from '../banks/simulator/support.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { exceptionsOf, HUB } from '../reconciliation/support.ts';
import { advanceUntilFinal, approvedClaims, clerk, finance, payoutsOf, sealedFile, settings, submissionContext, keys } from './support.ts';
import { approvedByFunder, operator, PROVINCE_ACCOUNT, provinceFunder, provincialLine } from './fundersSupport.ts';

/**
 * Payouts per funder: a claim with the city union's lines and the province's subsidy line is paid
 * in two transfers, each in a batch of its funder's, from that funder's account, and reconciled
 * against that account's statement; each funder's figures balance.
 */
const pki = testFilePki();
let db: TestDatabase;

beforeEach(async () => {
  db = await freshDatabase();
});
afterEach(async () => {
  await db.drop();
});

async function unionFunderId(): Promise<number> {
  return (await db.pool.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`)).rows[0]!.id;
}

describe('payouts per funder', () => {
  it('pays a claim with a UNION line and a province line in two payouts, from two accounts, each settled on its own statement', async () => {
    const claims = await approvedClaims(db.pool, 2);
    const province = await provinceFunder(db.pool);
    const union = await unionFunderId();
    await provincialLine(db.pool, claims[0]!.claimId, province.id, 300_000);
    const approved = await approvedByFunder(db.pool, claims.map((c) => c.claimId));

    expect(await planPayouts(db.pool, settings)).toMatchObject({ created: 3, held: 0 });
    const payouts = await payoutsOf(db.pool);
    const funderOf = new Map((await db.pool.query<{ id: number; funderId: number }>('SELECT id, funder_id AS "funderId" FROM payouts')).rows.map((r) => [r.id, r.funderId]));
    // One payout per claim and funder, each the sum of that funder's approved lines of the claim.
    expect(payouts.map((p) => ({ key: `${p.claimId}/${funderOf.get(p.id)}`, fen: p.amountFen })).sort((a, b) => a.key.localeCompare(b.key)))
      .toEqual([...approved].map(([key, fen]) => ({ key, fen })).sort((a, b) => a.key.localeCompare(b.key)));
    expect(payouts.filter((p) => p.claimId === claims[0]!.claimId)).toHaveLength(2);
    // Planning again changes nothing.
    expect(await planPayouts(db.pool, settings)).toMatchObject({ created: 0 });

    // One batch per funder: the oldest ready payout's funder first, then the other; then nothing is left.
    const first = (await createBatch(db.pool, clerk, settings, 100))!;
    const second = (await createBatch(db.pool, clerk, settings, 100))!;
    expect(await createBatch(db.pool, clerk, settings, 100)).toBeNull();
    const batches = (await db.pool.query<{ id: number; funderId: number; debtorAccount: string }>(
      'SELECT id, funder_id AS "funderId", debtor_account AS "debtorAccount" FROM payout_batches ORDER BY id',
    )).rows;
    expect(batches.map((b) => [b.id, b.funderId, b.debtorAccount])).toEqual([[first.id, union, UNION_ACCOUNT], [second.id, province.id, PROVINCE_ACCOUNT]]);

    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      for (const batch of [first, second]) {
        await approveBatch(db.pool, finance, batch.id);
        await requestSubmission(db.pool, finance, batch.id);
        expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      }
      // The sealed files, read back: each pays from its funder's account, only its funder's payouts.
      for (const [batch, account, funder] of [[first, UNION_ACCOUNT, union], [second, PROVINCE_ACCOUNT, province.id]] as const) {
        const file = readPain001Payments((await sealedFile(db.pool, batch.id))!);
        expect(file.paymentInfos.map((i) => i.debtor.account)).toEqual([account]);
        const expected = payouts.filter((p) => funderOf.get(p.id) === funder);
        expect(file.paymentInfos[0]!.transactions.map((t) => t.amountFen).sort()).toEqual(expected.map((p) => p.amountFen).sort());
      }
      const subsidy = readPain001Payments((await sealedFile(db.pool, second.id))!).paymentInfos[0]!.transactions[0]!;
      expect(subsidy.remittanceInfo.join('')).toContain('省总工会大病补助');
      expect(subsidy.remittanceInfo.join('')).not.toContain('住院');

      // Each account's statement, reconciled on its own: every payout settled against its account.
      const today = chinaToday();
      await fetchFromBank(db.pool, bank.adapter, [UNION_ACCOUNT, PROVINCE_ACCOUNT], today, 0, HUB);
      const city = await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' });
      const provincial = await reconcileAccount(db.pool, PROVINCE_ACCOUNT, { keys, startedBy: 'test' });
      expect(city).toMatchObject({ matched: 2, settled: 2, exceptions: 0 });
      expect(provincial).toMatchObject({ matched: 1, settled: 1, exceptions: 0 });
      expect(await exceptionsOf(db.pool)).toEqual([]);
      expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['SETTLED', 'SETTLED', 'SETTLED']);
      const settledOn = (await db.pool.query<{ payoutId: number; account: string }>(
        `SELECT a.payout_id AS "payoutId", e.account FROM reconciliation_matches m JOIN payout_attempts a ON a.id = m.payout_attempt_id
           JOIN statement_entries e ON e.id = m.entry_id WHERE m.kind = 'PAYOUT' ORDER BY a.payout_id`,
      )).rows;
      expect(settledOn).toEqual(payouts.map((p) => ({ payoutId: p.id, account: funderOf.get(p.id) === union ? UNION_ACCOUNT : PROVINCE_ACCOUNT })));

      // Each funder's figures balance, and they are its own lines' and payouts'.
      const balances = await funderBalances(db.pool, [union, province.id], 2025, settings.account.account);
      for (const balance of balances) {
        const own = [...approved].filter(([key]) => key.endsWith(`/${balance.funderId}`)).reduce((sum, [, fen]) => sum + fen, 0);
        expect(balance).toMatchObject({
          planYear: 2025, approvedFen: own, payoutsFen: own, unpaidApprovedFen: 0, paidFen: own, settledFen: own, unreconciledFen: 0, differenceFen: 0,
          payoutsByStatus: [{ status: 'SETTLED', payouts: balance.funderId === union ? 2 : 1, totalFen: own }],
        });
      }
      expect(balances.find((b) => b.funderId === province.id)!.approvedFen).toBe(300_000);
    } finally {
      ctx.remove();
    }
  });

  it('takes a named funder\'s payouts only, and answers null when that funder has none ready', async () => {
    const claims = await approvedClaims(db.pool, 1);
    const province = await provinceFunder(db.pool);
    await provincialLine(db.pool, claims[0]!.claimId, province.id, 120_000);
    await planPayouts(db.pool, settings);
    const batch = (await createBatch(db.pool, clerk, settings, 100, [province.id]))!;
    expect(batch).toMatchObject({ nbOfTxs: 1, ctrlSumFen: 120_000 });
    expect(await createBatch(db.pool, clerk, settings, 100, [province.id])).toBeNull();
    expect((await db.pool.query(`SELECT status FROM payouts p JOIN funders f ON f.id = p.funder_id WHERE f.code = 'UNION'`)).rows).toEqual([{ status: 'READY' }]);
  });

  it('counts a payout returned, retried and paid again as settled once: the returned attempt\'s money came back', async () => {
    await approvedClaims(db.pool, 1);
    await planPayouts(db.pool, settings);
    const union = await unionFunderId();
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    const today = chinaToday();
    const paidAndReconciled = async () => {
      const batch = (await createBatch(db.pool, clerk, settings, 100))!;
      await approveBatch(db.pool, finance, batch.id);
      await requestSubmission(db.pool, finance, batch.id);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      await fetchFromBank(db.pool, bank.adapter, [UNION_ACCOUNT], today, 0, HUB);
      expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 1, settled: 1 });
      return (await db.pool.query<{ e2e: string }>('SELECT end_to_end_id AS e2e FROM payout_attempts WHERE batch_id = $1', [batch.id])).rows[0]!.e2e;
    };
    try {
      const e2e = await paidAndReconciled();
      const [payout] = await payoutsOf(db.pool);
      // The payee's bank sends it back after its debit was matched: FAILED, neither paid nor settled, still balanced.
      await bank.admin('/admin/returns', { endToEndId: e2e, reason: 'AC04', additionalInfo: '收款账户已销户' });
      await fetchFromBank(db.pool, bank.adapter, [UNION_ACCOUNT], today, 0, HUB);
      expect(await reconcileAccount(db.pool, UNION_ACCOUNT, { keys, startedBy: 'test' })).toMatchObject({ matched: 1, returned: 1 });
      expect(await funderBalances(db.pool, [union], 2025, settings.account.account))
        .toMatchObject([{ payoutsFen: payout!.amountFen, paidFen: 0, settledFen: 0, unreconciledFen: 0, differenceFen: 0 }]);

      // Retried by two FINANCE people (it had been paid), paid again and its new debit matched.
      expect(await retryPayout(db.pool, finance, UNSCOPED, settings, payout!.id, 'the payee\'s bank returned it (AC04)')).toBe('PROPOSED');
      expect(await retryPayout(db.pool, { subject: 'finance-li', role: 'FINANCE' }, UNSCOPED, settings, payout!.id, 'checked the return')).toBe('RETRIED');
      await paidAndReconciled();
      expect((await payoutsOf(db.pool))[0]).toMatchObject({ status: 'SETTLED', attempts: 2 });
      expect(await funderBalances(db.pool, [union], 2025, settings.account.account))
        .toMatchObject([{ paidFen: payout!.amountFen, settledFen: payout!.amountFen, unreconciledFen: 0, differenceFen: 0 }]);
    } finally {
      ctx.remove();
    }
  });

  it('shows the gap when a payout counts as settled without a debit matched on its funder\'s account', async () => {
    const claims = await approvedClaims(db.pool, 1);
    const province = await provinceFunder(db.pool);
    await provincialLine(db.pool, claims[0]!.claimId, province.id, 80_000);
    await planPayouts(db.pool, settings);
    const [before] = await funderBalances(db.pool, [province.id], 2025, settings.account.account);
    expect(before).toMatchObject({ approvedFen: 80_000, payoutsFen: 80_000, paidFen: 0, differenceFen: 0 });
    // A paid payout whose debit was matched on another account's statement than its funder's: the figures show the gap.
    await db.pool.query(`UPDATE payouts SET status = 'SETTLED', paid_at = now(), settled_at = now() WHERE funder_id = $1`, [province.id]);
    const [after] = await funderBalances(db.pool, [province.id], 2025, settings.account.account);
    expect(after).toMatchObject({ paidFen: 80_000, settledFen: 0, unreconciledFen: 0, differenceFen: 80_000 });
  });
});

describe('the database keeps funders apart', () => {
  it('refuses a batch mixing funders, a debtor account not the funder\'s, another funder\'s line in a payout, and a changed account', async () => {
    const claims = await approvedClaims(db.pool, 1);
    const province = await provinceFunder(db.pool);
    await provincialLine(db.pool, claims[0]!.claimId, province.id, 50_000);
    await planPayouts(db.pool, settings);
    const union = (await createBatch(db.pool, clerk, settings, 100))!;
    const { rows: [fj] } = await db.pool.query<{ id: number }>('SELECT id FROM payouts WHERE funder_id = $1', [province.id]);
    const attempt = (batchId: number) => db.pool.query(
      `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc, creditor_account_masked, creditor_agent, remittance_info)
       VALUES ($1, 1, $2, 'MIX-1', 50000, '某', '\\x00', '6222 **** **** 0000', '102397000023', 'x')`, [fj!.id, batchId],
    );
    await expect(attempt(union.id)).rejects.toThrow(/another funder's than batch/);

    const batch = (debtor: string, funderId: number) => db.pool.query(
      `INSERT INTO payout_batches (msg_id, pmt_inf_id, funder_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date, nb_of_txs, ctrl_sum_fen, created_by, created_by_role)
       VALUES ('MIX-' || $1, 'MIX-P', $2, 'SIM', $1, '某账户', $3, current_date, 1, 1, 'x', 'ADMIN')`, [debtor, funderId, UNION_BANK],
    );
    await expect(batch(UNION_ACCOUNT, province.id)).rejects.toThrow(/pays from its own account/);
    await expect(batch(PROVINCE_ACCOUNT, await unionFunderId())).rejects.toThrow(/another funder's/);
    await expect(db.pool.query(`UPDATE payout_batches SET funder_id = $2 WHERE id = $1`, [union.id, province.id])).rejects.toThrow(/never change/);

    const { rows: [unionLine] } = await db.pool.query<{ id: number }>(
      `SELECT l.id FROM benefit_lines l JOIN payout_lines pl ON pl.benefit_line_id = l.id WHERE l.claim_id = $1 AND l.funder_id <> $2 LIMIT 1`, [claims[0]!.claimId, province.id],
    );
    await expect(db.pool.query(`UPDATE payout_lines SET payout_id = $2 WHERE benefit_line_id = $1`, [unionLine!.id, fj!.id])).rejects.toThrow(/another funder's than payout/);
    await expect(db.pool.query(`UPDATE payouts SET funder_id = (SELECT id FROM funders WHERE code = 'UNION') WHERE id = $1`, [fj!.id])).rejects.toThrow(/never changes/);
    await expect(db.pool.query(`UPDATE funders SET account = '6222020000000000' WHERE id = $1`, [province.id])).rejects.toThrow(/never change/);
    // A second claim-funder payout is refused as well (one transfer per stay and funder).
    await expect(db.pool.query(`INSERT INTO payouts (claim_id, funder_id, member_id, unit_id, amount_fen, status) SELECT claim_id, funder_id, member_id, unit_id, 1, 'READY' FROM payouts WHERE id = $1`, [fj!.id]))
      .rejects.toThrow(/payouts_claim_funder/);
  });

  it('registers a funder once, with an account of its own that is not the union\'s', async () => {
    const province = await provinceFunder(db.pool);
    expect(province).toMatchObject({ code: 'FJ', account: PROVINCE_ACCOUNT, agent: UNION_BANK });
    const again = { code: 'FJ', name: '另一个', organisationCode: 'FJ', account: '1408010109020000001', accountName: '某', agent: UNION_BANK };
    await expect(addFunder(db.pool, operator, again, settings.account.account)).rejects.toMatchObject({ code: 'CONFLICT', field: 'code' });
    await expect(addFunder(db.pool, operator, { ...again, code: 'FJ-2', account: PROVINCE_ACCOUNT }, settings.account.account)).rejects.toMatchObject({ code: 'CONFLICT', field: 'account' });
    await expect(addFunder(db.pool, operator, { ...again, code: 'FJ-2', account: settings.account.account }, settings.account.account)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', field: 'account' });
    await expect(addFunder(db.pool, operator, { ...again, code: 'FJ-2', organisationCode: 'NOWHERE' }, settings.account.account)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(addFunder(db.pool, operator, { ...again, code: 'fj 2', agent: '12' }, settings.account.account))
      .rejects.toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'code' }, { field: 'agent' }] });
    expect((await db.pool.query(`SELECT action, target_id AS "targetId" FROM audit_log WHERE action = 'funder.add'`)).rows).toEqual([{ action: 'funder.add', targetId: 'FJ' }]);
  });
});
