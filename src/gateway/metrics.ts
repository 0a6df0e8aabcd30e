import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Queue } from 'bullmq';
import type express from 'express';
import { errorCodeOf } from './errors.ts';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { log } from '../log.ts';
import { operationsFigures, type CountAndAge, type OperationsFigures } from '../figures/store/operations.ts';
import type { WaitObservation } from '../figures/waiting.ts';
import { reconciliationSettings } from '../reconciliation/settings.ts';
import { addDays, chinaToday } from '../kernel/time.ts';
import type { Queryable } from '../kernel/transaction.ts';
import { isWorkingDay, lateReceivedBefore } from '../kernel/workingDays.ts';

/**
 * Prometheus metrics of one process: GraphQL requests by operation (rate, latency, errors by code),
 * queue depths (read from Redis at each scrape, so any process shows every queue) and, where the
 * workers run, job durations and failures. `hub serve` serves them at /metrics, `hub work` on
 * WORKER_PORT, `hub demo` (both in one process) once.
 */
export interface HubMetrics {
  registry: Registry;
  /** Request rate, latency by operation, errors by code. */
  apolloPlugin<C extends object>(): ApolloServerPlugin<C>;
  /** Depth of each queue by state, read at scrape time. */
  watchQueues(queues: readonly Queue[]): void;
  /**
   * The operations figures (`hub_ops_*`: what someone must act on), read from the database at scrape
   * time, at most once per OPERATIONS_CACHE_MS however often Prometheus (or anyone) scrapes.
   */
  watchOperations(db: Queryable, config: Config): void;
  /** A job finished (the workers call it). */
  jobFinished(queue: string, outcome: 'completed' | 'failed', seconds: number): void;
  /** Claims' waits completed (the payout and reconciliation workers call it, once per claim and stage). */
  claimsWaited(observations: readonly WaitObservation[]): void;
  handler: express.RequestHandler;
}

/** How long one read of the operations figures serves scrapes: a scrape storm costs one query per window. */
export const OPERATIONS_CACHE_MS = 15_000;
/** Bank working days, up to yesterday, whose statements must each be proven. */
export const PROVEN_DAYS_WINDOW = 7;

/**
 * Who may read /metrics (the gateway's and WORKER_PORT's), which shows the union's paying account,
 * pending reviews, open exceptions and queue depths: with METRICS_TOKEN set, only a caller sending it
 * as a bearer token; without it anyone outside production, and nobody in production (404).
 */
