import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parse } from 'csv-parse';
import type { Actor } from '../audit/audit.ts';
import { config } from '../config.ts';
import type { Runtime } from '../runtime.ts';
import type { Queues } from '../queues.ts';
import { progressBar } from '../progress.ts';
import { jsonOption, result, say } from '../cliOutput.ts';
import { fromSetting } from '../cliErrors.ts';
import { enqueueMatchedSettlements } from '../benefits/queue.ts';
import { importFile, pullPage } from './ingest.ts';
import { matchAndContinue, rematchUnmatched } from './matchingStep.ts';
import { isPulledKind, type UnmatchedReason } from './model.ts';
import { formatOf, SettlementFileError, type FileFormat } from './records.ts';
import type { SimMember } from './simulator/generate.ts';
import { startInsuranceSimulator } from './simulator/server.ts';
import { fileSource } from './sources/files.ts';
import { adapterFor, platformUrlProblem, pullRefusal } from './sources/forSource.ts';
import { registerSource } from './sources/registry.ts';
import * as store from './store.ts';
import { chinaToday, isIsoDate } from '../kernel/time.ts';

/** The command line as it names itself in runs and the audit log. */
const CLI: Actor = { subject: 'cli', role: 'SERVICE' };

/**
 * `hub settlements ...` (sources, pulls, file imports, re-matching) and `hub sim insurance` (the
 * platform simulator). Pulls and imports store page by page and match inline (the same idempotent
 * step the workers run), so the counts at the end are final. Exit codes: 0 all stored, 1 some
 * records rejected (the rest stored; see the rejections in the API), 2 nothing could be done (a bad
 * option or file), 3 the source stopped answering mid-pull (pages stored before stay stored).
 */
export function registerSettlementCommands(program: Command): void {
  const settlements = program.command('settlements').description('medical-insurance settlements (结算): sources, pulls, file imports');

  settlements
    .command('pull')
    .description('pull a source now, page by page from its stored cursor, and match what is new')
    .requiredOption('--source <name>', 'the source to pull (see `hub settlements sources`)')
    .option('--max-pages <n>', 'stop after this many pages', positive)
    .addOption(jsonOption())
    .action(async (options: { source: string; maxPages?: number }) => {
      process.exitCode = await pullCommand(options.source, options.maxPages);
    });

  settlements
    .command('import <file>')
    .description('import a file of settlements (JSON lines or CSV in the platform\'s field names) and match them')
    .option('--source <name>', 'the FILE source to record them under', 'file')
    .addOption(new Option('--format <format>', 'file format (default: from the file name)').choices(['jsonl', 'csv']))
    .addOption(jsonOption())
    .action(async (file: string, options: { source: string; format?: 'jsonl' | 'csv' }) => {
      process.exitCode = await importCommand(file, options.source, options.format);
    });

  settlements
    .command('sources')
    .description('list the sources, their cursors and counts')
    .addOption(jsonOption())
    .action(async () => {
      process.exitCode = await sourcesCommand();
    });

  settlements
    .command('source <name>')
    .description('register or change a pulled source (the workers schedule it within a minute)')
    .option('--url <url>', 'the platform interface URL (a PLATFORM source; https: in production, plain http only to a loopback host)')
    .option('--dir <dir>', 'a drop directory (a DROP source)')
    .option('--every <seconds>', 'pull every this many seconds (default: on demand only)', positive)
    .option('--page-size <n>', 'records per page', positive)
    .option('--disable', 'stop pulling it')
    .addOption(jsonOption())
    .action(async (name: string, options: { url?: string; dir?: string; every?: number; pageSize?: number; disable?: boolean }) => {
      if (Boolean(options.url) === Boolean(options.dir)) throw new InvalidArgumentError('give exactly one of --url and --dir');
      process.exitCode = await sourceCommand(name, options);
    });

  settlements
    .command('rematch')
    .description('match UNMATCHED settlements again (e.g. after a roster import registered their members)')
    .addOption(new Option('--reason <reason>', 'only those unmatched for this reason').choices(['NO_MEMBER', 'NO_ENROLMENT', 'ORIGINAL_NOT_FOUND']))
    .addOption(jsonOption())
    .action(async (options: { reason?: 'NO_MEMBER' | 'NO_ENROLMENT' | 'ORIGINAL_NOT_FOUND' }) => {
      process.exitCode = await rematchCommand(options.reason ?? null);
    });

  // Other simulators of outside systems may share the `sim` group.
  const sim = program.commands.find((c) => c.name() === 'sim') ?? program.command('sim').description('simulators of the outside systems the hub talks to');
  sim
    .command('insurance')
    .description('run the medical-insurance platform simulator: a settlement feed in the platform\'s envelope, deterministic by seed')
    .option('--port <port>', 'port to listen on', positive, 4700)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--seed <n>', 'seed: same seed, same settlements', positive, 1)
    .option('--count <n>', 'settlements in the feed', positive, 1000)
    .option('--demo-members <n>', 'settle for the members `hub demo --members n` registers', positive)
    .option('--roster <file>', 'settle for the members of a roster CSV (columns name, id_number)')
    .option('--today <date>', 'last day settlements fall on (default: today, China time)')
    .option('--per-second <n>', 'a steady feed: n settlements appear per second from --feed-from, GET /sim/appeared says when each did (default: all there at once)', positive)
    .option('--feed-from <time>', 'with --per-second: when the first settlement appears (ISO 8601, default: now)')
    .option('--latency <ms>', 'delay before each feed answer, like a remote platform\'s', positive)
    .action(async (options: SimulatorCommandOptions) => {
      await simulatorCommand(options);
    });
}

