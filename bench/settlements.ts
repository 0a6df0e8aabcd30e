/**
 * Settlement ingestion end to end: the platform simulator (its own process, over HTTP) serves
 * 100,000 settlements; settlement workers pull them page by page, validate, encrypt and store them
 * (multi-row INSERT ... ON CONFLICT DO NOTHING), enqueue one match job each (addBulk), and match
 * them to members and enrolments. The figure: settlements per second from the first request until
 * every one is stored and decided. Target: at least 2,000/s on a 2-core machine.
 *
 * The workers run as WORKERS processes (default 2, as `hub work` would be deployed: the pull chain
 * runs in one at a time, match jobs spread over all). Only the settlement workers run: the match
 * step hands MATCHED settlements on to adjudication (its jobs are enqueued), whose processing
 * bench/adjudication.ts measures.
 * `npm run bench -- settlements` or `npx tsx bench/settlements.ts` (SETTLEMENTS, MEMBERS, PAGE, WORKERS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { config } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { log } from '../src/log.ts';
import { personalDataKeys } from '../src/privacy/personalData.ts';
import { importRoster } from '../src/members/rosterImport.ts';
import { demoSample, ROSTER_HEADER, rosterLine } from '../src/demo/sampleData.ts';
import * as store from '../src/settlements/store.ts';
import * as settlements from '../jobs/settlements.ts';
import { workerServices } from '../jobs/services.ts';
import { reportFigures, rounded, type Figure } from './_report.ts';
import { chinaToday } from '../src/kernel/time.ts';
import { closeQueues, createQueues } from '../src/queues.ts';
import { enqueueSettlementPull } from '../src/settlements/queue.ts';
import { dropScratch } from './_scratch.ts';

const cfg = config();
const keys = personalDataKeys(cfg.PII_KEY, cfg.PII_HASH_KEY);
const self = fileURLToPath(import.meta.url);

/** Settlement workers over the bench's schema and queue prefix, until SIGTERM. */
async function runWorkers(schema: string, prefix: string) {
  const db = createPool({ connectionString: cfg.DATABASE_URL, schema, max: 10 });
  const redis = new Redis(cfg.REDIS_URL, { maxRetriesPerRequest: null });
  const services = workerServices({ db, keys, connection: redis, prefix, log, payouts: null });
  const workers = await settlements.start(services);
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await closeQueues(services.queues);
      redis.disconnect();
      await db.end();
    },
  };
}

if (process.env.BENCH_WORKER_OF) {
  const [schema, prefix] = process.env.BENCH_WORKER_OF.split(' ') as [string, string];
  const workers = await runWorkers(schema, prefix);
  process.send?.('ready');
  process.once('SIGTERM', () => void workers.close().then(() => process.exit(0)));
} else {
  await main();
}

async function main() {
  const settlements = Number(process.env.SETTLEMENTS ?? 100_000);
  const memberCount = Number(process.env.MEMBERS ?? 20_000);
  const pageSize = Number(process.env.PAGE ?? 1000);
  const processes = Number(process.env.WORKERS ?? 2);
  const port = 4790 + Math.floor(Math.random() * 100);
  const today = chinaToday();
  const thisYear = Number(today.slice(0, 4));

  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  await migrate({ databaseUrl: cfg.DATABASE_URL, schema });
  const db = createPool({ connectionString: cfg.DATABASE_URL, schema, max: 4 });
  const redis = new Redis(cfg.REDIS_URL, { maxRetriesPerRequest: null });

  // The members `hub sim insurance --demo-members` settles for, enrolled for last year and this year.
  const { units, members } = demoSample(memberCount);
  await db.query(
    `INSERT INTO units (credit_code, name, plan_type) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
    [units.map((u) => u.creditCode), units.map((u) => u.name), units.map((u) => u.planType)],
  );
  for (const year of [thisYear - 1, thisYear]) {
    const { rows } = await db.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('bench.csv', '\\x', 'bench') RETURNING id`);
    await importRoster(db, keys, ROSTER_HEADER + members.map((m, i) => rosterLine(m, year, i % 7 === 0)).join(''), { importId: rows[0]!.id, today: `${year}-01-05` });
  }

  const hub = fileURLToPath(new URL('../bin/hub.mjs', import.meta.url));
  const simulator = spawn(process.execPath, [hub, 'sim', 'insurance', '--port', String(port), '--count', String(settlements),
    '--demo-members', String(memberCount), '--seed', '7', '--today', today], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(simulator.stdout!, 'data')) as [Buffer];
  const url = /(http:\S+)/.exec(line.toString())![1]!;

  const others: ChildProcess[] = [];
  for (let i = 1; i < processes; i++) {
    const child = spawn(process.execPath, ['--import', 'tsx', self], {
      env: { ...process.env, BENCH_WORKER_OF: `${schema} ${prefix}` }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await once(child, 'message');
    others.push(child);
  }
  const workers = await runWorkers(schema, prefix);
  const queues = createQueues(redis, prefix);
  let exitCode = 0;
  let figures: Record<string, Figure>;
  try {
    await store.upsertSource(db, { name: 'bench', kind: 'PLATFORM', endpoint: url, pageSize, pollSeconds: null });
    const started = performance.now();
    await enqueueSettlementPull(queues.settlementPull, 'bench', null);
    let counts: Awaited<ReturnType<typeof store.sourceCounts>>[number];
    for (;;) {
      [counts] = (await store.sourceCounts(db, ['bench'])) as [typeof counts];
      const source = await store.sourceByName(db, 'bench');
      if (source?.cursor === String(settlements) && counts.received === 0) break;
      if (source?.lastError) throw new Error(`pull failed: ${source.lastError}`);
      await sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    const rate = Math.round(settlements / seconds);
    console.log(`settlements: ${settlements} records from the simulator over HTTP (pages of ${pageSize}) for ${memberCount} members, ${processes} worker processes`);
    console.log(`  stored ${counts.total} (matched ${counts.matched}, unmatched ${counts.unmatched}, duplicate ${counts.duplicate}), rejected ${counts.openRejections}`);
    console.log(`  ${seconds.toFixed(1)} s end to end: ${rate} settlements/s (target ≥ 2,000/s)`);
    figures = {
      settlements, members: memberCount, pageSize, workerProcesses: processes, stored: counts.total, matched: counts.matched, unmatched: counts.unmatched,
      duplicate: counts.duplicate, rejected: counts.openRejections, seconds: rounded(seconds, 1), settlementsPerSecond: rate,
    };
    if (counts.total + counts.openRejections !== settlements) throw new Error('some records are neither stored nor rejected');
    if (rate < 2000) exitCode = 1;
  } finally {
    for (const child of others) child.kill('SIGTERM');
    await Promise.all(others.map((child) => once(child, 'exit')));
    await workers.close();
    await closeQueues(queues);
    simulator.kill('SIGTERM');
    await db.end();
    await dropScratch(cfg.DATABASE_URL, schema, { redis, prefix });
  }
  // After the finally: the other worker processes (sharing this stdout) have exited.
  reportFigures(import.meta.url, figures);
  process.exit(exitCode);
}
