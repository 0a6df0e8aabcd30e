/**
 * Measuring helpers of bench/province.ts (one process each: the bench and every worker it starts):
 * - SQL timing: every pg.Client query of this process is timed by statement (first words of its
 *   text), so a step can say which statement took the database time;
 * - CPU: this process (process.cpuUsage), its own PostgreSQL backends (/proc/<pid>/stat of every
 *   backend a client of this process talked to), the whole machine (/proc/stat);
 * - peak RSS per step (sampled) and the load average.
 * Linux only (reads /proc); PostgreSQL must run on the same machine for backend CPU.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import pg from 'pg';

// ---------------------------------------------------------------- SQL timing

export interface StatementStat {
  sql: string;
  calls: number;
  ms: number;
}

const statements = new Map<string, StatementStat>();
const backendPids = new Set<number>();

function statementKey(text: unknown): string {
  if (typeof text !== 'string') return '?';
  return text.replace(/\s+/g, ' ').trim().slice(0, 110);
}

function record(key: string, ms: number): void {
  const s = statements.get(key);
  if (s) {
    s.calls += 1;
    s.ms += ms;
  } else statements.set(key, { sql: key, calls: 1, ms });
}

let installed = false;

/** Times every query of every pg.Client in this process (promise, callback and submittable forms). */
export function installSqlTiming(): void {
  if (installed) return;
  installed = true;
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function timedQuery(this: pg.Client, ...args: unknown[]) {
    const first = args[0] as { text?: string } | string | undefined;
    const text = typeof first === 'string' ? first : first?.text;
    if (typeof text === 'string' && text.startsWith(SAMPLER_MARK)) return original.apply(this, args);
    const key = statementKey(text);
    const started = performance.now();
    const pid = (this as unknown as { processID?: number }).processID;
    if (pid) backendPids.add(pid);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      record(key, performance.now() - started);
    };
    const last = args.at(-1);
    if (typeof last === 'function') {
      args[args.length - 1] = function (this: unknown, ...results: unknown[]) {
        finish();
        return (last as (...a: unknown[]) => unknown).apply(this, results);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args) as { then?: unknown; once?: unknown } | undefined;
    if (result && typeof result.then === 'function') {
      (result as Promise<unknown>).then(finish, finish);
    } else if (result && typeof result.once === 'function') {
      const emitter = result as unknown as NodeJS.EventEmitter;
      emitter.once('finish', finish);
      emitter.once('end', finish);
      emitter.once('error', finish);
    }
    return result;
  };
}

export function statementSnapshot(): Map<string, StatementStat> {
  return new Map([...statements].map(([k, v]) => [k, { ...v }]));
}

/** Statements by time spent since `before` (a snapshot), largest first. */
export function statementsSince(before: Map<string, StatementStat>, top = 5): StatementStat[] {
  const out: StatementStat[] = [];
  for (const [key, now] of statements) {
    const was = before.get(key);
    const calls = now.calls - (was?.calls ?? 0);
    const ms = now.ms - (was?.ms ?? 0);
    if (calls > 0) out.push({ sql: key, calls, ms });
  }
  return out.sort((a, b) => b.ms - a.ms).slice(0, top);
}

export function mergeStatements(lists: StatementStat[][], top = 5): StatementStat[] {
  const merged = new Map<string, StatementStat>();
  for (const s of lists.flat()) {
    const m = merged.get(s.sql);
    if (m) {
      m.calls += s.calls;
      m.ms += s.ms;
    } else merged.set(s.sql, { ...s });
  }
  return [...merged.values()].sort((a, b) => b.ms - a.ms).slice(0, top);
}

/** Backend pids of this process's clients so far. */
export function ownBackendPids(): number[] {
  return [...backendPids];
}

// ---------------------------------------------------------------- what the backends were doing

const SAMPLER_MARK = '/* province-activity */';

/**
 * Samples pg_stat_activity of this database every `everyMs`: per backend pid, how often it was on
 * CPU (active, no wait event), waiting (wait event type:name) or idle in a transaction (the client,
 * not PostgreSQL, had the turn), with the statement it was running. Steps then read the shares
 * for their own backends: where a statement's time went, CPU, lock waits or I/O.
 */
export class ActivitySampler {
  private readonly client: pg.Client;
  private readonly counts = new Map<number, Map<string, number>>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(connectionString: string) {
    this.client = new pg.Client({ connectionString, application_name: 'province-activity' });
  }