/** PostgreSQL, Redis and the queues for one command; loaded when a command runs, not for every `hub` (BullMQ and ioredis take a while). */
async function withRuntime(work: (runtime: Runtime, queues: Queues) => Promise<number>): Promise<number> {
  const [{ openRuntime }, { createQueues, closeQueues }] = await Promise.all([import('../runtime.ts'), import('../queues.ts')]);
  const runtime = await openRuntime(config());
  const queues = createQueues(runtime.redis, runtime.config.QUEUE_PREFIX);
  try {
    return await work(runtime, queues);
  } finally {
    await closeQueues(queues);
    await runtime.close();
  }
}

async function printCounts(runtime: Runtime, totals: store.PageCounts, matched: readonly number[]): Promise<number> {
  const statuses = await store.statusCounts(runtime.db, matched);
  say(
    `received ${totals.received}: new ${totals.inserted}, duplicate ${totals.duplicates}, rejected ${totals.rejected}; ` +
      `matched ${statuses.MATCHED}, unmatched ${statuses.UNMATCHED}, duplicate of another source ${statuses.DUPLICATE}`,
  );
  result({ ...totals, matched: statuses.MATCHED, unmatched: statuses.UNMATCHED, duplicateOfAnotherSource: statuses.DUPLICATE });
  return totals.rejected ? 1 : 0;
}

function pullCommand(sourceName: string, maxPages = Infinity): Promise<number> {
  return withRuntime(async (runtime, queues) => {
    const first = await store.sourceByName(runtime.db, sourceName);
    if (!first) {
      console.error(`--source: no source is named ${sourceName} (see hub settlements sources)`);
      return 2;
    }
    if (!isPulledKind(first.kind)) {
      console.error(`--source: ${sourceName} receives ${first.kind === 'FILE' ? 'files (hub settlements import)' : 'accepted applications'}; it cannot be pulled`);
      return 2;
    }
    const refusal = pullRefusal(first, runtime.config);
    if (refusal) {
      console.error(`--source: ${refusal}`);
      return 2;
    }
    const adapter = adapterFor(first, runtime.config);
    const totals: store.PageCounts = { received: 0, inserted: 0, duplicates: 0, rejected: 0 };
    const toMatch: number[] = [];
    let bar: ReturnType<typeof progressBar> | null = null;
    try {
      for (let pages = 0, more = true; more && pages < maxPages;) {
        const source = (await store.sourceByName(runtime.db, sourceName))!;
        const outcome = await pullPage(runtime.db, runtime.keys, source, adapter, CLI.subject);
        if (outcome.stale) continue; // a worker stored that page first: ask again from the new cursor
        pages += 1;
        more = outcome.hasMore;
        for (const key of ['received', 'inserted', 'duplicates', 'rejected'] as const) totals[key] += outcome[key];
        await matchAndContinue(runtime.db, outcome.toMatch, [enqueueMatchedSettlements(queues.claimAdjudication)]);
        toMatch.push(...outcome.toMatch);
        if (!bar && outcome.remaining !== null) bar = progressBar(`pull ${sourceName}`, totals.received + outcome.remaining);
        bar?.update(totals.received);
      }
    } catch (error) {
      bar?.done();
      console.error(`pull ${sourceName} stopped: ${(error as Error).message} (pages stored before it stay stored)`);
      await printCounts(runtime, totals, toMatch);
      return 3;
    }
    bar?.done();
    return printCounts(runtime, totals, toMatch);
  });
}

