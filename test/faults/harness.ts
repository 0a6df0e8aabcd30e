import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { writeDevCertificates } from '../../certs/devCa.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { encrypt, lookupHash, maskBankCard, personalDataKeys, type PersonalDataKeys } from '../../src/privacy/personalData.ts';
import { postgresCluster, redisServer, type PostgresCluster, type RedisServer } from '../../jobs/demo/services.ts';
import { loadSampleRegistry } from '../../jobs/demo/demo.ts';
import { demoSample, prng } from '../../src/demo/sampleData.ts';
import { simulatedItems } from '../../src/settlements/simulator/generate.ts';
import { startInsuranceSimulator } from '../../src/settlements/simulator/server.ts';
import { upsertSource } from '../../src/settlements/store.ts';
import { approveClaim } from '../../src/benefits/review.ts';
import { replayYear } from '../../src/benefits/replay.ts';
import { approveBatch, createBatch, requestSubmission, retryPayout } from '../../src/payouts/decisions.ts';
import { payoutSettings } from '../../src/payouts/settings.ts';
import { planPayouts } from '../../src/payouts/plan.ts';
import { approvePaymentPolicy, proposePaymentPolicy } from '../../src/payouts/policies.ts';
import { UNSCOPED } from '../../src/kernel/scope.ts';
import { simulatorCertificates } from '../../src/banks/simulator/certificates.ts';
import { NO_FAULTS, startBankSimulator, type BankSimulator } from '../../src/banks/simulator/server.ts';
import { verifyAuditChain } from '../../src/audit/audit.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { configuredBankAdapter } from '../../src/banks/settings.ts';
import { reconcileDemo } from '../../jobs/demo/reconciliation.ts';
import { DEV_SEAL_P12_PASSPHRASE, parseSealSettings } from '../../src/seals/settings.ts';
import { FaultyProxy } from './proxy.ts';
import { createQueues } from '../../src/queues.ts';
import { withLuhnCheck } from '../../src/kernel/identifiers.ts';
import { chinaToday } from '../../src/kernel/time.ts';
import { claimsWithStatus, ruleSetsForYears, unadjudicatedSettlementIds } from '../../src/benefits/store.ts';
import { ensureShippedRuleSets, ruleSetOf } from '../../src/benefits/catalogue.ts';

/**
 * The fault harness: the whole pipeline (platform simulator → ingestion → adjudication → payouts →
 * bank simulator → reconciliation) with real PostgreSQL, Redis and `hub work` processes, for one seed, while faults
 * are injected: workers SIGKILLed and paused past their lock, Redis restarted empty, PostgreSQL
 * stopped immediately and restarted, bank timeouts, dropped, duplicated and reordered answers,
 * and a loopback proxy to the bank that stalls or resets connections.
 *
 * PostgreSQL and Redis are the harness's own (a cluster under .data/faults/pg, under the temp dir as root, a redis-server on a
 * port of its own) so stopping them hurts nothing else. The oracle is the simulators' truth, the
 * rule engine (every claim recomputed) and the bank's ledger: every valid settlement stored once,
 * every matched one adjudicated once, every approved claim credited exactly once with its amount,
 * the day's bank statement reconciled without exception and proven, and the audit chain intact.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HUB = path.join(ROOT, 'bin/hub.mjs');
const WORK_DIR = path.join(ROOT, '.data/faults');
// Below Linux's ephemeral range (32768–60999): a port there can be held at any moment as the local
// end of one of the many connections a parallel test run opens, and the server would fail to bind.
const PG_PORT = 25_532;
const REDIS_PORT = 26_479;
// Job locks far shorter than production's 30 s, so a killed worker's jobs are taken over within
// seconds; not 2 s: renewed every half lock, a 2 s lock expired under the event-loop lag of a
// two-core machine at load 10 (thousands of lost locks a run, jobs stalled over and over).
const LOCK_MS = 5_000;
const BANK_TIMEOUT_MS = 2_000;

export type FaultKind =
  | 'worker-kill' | 'worker-pause' | 'redis-restart' | 'postgres-restart' | 'bank-timeout' | 'bank-drop-after-accept'
  | 'bank-drop-before-accept' | 'bank-query-timeout' | 'bank-twice-out-of-order' | 'proxy-stall' | 'proxy-reset';

const FAULTS: FaultKind[] = [
  'worker-kill', 'worker-pause', 'redis-restart', 'postgres-restart', 'bank-timeout', 'bank-drop-after-accept',
  'bank-drop-before-accept', 'bank-query-timeout', 'bank-twice-out-of-order', 'proxy-stall', 'proxy-reset',
];

export interface RunOptions {
  seed: number;
  members: number;
  settlements: number;
  workers: number;
  /** Faults are injected during this long after the start. */
  faultPhaseMs: number;
  /** Mean pause between faults. */
  faultEveryMs: number;
  /** After the fault phase, the pipeline must be done within this long. */
  settleMs: number;
  /** Most payouts per batch: small batches keep payments in flight while faults happen. */
  batchSize: number;
}

