import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { openssl } from '../seals/fixtures.ts';
import { xmllint } from '../banks/iso20022/xmllint.ts';
import { openAccount, startBank, testFilePki } from '../banks/simulator/support.ts';
import { approveBatch, cancelBatch, createBatch, requestSubmission, retryPayout } from '../../src/payouts/decisions.ts';
import { DomainError } from '../../src/kernel/errors.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { checkPain001 } from '../../src/banks/iso20022/pain001.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import {
  advanceUntilFinal, approvedBatch, approvedClaims, clerk, creditedByPayout, finance, payoutsOf, resetPayouts, sealedFile, setBankCard, settings, submissionContext,
} from './support.ts';

/**
 * Batches from approved claims to the bank simulator and back: the bank's ledger is the oracle
 * (every approved benefit paid once, to the right account, with the amount the rules granted;
 * what the bank rejects is visibly failed and can be retried with a new attempt).
 */
const pki = testFilePki();
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db.drop();
});

const clear = () => resetPayouts(db.pool);

describe('a batch through the bank', () => {
  it('pays every approved claim once; rejected accounts fail with the bank reason and are paid after a retry', async () => {
    await clear();
    const closed = `${openAccount().slice(0, -4)}0004`;
    const wrong = `${openAccount().slice(0, -4)}0001`;
    const claims = await approvedClaims(db.pool, 6, { 2: closed, 4: wrong, 5: null });
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const planned = await planPayouts(db.pool, settings);
      expect(planned).toMatchObject({ created: 6, held: 1 });
      const batch = (await createBatch(db.pool, clerk, settings, 100))!;
      expect(batch.nbOfTxs).toBe(5);
      expect(batch.ctrlSumFen).toBe(claims.filter((_, i) => i !== 5).reduce((s, c) => s + c.totalFen, 0));
      await approveBatch(db.pool, finance, batch.id);
      await requestSubmission(db.pool, finance, batch.id);

      expect(await advanceUntilFinal(ctx, batch.id)).toBe('PARTIALLY_ACCEPTED');

      // The file and its seal, where operators and the bank expect them, valid for outside tools.
      const file = path.join(ctx.outDir, `${batch.msgId}.xml`);
      expect(existsSync(`${file}.p7s`)).toBe(true);
      const xml = readFileSync(file, 'utf8');
      expect(xmllint('pain.001.001.03', [xml]).valid).toBe(1);
      expect(checkPain001(xml)).toMatchObject({ nbOfTxs: 5, ctrlSumFen: batch.ctrlSumFen, problems: [] });
      writeFileSync(path.join(ctx.outDir, 'ca.pem'), readFileSync(pki.files.ca));
      const verify = openssl(['cms', '-verify', '-binary', '-inform', 'DER', '-in', `${file}.p7s`, '-content', file, '-CAfile', 'ca.pem', '-purpose', 'any', '-out', '/dev/null'], ctx.outDir);
      expect(verify.output).toContain('Verification successful');

      const credited = await creditedByPayout(db.pool, bank);
      const payouts = await payoutsOf(db.pool);
      const byClaim = new Map(payouts.map((p) => [p.claimId, p]));
      for (const [i, claim] of claims.entries()) {
        const payout = byClaim.get(claim.claimId)!;
        expect(payout.amountFen).toBe(claim.totalFen);
        if (i === 2) expect(payout).toMatchObject({ status: 'FAILED', statusReason: expect.stringContaining('AC04') });
        else if (i === 4) expect(payout).toMatchObject({ status: 'FAILED', statusReason: expect.stringContaining('AC01') });
        else if (i === 5) expect(payout).toMatchObject({ status: 'HELD', statusReason: expect.stringContaining('no bank account') });
        else expect(payout.status).toBe('PAID');
        expect(credited.get(payout.id)).toBe(payout.status === 'PAID' ? claim.totalFen : undefined);
      }
      const { rows: lines } = await db.pool.query<{ claimId: number; status: string }>(
        `SELECT claim_id AS "claimId", status FROM benefit_lines WHERE claim_id = ANY($1::bigint[]) AND coalesce(adjusted_fen, amount_fen) > 0`, [claims.map((c) => c.claimId)],
      );
      for (const line of lines) expect(line.status).toBe(byClaim.get(line.claimId)!.status === 'PAID' ? 'PAID' : 'APPROVED');

      // Only the bank's rejection allows a new attempt; the members correct their accounts first.
      const paidOne = byClaim.get(claims[0]!.claimId)!;
      await expect(retryPayout(db.pool, clerk, UNSCOPED, settings, paidOne.id, 'again')).rejects.toThrow(/PAID: only a payout that failed/);
      for (const i of [2, 4]) {
        await setBankCard(db.pool, claims[i]!.memberId, openAccount());
        await retryPayout(db.pool, clerk, UNSCOPED, settings, byClaim.get(claims[i]!.claimId)!.id, 'member gave a new account');
      }
      await setBankCard(db.pool, claims[5]!.memberId, openAccount());
      const second = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, second.id)).toBe('ACCEPTED');

      const after = await payoutsOf(db.pool);
      expect(after.every((p) => p.status === 'PAID')).toBe(true);
      const creditedAfter = await creditedByPayout(db.pool, bank);
      expect(creditedAfter.size).toBe(6);
      for (const p of after) expect(creditedAfter.get(p.id)).toBe(p.amountFen);
      expect(after.filter((p) => p.attempts === 2).map((p) => p.claimId).sort()).toEqual([claims[2]!.claimId, claims[4]!.claimId].sort());
    } finally {
      ctx.remove();
    }
  });
});