function importCommand(path: string, sourceName: string, format?: FileFormat): Promise<number> {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat?.isFile()) {
    console.error(`${path}: no such file`);
    return Promise.resolve(2);
  }
  const fileFormat = format ?? formatOf(path);
  if (!fileFormat) {
    console.error(`${path}: say --format jsonl or csv (the name does not end in .jsonl, .json or .csv)`);
    return Promise.resolve(2);
  }
  return withRuntime(async (runtime, queues) => {
    const source = await store.fileSourceNamed(runtime.db, sourceName);
    if (!source) {
      console.error(`--source: ${sourceName} is a pulled source; files go to a FILE source`);
      return 2;
    }
    const bar = progressBar(basename(path), stat.size);
    const file = createReadStream(path);
    let bytes = 0;
    file.on('data', (chunk) => bar.update((bytes += chunk.length)));
    // The listener alone starts the flow at once, before the reader pipes the file (after the run is
    // created): a small file was then read by nobody (0 records, or a hang). Paused, it waits for the pipe.
    file.pause();
    try {
      const outcome = await importFile(runtime.db, runtime.keys, fileSource(file, fileFormat), {
        source: source.name, fileName: basename(path),
        onStored: async (ids) => void (await matchAndContinue(runtime.db, ids, [enqueueMatchedSettlements(queues.claimAdjudication)])),
      }, CLI);
      bar.done();
      return await printCounts(runtime, outcome, outcome.toMatch);
    } catch (error) {
      bar.done();
      if (!(error instanceof SettlementFileError)) throw error;
      console.error(`${basename(path)}: ${error.message} (pages stored before it stay stored)`);
      return 2;
    }
  });
}

function sourcesCommand(): Promise<number> {
  return withRuntime(async (runtime) => {
    const sources = await store.listSources(runtime.db);
    const counts = await store.sourceCounts(runtime.db, sources.map((s) => s.name));
    if (!sources.length) say('no sources yet (hub settlements source NAME --url URL, or INSURANCE_PLATFORM_URL)');
    sources.forEach((s, i) => {
      const c = counts[i]!;
      const schedule = !s.enabled ? 'disabled' : s.pollSeconds ? `every ${s.pollSeconds} s` : 'on demand';
      say(`${s.name} (${s.kind}${s.endpoint ? ` ${s.endpoint}` : ''}, ${schedule}): cursor ${s.cursor ?? '(start)'}; ` +
        `${c.total} settlements (${c.matched} matched, ${c.unmatched} unmatched, ${c.duplicate} duplicate, ${c.received} waiting), ` +
        `${c.openRejections} open rejections${s.lastError ? `; last error: ${s.lastError}` : ''}`);
    });
    result(sources.map((s, i) => ({ ...s, counts: counts[i] })));
    return 0;
  });
}

