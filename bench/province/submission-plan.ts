/**
 * Reproduces what dominated the province bench's "submit to bank sim" step: the statement of
 * `payoutsTo` (src/payouts/submission.ts) that marks a batch's payouts PAID after the bank's
 * pain.002, EXPLAINed with the statistics a payout run leaves behind (payouts last analyzed while
 * READY, so `status IN ('SENT', 'IN_BATCH')` is estimated at 1 row when every payout in flight
 * matches), then after ANALYZE. Its own schema, dropped afterwards; nothing is changed.
 * `npx tsx bench/province/submission-plan.ts` (PAYOUTS=40000 in batches of 5,000).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { config } from '../../src/config.ts';
import { migrate } from '../../src/db/migrate.ts';

const PAYOUTS = Number(process.env.PAYOUTS ?? 40_000);
const BATCH = 5_000;
const databaseUrl = config().DATABASE_URL;
const schema = `bench_plan_${randomBytes(3).toString('hex')}`;
await migrate({ databaseUrl, schema });
const client = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${schema},public` });
await client.connect();
try {
  // Rows straight into the tables (foreign keys and triggers off): only the plan of one statement is looked at.
  await client.query('SET session_replication_role = replica');
  await client.query(`INSERT INTO payouts (claim_id, member_id, unit_id, amount_fen, status) SELECT i, i, 1, 1000 + i, 'READY' FROM generate_series(1, $1) i`, [PAYOUTS]);
  await client.query('ANALYZE payouts'); // as after planPayouts: every payout READY
  await client.query(
    `INSERT INTO payout_attempts (payout_id, attempt_no, batch_id, end_to_end_id, amount_fen, creditor_name, creditor_account_enc,
                                  creditor_account_masked, creditor_agent, remittance_info, status)
     SELECT p.id, 1, 1 + (p.id - 1) / $1, 'E' || p.id, p.amount_fen, 'n', '\\x00', 'm', '102397000023', 'r', 'SENT' FROM payouts p`,
    [BATCH],
  );
  await client.query(`UPDATE payouts SET status = 'SENT'`); // every batch created and sent
  const batchId = 3;
  const { rows } = await client.query<{ id: string }>('SELECT id FROM payout_attempts WHERE batch_id = $1 ORDER BY id', [batchId]);
  const attemptIds = rows.map((r) => Number(r.id));
  // The statement of payoutsTo(tx, batchId, 'PAID', "status IN ('SENT', 'IN_BATCH')", null, attemptIds).
  const statement = `UPDATE payouts p SET status = $2, status_reason = $3, updated_at = now(),
            paid_at = CASE WHEN $2 = 'PAID' THEN now() ELSE p.paid_at END
       FROM payout_attempts a
      WHERE a.batch_id = $1 AND a.payout_id = p.id AND p.status IN ('SENT', 'IN_BATCH') AND a.id = ANY($4::bigint[])
      RETURNING p.id AS "payoutId", p.member_id AS "memberId", p.unit_id AS "unitId", p.status`;
  for (const when of ['statistics as a payout run leaves them', 'after ANALYZE payouts, payout_attempts']) {
    if (when.startsWith('after')) await client.query('ANALYZE payouts; ANALYZE payout_attempts');
    await client.query('BEGIN');
    const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement}`, [batchId, 'PAID', null, attemptIds]);
    await client.query('ROLLBACK');
    console.log(`-- ${PAYOUTS.toLocaleString('en')} payouts in flight, one batch of ${attemptIds.length.toLocaleString('en')} marked PAID; ${when}`);
    for (const r of plan.rows) console.log(r['QUERY PLAN'].replace(/'\{[0-9,]{100,}\}'/, `'{…${attemptIds.length} ids…}'`));
  }
} finally {
  await client.query(`DROP SCHEMA ${schema} CASCADE`);
  await client.end();
}
