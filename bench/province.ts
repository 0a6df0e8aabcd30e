/**
 * Province scale: a province's roster (10 million members in 50,000 units) and a year of hospital
 * stays through the real code, step by step, in a schema of its own (dropped at the end):
 *
 * 1. import   the roster CSV (generated on disk, streamed) through importRoster;
 * 2. flow     the platform simulator (`hub sim insurance`, its own process, over HTTP) serves a feed
 *             holding STAYS inpatient stays (2304) for a sample of the members, with the outpatient
 *             visits, strangers, reversals and invalid records of its mix around them (about 4.2
 *             items a stay); worker processes, each running what `hub work` runs, pull, validate,
 *             encrypt, store, match and adjudicate them as one flow. WORKERS is a list of process
 *             counts (default 2): each round a fresh source, simulator seed and queue prefix with its
 *             share of the stays;
 * 3. batch    approved claims to payouts (planPayouts), batches of 5,000 created, approved and sealed
 *             (createBatch, approveBatch, sealBatch with the dev seal), then sent to the bank
 *             simulator (`hub sim bank`, advanceBatch) so the bank's pain.002 makes them PAID;
 * 4. reconcile  a camt.053 with one debit per paid payout (writeCamt053), stored (XSD, parse,
 *             entries) and reconciled (reconcileAccount: matched, payouts settled, day proven).
 *
 * One line per step: count, elapsed, rate, peak RSS, load average; under it the evidence: CPU of the
 * bench, of its PostgreSQL backends, of the workers and simulators, and the statements that took
 * the database time. Then the wall time from the import's start to the day reconciled, each step
 * projected to province scale when run smaller, with the floor the hub's CPU sets on the machine's
 * cores (the simulators' left out), and the slowest one named. The PostgreSQL settings in force are
 * printed and reported (docs/operations.md, "PostgreSQL deployment settings"); the bench never
 * changes them.
 *
 * `npm run bench -- province` (MEMBERS=10000000 UNITS=50000 STAYS=200000 WORKERS=2; SAMPLE =
 * members the simulator settles for, default min(MEMBERS, STAYS); KEEP=1 keeps schema and files).
 * The machine's autovacuum may be off: the bench ANALYZEs after each bulk step, as autovacuum would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { config } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { log } from '../src/log.ts';
import { decrypt, personalDataKeys } from '../src/privacy/personalData.ts';
import { importRoster } from '../src/members/rosterImport.ts';
import { ROSTER_HEADER, rosterLine, sampleMembers, sampleUnits } from '../src/demo/sampleData.ts';
import * as store from '../src/settlements/store.ts';
import * as settlements from '../jobs/settlements.ts';
import * as benefits from '../jobs/benefits.ts';
import { workerServices } from '../jobs/services.ts';
import { planPayouts } from '../src/payouts/plan.ts';
import { approveBatch, createBatch, requestSubmission } from '../src/payouts/decisions.ts';
import { sealBatch } from '../src/payouts/sealing.ts';
import { advanceBatch } from '../src/payouts/submission.ts';
import { refusalsAfterPayment } from '../src/reconciliation/refusals.ts';
import { initiatingParty, payoutSettings } from '../src/payouts/settings.ts';
import { writeDevCertificates } from '../certs/devCa.ts';
import { configuredSeal, DEV_SEAL_P12_PASSPHRASE, parseSealSettings } from '../src/seals/settings.ts';
import { configuredBankAdapter } from '../src/banks/settings.ts';
import { writeCamt053 } from '../src/banks/iso20022/camt.ts';
import type { CamtEntry } from '../src/banks/iso20022/camtEntry.ts';
import { importConfirmed } from './_statementImport.ts';
import { reportFigures, rounded, type Figure } from './_report.ts';
import { reconcileAccount } from '../src/reconciliation/run.ts';
import {
  ActivitySampler, activityText, floorSeconds, installSqlTiming, loadText, mark, mb, mergeStatements, n0, processCpuSeconds, processPeakRss, since, sqlText, startSampler,
  workerReport, type StepEvidence, type WorkerReport,
} from './province/measure.ts';
import { chinaToday } from '../src/kernel/time.ts';
import { closeQueues, createQueues, unfinishedJobs } from '../src/queues.ts';
import { enqueueSettlementPull } from '../src/settlements/queue.ts';
import { rosterMembers } from '../src/settlements/cli.ts';
import { feedLengthForStays } from '../src/settlements/simulator/generate.ts';
import { ensureShippedRuleSets } from '../src/benefits/catalogue.ts';
import { publishYearRules } from './_ruleSets.ts';
import { registerSampleUnits } from '../src/members/unitTerms.ts';
import { approver, proposer } from '../jobs/demo/programmes.ts';

// Every pg.Client query of this process is timed (the prototype is patched, so every pool's clients are).
installSqlTiming();

const cfg = config();
const keys = personalDataKeys(cfg.PII_KEY, cfg.PII_HASH_KEY);
const self = fileURLToPath(import.meta.url);
const hub = fileURLToPath(new URL('../bin/hub.mjs', import.meta.url));
const WORKER_POOL = 8;
const POSTGRES_SETTINGS = ['shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_compression', 'synchronous_commit', 'maintenance_work_mem', 'work_mem', 'autovacuum', 'max_connections'];
// Claims up to this total are approved without a reviewer: high, so every claim without a warning
// becomes a payout (a province's reviewers are not part of the benchmark).
const APPROVE_MAX_FEN = Number(process.env.APPROVE_MAX_FEN ?? 1_000_000_000);

interface WorkerSpec {
  schema: string;
  prefix: string;
}

/** A worker process on the bench's schema and queue prefix, until SIGTERM; then it reports its figures. */
async function workerProcess(spec: WorkerSpec): Promise<void> {
  startSampler(1000);
  const db = createPool({ connectionString: cfg.DATABASE_URL, schema: spec.schema, max: WORKER_POOL });
  const redis = new Redis(cfg.REDIS_URL, { maxRetriesPerRequest: null });
  let close: () => Promise<void>;
  // As before the worker contract: decided claims are not announced (nothing subscribes here).
  const services = workerServices({
    db, keys, connection: redis, prefix: spec.prefix, log, payouts: null,
    adjudication: { autoApproveMaxFen: APPROVE_MAX_FEN, onDecided: async () => undefined },
  });
  // As `hub work` runs them: every process pulls, matches and adjudicates.
  const workers = [...await settlements.start(services), ...await benefits.start(services)];
  close = async () => {
    await Promise.all(workers.map((w) => w.close()));
    await closeQueues(services.queues);
  };
  process.send!('ready');
  process.once('SIGTERM', () => {
    void (async () => {
      await close();
      const report = workerReport();
      redis.disconnect();
      await db.end();
      process.send!({ report }, () => process.exit(0));
    })();
  });
}

