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
import { fileURLToPath } from 'node:url';
import { reportFigures, rounded, type Figure } from './_report.ts';
import { dropScratch } from './_scratch.ts';
import { config } from '../src/config.ts';
import { pullThrough, scratch, seedDemoMembers, servedAsWorker, startSimulator } from './_settlementFlow.ts';

if (!await servedAsWorker()) await main();

async function main() {
  const settlements = Number(process.env.SETTLEMENTS ?? 100_000);
  const memberCount = Number(process.env.MEMBERS ?? 20_000);
  const pageSize = Number(process.env.PAGE ?? 1000);
  const processes = Number(process.env.WORKERS ?? 2);

  const { schema, prefix, db, redis } = await scratch();
  await seedDemoMembers(db, memberCount);
  const simulator = await startSimulator(settlements, memberCount);
  const flow = { self: fileURLToPath(import.meta.url), db, schema, prefix, redis, simulatorUrl: simulator.url, settlements, pageSize };
  let exitCode = 0;
  let figures: Record<string, Figure>;
  try {
    const { counts, matchedSeconds: seconds } = await pullThrough(flow, 'bench', processes, ['settlements']);
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
    simulator.stop();
    await db.end();
    await dropScratch(config().DATABASE_URL, schema, { redis, prefix });
  }
  // After the finally: the other worker processes (sharing this stdout) have exited.
  reportFigures(import.meta.url, figures);
  process.exit(exitCode);
}