export function metricsAccess(config: Pick<Config, 'NODE_ENV' | 'METRICS_TOKEN'>): express.RequestHandler {
  if (config.METRICS_TOKEN === undefined) {
    if (config.NODE_ENV !== 'production') return (_req, _res, next) => next();
    return (_req, res) => {
      res.status(404).type('text/plain').send('/metrics is off in production until METRICS_TOKEN is set: it shows the paying account and the operations figures\n');
    };
  }
  // Digests of equal length: the comparison takes the same time however much of the token a caller guessed.
  const digest = (token: string) => createHash('sha256').update(token).digest();
  const expected = digest(config.METRICS_TOKEN);
  return (req, res, next) => {
    const given = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (given !== undefined && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    res.status(401).setHeader('www-authenticate', 'Bearer realm="metrics"').type('text/plain')
      .send('send METRICS_TOKEN as Authorization: Bearer <token>: /metrics shows the paying account and the operations figures\n');
  };
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children'] as const;
// Operation names come from clients: a bounded set keeps a flood of invented names from growing the series.
const MAX_OPERATION_LABELS = 200;
/** Seconds to a month: a claim decided by the rules waits seconds, one reviewed or paid by batch hours or days. */
export const WAIT_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400];
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function createMetrics(): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hub_' });
  const requests = new Counter({ name: 'hub_graphql_requests_total', help: 'GraphQL operations by name and outcome', labelNames: ['operation', 'outcome'], registers: [registry] });
  const latency = new Histogram({
    name: 'hub_graphql_request_duration_seconds', help: 'GraphQL operation latency by operation name', labelNames: ['operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
  });
  const errors = new Counter({ name: 'hub_graphql_errors_total', help: 'GraphQL errors by operation and extensions.code', labelNames: ['operation', 'code'], registers: [registry] });
  const cacheHits = new Counter({ name: 'hub_graphql_cache_hits_total', help: 'GraphQL operations answered from the roster response cache, by name', labelNames: ['operation'], registers: [registry] });
  const jobs = new Counter({ name: 'hub_jobs_total', help: 'Jobs finished by queue and outcome (completed, failed)', labelNames: ['queue', 'outcome'], registers: [registry] });
  const jobDuration = new Histogram({
    name: 'hub_job_duration_seconds', help: 'Job processing time by queue and outcome', labelNames: ['queue', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300], registers: [registry],
  });
  const waits = new Histogram({
    name: 'hub_claim_wait_seconds',
    help: 'Seconds each claim waited per stage (RECEIVED_TO_DECIDED … RECEIVED_TO_SETTLED), observed once when the stage completes; '
      + 'programme: of the claim\'s largest approved line; decided_by: RULES (approved by the rules alone) or PERSON',
    labelNames: ['stage', 'programme', 'decided_by'], buckets: WAIT_BUCKETS, registers: [registry],
  });
  const watched = new Map<string, Queue>();
  new Gauge({
    name: 'hub_queue_jobs', help: 'Jobs in each queue by state', labelNames: ['queue', 'state'], registers: [registry],
    async collect() {
      this.reset();
      await Promise.all([...watched.values()].map(async (queue) => {
        const counts = await queue.getJobCounts(...QUEUE_STATES);
        for (const state of QUEUE_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
      }));
    },
  });

  let readOperations: (() => Promise<OperationsFigures>) | undefined;
  let cached: { at: number; figures: Promise<OperationsFigures | null> } | undefined;
  // Every hub_ops_* gauge reads the same cached answer; a failed read shows as hub_ops_figures_up 0 and leaves the rest out.
  const operations = (): Promise<OperationsFigures | null> => {
    if (!readOperations) return Promise.resolve(null);
    if (!cached || Date.now() - cached.at >= OPERATIONS_CACHE_MS) {
      cached = {
        at: Date.now(),
        figures: readOperations().catch((err: unknown) => {
          log.error({ err }, 'could not read the operations figures');
          return null;
        }),
      };
    }
    return cached.figures;
  };
  const opsGauge = (name: string, help: string, labelNames: string[], set: (gauge: Gauge, figures: OperationsFigures) => void) =>
    new Gauge({
      name, help, labelNames, registers: [registry],
      async collect() {
        this.reset();
        const figures = await operations();
        if (figures) set(this, figures);
      },
    });
  const countAndAge = (name: string, what: string, act: string, pick: (f: OperationsFigures) => CountAndAge) => {
    opsGauge(name, `${what}. ${act}`, [], (g, f) => g.set(pick(f).count));
    opsGauge(`${name}_oldest_seconds`, `Age in seconds of the oldest of ${name} (0 when none). ${act}`, [], (g, f) => g.set(pick(f).oldestSeconds));
  };
  const byLabel = <K extends string>(name: string, label: string, help: string, pick: (f: OperationsFigures) => Record<K, CountAndAge>) => {
    opsGauge(name, help, [label], (g, f) => { for (const [key, v] of Object.entries<CountAndAge>(pick(f))) g.set({ [label]: key }, v.count); });
    opsGauge(`${name}_oldest_seconds`, `Age in seconds of the oldest of ${name}, by ${label} (0 when none). ${help}`, [label],
      (g, f) => { for (const [key, v] of Object.entries<CountAndAge>(pick(f))) g.set({ [label]: key }, v.oldestSeconds); });
  };
  new Gauge({
    name: 'hub_ops_figures_up', help: '1 when the hub_ops_* figures were read from the database, 0 when that failed (see the process log).', registers: [registry],
    async collect() {
      this.reset();
      if (readOperations) this.set((await operations()) ? 1 : 0);
    },
  });
  countAndAge('hub_ops_claims_pending_review', 'Claims waiting for a reviewer (PENDING_REVIEW), age from receipt of the settlement',
    'Reviewers should decide them, oldest first (claimBreaches lists the late ones).', (f) => f.claimsPendingReview);
  countAndAge('hub_ops_applications_past_promise', 'Members\' applications still SUBMITTED past their promised decision date (DECISION_PROMISE_WORKING_DAYS)',
    'A reviewer should accept or return them today.', (f) => f.applicationsPastPromise);
  byLabel('hub_ops_payout_batches_in_doubt', 'submission',
    'Payout batches being sent (SENDING) or sent without an answer from the bank (UNKNOWN). FINANCE should ask the bank whether it has the file before anything is resent.',
    (f) => f.batchesInDoubt);
  opsGauge('hub_ops_settlement_source_lag_seconds',
    'Seconds since each enabled settlement source last finished a pull successfully. Check the source\'s last error (hub settlements sources) and the platform\'s interface.',
    ['source'], (g, f) => { for (const { source, seconds } of f.sourceLagSeconds) g.set({ source }, seconds); });
  byLabel('hub_ops_reconciliation_exceptions_open', 'kind',
    'Open reconciliation exceptions by kind. FINANCE should match or write them off (four eyes) so the statement days can be proven.',
    (f) => f.openExceptions);
  opsGauge('hub_ops_statement_days_unproven',
    `Bank working days among the last ${PROVEN_DAYS_WINDOW} up to yesterday without a proven daily proof, by account. Fetch the statement, reconcile and resolve the exceptions.`,
    ['account'], (g, f) => { for (const { account, days } of f.unprovenStatementDays) g.set({ account }, days); });

  const seen = new Set<string>();
  const label = (name: string | null | undefined) => {
    if (!name || !OPERATION_NAME.test(name)) return 'anonymous';
    if (seen.has(name)) return name;
    if (seen.size >= MAX_OPERATION_LABELS) return 'other';
    seen.add(name);
    return name;
  };

  return {
    registry,
    apolloPlugin: () => ({
      async requestDidStart() {
        const started = process.hrtime.bigint();
        let operation = 'anonymous';
        return {
          async didResolveOperation({ operationName }) {
            operation = label(operationName);
          },
          async didEncounterErrors({ errors: list }) {
            for (const error of list) errors.inc({ operation, code: errorCodeOf(error) });
          },
          async willSendResponse({ response, metrics }) {
            if (metrics.responseCacheHit) cacheHits.inc({ operation });
            const failed = response.body.kind === 'single' && Boolean(response.body.singleResult.errors?.length);
            requests.inc({ operation, outcome: failed ? 'error' : 'ok' });
            latency.observe({ operation }, Number(process.hrtime.bigint() - started) / 1e9);
          },
        };
      },
    }),
    watchQueues(queues) {
      for (const queue of queues) watched.set(queue.name, queue);
    },
    watchOperations(db, config) {
      const holidays = new Set(config.BANK_HOLIDAYS);
      const promiseHolidays = new Set(config.PROMISE_HOLIDAYS);
      const accounts = reconciliationSettings(config, null).accounts;
      readOperations = () => {
        const today = chinaToday();
        const statementDays: string[] = [];
        for (let day = addDays(today, -1); statementDays.length < PROVEN_DAYS_WINDOW; day = addDays(day, -1)) {
          if (isWorkingDay(day, holidays)) statementDays.push(day);
        }
        // Still undecided and received before this: late today (as claims' breaches count).
        const applicationsLateBefore = lateReceivedBefore(today, config.DECISION_PROMISE_WORKING_DAYS, promiseHolidays);
        return operationsFigures(db, { applicationsLateBefore, statementDays, accounts });
      };
      cached = undefined;
    },
    jobFinished(queue, outcome, seconds) {
      jobs.inc({ queue, outcome });
      jobDuration.observe({ queue, outcome }, seconds);
    },
    claimsWaited(observations) {
      for (const o of observations) waits.observe({ stage: o.stage, programme: o.programme, decided_by: o.approvedByRules ? 'RULES' : 'PERSON' }, o.seconds);
    },
    async handler(_req, res) {
      res.setHeader('content-type', registry.contentType);
      res.send(await registry.metrics());
    },
  };
}
