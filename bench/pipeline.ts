/**
 * The settlement pipeline as one flow: the platform simulator (its own process, over HTTP) serves
 * 100,000 settlements of 20,000 demo members; WORKERS `hub work`-like processes pull, store and
 * match them and adjudicate the matched ones (claims decided, member-year caps, one audit row per
 * decision). The figure: claims decided per second from the first pull until every matched
 * settlement has its claim, for each worker count of WORKERS_LIST (default 1,2), each on a fresh
 * schema. Target: at least 2,000/s with 2 workers, growing with workers.
 *
 * The same-run baseline (BASELINE=0 to skip): on one more schema, ingestion alone (settlement
 * workers only) and then adjudication alone (adjudication workers draining the jobs the match step
 * queued), both with the largest worker count.
 * `npm run bench -- pipeline` (SETTLEMENTS, MEMBERS, PAGE, WORKERS_LIST, BASELINE).
 */
import { fileURLToPath } from 'node:url';
import { config } from '../src/config.ts';
import { verifyAuditChain } from '../src/audit/audit.ts';
import { reportFigures, rounded, type Figure } from './_report.ts';
import { dropScratch } from './_scratch.ts';
import { adjudicateQueued, pullThrough, scratch, seedDemoMembers, servedAsWorker, startSimulator, type Flow } from './_settlementFlow.ts';

if (!await servedAsWorker()) await main();

async function main() {
  const settlements = Number(process.env.SETTLEMENTS ?? 100_000);
  const memberCount = Number(process.env.MEMBERS ?? 20_000);
  const pageSize = Number(process.env.PAGE ?? 1000);
  const workerCounts = (process.env.WORKERS_LIST ?? '1,2').split(',').map(Number);
  const baseline = process.env.BASELINE !== '0';
  const self = fileURLToPath(import.meta.url);

  const simulator = await startSimulator(settlements, memberCount);
  /** A fresh schema with the members seeded, for `work`, dropped afterwards. */
  const onScratch = async <T>(work: (flow: Flow) => Promise<T>): Promise<T> => {
    const { schema, prefix, db, redis } = await scratch();
    try {
      await seedDemoMembers(db, memberCount);
      return await work({ self, db, schema, prefix, redis, simulatorUrl: simulator.url, settlements, pageSize });
    } finally {
      await db.end();
      await dropScratch(config().DATABASE_URL, schema, { redis, prefix });
    }
  };

  const figures: Record<string, Figure> = { settlements, members: memberCount, pageSize };
  let exitCode = 0;
  try {
    for (const workers of workerCounts) {
      const run = await onScratch(async (flow) => {
        const { counts, matchedSeconds, decidedSeconds } = await pullThrough(flow, 'bench', workers, ['settlements', 'adjudication']);
        const { rows: [decided] } = await flow.db.query<{ claims: number; reversals: number; audited: number }>(
          `SELECT (SELECT count(*)::int FROM claims) AS claims, (SELECT count(*)::int FROM claim_reversals) AS reversals,
                  (SELECT count(*)::int FROM (SELECT (c ->> 0)::bigint FROM audit_log a, jsonb_array_elements(a.details -> 'claims') c
                                               WHERE a.action = 'claims.adjudicate'
                                              UNION SELECT target_id::bigint FROM audit_log WHERE action = 'claim.reverse') audited) AS audited`,
        );
        const audit = await verifyAuditChain(flow.db);
        // Exactly once: each matched settlement has its claim (a reversal its cancellation), each claim
        // audited (decided, or cancelled before it was), every chain intact.
        if (decided!.claims + decided!.reversals !== counts.matched) throw new Error(`${decided!.claims} claims and ${decided!.reversals} reversals for ${counts.matched} matched settlements`);
        if (decided!.audited !== decided!.claims) throw new Error(`${decided!.audited} claims audited of ${decided!.claims}`);
        if (audit.firstBroken) throw new Error(`audit chain broken at row ${audit.firstBroken.seq}: ${audit.firstBroken.problem}`);
        return { counts, matchedSeconds, decidedSeconds, claims: decided!.claims, auditChains: audit.chains ?? 1 };
      });
      const rate = rounded(run.claims / run.decidedSeconds);
      console.log(`pipeline, ${workers} worker process(es): ${settlements} settlements pulled, ${run.counts.matched} matched in ${run.matchedSeconds.toFixed(1)} s; `
        + `${run.claims} claims decided in ${run.decidedSeconds.toFixed(1)} s = ${rate} decided/s (audit rows in ${run.auditChains} chains)`);
      Object.assign(figures, {
        [`decided_per_s_w${workers}`]: rate, [`decided_s_w${workers}`]: rounded(run.decidedSeconds, 1),
        [`matched_s_w${workers}`]: rounded(run.matchedSeconds, 1), [`claims_w${workers}`]: run.claims, [`audit_chains_w${workers}`]: run.auditChains,
      });
      if (workers === 2 && rate < 2000) exitCode = 1;
    }
    if (baseline) {
      const workers = Math.max(...workerCounts);
      const alone = await onScratch(async (flow) => {
        const { counts, matchedSeconds } = await pullThrough(flow, 'bench', workers, ['settlements']);
        return { ingestSeconds: matchedSeconds, matched: counts.matched, adjudicateSeconds: await adjudicateQueued(flow, workers) };
      });
      const ingestion = rounded(settlements / alone.ingestSeconds);
      const adjudication = rounded(alone.matched / alone.adjudicateSeconds);
      console.log(`baseline, ${workers} worker process(es): ingestion alone ${ingestion} settlements/s, adjudication alone ${adjudication} decided/s`);
      Object.assign(figures, { baselineWorkers: workers, ingested_per_s_alone: ingestion, decided_per_s_adjudication_alone: adjudication });
    }
  } finally {
    simulator.stop();
  }
  // After the finally: the other worker processes (sharing this stdout) have exited.
  reportFigures(import.meta.url, figures);
  process.exit(exitCode);
}