describe('four eyes and the state machine', () => {
  it('refuses approval by the creator or by a non-FINANCE user, in code and in the database', async () => {
    await clear();
    await approvedClaims(db.pool, 2);
    await planPayouts(db.pool, settings);
    const creatorIsFinance = { subject: 'finance-zhao', role: 'FINANCE' };
    const batch = (await createBatch(db.pool, creatorIsFinance, settings, 10))!;
    await expect(approveBatch(db.pool, creatorIsFinance, batch.id)).rejects.toThrow(/created by you/);
    await expect(approveBatch(db.pool, clerk, batch.id)).rejects.toThrow(/needs the role FINANCE/);
    // The database refuses the same, whatever code runs.
    await expect(db.pool.query(
      `UPDATE payout_batches SET status = 'APPROVED', approved_by = created_by, approved_by_role = 'FINANCE', approved_at = now() WHERE id = $1`, [batch.id],
    )).rejects.toThrow(/check constraint/);
    await expect(db.pool.query(
      `UPDATE payout_batches SET status = 'APPROVED', approved_by = 'someone', approved_by_role = 'ADMIN', approved_at = now() WHERE id = $1`, [batch.id],
    )).rejects.toThrow(/check constraint/);
    await expect(db.pool.query(`UPDATE payout_batches SET status = 'SUBMITTED' WHERE id = $1`, [batch.id])).rejects.toThrow(/DRAFT -> SUBMITTED is not an allowed transition/);

    // A second live attempt for a payout cannot exist.
    await expect(db.pool.query(
      `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc,
                                    creditor_account_masked, creditor_agent, remittance_info)
       SELECT payout_id, attempt_no + 1, batch_id, end_to_end_id || 'X', amount_fen, creditor_name, creditor_account_enc,
              creditor_account_masked, creditor_agent, remittance_info FROM payout_attempts WHERE batch_id = $1 LIMIT 1`, [batch.id],
    )).rejects.toThrow(/payout_attempts_live/);

    // Cancelling puts the payouts back for another batch; a cancelled batch stays cancelled.
    await cancelBatch(db.pool, clerk, settings, batch.id, 'wrong value date');
    expect((await payoutsOf(db.pool)).map((p) => p.status)).toEqual(['READY', 'READY']);
    await expect(approveBatch(db.pool, finance, batch.id)).rejects.toSatisfy((e) => e instanceof DomainError && e.code === 'CONFLICT');
    const again = (await createBatch(db.pool, creatorIsFinance, settings, 10))!;
    await approveBatch(db.pool, finance, again.id);
    const { rows } = await db.pool.query(`SELECT status, approved_by FROM payout_batches WHERE id = $1`, [again.id]);
    expect(rows[0]).toEqual({ status: 'APPROVED', approved_by: 'finance-wang' });
  });
});

describe('a claim reversed after its batch was approved', () => {
  it('leaves the batch before sealing: the rest is paid, it is never sent, the totals follow', async () => {
    await clear();
    const claims = await approvedClaims(db.pool, 3);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      await planPayouts(db.pool, settings);
      const batch = (await createBatch(db.pool, clerk, settings, 10))!;
      await approveBatch(db.pool, finance, batch.id);
      await requestSubmission(db.pool, finance, batch.id);
      // The settlement is reversed (2305) before the workers seal: its claim and unpaid lines are cancelled.
      await db.pool.query(`UPDATE claims SET status = 'CANCELLED', decided_by = 'reversal', decision_reason = 'settlement reversed' WHERE id = $1`, [claims[1]!.claimId]);
      await db.pool.query(`UPDATE benefit_lines SET status = 'CANCELLED' WHERE claim_id = $1`, [claims[1]!.claimId]);

      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const { rows: [sealed] } = await db.pool.query(`SELECT nb_of_txs AS n, ctrl_sum_fen AS sum FROM payout_batches WHERE id = $1`, [batch.id]);
      expect(sealed).toMatchObject({ n: 2, sum: claims[0]!.totalFen + claims[2]!.totalFen });
      expect(checkPain001((await sealedFile(db.pool, batch.id))!)).toMatchObject({ nbOfTxs: 2, ctrlSumFen: sealed.sum, problems: [] });
      const payouts = new Map((await payoutsOf(db.pool)).map((p) => [p.claimId, p]));
      expect(payouts.get(claims[1]!.claimId)).toMatchObject({ status: 'CANCELLED', statusReason: expect.stringContaining('cancelled after the batch was approved') });
      const credited = await creditedByPayout(db.pool, bank);
      expect([...credited.values()].sort()).toEqual([claims[0]!.totalFen, claims[2]!.totalFen].sort());
      const { rows: audit } = await db.pool.query(`SELECT details FROM audit_log WHERE action = 'payout.batch.withdraw'`);
      expect(audit[0].details.claims).toEqual([{ claimId: claims[1]!.claimId, status: 'CANCELLED', amountFen: claims[1]!.totalFen }]);
    } finally {
      ctx.remove();
    }
  });
});

