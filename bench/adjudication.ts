/**
 * Adjudication rate: 100,000 MATCHED settlements (40,000 members in 1,000 units, so most members
 * have several claims and share locks) through the real job — BullMQ queue, worker, batched
 * transactions with the member-year rows locked — in a schema of its own, dropped afterwards.
 * `npx tsx bench/adjudication.ts` (SETTLEMENTS=n, MEMBERS=n, CONCURRENCY=n to change the size).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { config } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { verifyAuditChain } from '../src/audit/audit.ts';
import { reportFigures, rounded } from './_report.ts';
import * as benefits from '../jobs/benefits.ts';
import { closeQueues, createQueue, createQueues, QUEUE_NAMES } from '../src/queues.ts';
import { enqueueAdjudications } from '../src/benefits/queue.ts';
import { ensureShippedRuleSets } from '../src/benefits/catalogue.ts';

const settlements = Number(process.env.SETTLEMENTS ?? 100_000);
const members = Number(process.env.MEMBERS ?? 40_000);
const units = 1_000;
const concurrency = Number(process.env.CONCURRENCY ?? 8); // jobs held at once, each a batch (as `hub work`)
const maxBatch = Number(process.env.MAX_BATCH ?? 100);

const schema = `bench_${randomBytes(4).toString('hex')}`;
const prefix = `bench-${randomBytes(4).toString('hex')}`;
const databaseUrl = config().DATABASE_URL;
await migrate({ databaseUrl, schema });
const db = createPool({ connectionString: databaseUrl, schema, max: 8 });
const redis = new Redis(config().REDIS_URL, { maxRetriesPerRequest: null });
const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

try {
  let started = process.hrtime.bigint();
  await db.query(`INSERT INTO units (credit_code, name, plan_type, terms_confirmed)
                  SELECT lpad(i::text, 18, '0'), 'unit ' || i, CASE WHEN i % 3 = 0 THEN 'PRIVATE' ELSE 'PUBLIC' END, true
                    FROM generate_series(1, $1) i`, [units]);
  await db.query(`INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender)
                  SELECT 1 + i % $2, 'member ' || i, '\\x00', sha256(i::text::bytea), '3505**********0000', '1980-01-01', 'F'
                    FROM generate_series(1, $1) i`, [members, units]);
  await db.query(`INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
                  SELECT m.id, m.unit_id, 2025, u.plan_type, m.id % 5 = 0, '2025-01-01',
                         CASE WHEN m.id % 50 = 0 THEN date '2025-01-01' ELSE date '2020-01-01' END
                    FROM members m JOIN units u ON u.id = m.unit_id`);
  // Every unit but each 100th has paid (their members' claims are INELIGIBLE).
  await db.query(`INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
                  SELECT id, 2025, 100000000, 'B' || id, '2025-01-10', 'MANUAL', 'bench' FROM units WHERE id % 100 <> 0`);
  await db.query(`INSERT INTO settlement_sources (name, kind) VALUES ('bench', 'FILE')`);
  await db.query(
    `INSERT INTO settlements (source, setl_id, infno, kind, mdtrt_id, psn_no, psn_name_enc, psn_name_masked, certno_enc, certno_hash,
                              certno_masked, insutype, med_type, setl_time, diagnoses, medfee_sumamt, fulamt_ownpay_amt, overlmt_selfpay,
                              fund_pay_sumamt, psn_part_amt, acct_pay, psn_cash_pay, raw_enc, status, member_id, enrolment_id, unit_id, matched_at)
     SELECT 'bench', 'B' || i, '2304', 'SETTLEMENT', 'M' || i, 'P' || i, '\\x00', '*', '\\x00', '\\x00', '*', '310',
            CASE WHEN i % 10 = 0 THEN '11' ELSE '21' END,
            timestamptz '2025-01-01 00:00:00+08' + (i % 360) * interval '1 day' + (i % 86400) * interval '1 second',
            CASE WHEN i % 7 = 0 THEN ARRAY['C34.1'] ELSE ARRAY['J18.9'] END,
            p.psn * 2, p.psn / 5, 0, p.psn, p.psn, 0, p.psn, '\\x00', 'MATCHED', e.member_id, e.id, e.unit_id, now()
       FROM generate_series(1, $1) i
       CROSS JOIN LATERAL (SELECT (500000 + (i * 7919) % 8000000)::bigint AS psn) p
       JOIN enrolments e ON e.member_id = 1 + (i * 31) % $2`,
    [settlements, members],
  );
  await db.query('ANALYZE');
  await ensureShippedRuleSets(db);
  const seedSeconds = seconds(started);
  console.log(`seeded ${settlements} matched settlements of ${members} members in ${units} units in ${seedSeconds.toFixed(1)} s`);

  const { rows: ids } = await db.query<{ id: number }>(`SELECT id FROM settlements ORDER BY id`);
  const queue = createQueue(QUEUE_NAMES.claimAdjudication, redis, prefix);
  started = process.hrtime.bigint();
  await enqueueAdjudications(queue, ids.map((r) => r.id));
  const enqueueSeconds = seconds(started);
  console.log(`enqueued ${ids.length} adjudication jobs in ${enqueueSeconds.toFixed(1)} s`);

  started = process.hrtime.bigint();
  const queues = createQueues(redis, prefix);
  const [worker] = await benefits.start({
    db, connection: redis, prefix, queues, announce: async () => undefined,
    adjudication: { concurrency, maxBatch, autoApproveMaxFen: 1_000_000, onDecided: async () => undefined },
  });
  for (;;) {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM claims`);
    if (rows[0]!.n >= settlements) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const elapsed = seconds(started);
  await worker!.close();
  await closeQueues(queues);
  await queue.obliterate({ force: true });
  await queue.close();

  const { rows: byStatus } = await db.query<{ status: string; n: number; total: number }>(
    `SELECT status, count(*)::int AS n, sum(total_fen)::bigint AS total FROM claims GROUP BY status ORDER BY status`,
  );
  const { rows: overCap } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM member_year_totals WHERE inpatient_fen > 5000000 OR critical_fen > 15000000`,
  );
  const audit = await verifyAuditChain(db);
  console.log(`claims by status: ${byStatus.map((r) => `${r.status} ${r.n} (${(r.total / 100).toFixed(2)} CNY)`).join(', ')}`);
  console.log(`members over an annual cap: ${overCap[0]!.n}; audit chain ${audit.rows} rows, ${audit.firstBroken ? `BROKEN at ${audit.firstBroken.seq}` : 'intact'}`);
  console.log(`adjudication through the job: ${settlements} settlements in ${elapsed.toFixed(1)} s = ${Math.round(settlements / elapsed)} adjudications/s (worker concurrency ${concurrency}, batches of at most ${maxBatch}, target ≥ 2,000/s)`);
  reportFigures(import.meta.url, {
    settlements, members, units, concurrency, maxBatch, seedSeconds: rounded(seedSeconds, 1), enqueueSeconds: rounded(enqueueSeconds, 1),
    adjudicateSeconds: rounded(elapsed, 1), adjudicationsPerSecond: rounded(settlements / elapsed),
    claimsByStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
    claimsCnyByStatus: Object.fromEntries(byStatus.map((r) => [r.status, rounded(r.total / 100, 2)])),
    membersOverAnnualCap: overCap[0]!.n, auditRows: audit.rows, auditFirstBrokenSeq: audit.firstBroken ? audit.firstBroken.seq : null,
  });
} finally {
  await db.query(`DROP SCHEMA ${schema} CASCADE`);
  await db.end();
  const left = await redis.keys(`${prefix}:*`);
  if (left.length) await redis.del(...left);
  redis.disconnect();
}
