/**
 * 即时办: how long a member waits for the money. The platform simulator (`hub sim
 * insurance --per-second`, its own process) lets settlements appear at a steady rate; two `hub work`
 * processes pull, match and adjudicate them, and — under a standing payment policy for the UNION
 * funder, proposed by one FINANCE person and approved by another — release small sealed batches
 * to the bank simulator (`hub sim bank`, its own process) continuously. The figure, per claim
 * approved by the rules alone: from the moment its settlement appeared on the platform (the
 * simulator's GET /sim/appeared) to the moment the bank credited the member (the bank's GET
 * /ledger `creditedAt`, joined by EndToEndId), as median and 95th percentile; and the median of
 * each stage by the hub's own timestamps. Target: median under 60 s.
 *
 * The simulators keep their own delays (PLATFORM_LATENCY_MS before each feed answer, BANK_DELAY_MS
 * before each bank channel answer); the same run measures them bare (`floor_*`): the part of the
 * wait the hub cannot shorten besides its schedules.
 *
 * `npm run bench -- instant` or `npx tsx bench/instant.ts` (RATE settlements/s, SECONDS of feed,
 * WORKERS, MEMBERS, SETTLEMENT_PULL_SECONDS, PAYOUT_RELEASE_SECONDS, PAYOUT_POLL_MS,
 * PLATFORM_LATENCY_MS, BANK_DELAY_MS, WAIT_SECONDS: how long to wait after the feed for the last credits).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { config } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { personalDataKeys } from '../src/privacy/personalData.ts';
import { loadSampleRegistry } from '../jobs/demo/demo.ts';
import { writeDevCertificates } from '../certs/devCa.ts';
import { DEV_SEAL_P12_PASSPHRASE } from '../src/seals/settings.ts';
import { benefitSettings } from '../src/benefits/settings.ts';
import { unadjudicatedSettlementIds } from '../src/benefits/store.ts';
import { ensureShippedRuleSets } from '../src/benefits/catalogue.ts';
import { publishYearRules } from './_ruleSets.ts';
import { approvePaymentPolicy, proposePaymentPolicy } from '../src/payouts/policies.ts';
import { payoutSettings } from '../src/payouts/settings.ts';
import { funderByCode } from '../src/payouts/store/funders.ts';
import { platformSource } from '../src/settlements/sources/platform.ts';
import { UNSCOPED } from '../src/kernel/scope.ts';
import { chinaToday } from '../src/kernel/time.ts';
import { reportFigures, rounded, type Figure } from './_report.ts';
import { dropScratch } from './_scratch.ts';

const cfg = config();
const keys = personalDataKeys(cfg.PII_KEY, cfg.PII_HASH_KEY);
const hub = fileURLToPath(new URL('../bin/hub.mjs', import.meta.url));
const setting = (name: string, fallback: number, min: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name}: must be a whole number of at least ${min} (got ${process.env[name]})`);
  return value;
};

// 即时办 as a deployment would run it: the platform asked every 5 s, payouts released every 5 s,
// the bank asked for a batch's final word every second.
const rate = setting('RATE', 2, 1);
const seconds = setting('SECONDS', 120, 1);
const processes = setting('WORKERS', 2, 1);
const memberCount = setting('MEMBERS', 2000, 10);
const pullSeconds = setting('SETTLEMENT_PULL_SECONDS', 5, 1);
const releaseSeconds = setting('PAYOUT_RELEASE_SECONDS', 5, 1);
const pollMs = setting('PAYOUT_POLL_MS', 1000, 100);
const platformLatencyMs = setting('PLATFORM_LATENCY_MS', 300, 0);
const bankDelayMs = setting('BANK_DELAY_MS', 300, 0);
const waitSeconds = setting('WAIT_SECONDS', 180, 1);
// The feed starts once the workers are up (on a loaded machine `hub work` takes 10–30 s to start):
// nothing appears while they start.
const FEED_DELAY_MS = 45_000;
const FLOOR_ROUNDS = 7;

const median = (values: number[]) => quantile(values, 0.5);
/** Nearest rank: the smallest value with at least `q` of the values at or below it; null for none. */
function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}
const ms = (value: number | null) => (value === null ? null : Math.round(value));
const secondsText = (value: number | null) => (value === null ? '-' : `${(value / 1000).toFixed(1)} s`);

/** A `hub ...` process whose first line on stdout names its URL; the rest of its output goes to stderr. */
async function startHubProcess(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [hub, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => [Buffer.from('(exited)')])])) as [Buffer];
  child.stdout!.pipe(process.stderr);
  const url = /(http:\S+)/.exec(line.toString())?.[1];
  if (!url) throw new Error(`hub ${args.slice(0, 2).join(' ')} said: ${line.toString()}`);
  return { child, url };
}

