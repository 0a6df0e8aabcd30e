import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { parse } from 'csv-parse';
import { config } from '../config.ts';
import { openRuntime, type Runtime } from '../runtime.ts';
import { progressBar } from '../progress.ts';
import { result, say } from '../cliOutput.ts';
import { fromSetting } from '../cliErrors.ts';
import { enqueueMatchedSettlements } from '../benefits/queue.ts';
import { importFromSource, pullPage } from './ingest.ts';
import type { UnmatchedReason } from './model.ts';
import { formatOf, SettlementFileError, type FileFormat } from './records.ts';
import type { SimMember } from './simulator/generate.ts';
import { startInsuranceSimulator } from './simulator/server.ts';
import { fileSource } from './sources/files.ts';
import { adapterFor } from './sources/forSource.ts';
import * as store from './store.ts';
import { chinaToday, isIsoDate } from '../kernel/time.ts';
import { closeQueues, createQueues, type Queues } from '../queues.ts';
import { matchAndContinue } from './matchStep.ts';

/**
 * The settlement commands. Pulls and imports store page by page and match inline (the same
 * idempotent step the workers run), so the counts at the end are final. Exit codes: 0 all stored,
 * 1 some records rejected (the rest stored; see the rejections in the API), 2 nothing could be done
 * (a bad option or file), 3 the source stopped answering mid-pull (pages stored before stay stored).
 */

async function withRuntime(work: (runtime: Runtime, queues: Queues) => Promise<number>): Promise<number> {
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

export function pullCommand(sourceName: string, maxPages = Infinity): Promise<number> {
  return withRuntime(async (runtime, queues) => {
    const first = await store.sourceByName(runtime.db, sourceName);
    if (!first) {
      console.error(`--source: no source is named ${sourceName} (see hub settlements sources)`);
      return 2;
    }
    if (first.kind === 'FILE') {
      console.error(`--source: ${sourceName} receives files (hub settlements import); it cannot be pulled`);
      return 2;
    }
    const adapter = adapterFor(first, runtime.config);
    const totals: store.PageCounts = { received: 0, inserted: 0, duplicates: 0, rejected: 0 };
    const toMatch: number[] = [];
    let bar: ReturnType<typeof progressBar> | null = null;
    try {
      for (let pages = 0, more = true; more && pages < maxPages;) {
        const source = (await store.sourceByName(runtime.db, sourceName))!;
        const outcome = await pullPage(runtime.db, runtime.keys, source, adapter, 'cli');
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

export function importCommand(path: string, sourceName: string, format?: FileFormat): Promise<number> {
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
      const outcome = await importFromSource(runtime.db, runtime.keys, fileSource(file, fileFormat), {
        source: source.name, fileName: basename(path), startedBy: 'cli',
        onStored: async (ids) => void (await matchAndContinue(runtime.db, ids, [enqueueMatchedSettlements(queues.claimAdjudication)])),
      });
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

export function sourcesCommand(): Promise<number> {
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

export function sourceCommand(name: string, o: { url?: string; dir?: string; every?: number; pageSize?: number; disable?: boolean }): Promise<number> {
  if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(name)) {
    console.error(`${name}: a source name is lower-case letters, digits and dashes (1 to 40)`);
    return Promise.resolve(2);
  }
  return withRuntime(async (runtime) => {
    const source = await store.upsertSource(runtime.db, {
      name, kind: o.url ? 'PLATFORM' : 'DROP', endpoint: o.url ?? o.dir!, pageSize: o.pageSize, pollSeconds: o.every, enabled: !o.disable,
    });
    say(`${source.name}: ${source.kind} ${source.endpoint}, ${source.pollSeconds ? `pulled every ${source.pollSeconds} s` : 'pulled on demand'}` +
      `${source.enabled ? '' : ' (disabled)'}, cursor ${source.cursor ?? '(start)'}`);
    result(source);
    return 0;
  });
}

export function rematchCommand(reason: UnmatchedReason | null): Promise<number> {
  return withRuntime(async (runtime, queues) => {
    const ids = await store.releaseUnmatched(runtime.db, reason);
    await matchAndContinue(runtime.db, ids, [enqueueMatchedSettlements(queues.claimAdjudication)]);
    const statuses = await store.statusCounts(runtime.db, ids);
    say(`matched again ${ids.length}: matched ${statuses.MATCHED}, unmatched ${statuses.UNMATCHED}`);
    result({ matchedAgain: ids.length, matched: statuses.MATCHED, unmatched: statuses.UNMATCHED });
    return 0;
  });
}

export async function simulatorCommand(o: { port: number; host: string; seed: number; count: number; demoMembers?: number; roster?: string; today?: string }): Promise<void> {
  const today = o.today ?? chinaToday();
  if (!isIsoDate(today)) throw new InvalidArgumentError(`--today: must be a date yyyy-MM-dd (got ${today})`);
  let members: SimMember[] = [];
  if (o.demoMembers) {
    const { demoSample } = await import('../demo/sampleData.ts');
    members = demoSample(o.demoMembers).members.map((m) => ({ idNumber: m.idNumber, name: m.name }));
  } else if (o.roster) {
    members = await rosterMembers(o.roster);
  }
  const simulator = await fromSetting('--port', startInsuranceSimulator({
    seed: o.seed, count: o.count, members, today, port: o.port, host: o.host, infno: config().INSURANCE_FEED_INFNO,
  }));
  console.log(`medical-insurance platform simulator: ${simulator.url}`);
  console.log(`  ${o.count} settlements (seed ${o.seed}, up to ${today}) for ${members.length} members; POST /sim/members to change them`);
  console.log(`  register it: hub settlements source sim --url ${simulator.url} --every 30`);
  const stop = () => void simulator.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function rosterMembers(path: string): Promise<SimMember[]> {
  const members: SimMember[] = [];
  const rows = createReadStream(path).pipe(parse({ bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, columns: true }));
  for await (const row of rows as AsyncIterable<Record<string, string>>) {
    if (row.id_number && row.name) members.push({ idNumber: row.id_number.toUpperCase(), name: row.name });
  }
  return members;
}
