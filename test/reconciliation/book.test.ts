import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/pool.ts';
import { analyzePayouts } from '../../src/payouts/store/payouts.ts';
import type { Tx } from '../../src/kernel/transaction.ts';
import { openPayoutsOfAmounts, planForChunks, referencedPayouts, undebitedPayouts } from '../../src/reconciliation/store/runs.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { rowsReadSoFar } from '../support/workCount.ts';

/**
 * A chunk's book among a long history: the attempts of past months, paid and settled in batches of a
 * thousand, outnumber the chunk's keys some seventy to one. Its candidates are found by probing the
 * indexes with those keys, not by reading every attempt ever made (which made a statement's book
 * grow with the history: bench/README.md). The same for the closing step's search for payments
 * credited whose debit has not come.
 */
const ACCOUNT = '1408010109024561234';
const HISTORY = 100_000;
const KEYS = 1_500;

let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
  const client = await db.pool.connect();
  try {
    // Written straight into the tables, their claims and members left out: this is the shape of the data, not the pipeline.
    await client.query('SET session_replication_role = replica');
    await client.query(
      `WITH b AS (
         INSERT INTO payout_batches (msg_id, pmt_inf_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date, status,
                                     nb_of_txs, ctrl_sum_fen, created_by, created_by_role, approved_by, approved_by_role, approved_at, file_xml, file_sha256, seal, funder_id)
         SELECT 'MAH-B-' || j, 'MAH-B-' || j || '-P1', 'BATCH', $2, 'union', '102100099996', '2025-06-03', 'SETTLED', 1000, 1, 'clerk', 'ADMIN', 'finance', 'FINANCE', now(),
                '<x/>', '\\x00', '\\x00', (SELECT id FROM funders WHERE code = 'UNION')
           FROM generate_series(0, ($1 - 1) / 1000) AS j
         RETURNING id, msg_id),
       p AS (
         INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, paid_at, settled_at, funder_id)
         SELECT k, 1, 1, 10000 + k * 7, 'SETTLED', now(), now(), (SELECT id FROM funders WHERE code = 'UNION') FROM generate_series(1, $1) AS k
         RETURNING id, claim_id, amount_fen)
       INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc,
                                    creditor_account_masked, creditor_agent, remittance_info, status, bank_reference, status_at)
       SELECT p.id, 1, b.id, 'MAH-P-' || p.claim_id || '-1', p.amount_fen, '会员' || p.claim_id, '\\x00', '6222 **** **** 4565',
              '102397000023', '住院医疗互助金', 'PAID', 'SIMD' || p.claim_id, now()
         FROM p JOIN b ON b.msg_id = 'MAH-B-' || (p.claim_id - 1) / 1000`,
      [HISTORY, ACCOUNT],
    );
    await client.query('ANALYZE payouts, payout_attempts, payout_batches');
  } finally {
    await client.query('RESET session_replication_role');
    client.release();
  }
});

afterAll(async () => {
  await db?.drop();
});

/** Rows of payout_attempts this backend has read so far in its transaction (so a difference counts its reads): by scanning the table, and in all (through an index too). */
const attemptsReadSoFar = (tx: Tx) => rowsReadSoFar(tx, 'payout_attempts');

/** The newest KEYS attempts looked up by their keys, as a chunk of today's statement names them: how many were found, and how many attempt rows the lookup read by scanning the table. */
async function lookUp(tx: Tx): Promise<{ found: number; scanned: number }> {
  const newest = Array.from({ length: KEYS }, (_, i) => HISTORY - i);
  const before = (await attemptsReadSoFar(tx)).scanned;
  const named = await referencedPayouts(tx, { endToEndIds: newest.map((n) => `MAH-P-${n}-1`), references: newest.map((n) => `SIMD${n}`), batchIds: [] });
  // No debit of theirs is matched here, so the amount rule finds the same attempts again.
  const open = await openPayoutsOfAmounts(tx, ACCOUNT, newest.map((n) => 10_000 + n * 7));
  return { found: new Set([...named, ...open].map((p) => p.attemptId)).size, scanned: (await attemptsReadSoFar(tx)).scanned - before };
}

