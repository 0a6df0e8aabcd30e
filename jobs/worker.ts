import type { Worker } from 'bullmq';
import { closeQueues, type Queues } from '../src/queues.ts';
import { config } from '../src/config.ts';
import * as members from './members.ts';
import * as settlements from './settlements.ts';
import * as benefits from './benefits.ts';
import * as payouts from './payouts.ts';
import * as reconciliation from './reconciliation.ts';
import * as notifications from './notifications.ts';
import * as notices from './notices.ts';
import { workerServices, type DomainWorkers, type WorkerServicesInput } from './services.ts';

export interface StartWorkersInput extends WorkerServicesInput {
  /** Seconds between sweeps (default SWEEP_SECONDS). */
  sweepSeconds?: number;
  /** Called when a job finishes (metrics: job durations and failures). */
  onJobFinished?: (queue: string, outcome: 'completed' | 'failed', seconds: number) => void;
}

/** Every domain's workers, in the order their work flows. */
const DOMAINS: [string, DomainWorkers][] = [
  ['roster imports', members], ['settlements', settlements], ['adjudication', benefits], ['payouts', payouts], ['reconciliation', reconciliation], ['notifications', notifications], ['notices', notices],
];

export interface RunningWorkers {
  queues: Queues;
  /** Re-adds all unfinished work from PostgreSQL; returns how many jobs it (re-)added. */
  sweep(): Promise<number>;
  /** Graceful: lets running jobs finish, then closes connections. */
  close(): Promise<void>;
}

export async function startWorkers(input: StartWorkersInput): Promise<RunningWorkers> {
  const services = workerServices(input);
  const { queues, prefix, log } = services;
  // Each domain's sweeper on its own: one that fails (its database or queue unreachable for a
  // moment) must not keep the others from re-adding their work. Throws when any failed.
  const sweep = async () => {
    let added = 0;
    const failed: string[] = [];
    for (const [name, domain] of DOMAINS) {
      try {
        added += await domain.sweep(services);
      } catch (error) {
        failed.push(name);
        log.warn({ err: error, sweeper: name }, 'sweep failed');
      }
    }
    if (failed.length) throw new Error(`the sweep of ${failed.join(', ')} failed; the next sweep tries again`);
    return added;
  };

  const workers: Worker[] = [];
  for (const [, domain] of DOMAINS) workers.push(...await domain.start(services));
  for (const worker of workers) {
    worker.on('failed', (job, error) => log.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: error }, 'job failed'));
    worker.on('error', (error) => log.error({ queue: worker.name, err: error }, 'worker error'));
    const finished = (outcome: 'completed' | 'failed') => (job: { processedOn?: number; finishedOn?: number } | undefined) => {
      if (job?.processedOn) input.onJobFinished?.(worker.name, outcome, ((job.finishedOn ?? Date.now()) - job.processedOn) / 1000);
    };
    worker.on('completed', finished('completed'));
    worker.on('failed', finished('failed'));
  }
  // Every worker process sweeps on its own timer, not through a Redis schedule: a flushed Redis
  // loses its schedules, and the sweep is what brings the work (and the schedules) back.
  const sweepEveryMs = (input.sweepSeconds ?? config().SWEEP_SECONDS) * 1000;
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
      await services.notifications.queue.close();
      await services.notices?.queue.close();
    },
  };
}