async function waitReady(port: number, child: ChildProcess, until: number): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`a worker process exited (${child.exitCode}) while starting`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > until) throw new Error(`the worker on port ${port} was not ready before the feed started`);
    await sleep(250);
  }
}

async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

interface PaidClaim {
  setlId: string;
  e2e: string;
  receivedAt: Date;
  decidedAt: Date;
  sentAt: Date | null;
  acceptedAt: Date | null;
}

async function main() {
  const count = rate * seconds;
  const loadBefore = loadavg();
  const today = chinaToday();
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const workDir = path.join(fileURLToPath(new URL('../.data/bench-instant/', import.meta.url)), schema);
  const certsDir = path.join(workDir, 'certs');
  mkdirSync(workDir, { recursive: true });
  writeDevCertificates(certsDir, { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });

  await migrate({ databaseUrl: cfg.DATABASE_URL, schema });
  const db = createPool({ connectionString: cfg.DATABASE_URL, schema, max: 4 });
  const redis = new Redis(cfg.REDIS_URL, { maxRetriesPerRequest: null });
  const children: ChildProcess[] = [];
  let figures: Record<string, Figure>;
  let exitCode = 0;
  try {
    // The demo's members: each card is the first the member gave (no change, so never cooling off).
    await loadSampleRegistry({ db, keys }, memberCount);
    // The union's rules for the years the feed's settlements fall in (last year and this one): the
    // default rule set again, as province.ts publishes it (a year no rule set covers sends every claim to review).
    const year = Number(today.slice(0, 4));
    await ensureShippedRuleSets(db);
    await publishYearRules(db, year);

    const finance = [{ subject: 'bench-finance-1', role: 'FINANCE' as const }, { subject: 'bench-finance-2', role: 'FINANCE' as const }];
    const union = await funderByCode(db, 'UNION');
    if (!union) throw new Error('the UNION funder is missing');
    // Generous for the feed: any claim the rules approve alone (at most AUTO_APPROVE_MAX_FEN), as many as the feed has.
    const maxPayoutFen = benefitSettings().AUTO_APPROVE_MAX_FEN;
    const settings = payoutSettings(cfg);
    const accountUnchangedDays = Math.max(30, settings.coolingOffDays);
    const proposed = await proposePaymentPolicy(db, finance[0]!, UNSCOPED, settings, {
      funderId: union.id, maxPayoutFen, dailySumFen: maxPayoutFen * count, dailyCount: count, accountUnchangedDays,
      validFrom: new Date(), validUntil: new Date(Date.now() + 86_400_000), reason: 'bench: 即时办 under a standing policy',
    });
    await approvePaymentPolicy(db, finance[1]!, UNSCOPED, proposed.id);

    const bank = await startHubProcess(['sim', 'bank', '--port', String(30_000 + Math.floor(Math.random() * 10_000)), '--certs', certsDir, '--account', settings.account.account]);
    children.push(bank.child);
    await fetch(`${bank.url}/admin/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ delayMs: bankDelayMs }) });

    const feedFrom = new Date(Date.now() + FEED_DELAY_MS);
    const platform = await startHubProcess([
      'sim', 'insurance', '--port', String(30_000 + Math.floor(Math.random() * 10_000)), '--count', String(count), '--demo-members', String(memberCount),
      '--seed', '7', '--today', today, '--per-second', String(rate), '--feed-from', feedFrom.toISOString(),
      ...(platformLatencyMs ? ['--latency', String(platformLatencyMs)] : []),
    ]);
    children.push(platform.child);

    const databaseUrl = `${cfg.DATABASE_URL}${cfg.DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema},public`)}`;
    const basePort = 40_000 + Math.floor(Math.random() * 10_000);
    const workers = Array.from({ length: processes }, (_, i) => {
      const child = spawn(process.execPath, [hub, 'work'], {
        env: {
          ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl, REDIS_URL: cfg.REDIS_URL, QUEUE_PREFIX: prefix,
          INSURANCE_PLATFORM_URL: platform.url, SETTLEMENT_PULL_SECONDS: String(pullSeconds), PAYOUT_RELEASE_SECONDS: String(releaseSeconds),
          PAYOUT_POLL_MS: String(pollMs), BANK_URL: bank.url, CERTS_DIR: certsDir, PAYOUT_OUT_DIR: path.join(workDir, 'out'), WORKER_PORT: String(basePort + i),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child.stdout!.pipe(process.stderr);
      children.push(child);
      return child;
    });
    const spawnedAt = Date.now();
    await Promise.all(workers.map((child, i) => waitReady(basePort + i, child, feedFrom.getTime())));
    process.stderr.write(`  workers ready in ${((Date.now() - spawnedAt) / 1000).toFixed(1)} s; the feed starts in ${((feedFrom.getTime() - Date.now()) / 1000).toFixed(1)} s\n`);

    console.log(`instant: ${count} settlements appearing at ${rate}/s for ${seconds} s for ${memberCount} members, ${processes} worker processes`);
    console.log(`  settings: SETTLEMENT_PULL_SECONDS=${pullSeconds} PAYOUT_RELEASE_SECONDS=${releaseSeconds} PAYOUT_POLL_MS=${pollMs}; ` +
      `platform latency ${platformLatencyMs} ms per feed answer, bank delay ${bankDelayMs} ms per channel answer; load before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`  policy ${proposed.id} for UNION: at most ${maxPayoutFen} fen per payout, ${count} payouts a day, cards unchanged ${accountUnchangedDays} days`);

    // Until the feed has appeared, then until every claim approved by the rules has its final word (bounded).
    const feedEnds = feedFrom.getTime() + seconds * 1000;
    const deadline = feedEnds + waitSeconds * 1000;
    let state = await pipelineState(db, count);
    while (Date.now() < feedEnds || (!state.done && Date.now() < deadline)) {
      await sleep(2000);
      state = await pipelineState(db, count);
    }
    const loadAfter = loadavg();

    // The oracles: when each settlement appeared, when each payment was credited.
    const appeared = new Map(((await (await fetch(new URL('/sim/appeared', platform.url))).json()) as { appeared: { setlId: string; appearedAt: string }[] })
      .appeared.map((a) => [a.setlId, Date.parse(a.appearedAt)]));
    const credits = ((await (await fetch(`${bank.url}/ledger`)).json()) as { credits: { endToEndId: string; creditedAt: string }[] }).credits;
    // The bank writes creditedAt in whole seconds: taken as the middle of its second.
    const creditedAt = new Map(credits.map((c) => [c.endToEndId, Date.parse(c.creditedAt) + 500]));
    const { rows } = await db.query<PaidClaim>(
      `SELECT s.setl_id AS "setlId", a.end_to_end_id AS e2e, s.received_at AS "receivedAt", c.decided_at AS "decidedAt",
              a.sent_at AS "sentAt", a.accepted_at AS "acceptedAt"
         FROM claims c JOIN settlements s ON s.id = c.settlement_id JOIN payouts p ON p.claim_id = c.id
         JOIN payout_attempts a ON a.payout_id = p.id
        WHERE claim_approved_by_rules(c.id)`,
    );
    const paid = rows.filter((r) => creditedAt.has(r.e2e) && appeared.has(r.setlId));
    const stage = (from: (r: PaidClaim) => number | undefined, to: (r: PaidClaim) => number | undefined) =>
      ms(median(paid.flatMap((r) => {
        const [a, b] = [from(r), to(r)];
        return a === undefined || b === undefined ? [] : [b - a];
      })));
    const total = paid.map((r) => creditedAt.get(r.e2e)! - appeared.get(r.setlId)!);

    // The bare delays of the simulators, measured now: one feed page, one bank submission and status query.
    const feedSource = platformSource({ url: platform.url, client: { code: cfg.INSURANCE_CLIENT_CODE, name: 'bench', area: cfg.INSURANCE_AREA_CODE }, infno: cfg.INSURANCE_FEED_INFNO });
    const feedPage: number[] = [];
    const bankRoundTrip: number[] = [];
    for (let i = 0; i < FLOOR_ROUNDS; i++) {
      feedPage.push(await timed(() => feedSource.fetchPage(String(count - 10), cfg.SETTLEMENT_PAGE_SIZE)));
      // Unsealed, so refused before anything is recorded; then the status of a file the bank never had.
      const msgId = `FLOOR${schema}${i}`;
      bankRoundTrip.push(await timed(async () => {
        await (await fetch(`${bank.url}/batches/${msgId}`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<Document/>' })).arrayBuffer();
        await (await fetch(`${bank.url}/batches/${msgId}/status`)).arrayBuffer();
      }));
    }

    const medianMs = ms(median(total));
    const p95Ms = ms(quantile(total, 0.95));
    const maxMs = total.length ? Math.max(...total) : null;
    const stages = {
      appeared_to_received_ms: stage((r) => appeared.get(r.setlId), (r) => r.receivedAt.getTime()),
      received_to_decided_ms: stage((r) => r.receivedAt.getTime(), (r) => r.decidedAt.getTime()),
      decided_to_sent_ms: stage((r) => r.decidedAt.getTime(), (r) => r.sentAt?.getTime()),
      sent_to_credited_ms: stage((r) => r.sentAt?.getTime(), (r) => creditedAt.get(r.e2e)),
      sent_to_accepted_ms: stage((r) => r.sentAt?.getTime(), (r) => r.acceptedAt?.getTime()),
    };
    const floors = { floor_feed_page_ms: ms(median(feedPage)), floor_bank_submit_status_ms: ms(median(bankRoundTrip)) };
    const { rows: outcomes } = await db.query<{ what: string; n: number }>(
      `SELECT 'settlements ' || status AS what, count(*)::int AS n FROM settlements GROUP BY status
       UNION ALL SELECT 'claims ' || status, count(*)::int FROM claims GROUP BY status ORDER BY 1`,
    );
    console.log(`  ${outcomes.map((o) => `${o.what} ${o.n}`).join(', ')}`);
    console.log(`  ${state.approvedByRules} claims approved by the rules alone: ${paid.length} credited, ${state.refused} refused by the bank, ` +
      `${state.held} held, ${state.open} not finished${state.done ? '' : ` after waiting ${waitSeconds} s (${state.describe})`}`);
    console.log(`  appeared -> credited: median ${secondsText(medianMs)}, p95 ${secondsText(p95Ms)}, max ${secondsText(maxMs)} (target: median under 60 s)`);
    console.log(`  stages (medians): appeared->received ${secondsText(stages.appeared_to_received_ms)}, received->decided ${secondsText(stages.received_to_decided_ms)}, ` +
      `decided->sent ${secondsText(stages.decided_to_sent_ms)}, sent->credited ${secondsText(stages.sent_to_credited_ms)} (creditedAt in whole seconds, taken as mid-second), ` +
      `sent->accepted as the hub learnt it ${secondsText(stages.sent_to_accepted_ms)}`);
    console.log(`  floors (bare, medians of ${FLOOR_ROUNDS}): feed page ${floors.floor_feed_page_ms} ms, bank submission + status ${floors.floor_bank_submit_status_ms} ms; ` +
      `load after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);
    figures = {
      rate, seconds, settlements: count, members: memberCount, workerProcesses: processes,
      SETTLEMENT_PULL_SECONDS: pullSeconds, PAYOUT_RELEASE_SECONDS: releaseSeconds, PAYOUT_POLL_MS: pollMs,
      platform_latency_ms: platformLatencyMs, bank_delay_ms: bankDelayMs,
      approved_by_rules: state.approvedByRules, credited: paid.length, refused: state.refused, held: state.held, not_finished: state.open,
      median_ms: medianMs, p95_ms: p95Ms, max_ms: maxMs, ...stages, ...floors, target_median_ms: 60_000,
      load_before: rounded(loadBefore[0]!, 2), load_after: rounded(loadAfter[0]!, 2),
    };
    if (!state.done || medianMs === null || medianMs >= 60_000) exitCode = 1;
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined)));
    await db.end();
    await dropScratch(cfg.DATABASE_URL, schema, { redis, prefix });
    rmSync(workDir, { recursive: true, force: true });
  }
  // After the finally: the child processes (sharing stderr only) have exited.
  reportFigures(import.meta.url, figures);
  process.exit(exitCode);
}

interface PipelineState {
  approvedByRules: number;
  /** Payouts the bank refused (the member's account closed or wrong). */
  refused: number;
  /** Payouts held (no card, or a card in its cooling-off), which no policy releases. */
  held: number;
  /** Claims approved by the rules whose payment has no final word yet. */
  open: number;
  done: boolean;
  describe: string;
}

/** Where the feed's claims stand: done when the whole feed is in, decided, and every payment has its final word. */
async function pipelineState(db: pg.Pool, count: number): Promise<PipelineState> {
  const { rows: [s] } = await db.query<{ cursor: string | null; received: number; approvedByRules: number; refused: number; held: number; open: number }>(
    `SELECT (SELECT cursor FROM settlement_sources WHERE name = 'platform') AS cursor,
            (SELECT count(*)::int FROM settlements WHERE status = 'RECEIVED') AS received,
            count(*)::int AS "approvedByRules",
            count(*) FILTER (WHERE p.status = 'FAILED')::int AS refused,
            count(*) FILTER (WHERE p.status = 'HELD')::int AS held,
            count(*) FILTER (WHERE p.id IS NULL OR p.status IN ('READY', 'IN_BATCH', 'SENT'))::int AS open
       FROM claims c LEFT JOIN payouts p ON p.claim_id = c.id
      WHERE claim_approved_by_rules(c.id) AND c.total_fen > 0`,
  );
  const unadjudicated = (await unadjudicatedSettlementIds(db, 0, 1000)).length;
  const done = s!.cursor === String(count) && s!.received === 0 && unadjudicated === 0 && s!.open === 0;
  return { ...s!, done, describe: `cursor ${s!.cursor ?? 'none'} of ${count}, ${s!.received} not matched, ${unadjudicated} not adjudicated` };
}

await main();
