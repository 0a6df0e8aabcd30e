/**
 * What the settlement benchmarks share: a scratch schema with the demo members enrolled, the
 * platform simulator in its own process, and `hub work`-like worker processes running some domains.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { config } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { log } from '../src/log.ts';
import { personalDataKeys } from '../src/privacy/personalData.ts';
import { importRoster } from '../src/members/rosterImport.ts';
import { demoSample, ROSTER_HEADER, rosterLine } from '../src/demo/sampleData.ts';
import * as store from '../src/settlements/store.ts';
import { unadjudicatedSettlementIds } from '../src/benefits/store.ts';
import * as settlements from '../jobs/settlements.ts';
import * as benefits from '../jobs/benefits.ts';
import { workerServices, type WorkerServices } from '../jobs/services.ts';
import { closeQueues, createQueues, unfinishedJobs } from '../src/queues.ts';
import { enqueueSettlementPull } from '../src/settlements/queue.ts';
import { chinaToday } from '../src/kernel/time.ts';
import { registerSampleUnits } from '../src/members/unitTerms.ts';
import { approver, proposer } from '../jobs/demo/programmes.ts';

const cfg = config();
const keys = personalDataKeys(cfg.PII_KEY, cfg.PII_HASH_KEY);

/** The domains a worker process runs: settlement pull and match, and/or adjudication. */
export type Domain = 'settlements' | 'adjudication';
const STARTERS: Record<Domain, (services: WorkerServices) => Promise<Worker[]>> = { settlements: settlements.start, adjudication: benefits.start };

/** A scratch schema and queue prefix, migrated, with its own pool and Redis connection. */
export async function scratch(poolSize = 4) {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  await migrate({ databaseUrl: cfg.DATABASE_URL, schema });
  const db = createPool({ connectionString: cfg.DATABASE_URL, schema, max: poolSize });
  const redis = new Redis(cfg.REDIS_URL, { maxRetriesPerRequest: null });
  return { schema, prefix, db, redis };
}

/** The members `hub sim insurance --demo-members` settles for, enrolled for last year and this year. */
export async function seedDemoMembers(db: pg.Pool, memberCount: number): Promise<void> {
  const thisYear = Number(chinaToday().slice(0, 4));
  const { units, members } = demoSample(memberCount);
  await registerSampleUnits(db, units, proposer, approver);
  for (const year of [thisYear - 1, thisYear]) {
    const { rows } = await db.query<{ id: number }>(`INSERT INTO roster_imports (file_name, sha256, created_by) VALUES ('bench.csv', '\\x', 'bench') RETURNING id`);
    await importRoster(db, keys, ROSTER_HEADER + members.map((m, i) => rosterLine(m, year, i % 7 === 0)).join(''), { importId: rows[0]!.id, today: `${year}-01-05` });
  }
}

/** `hub sim insurance` serving `count` settlements of the demo members; returns its URL. */
export async function startSimulator(count: number, memberCount: number) {
  const port = 4790 + Math.floor(Math.random() * 100);
  const hub = fileURLToPath(new URL('../bin/hub.mjs', import.meta.url));
  const simulator = spawn(process.execPath, [hub, 'sim', 'insurance', '--port', String(port), '--count', String(count),
    '--demo-members', String(memberCount), '--seed', '7', '--today', chinaToday()], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(simulator.stdout!, 'data')) as [Buffer];
  return { url: /(http:\S+)/.exec(line.toString())![1]!, stop: () => simulator.kill('SIGTERM') };
}

/**
 * The workers of `domains` over the bench's schema and queue prefix, as `hub work` runs them.
 * Decided claims are not announced (no subscriber, no payout or notice worker), as in bench/adjudication.ts.
 */
export async function runWorkers(schema: string, prefix: string, domains: readonly Domain[]) {
  const db = createPool({ connectionString: cfg.DATABASE_URL, schema, max: 10 });
  const redis = new Redis(cfg.REDIS_URL, { maxRetriesPerRequest: null });
  const services = workerServices({
    db, keys, connection: redis, prefix, log, payouts: null, notices: null, adjudication: { onDecided: async () => undefined },
  });
  const workers = (await Promise.all(domains.map((d) => STARTERS[d](services)))).flat();
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await closeQueues(services.queues);
      redis.disconnect();
      await db.end();
    },
  };
}

const WORKER_ENV = 'BENCH_WORKER_OF';

/**
 * In a worker process spawned by `workerProcesses`: runs its workers until SIGTERM and returns
 * true. In the bench's own process: false.
 */
export async function servedAsWorker(): Promise<boolean> {
  const of = process.env[WORKER_ENV];
  if (!of) return false;
  const [schema, prefix, domains] = of.split(' ') as [string, string, string];
  const workers = await runWorkers(schema, prefix, domains.split(',') as Domain[]);
  process.send?.('ready');
  process.once('SIGTERM', () => void workers.close().then(() => process.exit(0)));
  return true;
}