interface WorkerGroup {
  children: ChildProcess[];
  stop(): Promise<WorkerReport[]>;
}

async function startWorkerGroup(count: number, spec: WorkerSpec): Promise<WorkerGroup> {
  const children: ChildProcess[] = [];
  const reports: Promise<WorkerReport>[] = [];
  for (let i = 0; i < count; i++) {
    const child = spawn(process.execPath, ['--import', 'tsx', self], {
      env: { ...process.env, BENCH_PROVINCE_WORKER: JSON.stringify(spec) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    reports.push(new Promise((resolve, reject) => {
      child.on('message', (m: unknown) => {
        if (typeof m === 'object' && m !== null && 'report' in m) resolve((m as { report: WorkerReport }).report);
      });
      child.once('exit', (code) => reject(new Error(`worker ${child.pid} exited (${code}) without its report`)));
    }));
    reports.at(-1)!.catch(() => undefined);
    const [message] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => ['exit'])])) as [unknown];
    if (message !== 'ready') throw new Error('a worker process did not start');
  }
  return {
    children,
    async stop() {
      for (const child of children) child.kill('SIGTERM');
      return Promise.all(reports);
    },
  };
}

/** A simulator started with `hub ...`: its URL from the first line it prints. */
async function startSimulator(args: string[]): Promise<{ child: ChildProcess; url: string; stop(): { cpu: number | null; peakRss: number | null } }> {
  const child = spawn(process.execPath, [hub, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  child.stdout!.resume();
  const url = /(http:\S+)/.exec(line.toString())?.[1];
  if (!url) throw new Error(`simulator said: ${line.toString()}`);
  return {
    child, url,
    stop() {
      const figures = { cpu: processCpuSeconds(child.pid!), peakRss: processPeakRss(child.pid!) };
      child.kill('SIGTERM');
      return figures;
    },
  };
}

interface StepLine {
  step: string;
  count: number;
  unit: string;
  evidence: StepEvidence;
  /** Peak RSS of the processes besides the bench (workers, simulators), described. */
  others?: string;
  /** CPU of the other processes, described. */
  otherCpu?: string;
  /** CPU seconds of the hub's other processes in the step (workers and their backends; simulators are not the hub's). */
  workerCpu?: number;
}

const lines: StepLine[] = [];

function print(line: StepLine): void {
  lines.push(line);
  const e = line.evidence;
  const rate = line.count / e.seconds;
  console.log(`STEP ${line.step.padEnd(24)} ${n0(line.count).padStart(11)} ${line.unit.padEnd(12)} ${e.seconds.toFixed(1).padStart(8)} s ` +
    `${n0(rate).padStart(8)} ${line.unit}/s  peak RSS ${mb(e.peakRss)}${line.others ? ` (${line.others})` : ''}  load ${loadText(e.load)}`);
  console.log(`     cpu: bench ${e.ownCpu.toFixed(1)} s, its PostgreSQL backends ${e.backendCpu.toFixed(1)} s${line.otherCpu ? `, ${line.otherCpu}` : ''}; ` +
    `machine ${(e.machineBusy * 100).toFixed(0)}% busy (2 cores)`);
  if (e.sql.length) console.log(`     SQL time by statement: ${sqlText(e.sql)}`);
  if (e.activity) console.log(`     its PostgreSQL backends, sampled: ${e.activity}`);
}

/** A step's name as a key: 'import roster' → importRoster, 'ingest, 2 worker(s)' → ingest2Workers. */
const stepKey = (step: string) =>
  step.replace('(s)', 's').split(/[^A-Za-z0-9]+/).filter(Boolean).map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join('');

/** Every step's figures of its STEP line, named by step and unit (e.g. importRosterRowsPerSecond). */
function stepFigures(): Record<string, Figure> {
  const figures: Record<string, Figure> = {};
  for (const line of lines) {
    const key = stepKey(line.step);
    const unit = line.unit[0]!.toUpperCase() + line.unit.slice(1);
    figures[`${key}${unit}`] = line.count;
    figures[`${key}Seconds`] = rounded(line.evidence.seconds, 1);
    figures[`${key}${unit}PerSecond`] = Math.round(line.count / line.evidence.seconds);
    figures[`${key}PeakRssMb`] = Math.round(line.evidence.peakRss / 1e6);
    figures[`${key}HubCpuSeconds`] = rounded(hubCpu(line), 1);
  }
  return figures;
}

/** CPU seconds of the hub's work in a step: this process, the workers, and their PostgreSQL backends. */
function hubCpu(line: StepLine): number {
  return line.evidence.ownCpu + line.evidence.backendCpu + (line.workerCpu ?? 0);
}

function workersText(reports: WorkerReport[], sim?: { cpu: number | null; peakRss: number | null }, simName = 'simulator') {
  const own = reports.reduce((s, r) => s + r.ownCpu, 0);
  const backends = reports.reduce((s, r) => s + r.backendCpu, 0);
  return {
    others: `workers ${reports.map((r) => mb(r.peakRss)).join(' + ')}${sim?.peakRss ? `, ${simName} ${mb(sim.peakRss)}` : ''}`,
    otherCpu: `${reports.length} worker process(es) ${own.toFixed(1)} s, their backends ${backends.toFixed(1)} s${sim?.cpu != null ? `, ${simName} ${sim.cpu.toFixed(1)} s` : ''}`,
    workerCpu: own + backends,
  };
}

async function main(): Promise<void> {
  const MEMBERS = Number(process.env.MEMBERS ?? 10_000_000);
  const UNITS = Number(process.env.UNITS ?? 50_000);
  const STAYS = Number(process.env.STAYS ?? 200_000);
  const WORKERS = (process.env.WORKERS ?? '2').split(',').map(Number);
  const SAMPLE = Number(process.env.SAMPLE ?? Math.min(MEMBERS, STAYS));
  const PAGE = Number(process.env.PAGE ?? 1000);
  const BATCH = Number(process.env.BATCH ?? 5000);
  const KEEP = process.env.KEEP === '1';
  if (WORKERS.some((w) => !Number.isInteger(w) || w < 1)) throw new Error('WORKERS: a comma-separated list of process counts, e.g. 1,2,4');
  const today = chinaToday();
  const year = Number(today.slice(0, 4));
  const tag = randomBytes(3).toString('hex');
  const schema = `bench_province_${tag}`;
  const prefixes = WORKERS.map((w, i) => `bench-province-${tag}-r${i + 1}w${w}`);
  const workDir = path.resolve(`.data/bench/province-${tag}`);
  const sampler = startSampler();

  console.log(`province: ${n0(MEMBERS)} members in ${n0(UNITS)} units; ${n0(STAYS)} inpatient stays for ${n0(SAMPLE)} sampled members, ` +
    `in rounds of ${WORKERS.join(', ')} worker process(es); schema ${schema}; load ${loadText(loadavg())}`);

  // ---- roster file (streamed to disk) and the simulator's member sample
  const units = sampleUnits(UNITS, 1);
  mkdirSync('.data/bench', { recursive: true });
  const rosterFile = path.resolve(`.data/bench/province-roster-${MEMBERS}-${UNITS}-${year}.csv`);
  const sampleFile = path.resolve(`.data/bench/province-sample-${MEMBERS}-${UNITS}-${SAMPLE}-${year - 1}.csv`);
  if (!existsSync(rosterFile) || !existsSync(sampleFile)) {
    const m = mark(sampler);
    const stride = Math.max(1, Math.floor(MEMBERS / SAMPLE));
    const out = createWriteStream(`${rosterFile}.tmp`);
    const sample = createWriteStream(`${sampleFile}.tmp`);
    out.write(ROSTER_HEADER);
    sample.write(ROSTER_HEADER);
    let i = 0;
    let sampled = 0;
    for (const member of sampleMembers(MEMBERS, units, 2)) {
      const special = i % 5 === 0;
      if (i % stride === 0 && sampled < SAMPLE) {
        sampled += 1;
        if (!sample.write(rosterLine(member, year - 1, special))) await once(sample, 'drain');
      }
      if (!out.write(rosterLine(member, year, special))) await once(out, 'drain');
      i += 1;
    }
    out.end();
    sample.end();
    await Promise.all([once(out, 'finish'), once(sample, 'finish')]);
    renameSync(`${rosterFile}.tmp`, rosterFile);
    renameSync(`${sampleFile}.tmp`, sampleFile);
    print({ step: 'generate roster CSV', count: MEMBERS, unit: 'rows', evidence: since(m, sampler) });
  }
  const rosterBytes = statSync(rosterFile).size;
  console.log(`roster ${rosterFile}: ${mb(rosterBytes)}; sample ${sampleFile}: ${mb(statSync(sampleFile).size)}`);

  const databaseUrl = cfg.DATABASE_URL;
  await migrate({ databaseUrl, schema });
  const db = createPool({ connectionString: databaseUrl, schema, max: 4 });
  const redis = new Redis(cfg.REDIS_URL, { maxRetriesPerRequest: null });
  const activity = new ActivitySampler(databaseUrl);
  await activity.start();
  // The server's settings the figures depend on (docs/operations.md: PostgreSQL deployment settings;
  // the bench reads them, it never sets them).
  const { rows: settingRows } = await db.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1) ORDER BY name`, [POSTGRES_SETTINGS]);
  const postgresSettings = Object.fromEntries(settingRows.map((r) => [r.name, r.setting]));
  console.log(`PostgreSQL: ${settingRows.map((r) => `${r.name}=${r.setting}`).join(', ')}`);
  const running: ChildProcess[] = [];
  let failed = false;
  let figures: Record<string, Figure> = {};
  try {
    await registerSampleUnits(db, units, proposer, approver);
    // Every unit has paid both years (contributions are not what is measured).
    await db.query(
      `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by)
       SELECT u.id, y, 100000000000, 'PROV' || y || '-' || u.id, make_date(y, 1, 10), 'MANUAL', 'bench'
         FROM units u CROSS JOIN unnest($1::int[]) AS y`,
      [[year - 1, year]],
    );
    await ensureShippedRuleSets(db);
    await publishYearRules(db, year);
    const importOf = async (file: string, planYear: number) => {
      const { rows } = await db.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ($1, '\\x', 'bench') RETURNING id`, [path.basename(file)]);
      const started = performance.now();
      let next = 1_000_000;
      return importRoster(db, keys, createReadStream(file), {
        importId: rows[0]!.id, today: `${planYear}-01-05`,
        onProgress: (read) => {
          if (read < next) return;
          next += 1_000_000;
          const s = (performance.now() - started) / 1000;
          process.stderr.write(`  import: ${n0(read)} rows read in ${s.toFixed(0)} s (${n0(read / s)}/s), RSS ${mb(process.memoryUsage.rss())}, load ${loadText(loadavg())}\n`);
        },
      });
    };
    // Last year's roster of the sampled members (so settlements of last year find an enrolment and renewals no waiting period).
    const previous = await importOf(sampleFile, year - 1);
    console.log(`setup: ${n0(UNITS)} units, contributions paid for ${year - 1} and ${year}; ${year - 1} roster of the ${n0(previous.rowsInserted)} sampled members imported`);

    // ---- 1. roster import
    {
      const m = mark(sampler, activity);
      const result = await importOf(rosterFile, year);
      const evidence = since(m, sampler, activity);
      print({ step: 'import roster', count: result.rowsTotal, unit: 'rows', evidence });
      const t = result.timings;
      const pgMs = t.stageMs + t.membersMs + t.enrolmentsMs;
      console.log(`     inserted ${n0(result.rowsInserted)}, updated ${n0(result.rowsUpdated)}, unchanged ${n0(result.rowsUnchanged)}, rejected ${n0(result.rowsRejected)}, enrolments ${n0(result.enrolmentsCreated)}; ` +
        `PostgreSQL side ${(pgMs / 1000).toFixed(1)} s of ${evidence.seconds.toFixed(1)} s (COPY to staging ${(t.stageMs / 1000).toFixed(1)} s, ` +
        `members merge ${(t.membersMs / 1000).toFixed(1)} s, enrolments merge ${(t.enrolmentsMs / 1000).toFixed(1)} s; the rest: Node parsing, checking, encrypting)`);
      await db.query('ANALYZE members; ANALYZE enrolments; ANALYZE units');
      const { rows } = await db.query<{ name: string; bytes: number; rows: number }>(
        `SELECT c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes, c.reltuples::bigint AS rows
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname IN ('members', 'enrolments')
          ORDER BY bytes DESC`, [schema]);
      console.log(`     table sizes: ${rows.map((r) => `${r.name} ${mb(r.bytes)} (${n0(r.rows)} rows)`).join(', ')}`);
    }

    // ---- 2. ingestion and adjudication as one flow, per worker count: fresh simulator seed, source and
    // prefix per round, each round its share of the STAYS inpatient stays (and the outpatient visits,
    // strangers, reversals and invalid records the feed mixes in around them)
    const members = await rosterMembers(sampleFile);
    const share = Math.floor(STAYS / WORKERS.length);
    const rounds: { workers: number; prefix: string; source: string; count: number; stays: number; seconds: number; ingestSeconds: number; decided: number }[] = [];
    for (const [i, workers] of WORKERS.entries()) {
      const stays = i === WORKERS.length - 1 ? STAYS - share * (WORKERS.length - 1) : share;
      const seed = 11 + i;
      const count = feedLengthForStays({ seed, members, today }, stays);
      const source = `province-r${i + 1}`;
      const prefix = prefixes[i]!;
      const port = 20_000 + Math.floor(Math.random() * 10_000);
      const sim = await startSimulator(['sim', 'insurance', '--port', String(port), '--count', String(count), '--roster', sampleFile, '--seed', String(seed), '--today', today]);
      running.push(sim.child);
      const group = await startWorkerGroup(workers, { schema, prefix });
      running.push(...group.children);
      const queues = createQueues(redis, prefix);
      await store.upsertSource(db, { name: source, kind: 'PLATFORM', endpoint: sim.url, pageSize: PAGE, pollSeconds: null });
      const m = mark(sampler, activity);
      await enqueueSettlementPull(queues.settlementPull, source, null);
      // Ingested when the feed is read to its end and nothing of it waits to be matched (a cheap check:
      // the partial index of RECEIVED rows; counting the source's rows every time would load the machine);
      // decided when, after that, no adjudication job waits or runs.
      let ingestSeconds: number | null = null;
      for (;;) {
        if (ingestSeconds === null) {
          const row = await store.sourceByName(db, source);
          if (row?.lastError) throw new Error(`pull failed: ${row.lastError}`);
          if (row?.cursor === String(count) && !(await store.anyReceived(db, source))) ingestSeconds = (performance.now() - m.startedAt) / 1000;
        }
        if (ingestSeconds !== null && (await unfinishedJobs(queues.claimAdjudication)) === 0) break;
        await sleep(250);
      }
      const evidence = since(m, sampler, activity);
      const [counts] = (await store.sourceCounts(db, [source])) as [Awaited<ReturnType<typeof store.sourceCounts>>[number]];
      const simFigures = sim.stop();
      const reports = await group.stop();
      const { failed: failedJobs } = await queues.claimAdjudication.getJobCounts('failed');
      await closeQueues(queues);
      evidence.sql = mergeStatements([evidence.sql, ...reports.map((r) => r.sql)]);
      evidence.activity = activityText(activity.since(m.activity!, reports.flatMap((r) => r.backendPids)));
      const { rows } = await db.query<{ status: string; n: number; total: number }>(
        `SELECT c.status, count(*)::int AS n, sum(c.total_fen)::bigint AS total FROM claims c JOIN settlements s ON s.id = c.settlement_id
          WHERE s.source = $1 GROUP BY c.status ORDER BY c.status`, [source]);
      const decided = rows.reduce((s, r) => s + r.n, 0);
      print({ step: `ingest+adjudicate, ${workers} worker(s)`, count: decided, unit: 'claims', evidence, ...workersText(reports, simFigures) });
      console.log(`     feed of ${n0(count)} items (${n0(stays)} inpatient stays): ingested in ${ingestSeconds!.toFixed(1)} s (${n0(count / ingestSeconds!)}/s), ` +
        `stored ${n0(counts.total)} (matched ${n0(counts.matched)}, unmatched ${n0(counts.unmatched)}, duplicate ${n0(counts.duplicate)}), rejected ${n0(counts.openRejections)}`);
      console.log(`     claims: ${rows.map((r) => `${r.status} ${n0(r.n)} (${n0(r.total / 100)} CNY)`).join(', ')}; failed jobs ${failedJobs ?? 0}`);
      rounds.push({ workers, prefix, source, count, stays, seconds: evidence.seconds, ingestSeconds: ingestSeconds!, decided });
    }
    await db.query('ANALYZE claims; ANALYZE benefit_lines; ANALYZE member_year_totals');
    {
      const { rows: [caps] } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM member_year_totals WHERE inpatient_fen > 5000000 OR critical_fen > 15000000`);
      const { rows: [inpatient] } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM settlements WHERE med_type LIKE '2%' AND kind = 'SETTLEMENT'`);
      console.log(`     ${n0(inpatient!.n)} of the stored settlements are inpatient stays; members over an annual cap: ${caps!.n}`);
    }

    // ---- 3. payouts: plan, batches written and sealed, sent to the bank simulator
    const certsDir = path.join(workDir, 'certs');
    const outDir = path.join(workDir, 'out');
    writeDevCertificates(certsDir, { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
    const seals = parseSealSettings({ CERTS_DIR: certsDir });
    const sealing = { keys, seal: configuredSeal(seals), outDir, initiatingParty: initiatingParty(cfg) };
    const settings = payoutSettings(cfg);
    const { account } = settings;
    const clerk = { subject: 'bench-clerk', role: 'ADMIN' };
    const finance = { subject: 'bench-finance', role: 'FINANCE' };
    let payouts = 0;
    {
      const m = mark(sampler, activity);
      const planned = await planPayouts(db, settings);
      payouts = planned.created;
      print({ step: 'plan payouts', count: planned.created, unit: 'payouts', evidence: since(m, sampler, activity) });
      console.log(`     created ${n0(planned.created)} (held ${planned.held}: no bank account)`);
    }
    await db.query('ANALYZE payouts; ANALYZE payout_lines');
    const batchIds: number[] = [];
    {
      const m = mark(sampler, activity);
      const split = { create: 0, approve: 0, seal: 0 };
      let inBatches = 0;
      for (;;) {
        let t = performance.now();
        const batch = await createBatch(db, clerk, settings, BATCH);
        split.create += performance.now() - t;
        if (!batch) break;
        t = performance.now();
        await approveBatch(db, finance, batch.id);
        split.approve += performance.now() - t;
        t = performance.now();
        await sealBatch(db, sealing, settings, batch.id);
        split.seal += performance.now() - t;
        batchIds.push(batch.id);
        inBatches += batch.nbOfTxs;
      }
      const evidence = since(m, sampler, activity);
      print({ step: 'batches written+sealed', count: inBatches, unit: 'payouts', evidence });
      console.log(`     ${batchIds.length} batches of up to ${n0(BATCH)}: ${(batchIds.length / evidence.seconds).toFixed(2)} batches/s; ` +
        `create ${(split.create / 1000).toFixed(1)} s, approve ${(split.approve / 1000).toFixed(1)} s, write pain.001 + seal ${(split.seal / 1000).toFixed(1)} s`);
    }
    {
      const bank = await startSimulator(['sim', 'bank', '--port', String(30_000 + Math.floor(Math.random() * 10_000)), '--certs', certsDir, '--account', account.account]);
      running.push(bank.child);
      const adapter = configuredBankAdapter({ ...cfg, BANK_URL: bank.url, BANK_CERT: path.join(certsDir, 'bank.pem') }, seals);
      const m = mark(sampler, activity);
      const statuses = new Map<string, number>();
      for (const id of batchIds) {
        await requestSubmission(db, finance, id);
        const progress = await advanceBatch({ db, adapter, sealing, settings, log, refusalsAfterPayment }, id);
        statuses.set(progress.status, (statuses.get(progress.status) ?? 0) + 1);
      }
      const evidence = since(m, sampler, activity);
      const figures = bank.stop();
      const { rows } = await db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM payout_attempts GROUP BY status ORDER BY status`);
      print({
        step: 'submit to bank sim', count: payouts, unit: 'payouts', evidence,
        others: figures.peakRss ? `bank simulator ${mb(figures.peakRss)}` : undefined, otherCpu: figures.cpu != null ? `bank simulator ${figures.cpu.toFixed(1)} s` : undefined,
      });
      console.log(`     batches ${[...statuses].map(([s, n]) => `${s} ${n}`).join(', ')}; attempts ${rows.map((r) => `${r.status} ${n0(r.n)}`).join(', ')}`);
    }
    await db.query('ANALYZE payout_attempts; ANALYZE payout_batches; ANALYZE payouts');

    // ---- 4. reconciliation: one debit per paid payout in one camt.053
    {
      let t = performance.now();
      const { rows: paid } = await db.query<{ id: number; e2e: string; amountFen: number; name: string; accountEnc: Buffer; agent: string; remittance: string; bankRef: string | null; msgId: string }>(
        `SELECT a.id, a.end_to_end_id AS e2e, a.amount_fen AS "amountFen", a.creditor_name AS name, a.creditor_account_enc AS "accountEnc",
                a.creditor_agent AS agent, a.remittance_info AS remittance, a.bank_reference AS "bankRef", b.msg_id AS "msgId"
           FROM payout_attempts a JOIN payout_batches b ON b.id = a.batch_id WHERE a.status = 'PAID' ORDER BY a.id`);
      const opening = 90_000_000_000_000;
      const entries: CamtEntry[] = paid.map((p) => ({
        amountFen: p.amountFen, creditDebit: 'DBIT', status: 'BOOK', bookingDate: today, valueDate: today,
        accountServicerRef: `PROV${today.replaceAll('-', '')}${String(p.id).padStart(10, '0')}`,
        bankTransactionCode: { domain: { code: 'PMNT', family: 'ICDT', subFamily: 'DMCT' } },
        details: [{
          msgId: p.msgId, endToEndId: p.e2e, ...(p.bankRef ? { accountServicerRef: p.bankRef } : {}),
          creditor: { name: p.name, account: decrypt(keys, p.accountEnc), agent: p.agent }, remittanceInfo: [p.remittance],
        }],
      }));
      const closing = opening - entries.reduce((s, e) => s + e.amountFen, 0);
      const balance = (type: string, fen: number) => ({ type, amountFen: fen, creditDebit: 'CRDT' as const, date: today });
      const xml = writeCamt053({
        msgId: `PROV053${tag}`, createdAt: `${today}T23:59:00+08:00`, pagination: { page: 1, last: true },
        statements: [{
          id: `${account.account}-${today.replaceAll('-', '')}`, createdAt: `${today}T23:59:00+08:00`,
          fromToDate: { from: `${today}T00:00:00+08:00`, to: `${today}T23:59:59+08:00` },
          account: { id: account.account, currency: 'CNY' }, balances: [balance('OPBD', opening), balance('CLBD', closing)], entries,
        }],
      });
      console.log(`camt.053 (bench side, not measured): ${n0(entries.length)} debits, ${mb(Buffer.byteLength(xml))}, written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      t = performance.now();

      let m = mark(sampler, activity);
      const stored = await importConfirmed(db, xml, 'province.xml', [account.account]);
      const storedEvidence = since(m, sampler, activity);
      if (stored.status !== 'ACCEPTED') throw new Error(`the statement was rejected: ${JSON.stringify(stored.problems.slice(0, 3))}`);
      print({ step: 'statement stored', count: stored.entriesNew, unit: 'entries', evidence: storedEvidence });
      m = mark(sampler, activity);
      const run = await reconcileAccount(db, account.account, { startedBy: 'bench', keys, asOf: today });
      const reconciled = since(m, sampler, activity);
      print({ step: 'reconciled', count: run.entries, unit: 'entries', evidence: reconciled });
      console.log(`     matched ${n0(run.matched)}, exceptions ${n0(run.exceptions)}, payouts settled ${n0(run.settled)}, day proven: ${run.proofs.every((p) => p.proven)}; ` +
        `stored + reconciled ${(storedEvidence.seconds + reconciled.seconds).toFixed(1)} s = ${n0(run.entries / (storedEvidence.seconds + reconciled.seconds))} entries/s`);
    }

    {
      await db.query('ANALYZE');
      const { rows } = await db.query<{ name: string; bytes: number; rows: number }>(
        `SELECT c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes, c.reltuples::bigint AS rows
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY bytes DESC LIMIT 10`, [schema]);
      const { rows: [total] } = await db.query<{ bytes: number }>(
        `SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r'`, [schema]);
      console.log(`table sizes at the end: ${mb(total!.bytes)} in all; ${rows.map((r) => `${r.name} ${mb(r.bytes)} (${n0(r.rows)} rows)`).join(', ')}`);
    }

    // ---- summary: each step at province scale (10 M members, 200,000 inpatient stays), the wall time
    // from the import's start to the day reconciled, the slowest step named
    const memberFactor = 10_000_000 / MEMBERS;
    const stayFactor = 200_000 / STAYS;
    const best = rounds.reduce((a, b) => (b.decided / b.seconds > a.decided / a.seconds ? b : a));
    const find = (step: string) => lines.find((l) => l.step === step)!;
    const seconds = (step: string) => find(step).evidence.seconds;
    const flowSeconds = rounds.reduce((s, r) => s + r.seconds, 0);
    const cpuOf = (steps: string[]) => lines.filter((l) => steps.some((step) => l.step.startsWith(step))).reduce((s, l) => s + hubCpu(l), 0);
    const summary = [
      { step: 'import', measured: seconds('import roster'), cpu: cpuOf(['import roster']), factor: memberFactor, how: `${n0(MEMBERS)} rows` },
      { step: 'flow', measured: flowSeconds, cpu: cpuOf(['ingest+adjudicate']), factor: stayFactor, how: `${n0(STAYS)} inpatient stays (${n0(rounds.reduce((s, r) => s + r.count, 0))} feed items) ingested and adjudicated` },
      { step: 'batch', measured: seconds('plan payouts') + seconds('batches written+sealed') + seconds('submit to bank sim'), cpu: cpuOf(['plan payouts', 'batches written+sealed', 'submit to bank sim']), factor: stayFactor, how: `${n0(payouts)} payouts planned, sealed, sent` },
      { step: 'reconcile', measured: seconds('statement stored') + seconds('reconciled'), cpu: cpuOf(['statement stored', 'reconciled']), factor: stayFactor, how: `${n0(find('reconciled').count)} entries stored and reconciled` },
    ];
    // The least wall time the hub's own work allows here: its CPU spread over every core (the simulators' left out).
    const floorOf = (x: { cpu: number; factor: number }) => floorSeconds(x.cpu * x.factor);
    const wallSeconds = summary.reduce((s, x) => s + x.measured, 0);
    const projectedSeconds = summary.reduce((s, x) => s + x.measured * x.factor, 0);
    const atScale = memberFactor === 1 && stayFactor === 1;
    console.log(`\nprovince scale (10,000,000 members, 200,000 inpatient stays): ${atScale ? 'measured' : 'measured here × the scale factor (linear projection)'}`);
    for (const s of summary) {
      console.log(`  ${s.step.padEnd(11)} ${s.measured.toFixed(1).padStart(8)} s for ${s.how}` +
        (s.factor === 1 ? '' : ` → projected ${(s.measured * s.factor).toFixed(0)} s (×${s.factor.toFixed(1)})`) +
        `; the hub's CPU ${s.cpu.toFixed(1)} s: at least ${floorOf(s).toFixed(0)} s${atScale ? '' : ' projected'} on ${availableParallelism()} cores`);
    }
    const totalFloorSeconds = summary.reduce((sum, x) => sum + floorOf(x), 0);
    console.log(`  wall time, import to the day reconciled: ${(wallSeconds / 60).toFixed(1)} min${atScale ? '' : ` (projected ${(projectedSeconds / 60).toFixed(1)} min)`}; ` +
      `the least the hub's CPU allows: ${(totalFloorSeconds / 60).toFixed(1)} min${atScale ? '' : ' projected'}`);
    const slowest = summary.reduce((a, b) => (b.measured * b.factor > a.measured * a.factor ? b : a));
    console.log(`slowest step: ${slowest.step} (${(slowest.measured * slowest.factor / 60).toFixed(1)} min at province scale)`);
    const evidenceOf = slowest.step === 'import' ? find('import roster') : slowest.step === 'flow' ? find(`ingest+adjudicate, ${best.workers} worker(s)`)
      : slowest.step === 'batch' ? find('batches written+sealed') : find('reconciled');
    figures = {
      members: MEMBERS, units: UNITS, stays: STAYS, sample: SAMPLE, workers: WORKERS, postgres: postgresSettings, ...stepFigures(),
      ...Object.fromEntries(rounds.flatMap((r) => [[`ingestSecondsW${r.workers}`, rounded(r.ingestSeconds, 1)], [`decidedPerSecondW${r.workers}`, Math.round(r.decided / r.seconds)]])),
      ...Object.fromEntries(summary.flatMap((s) => [
        [`${s.step}MeasuredSeconds`, rounded(s.measured, 1)], [`${s.step}ProjectedSeconds`, Math.round(s.measured * s.factor)],
        [`${s.step}HubCpuSeconds`, rounded(s.cpu, 1)], [`${s.step}ProjectedFloorSeconds`, Math.round(floorOf(s))],
      ])),
      wallSeconds: rounded(wallSeconds, 1), projectedWallSeconds: Math.round(projectedSeconds), projectedFloorSeconds: Math.round(totalFloorSeconds), slowestStep: slowest.step,
    };
    const e = evidenceOf.evidence;
    console.log(`  why: ${evidenceOf.step}: bench CPU ${e.ownCpu.toFixed(1)} s, its PostgreSQL backends ${e.backendCpu.toFixed(1)} s${evidenceOf.otherCpu ? `, ${evidenceOf.otherCpu}` : ''} ` +
      `in ${e.seconds.toFixed(1)} s, machine ${(e.machineBusy * 100).toFixed(0)}% busy; top statements: ${sqlText(e.sql, 5)}` +
      `${e.activity ? `; backends sampled: ${e.activity}` : ''}`);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await activity.stop();
    await db.end();
    for (const prefix of prefixes) {
      const left = await redis.keys(`${prefix}:*`);
      for (let i = 0; i < left.length; i += 1000) await redis.del(...left.slice(i, i + 1000));
    }
    redis.disconnect();
    if (!KEEP) {
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
      rmSync(workDir, { recursive: true, force: true });
      if (rosterBytes > 1e9 && !failed) {
        rmSync(rosterFile, { force: true });
        rmSync(sampleFile, { force: true });
        console.log(`dropped schema ${schema}; removed ${rosterFile} (${mb(rosterBytes)}), its sample and ${workDir}`);
      } else console.log(`dropped schema ${schema}; removed ${workDir}`);
    }
  }
  reportFigures(import.meta.url, figures);
  process.exit(0);
}

if (process.env.BENCH_PROVINCE_WORKER) {
  await workerProcess(JSON.parse(process.env.BENCH_PROVINCE_WORKER) as WorkerSpec);
} else {
  await main();
}