export interface RunResult {
  seed: number;
  faults: Partial<Record<FaultKind, number>>;
  faultCount: number;
  settlements: number;
  claimsPaid: number;
  paidFen: number;
  lost: number;
  duplicated: number;
  wrongAmounts: number;
  /** Statement entries matched by reconciliation at the end. */
  reconciled: number;
  /** Payouts the bank credited that a standing payment policy released (the rest a FINANCE person approved). */
  releasedByPolicy: number;
  /** Workers that failed to start (PostgreSQL or Redis down at the time) and were started again. */
  restarts: number;
  /** What went wrong, in words (empty when nothing did). */
  problems: string[];
  seconds: number;
}

const CLERK_EVERY_MS = 3_000;

/** FAULTS_TRACE=1 prints each fault and each state of the pipeline as the run goes (for a replayed seed). */
const trace = (line: string) => {
  if (process.env.FAULTS_TRACE) process.stderr.write(`  . ${line}\n`);
};

/** The harness's own PostgreSQL and Redis, started once for a campaign. */
export interface Infrastructure {
  postgres: PostgresCluster;
  redis: RedisServer;
  certsDir: string;
  stop(): Promise<void>;
}

export async function startInfrastructure(): Promise<Infrastructure> {
  mkdirSync(WORK_DIR, { recursive: true });
  const postgres = postgresCluster(path.join(WORK_DIR, 'pg'), PG_PORT);
  postgres.stop('immediate'); // a cluster left running by an interrupted campaign
  postgres.start();
  const redis = redisServer(REDIS_PORT);
  await redis.start();
  const certsDir = path.join(WORK_DIR, 'certs');
  writeDevCertificates(certsDir, { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
  return {
    postgres,
    redis,
    certsDir,
    async stop() {
      await redis.stop();
      postgres.stop('fast');
    },
  };
}

interface WorkerProcess {
  child: ChildProcess;
  stopped: boolean;
  /** It said it runs: an exit from now on is a crash, not a failed start. */
  running: boolean;
}

export async function runOnce(infra: Infrastructure, options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const rng = prng(options.seed); // the same seed, the same faults in the same order
  const result: RunResult = {
    seed: options.seed, faults: {}, faultCount: 0, settlements: 0, claimsPaid: 0, paidFen: 0, lost: 0, duplicated: 0, wrongAmounts: 0, restarts: 0, reconciled: 0, releasedByPolicy: 0, problems: [], seconds: 0,
  };
  const database = `faults_${options.seed}`;
  const admin = new pg.Client({ connectionString: infra.postgres.url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = infra.postgres.url.replace(/\/postgres$/, `/${database}`);
  await migrate({ databaseUrl });

  const config = parseConfig({ ...process.env, DATABASE_URL: databaseUrl });
  const keys = personalDataKeys(config.PII_KEY, config.PII_HASH_KEY);
  const db = createPool({ connectionString: databaseUrl, max: 4 });
  const outDir = path.join(WORK_DIR, `out-${options.seed}`);
  rmSync(outDir, { recursive: true, force: true });

  const { members } = demoSample(options.members);
  await loadSampleRegistry({ db, keys }, options.members);
  const simulatorData = { seed: options.seed, count: options.settlements, members: members.map((m) => ({ idNumber: m.idNumber, name: m.name })), today: chinaToday() };
  const insurance = await startInsuranceSimulator({ ...simulatorData, infno: config.INSURANCE_FEED_INFNO });
  await upsertSource(db, { name: 'simulator', kind: 'PLATFORM', endpoint: insurance.url, pageSize: 50, pollSeconds: 2 });
  const bank: BankSimulator = await startBankSimulator({ ...simulatorCertificates(infra.certsDir), seed: options.seed, defaultAccount: config.PAYOUT_ACCOUNT });
  // 即时办 in force throughout: claims approved by the rules (up to 10,000 CNY) go out under a standing
  // policy the workers apply; larger ones, and reviewed ones, through the people's batches below.
  await standingPolicy(db, config);
  const proxy = new FaultyProxy(Number(new URL(bank.url).port));
  const bankUrl = await proxy.listen();

  const env = {
    ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl, REDIS_URL: infra.redis.url, QUEUE_PREFIX: `faults-${options.seed}`,
    LOG_LEVEL: process.env.FAULTS_LOG_LEVEL ?? 'silent', BANK_URL: bankUrl, BANK_TIMEOUT_MS: String(BANK_TIMEOUT_MS), CERTS_DIR: infra.certsDir,
    PAYOUT_OUT_DIR: outDir, PAYOUT_JOB_LOCK_MS: String(LOCK_MS), SETTLEMENT_JOB_LOCK_MS: String(LOCK_MS), PAYOUT_POLL_MS: '300',
    PAYOUT_PLAN_SECONDS: '2', PAYOUT_RELEASE_SECONDS: '1', SWEEP_SECONDS: '3', DATABASE_POOL_SIZE: '4', WORKER_PORT: '0', PORT: '0',
  };
  const workers: WorkerProcess[] = [];
  const spawnWorker = (slot: number) => {
    const child = spawn(process.execPath, [HUB, 'work'], { env, stdio: ['ignore', 'ignore', process.env.FAULTS_TRACE ? 'inherit' : 'ignore', 'ipc'] });
    const worker: WorkerProcess = { child, stopped: false, running: false };
    workers[slot] = worker;
    // The worker says when it runs (jobs/serve.ts); on a loaded machine its start can take longer
    // than any fixed time, and a fault may land in it.
    child.once('message', () => {
      worker.running = true;
      trace(`${((Date.now() - started) / 1000).toFixed(1)} s: worker ${slot} runs`);
    });
    // Restarted as a supervisor would. Failing to start while PostgreSQL is down is expected; a
    // worker that dies on its own once running is a finding.
    child.once('exit', (code, signal) => {
      if (worker.stopped || stopping) return;
      if (worker.running) result.problems.push(`worker ${slot} exited on its own while running (code ${code}, signal ${signal})`);
      else result.restarts += 1;
      spawnWorker(slot);
    });
  };
  let stopping = false;
  for (let i = 0; i < options.workers; i++) spawnWorker(i);

  const inject = async (kind: FaultKind) => {
    trace(`${((Date.now() - started) / 1000).toFixed(1)} s: ${kind}`);
    result.faults[kind] = (result.faults[kind] ?? 0) + 1;
    result.faultCount += 1;
    const slot = Math.floor(rng() * options.workers);
    const worker = workers[slot]!;
    switch (kind) {
      case 'worker-kill':
        worker.stopped = true;
        worker.child.kill('SIGKILL');
        await once(worker.child, 'exit');
        await sleep(300);
        spawnWorker(slot);
        break;
      case 'worker-pause':
        worker.child.kill('SIGSTOP');
        await sleep(LOCK_MS + 1_000);
        worker.child.kill('SIGCONT');
        break;
      case 'redis-restart':
        await infra.redis.stop();
        await sleep(500);
        await infra.redis.start();
        break;
      case 'postgres-restart':
        infra.postgres.stop('immediate');
        await sleep(1_000);
        infra.postgres.start();
        break;
      case 'bank-timeout': bank.setFaults({ timeoutNext: 1 }); break;
      case 'bank-drop-after-accept': bank.setFaults({ dropAfterAccept: 1 }); break;
      case 'bank-drop-before-accept': bank.setFaults({ dropBeforeAccept: 1 }); break;
      case 'bank-query-timeout': bank.setFaults({ queryTimeoutNext: 2 }); break;
      case 'bank-twice-out-of-order': bank.setFaults({ answerTwice: true, outOfOrder: true }); break;
      case 'proxy-stall': proxy.stall(BANK_TIMEOUT_MS + 500); break;
      case 'proxy-reset': proxy.resetAll(); break;
    }
  };

  // The people: a reviewer approves what waits for review; a clerk batches ready payouts; FINANCE approves and submits.
  let clerkAt = 0;
  const drive = async () => {
    for (const { id, totalFen } of await claimsWithStatus(db, 'PENDING_REVIEW', 50)) await approveClaim(db, { subject: 'fault-reviewer', role: 'REVIEWER' }, { unitId: null, memberId: null, organisationId: null }, id, totalFen, 'harness');
    // A payout the bank refused for the account: the member gives a new one, the clerk retries.
    const { rows: refused } = await db.query<{ id: number; memberId: number }>(
      `SELECT id, member_id AS "memberId" FROM payouts WHERE status = 'FAILED' ORDER BY id LIMIT 20`,
    );
    for (const payout of refused) {
      // A 19-digit card whose last digits can never be 0001 or 0004 (the endings the simulator refuses).
      const luhn = withLuhnCheck(`622202155${String(payout.memberId).padStart(8, '0')}7`);
      await db.query(
        `UPDATE members SET bank_card_enc = $2, bank_card_hash = $3, bank_card_masked = $4 WHERE id = $1`,
        [payout.memberId, encrypt(keys, luhn), lookupHash(keys, luhn), maskBankCard(luhn)],
      );
      await retryPayout(db, { subject: 'fault-clerk', role: 'ADMIN' }, UNSCOPED, payoutSettings(config), payout.id, 'member gave a new account');
    }
    // The clerk batches every few seconds: what the policy releases within a second is gone by then.
    if (Date.now() - clerkAt < CLERK_EVERY_MS) return;
    clerkAt = Date.now();
    await planPayouts(db, payoutSettings(config));
    const batch = await createBatch(db, { subject: 'fault-clerk', role: 'ADMIN' }, payoutSettings(config), options.batchSize);
    if (batch) {
      await approveBatch(db, { subject: 'fault-finance', role: 'FINANCE' }, batch.id);
      await requestSubmission(db, { subject: 'fault-finance', role: 'FINANCE' }, batch.id);
    }
  };

  try {
    const faultsUntil = started + options.faultPhaseMs;
    let nextFault = started + 500 + rng() * options.faultEveryMs;
    let quiet = 0;
    const deadline = faultsUntil + options.settleMs;
    for (;;) {
      const now = Date.now();
      if (now >= nextFault && now < faultsUntil) {
        await inject(FAULTS[Math.floor(rng() * FAULTS.length)]!);
        nextFault = Date.now() + options.faultEveryMs * (0.5 + rng());
      }
      if (now >= faultsUntil) bank.setFaults(NO_FAULTS);
      try {
        await drive();
        quiet = now >= faultsUntil && finished(await pipelineState(db), options.settlements) ? quiet + 1 : 0;
      } catch (error) {
        quiet = 0;
        trace(`driver step failed: ${(error as Error).message}`);
      }
      if (process.env.FAULTS_TRACE && Math.floor(now / 3000) !== Math.floor((now - 300) / 3000)) trace(describeState(await pipelineState(db), options.settlements));
      if (quiet >= 3) break;
      if (Date.now() > deadline) {
        result.problems.push(`not finished ${options.settleMs / 1000} s after the last fault: ${describeState(await pipelineState(db), options.settlements)}; `
          + `queues: ${await describeQueues(infra.redis.url, `faults-${options.seed}`)}; connections: ${await describeConnections(db)}`);
        break;
      }
      await sleep(300);
    }
    stopping = true;
    await Promise.all(workers.map(async (w) => {
      w.stopped = true;
      w.child.kill('SIGCONT');
      w.child.kill('SIGTERM');
      if (w.child.exitCode === null && w.child.signalCode === null) await once(w.child, 'exit');
    }));
    await judge(db, result, simulatorData, bank);
    await judgeReconciliation({ db, config, keys }, result, bank, infra.certsDir);
  } finally {
    stopping = true;
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await proxy.close();
    await bank.close();
    await insurance.close();
    await db.end();
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

interface PipelineState {
  cursor: string | null;
  received: number;
  pending: number;
  /** Payouts by status, and batches by status/submission. */
  payouts: Record<string, number> | null;
  batches: Record<string, number> | null;
  unadjudicated: number;
}

/** Where the pipeline stands: what the driver waits on, and what a trace or a failure shows. */
async function pipelineState(db: pg.Pool): Promise<PipelineState> {
  const { rows: [s] } = await db.query<Omit<PipelineState, 'unadjudicated'>>(
    `SELECT (SELECT cursor FROM settlement_sources WHERE name = 'simulator') AS cursor,
            (SELECT count(*)::int FROM settlements WHERE status = 'RECEIVED') AS received,
            (SELECT count(*)::int FROM claims WHERE status = 'PENDING_REVIEW') AS pending,
            (SELECT json_object_agg(status, n) FROM (SELECT status, count(*)::int AS n FROM payouts GROUP BY status) p) AS payouts,
            (SELECT json_object_agg(status || '/' || submission, n) FROM (SELECT status, submission, count(*)::int AS n FROM payout_batches GROUP BY 1, 2) b) AS batches`,
  );
  return { ...s!, unadjudicated: (await unadjudicatedSettlementIds(db, 0, 1000)).length };
}

const OPEN_PAYOUTS = ['READY', 'IN_BATCH', 'SENT'];
const OPEN_BATCHES = ['DRAFT', 'APPROVED', 'SEALED', 'SUBMITTED'];

/** Nothing left to do anywhere in the pipeline. */
function finished(state: PipelineState, settlements: number): boolean {
  return state.cursor === String(settlements) && !state.received && !state.pending && !state.unadjudicated
    && !Object.keys(state.payouts ?? {}).some((status) => OPEN_PAYOUTS.includes(status))
    && !Object.keys(state.batches ?? {}).some((key) => OPEN_BATCHES.includes(key.split('/')[0]!));
}

/** Each queue's jobs by state and the workers Redis sees on it: where a stalled run's work sits. */
async function describeQueues(redisUrl: string, prefix: string): Promise<string> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queues = createQueues(redis, prefix);
  try {
    const described = await Promise.all(Object.values(queues).map(async (queue) => {
      const counts = Object.entries(await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed'))
        .filter(([, n]) => n).map(([state, n]) => `${state} ${n}`);
      return `${queue.name} [${counts.join(', ') || 'empty'}; ${(await queue.getWorkers()).length} worker connection(s)]`;
    }));
    return described.join('; ');
  } catch (error) {
    return `unreadable (${(error as Error).message})`;
  } finally {
    await Promise.all(Object.values(queues).map((queue) => queue.close()));
    redis.disconnect();
  }
}

/** What the workers' database connections are doing: a pool waiting on itself shows as idle-in-transaction holders. */
async function describeConnections(db: pg.Pool): Promise<string> {
  const { rows } = await db.query<{ state: string; wait: string | null; seconds: number; query: string }>(
    `SELECT state, wait_event_type || ':' || wait_event AS wait, round(extract(epoch FROM now() - coalesce(xact_start, state_change)))::int AS seconds,
            left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query
       FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY seconds DESC`,
  );
  return JSON.stringify(rows);
}

function describeState(state: PipelineState, settlements: number): string {
  return JSON.stringify({ ...state, expectedCursor: String(settlements) });
}

/** The oracle. */
/** A payment policy for the union's payouts, proposed by one FINANCE person and approved by another. */
async function standingPolicy(db: pg.Pool, config: Config): Promise<void> {
  const { rows: [union] } = await db.query<{ id: number }>(`SELECT id FROM funders WHERE code = 'UNION'`);
  const now = Date.now();
  const policy = await proposePaymentPolicy(db, { subject: 'fault-finance', role: 'FINANCE' }, UNSCOPED, payoutSettings(config), {
    funderId: union!.id, maxPayoutFen: 1_000_000, dailySumFen: 1_000_000_000, dailyCount: 100_000, accountUnchangedDays: config.BANK_CARD_COOLING_OFF_DAYS,
    validFrom: new Date(now - 60_000), validUntil: new Date(now + 86_400_000), reason: 'fault campaign: 即时办 in force',
  });
  await approvePaymentPolicy(db, { subject: 'fault-finance-2', role: 'FINANCE' }, UNSCOPED, policy.id);
}

async function judge(db: pg.Pool, result: RunResult, data: Parameters<typeof simulatedItems>[0], bank: BankSimulator): Promise<void> {
  // Every valid settlement of the feed stored exactly once (UNIQUE(source, setl_id) forbids more).
  const valid = [...simulatedItems(data)].filter((i) => i.truth.kind !== 'INVALID').map((i) => String(i.item.setlinfo.setl_id));
  const { rows: stored } = await db.query<{ setlId: string; status: string }>(`SELECT setl_id AS "setlId", status FROM settlements WHERE source = 'simulator'`);
  const storedIds = new Set(stored.map((s) => s.setlId));
  const missing = valid.filter((id) => !storedIds.has(id));
  result.settlements = stored.length;
  if (missing.length) {
    result.lost += missing.length;
    result.problems.push(`${missing.length} valid settlement(s) never stored, e.g. ${missing.slice(0, 3).join(', ')}`);
  }
  // Every matched settlement decided once.
  const undecided = await unadjudicatedSettlementIds(db, 0, 10_000);
  if (undecided.length) {
    result.lost += undecided.length;
    result.problems.push(`${undecided.length} matched settlement(s) without a claim`);
  }
  // The rule engine, run again over every decided claim, agrees with what was stored.
  await ensureShippedRuleSets(db);
  const { rows: years } = await db.query<{ year: number }>(`SELECT DISTINCT plan_year AS year FROM claims ORDER BY 1`);
  const ruleSets = await ruleSetsForYears(db, years.map((y) => y.year));
  for (const { year } of years) {
    const report = await replayYear(db, ruleSetOf(ruleSets.get(year)!), year);
    if (report.changed) {
      result.wrongAmounts += report.changed;
      result.problems.push(`plan year ${year}: ${report.changed} claim(s) differ from the rules, e.g. claim ${report.differences[0]!.claimId}`);
    }
  }
  // The bank's ledger: each approved claim credited exactly once, with its amount; nothing else credited.
  const { rows: attempts } = await db.query<{ e2e: string; claimId: number; byPolicy: boolean }>(
    `SELECT a.end_to_end_id AS e2e, p.claim_id AS "claimId", b.policy_id IS NOT NULL AS "byPolicy"
       FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN payout_batches b ON b.id = a.batch_id`,
  );
  const claimOf = new Map(attempts.map((a) => [a.e2e, a.claimId]));
  const byPolicy = new Set(attempts.filter((a) => a.byPolicy).map((a) => a.e2e));
  result.releasedByPolicy = bank.bank.ledger().filter((c) => !c.returned && byPolicy.has(c.endToEndId)).length;
  const credited = new Map<number, number[]>();
  for (const credit of bank.bank.ledger()) {
    if (credit.returned) continue;
    const claimId = claimOf.get(credit.endToEndId);
    if (claimId === undefined) {
      result.duplicated += 1;
      result.problems.push(`the bank credited ${credit.endToEndId}, which is no attempt of ours`);
      continue;
    }
    credited.set(claimId, [...(credited.get(claimId) ?? []), credit.amountFen]);
  }
  const { rows: approved } = await db.query<{ id: number; totalFen: number; payout: string | null }>(
    `SELECT c.id, c.total_fen AS "totalFen", p.status AS payout FROM claims c LEFT JOIN payouts p ON p.claim_id = c.id
      WHERE c.status = 'APPROVED' AND c.total_fen > 0`,
  );
  for (const claim of approved) {
    const amounts = credited.get(claim.id) ?? [];
    credited.delete(claim.id);
    if (amounts.length === 0) {
      result.lost += 1;
      result.problems.push(`approved claim ${claim.id} (${claim.totalFen} fen) was never paid (payout ${claim.payout ?? 'missing'})`);
    } else if (amounts.length > 1) {
      result.duplicated += amounts.length - 1;
      result.problems.push(`claim ${claim.id} was credited ${amounts.length} times`);
    }
    if (amounts.length && amounts[0] !== claim.totalFen) {
      result.wrongAmounts += 1;
      result.problems.push(`claim ${claim.id}: credited ${amounts[0]} fen, the rules granted ${claim.totalFen}`);
    }
    if (amounts.length) {
      result.claimsPaid += 1;
      result.paidFen += amounts[0]!;
    }
  }
  // A claim reversed after it was paid is not approved any more: the payment stands, and a recovery
  // of exactly what was paid must be open against the member (docs/design.md, Default benefit rules, rule 5).
  const { rows: recovered } = await db.query<{ claimId: number; amountFen: number }>(
    `SELECT claim_id AS "claimId", sum(amount_fen)::bigint AS "amountFen" FROM recoveries GROUP BY claim_id`,
  );
  const recoveryOf = new Map(recovered.map((r) => [r.claimId, r.amountFen]));
  for (const [claimId, amounts] of credited) {
    if (amounts.length === 1 && recoveryOf.get(claimId) === amounts[0]) continue;
    result.duplicated += amounts.length;
    result.problems.push(`claim ${claimId} is not approved but was credited ${amounts.length} time(s) (recovery ${recoveryOf.get(claimId) ?? 'none'})`);
  }
  const audit = await verifyAuditChain(db);
  if (audit.firstBroken) result.problems.push(`audit chain broken at row ${audit.firstBroken.seq}: ${audit.firstBroken.problem}`);
}

/** Every statement of the day reconciles: no open exception, every daily proof holds. */
async function judgeReconciliation(runtime: { db: pg.Pool; config: Config; keys: PersonalDataKeys }, result: RunResult, bank: BankSimulator, certsDir: string): Promise<void> {
  const adapter = configuredBankAdapter({ ...runtime.config, BANK_URL: bank.url }, parseSealSettings({ ...process.env, CERTS_DIR: certsDir }));
  const reconciliation = await reconcileDemo(runtime, { url: bank.url, adapter });
  result.reconciled = reconciliation.reconciled;
  if (reconciliation.exceptions) result.problems.push(reconciliation.summary);
  for (const line of reconciliation.proofLines) if (!line.endsWith('PROVEN')) result.problems.push(`daily proof: ${line}`);
  if (reconciliation.proofLines.length === 0) result.problems.push('no daily proof was made');
  // A payout is settled only by its matched debit: the search for debits that have not come looks among PAID payouts alone.
  const { rows: settledUndebited } = await runtime.db.query<{ id: number }>(
    `SELECT p.id FROM payouts p JOIN payout_attempts a ON a.payout_id = p.id AND a.status = 'PAID'
      WHERE p.status = 'SETTLED' AND NOT EXISTS (SELECT 1 FROM reconciliation_matches m WHERE m.payout_attempt_id = a.id AND m.kind = 'PAYOUT')`,
  );
  for (const p of settledUndebited) result.problems.push(`payout ${p.id} is SETTLED without its debit matched`);
}

export function describeRun(r: RunResult): string {
  const faults = Object.entries(r.faults).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  return `seed ${r.seed}: ${r.faultCount} faults (${faults}); ${r.settlements} settlements, ${r.claimsPaid} claims paid, ${r.releasedByPolicy} payouts released by the standing policy ` +
    `(${(r.paidFen / 100).toFixed(2)} CNY), ${r.reconciled} statement entries reconciled; ${r.lost} lost, ${r.duplicated} duplicated, ${r.wrongAmounts} wrong amounts; ` +
    `${r.restarts} worker start(s) failed and retried; ${r.seconds.toFixed(1)} s`;
}