describe('a batch approved days before it is sent', () => {
  it('asks the bank to execute it on the day it is sealed and sent, not the day it was made', async () => {
    await clear();
    await approvedClaims(db.pool, 1);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      // Made three days ago and left approved: only now submitted.
      const { rows: [made] } = await db.pool.query<{ day: string }>(
        `UPDATE payout_batches SET requested_execution_date = requested_execution_date - 3 WHERE id = $1 RETURNING requested_execution_date::text AS day`, [batch.id],
      );
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const today = chinaToday();
      expect(made!.day < today).toBe(true);
      expect(/<ReqdExctnDt>([^<]+)<\/ReqdExctnDt>/.exec((await sealedFile(db.pool, batch.id))!)?.[1]).toBe(today);
      const { rows: [row] } = await db.pool.query(`SELECT requested_execution_date::text AS day FROM payout_batches WHERE id = $1`, [batch.id]);
      expect(row.day).toBe(today);
    } finally {
      ctx.remove();
    }
  });
});

describe('a payee\'s name the bank\'s file cannot carry', () => {
  it('fails that payment alone at sealing, with the reason: the rest of the batch is sealed and paid, and no later batch sticks on it', async () => {
    await clear();
    const claims = await approvedClaims(db.pool, 4);
    // Written straight in the database, as a row from before names were checked so could be.
    const names: [number, string, string][] = [
      [1, '张\t三', 'must not contain control characters or line breaks'],
      [2, '泉'.repeat(47), 'is 141 bytes (utf8), the bank accepts at most 140'],
      [3, '张三\uFFFF', 'must not contain U+FFFF: XML 1.0 does not allow it'],
    ];
    for (const [i, name] of names) await db.pool.query(`UPDATE members SET name = $2 WHERE id = $1`, [claims[i]!.memberId, name]);
    const bank = await startBank(pki);
    const ctx = submissionContext(db.pool, pki, bank);
    try {
      const batch = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, batch.id)).toBe('ACCEPTED');
      const xml = (await sealedFile(db.pool, batch.id))!;
      expect(xmllint('pain.001.001.03', [xml]).valid).toBe(1);
      expect(checkPain001(xml)).toMatchObject({ nbOfTxs: 1, ctrlSumFen: claims[0]!.totalFen, problems: [] });
      const payouts = new Map((await payoutsOf(db.pool)).map((p) => [p.claimId, p]));
      expect(payouts.get(claims[0]!.claimId)!.status).toBe('PAID');
      for (const [i, , reason] of names) {
        expect(payouts.get(claims[i]!.claimId)).toMatchObject({
          status: 'FAILED', statusReason: `the member's name ${reason}, so the bank's file cannot carry it: correct the name, then retry the payout`,
        });
      }
      expect([...(await creditedByPayout(db.pool, bank)).values()]).toEqual([claims[0]!.totalFen]);
      const { rows: [audit] } = await db.pool.query(`SELECT reason, details FROM audit_log WHERE action = 'payout.batch.withdraw' AND target_id = $1`, [batch.msgId]);
      expect(audit.reason).toBe("names the bank's file cannot carry");
      expect(audit.details.nameRefused.map((r: { reason: string }) => r.reason)).toEqual(names.map(([, , reason]) => reason));
      expect(JSON.stringify(audit.details)).not.toContain('泉泉');
      // Nothing waits to be taken first by the next batch.
      expect(await createBatch(db.pool, clerk, settings, 100)).toBeNull();

      // Retried uncorrected, it leaves its batch again (emptied: cancelled); corrected and retried, it is paid.
      const tab = payouts.get(claims[1]!.claimId)!;
      await retryPayout(db.pool, clerk, UNSCOPED, settings, tab.id, 'tried again');
      const uncorrected = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, uncorrected.id)).toBe('CANCELLED');
      const { rows: [cancelled] } = await db.pool.query(`SELECT cancel_reason FROM payout_batches WHERE id = $1`, [uncorrected.id]);
      expect(cancelled.cancel_reason).toContain('a name the file cannot carry');
      expect((await payoutsOf(db.pool)).find((p) => p.id === tab.id)).toMatchObject({ status: 'FAILED', attempts: 2 });
      await db.pool.query(`UPDATE members SET name = '张三' WHERE id = $1`, [claims[1]!.memberId]);
      await retryPayout(db.pool, clerk, UNSCOPED, settings, tab.id, 'name corrected');
      const corrected = await approvedBatch(db.pool);
      expect(await advanceUntilFinal(ctx, corrected.id)).toBe('ACCEPTED');
      expect((await creditedByPayout(db.pool, bank)).get(tab.id)).toBe(claims[1]!.totalFen);
    } finally {
      ctx.remove();
    }
  });
});
