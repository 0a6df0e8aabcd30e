import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import { config, type Config } from '../src/config.ts';
import type { PersonalDataKeys } from '../src/privacy/personalData.ts';
import { createQueues, type Queues } from '../src/queues.ts';
import { publishStatusChanges, type StatusChange } from '../src/events/statusEvents.ts';
import { configuredPayoutServices, type PayoutServices } from '../src/payouts/settings.ts';
import { reconciliationSettings, type ReconciliationSettings } from '../src/reconciliation/settings.ts';
import { benefitSettings } from '../src/benefits/settings.ts';
import type { AdjudicationOptions, AdjudicationOutcome } from '../src/benefits/adjudicate.ts';
import type { AfterMatch } from '../src/settlements/matchingStep.ts';
import { createNotificationQueue } from '../src/notifications/queue.ts';
import { notificationSettings, type NotificationSettings } from '../src/notifications/settings.ts';
import type { NoticeSettings } from '../src/notices/issue.ts';
import { createNoticeQueue } from '../src/notices/queue.ts';
import { configuredNoticeSettings } from '../src/notices/settings.ts';
import { completedWaits, type WaitObservation } from '../src/figures/waiting.ts';

/**
 * The one worker contract: each domain's module in jobs/ exports
 *   start(services): Promise<Worker[]>  its BullMQ workers, started;
 *   sweep(services): Promise<number>    re-adds its unfinished work from PostgreSQL (jobs added).
 * Both take the services below (or the part of them they use); `jobs/worker.ts` starts and sweeps
 * every domain with one set of them.
 */
export interface DomainWorkers<S = WorkerServices> {
  start(services: S): Promise<Worker[]>;
  sweep(services: S): Promise<number>;
}

/** The settlement workers' settings (jobs/settlements.ts). */
export interface SettlementWorkerOptions {
  /** Job lock (ms); a job whose worker died is picked up again after about this long. */
  lockMs: number;
  matchConcurrency: number;
  /** Called after the pipeline's own step, adjudication (tests observe the step this way). */
  afterMatch: AfterMatch[];
}

/** The adjudication worker's settings (jobs/benefits.ts). */
export interface AdjudicationWorkerOptions extends AdjudicationOptions {
  /**
   * Jobs a process holds at once. Each carries a batch: a few more than the transactions it runs
   * keep it busy without holding work another process could do.
   */
  concurrency: number;
  maxBatch?: number;
  /** Called with each batch's outcomes once its transaction committed (status-change announcements). */
  onDecided?: (outcomes: AdjudicationOutcome[]) => Promise<void>;
}

/** The notification worker's settings (jobs/notifications.ts). */
export interface NotificationWorkerOptions {
  settings: NotificationSettings;
  /** The queue of the delivery schedule (closed with the workers). */
  queue: Queue;
}

export interface WorkerServices {
  /** The settings the workers read: the input's, else the process's `config()`. */
  config: Config;
  db: pg.Pool;
  keys: PersonalDataKeys;
  /** Shared by BullMQ (which duplicates it for blocking reads) and the status-change announcements. */
  connection: Redis;
  prefix: string;
  log: Logger;
  queues: Queues;
  settlements: SettlementWorkerOptions;
  adjudication: AdjudicationWorkerOptions;
  /** The bank channel and seal for payouts; null: no payout worker. */
  payouts: PayoutServices | null;
  /** Reconciliation's bank channel and rules. */
  reconciliation: ReconciliationSettings;
  /** The notification channels and retry policy, and the queue of the delivery schedule. */
  notifications: NotificationWorkerOptions;
  /** The union seal for sealed notices and the notices' queue; null: no notice worker (no seal configured). */
  notices: { settings: NoticeSettings; queue: Queue } | null;
  /** Tells subscribers of status changes after a commit; best effort (the rows are the truth). */
  announce(changes: StatusChange[]): Promise<void>;
  /** After a commit: the claims' waits these payouts completed (CREDITED: paid, SETTLED: settled) go to onClaimsWaited; best effort. */
  claimsWaited(payoutIds: readonly number[], until: 'CREDITED' | 'SETTLED'): Promise<void>;
}

export interface WorkerServicesInput {
  /** Default: the process's configuration, `config()` (a process running on settings of its own passes them). */
  config?: Config;
  db: pg.Pool;
  keys: PersonalDataKeys;
  connection: Redis;
  prefix: string;
  log: Logger;
  /** Overrides of the settlement workers' settings (tests, benchmarks). */
  settlements?: Partial<SettlementWorkerOptions>;
  /** Overrides of the adjudication worker's settings (tests, benchmarks). */
  adjudication?: Partial<AdjudicationWorkerOptions>;
  /** Default from configuration; null: no payout worker. */
  payouts?: PayoutServices | null;
  /** Default from configuration (the payouts' bank channel). */
  reconciliation?: ReconciliationSettings;
  /** Overrides of the notification settings (tests: the simulator's channels, short waits). */
  notifications?: Partial<NotificationSettings>;
  /** Default from configuration (the union seal); null: no notice worker. */
  notices?: NoticeSettings | null;
  /** Called with the claims' waits completed by payouts credited or settled (metrics); without it they are not read. */
  onClaimsWaited?: (observations: WaitObservation[]) => void;
}

const noticeServices = (settings: NoticeSettings | null, connection: Redis, prefix: string) =>
  settings && { settings, queue: createNoticeQueue(connection, prefix) };

/** The services with configuration's defaults for what the input leaves out. */
export function workerServices(input: WorkerServicesInput): WorkerServices {
  const { connection, prefix, log } = input;
  const cfg = input.config ?? config();
  const payouts = input.payouts === undefined ? configuredPayoutServices(cfg, input.keys, log) : input.payouts;
  const { onClaimsWaited } = input;
  const claimsWaited = async (payoutIds: readonly number[], until: 'CREDITED' | 'SETTLED') => {
    if (!onClaimsWaited || !payoutIds.length) return;
    await completedWaits(input.db, payoutIds, until).then(onClaimsWaited).catch((error: unknown) => log.warn({ err: error, until }, 'claims\' waits not measured'));
  };
  return {
    ...input,
    config: cfg,
    queues: createQueues(connection, prefix),
    settlements: { lockMs: cfg.SETTLEMENT_JOB_LOCK_MS, matchConcurrency: cfg.SETTLEMENT_MATCH_CONCURRENCY, afterMatch: [], ...input.settlements },
    // Adjudication jobs carry up to 100 settlements each: a few more than the two transactions a process runs.
    adjudication: { concurrency: 8, autoApproveMaxFen: benefitSettings().AUTO_APPROVE_MAX_FEN, ...input.adjudication },
    payouts,
    reconciliation: input.reconciliation ?? reconciliationSettings(cfg, payouts?.adapter ?? null),
    notifications: { settings: { ...notificationSettings(cfg), ...input.notifications }, queue: createNotificationQueue(connection, prefix) },
    notices: noticeServices(input.notices === undefined ? configuredNoticeSettings(cfg, input.keys, log) : input.notices, connection, prefix),
    announce: (changes) => publishStatusChanges(connection, prefix, changes)
      .catch((error: unknown) => log.warn({ err: error }, 'status changes not announced')),
    claimsWaited,
  };
}
