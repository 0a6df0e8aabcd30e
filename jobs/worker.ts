import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { PersonalDataKeys } from '../src/privacy/personalData.ts';
import { createQueues, closeQueues, QUEUE_NAMES, type Queues } from './queues.ts';
import { rosterImportProcessor, sweepRosterImports } from './rosterImport.ts';
import { startSettlementWorkers, sweepSettlements, type SettlementWorkerOptions } from './settlements.ts';
import { startAdjudicationWorker, sweepAdjudication } from './adjudication.ts';
import { publishStatusChanges } from '../src/events/statusEvents.ts';
import { startPayoutWorker, sweepPayouts } from './payouts.ts';
import { startReconciliationWorker, sweepReconciliation } from './reconciliation.ts';
import { reconciliationSettings, type ReconciliationSettings } from '../src/reconciliation/settings.ts';
import { config } from '../src/config.ts';
import { configuredPayoutServices, type PayoutServices } from '../src/payouts/configured.ts';
import { payoutStatusChange } from '../src/payouts/submission.ts';
import { encryptClearBatchFiles } from '../src/payouts/batches.ts';


export interface WorkerServices {
  db: pg.Pool;
  keys: PersonalDataKeys;
  /** Shared by BullMQ (which duplicates it for blocking reads) and the status-change announcements. */
  connection: Redis;
  prefix: string;
  log: Logger;
  /** Overrides of the settlement workers' settings (tests, benchmarks). */
  settlements?: Partial<SettlementWorkerOptions>;
  /** The bank channel and seal for payouts; default from configuration; null: no payout worker. */
  payouts?: PayoutServices | null;
  /** Reconciliation's bank channel and rules; default from configuration (the payouts' bank channel). */
  reconciliation?: ReconciliationSettings;
  /** Seconds between sweeps (default SWEEP_SECONDS). */
  sweepSeconds?: number;
  /** Called when a job finishes (metrics: job durations and failures). */
  onJobFinished?: (queue: string, outcome: 'completed' | 'failed', seconds: number) => void;
}

export interface RunningWorkers {
  queues: Queues;
  /** Re-adds all unfinished work from PostgreSQL; returns how many jobs it (re-)added. */
  sweep(): Promise<number>;
  /** Graceful: lets running jobs finish, then closes connections. */
  close(): Promise<void>;
}

export async function startWorkers(services: WorkerServices): Promise<RunningWorkers> {
  const { db, keys, connection, prefix, log } = services;
  const queues = createQueues(connection, prefix);
  const payouts = services.payouts === undefined ? configuredPayoutServices(config(), keys, log) : services.payouts;
  const reconciliation = services.reconciliation ?? reconciliationSettings(config(), payouts?.adapter ?? null);
  const sweepers: [string, () => Promise<number>][] = [
    ['roster imports', () => sweepRosterImports(db, queues)],
    ['settlements', () => sweepSettlements(db, queues)],
    ['adjudication', () => sweepAdjudication(db, queues.claimAdjudication)],
    ['payouts', () => (payouts ? sweepPayouts(db, queues.payouts, payouts) : Promise.resolve(0))],
    ['reconciliation', () => sweepReconciliation(db, queues.reconciliation, reconciliation)],
  ];
  // Each domain's sweeper on its own: one that fails (its database or queue unreachable for a
  // moment) must not keep the others from re-adding their work. Throws when any failed.
  const sweep = async () => {
    let added = 0;
    const failed: string[] = [];
    for (const [name, sweeper] of sweepers) {
      try {
        added += await sweeper();
      } catch (error) {
        failed.push(name);
        log.warn({ err: error, sweeper: name }, 'sweep failed');
      }
    }
    if (failed.length) throw new Error(`the sweep of ${failed.join(', ')} failed; the next sweep tries again`);
    return added;
  };

  if (payouts) {
    // Batch files sealed before they were kept encrypted: encrypted once, by whichever worker starts first.
    await encryptClearBatchFiles(db, keys).then(
      (encrypted) => { if (encrypted) log.info({ encrypted }, 'batch files kept in clear are now encrypted'); },
      (error: unknown) => log.error({ err: error }, 'batch files kept in clear were not all encrypted'),
    );
  }
  const workers = [
    new Worker(QUEUE_NAMES.rosterImport, rosterImportProcessor(db, keys, log), { connection, prefix, concurrency: 1 }),
    ...(await startSettlementWorkers(services, queues)),
    startAdjudicationWorker(db, connection, prefix, {
      // Subscribers hear of decided claims after the commit; best effort (the rows are the truth).
      onDecided: (outcomes) => publishStatusChanges(connection, prefix, outcomes.map((o) => ({
        kind: 'CLAIM', id: o.claimId, memberId: o.memberId, unitId: o.unitId, status: o.status, at: new Date().toISOString(),
      }))).catch((error: unknown) => log.warn({ err: error }, 'claim status changes not announced')),
    }),
    ...(payouts ? [await startPayoutWorker({
      db, adapter: payouts.adapter, sealing: payouts.sealing, log,
      onChanges: (changes) => publishStatusChanges(connection, prefix, changes.map(payoutStatusChange))
        .catch((error: unknown) => log.warn({ err: error }, 'payout status changes not announced')),
    }, connection, prefix, payouts, log)] : []),
    await startReconciliationWorker(db, connection, prefix, reconciliation, log),
  ];
  for (const worker of workers) {
    worker.on('failed', (job, error) => log.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: error }, 'job failed'));
    worker.on('error', (error) => log.error({ queue: worker.name, err: error }, 'worker error'));
    const finished = (outcome: 'completed' | 'failed') => (job: { processedOn?: number; finishedOn?: number } | undefined) => {
      if (job?.processedOn) services.onJobFinished?.(worker.name, outcome, ((job.finishedOn ?? Date.now()) - job.processedOn) / 1000);
    };
    worker.on('completed', finished('completed'));
    worker.on('failed', finished('failed'));
  }
  // Every worker process sweeps on its own timer, not through a Redis schedule: a flushed Redis
  // loses its schedules, and the sweep is what brings the work (and the schedules) back.
  const sweepEveryMs = (services.sweepSeconds ?? config().SWEEP_SECONDS) * 1000;
  const sweeper = setInterval(() => {
    sweep().catch((error: unknown) => log.warn({ err: error }, 'sweep failed; next one in a while'));
  }, sweepEveryMs);
  // The first sweep at once; if PostgreSQL is not there yet, the timer's next one does it.
  const swept = await sweep().catch((error: unknown) => {
    log.warn({ err: error }, 'first sweep failed; retried by the timer');
    return 0;
  });
  log.info({ swept, prefix }, 'workers started');

  return {
    queues,
    sweep,
    async close() {
      clearInterval(sweeper);
      await Promise.all(workers.map((w) => w.close()));
      await closeQueues(queues);
    },
  };
}