/**
 * `count` worker processes of `domains` in all: count - 1 children (the bench file `self` again,
 * which must call `servedAsWorker` first) and this process. `close` stops them all.
 */
export async function workerProcesses(self: string, count: number, schema: string, prefix: string, domains: readonly Domain[]) {
  const others: ChildProcess[] = [];
  for (let i = 1; i < count; i++) {
    const child = spawn(process.execPath, ['--import', 'tsx', self], {
      env: { ...process.env, [WORKER_ENV]: `${schema} ${prefix} ${domains.join(',')}` }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await once(child, 'message');
    others.push(child);
  }
  const own = await runWorkers(schema, prefix, domains);
  return {
    async close() {
      for (const child of others) child.kill('SIGTERM');
      await Promise.all(others.map((child) => once(child, 'exit')));
      await own.close();
    },
  };
}

export type SourceCounts = Awaited<ReturnType<typeof store.sourceCounts>>[number];

/**
 * Waits until source `name` has pulled all `count` records and none is left RECEIVED (matched or
 * not). A failed pull is retried by its job; only one that makes no progress for a minute fails the bench.
 * Polled cheaply (the source's row, then the partial index of RECEIVED rows): counting the source's
 * rows each time scanned them all and took a tenth of the machine from the flow it measures.
 */
export async function pulledAndMatched(db: pg.Pool, name: string, count: number): Promise<SourceCounts> {
  for (let cursor = '', since = performance.now(); ;) {
    // The cursor first: a page commits with its cursor, so what is read after the last cursor holds every settlement.
    const source = await store.sourceByName(db, name);
    if (source?.cursor === String(count) && !(await store.anyReceived(db, name))) return (await store.sourceCounts(db, [name]))[0]!;
    if (source?.cursor !== cursor) [cursor, since] = [source?.cursor ?? '', performance.now()];
    else if (source?.lastError && performance.now() - since > 60_000) throw new Error(`pull failed: ${source.lastError}`);
    await sleep(100);
  }
}

/**
 * Waits until no MATCHED settlement is left without its claim. That check scans the matched rows, so
 * it runs only once no adjudication job waits or runs; a settlement it still finds (its job not added
 * yet, or failed and swept again) keeps the bench waiting.
 */
export async function allAdjudicated(db: pg.Pool, adjudication: Queue): Promise<void> {
  for (;;) {
    if ((await unfinishedJobs(adjudication)) === 0 && !(await unadjudicatedSettlementIds(db, 0, 1)).length) return;
    await sleep(100);
  }
}

export interface Flow {
  /** The bench file (spawned again for the worker processes). */
  self: string;
  db: pg.Pool;
  schema: string;
  prefix: string;
  redis: Redis;
  simulatorUrl: string;
  settlements: number;
  pageSize: number;
}

/**
 * Pulls all of the simulator's settlements into source `source` with `processes` worker processes
 * of `domains`; waits until all are matched and, when adjudication runs, until every matched one is
 * decided. Returns the seconds from the first pull to each of those points.
 */
export async function pullThrough(flow: Flow, source: string, processes: number, domains: readonly Domain[]) {
  const workers = await workerProcesses(flow.self, processes, flow.schema, flow.prefix, domains);
  const queues = createQueues(flow.redis, flow.prefix);
  try {
    await store.upsertSource(flow.db, { name: source, kind: 'PLATFORM', endpoint: flow.simulatorUrl, pageSize: flow.pageSize, pollSeconds: null });
    const started = performance.now();
    await enqueueSettlementPull(queues.settlementPull, source, null);
    const counts = await pulledAndMatched(flow.db, source, flow.settlements);
    const matchedSeconds = (performance.now() - started) / 1000;
    if (domains.includes('adjudication')) await allAdjudicated(flow.db, queues.claimAdjudication);
    return { counts, matchedSeconds, decidedSeconds: (performance.now() - started) / 1000 };
  } finally {
    await workers.close();
    await closeQueues(queues);
  }
}

/** Decides, with `processes` adjudication worker processes, the claims whose jobs are queued; returns the seconds. */
export async function adjudicateQueued(flow: Flow, processes: number): Promise<number> {
  const started = performance.now();
  const workers = await workerProcesses(flow.self, processes, flow.schema, flow.prefix, ['adjudication']);
  const queues = createQueues(flow.redis, flow.prefix);
  try {
    await allAdjudicated(flow.db, queues.claimAdjudication);
    return (performance.now() - started) / 1000;
  } finally {
    await workers.close();
    await closeQueues(queues);
  }
}