function sourceCommand(name: string, o: { url?: string; dir?: string; every?: number; pageSize?: number; disable?: boolean }): Promise<number> {
  if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(name)) {
    console.error(`${name}: a source name is lower-case letters, digits and dashes (1 to 40)`);
    return Promise.resolve(2);
  }
  const urlProblem = o.url === undefined ? null : platformUrlProblem(o.url, config());
  if (urlProblem) {
    console.error(`--url: ${urlProblem}`);
    return Promise.resolve(2);
  }
  return withRuntime(async (runtime) => {
    const source = await registerSource(runtime.db, CLI, {
      name, kind: o.url ? 'PLATFORM' : 'DROP', endpoint: o.url ?? o.dir!, pageSize: o.pageSize, pollSeconds: o.every, enabled: !o.disable,
    });
    say(`${source.name}: ${source.kind} ${source.endpoint}, ${source.pollSeconds ? `pulled every ${source.pollSeconds} s` : 'pulled on demand'}` +
      `${source.enabled ? '' : ' (disabled)'}, cursor ${source.cursor ?? '(start)'}`);
    result(source);
    return 0;
  });
}

function rematchCommand(reason: UnmatchedReason | null): Promise<number> {
  return withRuntime(async (runtime, queues) => {
    const ids = await rematchUnmatched(runtime.db, reason, [enqueueMatchedSettlements(queues.claimAdjudication)]);
    const statuses = await store.statusCounts(runtime.db, ids);
    say(`matched again ${ids.length}: matched ${statuses.MATCHED}, unmatched ${statuses.UNMATCHED}`);
    result({ matchedAgain: ids.length, matched: statuses.MATCHED, unmatched: statuses.UNMATCHED });
    return 0;
  });
}

interface SimulatorCommandOptions {
  port: number; host: string; seed: number; count: number; demoMembers?: number; roster?: string; today?: string; perSecond?: number; feedFrom?: string; latency?: number;
}

async function simulatorCommand(o: SimulatorCommandOptions): Promise<void> {
  const today = o.today ?? chinaToday();
  if (!isIsoDate(today)) throw new InvalidArgumentError(`--today: must be a date yyyy-MM-dd (got ${today})`);
  const feedFrom = o.feedFrom === undefined ? new Date() : new Date(o.feedFrom);
  if (Number.isNaN(feedFrom.getTime())) throw new InvalidArgumentError(`--feed-from: must be a time in ISO 8601, e.g. 2025-06-30T08:00:00+08:00 (got ${o.feedFrom})`);
  if (o.feedFrom !== undefined && !o.perSecond) throw new InvalidArgumentError('--feed-from: only with --per-second (a steady feed)');
  let members: SimMember[] = [];
  if (o.demoMembers) {
    const { demoSample } = await import('../demo/sampleData.ts');
    members = demoSample(o.demoMembers).members.map((m) => ({ idNumber: m.idNumber, name: m.name }));
  } else if (o.roster) {
    members = await rosterMembers(o.roster);
  }
  const simulator = await fromSetting('--port', startInsuranceSimulator({
    seed: o.seed, count: o.count, members, today, port: o.port, host: o.host, infno: config().INSURANCE_FEED_INFNO,
    ...(o.latency ? { latencyMs: o.latency } : {}), ...(o.perSecond ? { feed: { perSecond: o.perSecond, startedAt: feedFrom } } : {}),
  }));
  console.log(`medical-insurance platform simulator: ${simulator.url}`);
  console.log(`  ${o.count} settlements (seed ${o.seed}, up to ${today}) for ${members.length} members; POST /sim/members to change them`);
  if (o.perSecond) console.log(`  a steady feed: ${o.perSecond} settlement(s) appear per second from ${feedFrom.toISOString()}; GET /sim/appeared says when each did`);
  console.log(`  register it: hub settlements source sim --url ${simulator.url} --every 30`);
  const stop = () => void simulator.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** The members of a roster CSV (columns name, id_number), as the simulator settles for them. */
export async function rosterMembers(path: string): Promise<SimMember[]> {
  const members: SimMember[] = [];
  const rows = createReadStream(path).pipe(parse({ bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, columns: true }));
  for await (const row of rows as AsyncIterable<Record<string, string>>) {
    if (row.id_number && row.name) members.push({ idNumber: row.id_number.toUpperCase(), name: row.name });
  }
  return members;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}