describe("a chunk's book among a long history", () => {
  it("reads the whole history at PostgreSQL's default pricing, which is why the chunks plan otherwise", async () => {
    const looked = await inTransaction(db.pool, async (tx) => {
      await tx.query("SELECT set_config('jit', 'off', true)");
      return lookUp(tx);
    });
    expect(looked.found).toBe(KEYS);
    // At least the leader's share of it: parallel workers' reads are counted in their own backends.
    expect(looked.scanned).toBeGreaterThan(0);
  });

  it('is found by index probes: no attempt is read by a scan of the whole table', async () => {
    const looked = await inTransaction(db.pool, async (tx) => {
      await planForChunks(tx);
      return lookUp(tx);
    });
    expect(looked).toEqual({ found: KEYS, scanned: 0 });
  });
});

describe('the closing step among a long history', () => {
  it("finds the payments credited whose debit has not come, reading today's attempts, not the settled ones of past months", async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      // The history as the statements of past months left it: every attempt's debit matched (their entries left out).
      await client.query('SET LOCAL session_replication_role = replica');
      await client.query(`INSERT INTO reconciliation_matches (entry_id, tx_index, kind, rule, payout_attempt_id, amount_fen, matched_by)
                          SELECT 0, 0, 'PAYOUT', 'END_TO_END_ID', id, amount_fen, 'statement' FROM payout_attempts`);
      // Today: four payments the bank credited, one of them already debited on a statement (settling pending), and one
      // credited from another account.
      await client.query(
        `WITH b AS (
           INSERT INTO payout_batches (msg_id, pmt_inf_id, channel, debtor_account, debtor_name, debtor_agent, requested_execution_date, status,
                                       nb_of_txs, ctrl_sum_fen, created_by, created_by_role, approved_by, approved_by_role, approved_at, file_xml, file_sha256, seal, funder_id)
           SELECT 'MAH-T-' || k, 'MAH-T-' || k || '-P1', 'BATCH', CASE WHEN k = 5 THEN '6222000000000000001' ELSE $1 END, 'union', '102100099996',
                  '2025-07-01', 'ACCEPTED', 1, 1, 'clerk', 'ADMIN', 'finance', 'FINANCE', now(), '<x/>', '\\x00', '\\x00', (SELECT id FROM funders WHERE code = 'UNION')
             FROM generate_series(1, 5) AS k
           RETURNING id, msg_id),
         p AS (
           INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status, paid_at, funder_id)
           SELECT $2 + k, 1, 1, 5000 + k, 'PAID', now(), (SELECT id FROM funders WHERE code = 'UNION') FROM generate_series(1, 5) AS k
           RETURNING id, claim_id, amount_fen)
         INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc,
                                      creditor_account_masked, creditor_agent, remittance_info, status, status_at)
         SELECT p.id, 1, b.id, 'MAH-T-' || (p.claim_id - $2) || '-1', p.amount_fen, '会员', '\\x00', '6222 **** **** 4565', '102397000023', '住院医疗互助金', 'PAID', now()
           FROM p JOIN b ON b.msg_id = 'MAH-T-' || (p.claim_id - $2)`,
        [ACCOUNT, HISTORY],
      );
      await client.query(`INSERT INTO reconciliation_matches (entry_id, tx_index, kind, rule, payout_attempt_id, amount_fen, matched_by)
                          SELECT 0, 0, 'PAYOUT', 'END_TO_END_ID', id, amount_fen, 'statement' FROM payout_attempts WHERE end_to_end_id = 'MAH-T-4-1'`);
      // The planner's figures taken while the history was still PAID, as they stand when a statement has just settled it.
      await client.query(`UPDATE payouts SET status = 'PAID', settled_at = NULL WHERE claim_id <= $1`, [HISTORY]);
      await client.query('ANALYZE payouts, payout_attempts, payout_batches, reconciliation_matches');
      await client.query(`UPDATE payouts SET status = 'SETTLED', settled_at = now() WHERE claim_id <= $1`, [HISTORY]);
      await client.query('SET LOCAL session_replication_role = origin');
      // What a run does after settling many payouts at once.
      await analyzePayouts(client);

      const tx = client as Tx;
      const before = await attemptsReadSoFar(tx);
      const undebited = await undebitedPayouts(tx, ACCOUNT);
      const after = await attemptsReadSoFar(tx);
      expect(undebited.map((p) => p.endToEndId).sort()).toEqual(['MAH-T-1-1', 'MAH-T-2-1', 'MAH-T-3-1']);
      expect(after.scanned - before.scanned).toBe(0);
      // Today's five paid attempts and the planner's few probes of the indexes' ends, whatever the history. When the
      // search began from every PAID attempt, or the planner was not told the history is settled now, it read
      // the history by scans.
      expect(after.read - before.read).toBeLessThan(100);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
