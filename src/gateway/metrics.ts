import type { ApolloServerPlugin } from '@apollo/server';
import type { Queue } from 'bullmq';
import type express from 'express';
import { errorCodeOf } from './errors.ts';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

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
  /** A job finished (the workers call it). */
  jobFinished(queue: string, outcome: 'completed' | 'failed', seconds: number): void;
  handler: express.RequestHandler;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children'] as const;
// Operation names come from clients: a bounded set keeps a flood of invented names from growing the series.
const MAX_OPERATION_LABELS = 200;
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
    jobFinished(queue, outcome, seconds) {
      jobs.inc({ queue, outcome });
      jobDuration.observe({ queue, outcome }, seconds);
    },
    async handler(_req, res) {
      res.setHeader('content-type', registry.contentType);
      res.send(await registry.metrics());
    },
  };
}
