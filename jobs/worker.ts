import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { PersonalDataKeys } from '../src/privacy/personalData.ts';
import { createQueues, closeQueues, QUEUE_NAMES, type Queues } from './queues.ts';
import { rosterImportProcessor, sweepRosterImports } from './rosterImport.ts';
import { startSettlementWorkers, sweepSettlements, type SettlementWorkerOptions } from './settlements.ts';
import { startAdjudicationWorker, sweepAdjudication } from './adjudication.ts';
import { startPayoutWorker, sweepPayouts } from './payouts.ts';
import { config } from '../src/config.ts';
import { configuredPayoutServices, type PayoutServices } from '../src/payouts/configured.ts';

const MAINTENANCE = 'maintenance';
const SWEEP_EVERY_MS = 60_000;

export interface WorkerServices {
  db: pg.Pool;
  keys: PersonalDataKeys;
  connection: ConnectionOptions;
  prefix: string;
  log: Logger;
  /** Overrides of the settlement workers' settings (tests, benchmarks). */
  settlements?: Partial<SettlementWorkerOptions>;
  /** The bank channel and seal for payouts; default from configuration; null: no payout worker. */
  payouts?: PayoutServices | null;
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
  const sweep = async () =>
    (await sweepRosterImports(db, queues)) + (await sweepSettlements(db, queues)) + (await sweepAdjudication(db, queues.claimAdjudication)) +
    (payouts ? await sweepPayouts(db, queues.payouts) : 0);

  const workers = [
    new Worker(QUEUE_NAMES.rosterImport, rosterImportProcessor(db, keys, log), { connection, prefix, concurrency: 1 }),
    new Worker(MAINTENANCE, async () => ({ swept: await sweep() }), { connection, prefix, concurrency: 1 }),
    ...(await startSettlementWorkers(services, queues)),
    startAdjudicationWorker(db, connection, prefix),
    ...(payouts ? [await startPayoutWorker({ db, adapter: payouts.adapter, sealing: payouts.sealing, log }, connection, prefix, payouts, log)] : []),
  ];
  for (const worker of workers) {
    worker.on('failed', (job, error) => log.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: error }, 'job failed'));
    worker.on('error', (error) => log.error({ queue: worker.name, err: error }, 'worker error'));
  }
  const maintenance = new Queue(MAINTENANCE, { connection, prefix });
  await maintenance.upsertJobScheduler('sweep', { every: SWEEP_EVERY_MS }, { name: 'sweep', opts: { removeOnComplete: true, removeOnFail: 100 } });
  const swept = await sweep();
  log.info({ swept, prefix }, 'workers started');

  return {
    queues,
    sweep,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await maintenance.close();
      await closeQueues(queues);
    },
  };
}