  async start(everyMs = 200): Promise<void> {
    await this.client.connect();
    this.timer = setInterval(() => void this.tick(), everyMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ pid: number; state: string | null; wt: string | null; we: string | null; q: string }>(
        `${SAMPLER_MARK} SELECT pid, state, wait_event_type AS wt, wait_event AS we, left(regexp_replace(query, '\\s+', ' ', 'g'), 60) AS q
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
      );
      for (const r of rows) {
        if (r.state === 'idle') continue;
        const what = r.state === 'active' ? `${r.wt ? `${r.wt}:${r.we}` : 'CPU'} in "${r.q}"` : `${r.state} (after "${r.q}")`;
        let perPid = this.counts.get(r.pid);
        if (!perPid) this.counts.set(r.pid, (perPid = new Map()));
        perPid.set(what, (perPid.get(what) ?? 0) + 1);
      }
    } catch {
      // a sample lost is no matter
    } finally {
      this.busy = false;
    }
  }

  snapshot(): Map<number, Map<string, number>> {
    return new Map([...this.counts].map(([pid, m]) => [pid, new Map(m)]));
  }

  /** Shares of the samples of `pids` since `before`, largest first (busy samples only: idle connections are left out). */
  since(before: Map<number, Map<string, number>>, pids: Iterable<number>, top = 5): { samples: number; shares: { what: string; share: number }[] } {
    const sum = new Map<string, number>();
    for (const pid of new Set(pids)) {
      const now = this.counts.get(pid);
      if (!now) continue;
      const was = before.get(pid);
      for (const [what, n] of now) {
        const d = n - (was?.get(what) ?? 0);
        if (d > 0) sum.set(what, (sum.get(what) ?? 0) + d);
      }
    }
    const samples = [...sum.values()].reduce((a, b) => a + b, 0);
    const shares = [...sum].map(([what, n]) => ({ what, share: n / Math.max(1, samples) })).sort((a, b) => b.share - a.share).slice(0, top);
    return { samples, shares };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.client.end().catch(() => undefined);
  }
}

export function activityText(a: { samples: number; shares: { what: string; share: number }[] }): string {
  return `${n0(a.samples)} samples: ${a.shares.map((s) => `${Math.round(s.share * 100)}% ${s.what}`).join('; ')}`;
}

// ---------------------------------------------------------------- CPU

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of a process by pid, or null when it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return null;
  }
}

/** Peak resident set (VmHWM) of a process in bytes, or null when it is gone. */
export function processPeakRss(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

// The last CPU reading of each backend this process used (a backend that exits keeps its last reading).
const backendCpu = new Map<number, number>();

export function sampleBackends(): void {
  for (const pid of backendPids) {
    // A PostgreSQL on another machine has backends whose pids mean nothing here: counted as none.
    if (!isPostgresProcess(pid)) continue;
    const s = processCpuSeconds(pid);
    if (s !== null) backendCpu.set(pid, s);
  }
}

function isPostgresProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
  } catch {
    return false;
  }
}

/** CPU seconds so far of each PostgreSQL process on this machine (backends, and the server's own background processes), by pid. */
export function postgresCpu(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    const s = Number.isInteger(pid) && isPostgresProcess(pid) ? processCpuSeconds(pid) : null;
    if (s !== null) byPid.set(pid, s);
  }
  return byPid;
}

/**
 * CPU seconds PostgreSQL's processes spent since `before` (`postgresCpu`): a process started since
 * counts whole, one that ended since counts nothing (what it spent after `before` is lost with it).
 */
export function postgresCpuSince(before: Map<number, number>): number {
  let sum = 0;
  for (const [pid, s] of postgresCpu()) sum += s - (before.get(pid) ?? 0);
  return sum;
}

/** CPU seconds of every PostgreSQL backend this process has talked to, so far. */
export function backendCpuSeconds(): number {
  sampleBackends();
  let sum = 0;
  for (const s of backendCpu.values()) sum += s;
  return sum;
}

export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU seconds so far of this process (every thread) and of its PostgreSQL backends (installSqlTiming first). */
export function cpuSoFar(): { own: number; backends: number } {
  return { own: ownCpuSeconds(), backends: backendCpuSeconds() };
}

/**
 * CPU seconds spent since `from`, and the floor they set: their sum spread over every core of the
 * machine, the least wall time the same work could take here however it were overlapped (PostgreSQL's
 * own background processes, WAL writer and checkpointer, not counted: the floor is optimistic).
 */
export function cpuSince(from: { own: number; backends: number }): CpuSpent {
  const now = cpuSoFar();
  const ownS = now.own - from.own;
  const backendsS = now.backends - from.backends;
  return { ownS, backendsS, floorS: floorSeconds(ownS + backendsS) };
}

export interface CpuSpent { ownS: number; backendsS: number; floorS: number }

/** CPU seconds spread over every core of the machine: the least wall time they allow here. */
export function floorSeconds(cpuS: number): number {
  return cpuS / availableParallelism();
}

/** `spent` as a step's line says it. */
export function cpuText(spent: CpuSpent): string {
  return `CPU: this process ${spent.ownS.toFixed(1)} s (every thread), its PostgreSQL backends ${spent.backendsS.toFixed(1)} s: ` +
    `at least ${spent.floorS.toFixed(1)} s on ${availableParallelism()} cores`;
}

/** Busy and total jiffies of the whole machine. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = line.reduce((a, b) => a + b, 0);
  const idle = (line[3] ?? 0) + (line[4] ?? 0);
  return { busy: total - idle, total };
}

// ---------------------------------------------------------------- steps

export interface Sampler {
  /** Highest RSS of this process since the last reset (bytes). */
  peak(): number;
  reset(): void;
  stop(): void;
}

export function startSampler(everyMs = 200): Sampler {
  let peak = process.memoryUsage.rss();
  let ticks = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
    if (++ticks % 5 === 0) sampleBackends();
  }, everyMs);
  timer.unref();
  return {
    peak: () => Math.max(peak, process.memoryUsage.rss()),
    reset: () => void (peak = process.memoryUsage.rss()),
    stop: () => clearInterval(timer),
  };
}

export interface StepMark {
  startedAt: number;
  ownCpu: number;
  backendCpu: number;
  machine: { busy: number; total: number };
  sql: Map<string, StatementStat>;
  activity?: Map<number, Map<string, number>>;
}

export function mark(sampler: Sampler, activity?: ActivitySampler): StepMark {
  sampler.reset();
  return {
    startedAt: performance.now(), ownCpu: ownCpuSeconds(), backendCpu: backendCpuSeconds(), machine: machineCpu(), sql: statementSnapshot(),
    ...(activity ? { activity: activity.snapshot() } : {}),
  };
}

export interface StepEvidence {
  seconds: number;
  /** This process's CPU seconds, its PostgreSQL backends' CPU seconds. */
  ownCpu: number;
  backendCpu: number;
  /** Share of the machine's CPU (all cores) busy during the step, any process. */
  machineBusy: number;
  peakRss: number;
  load: number[];
  sql: StatementStat[];
  /** What this process's backends were doing (sampled), when an ActivitySampler was given to mark(). */
  activity?: string;
}

export function since(m: StepMark, sampler: Sampler, activity?: ActivitySampler, pids: Iterable<number> = backendPids): StepEvidence {
  const machine = machineCpu();
  return {
    ...(activity && m.activity ? { activity: activityText(activity.since(m.activity, pids)) } : {}),
    seconds: (performance.now() - m.startedAt) / 1000,
    ownCpu: ownCpuSeconds() - m.ownCpu,
    backendCpu: backendCpuSeconds() - m.backendCpu,
    machineBusy: (machine.busy - m.machine.busy) / Math.max(1, machine.total - m.machine.total),
    peakRss: sampler.peak(),
    load: loadavg(),
    sql: statementsSince(m.sql),
  };
}

/** What a worker process reports when it stops. */
export interface WorkerReport {
  pid: number;
  /** Its PostgreSQL backends. */
  backendPids: number[];
  peakRss: number;
  ownCpu: number;
  backendCpu: number;
  sql: StatementStat[];
}

export function workerReport(): WorkerReport {
  return {
    pid: process.pid, backendPids: ownBackendPids(), peakRss: process.resourceUsage().maxRSS * 1024, ownCpu: ownCpuSeconds(), backendCpu: backendCpuSeconds(),
    sql: statementsSince(new Map(), 8),
  };
}

// ---------------------------------------------------------------- formatting

export const mb = (bytes: number) => `${Math.round(bytes / 1e6).toLocaleString('en')} MB`;
export const n0 = (x: number) => Math.round(x).toLocaleString('en');
export const loadText = (load: number[]) => load.map((l) => l.toFixed(2)).join(' ');

export function sqlText(list: StatementStat[], top = 3): string {
  return list.slice(0, top).map((s) => `${(s.ms / 1000).toFixed(1)} s in ${n0(s.calls)}× "${s.sql.slice(0, 90)}"`).join('; ');
}
