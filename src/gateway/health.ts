import type express from 'express';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { ping } from '../db/pool.ts';
import type { Config } from '../config.ts';

/**
 * `/healthz`: the process is up (liveness). `/readyz`: it can do its work — PostgreSQL answers,
 * Redis answers and every queue can be read — and it is not shutting down (readiness; load
 * balancers stop sending traffic while it drains). Each check has a deadline, so a hung dependency
 * makes the probe fail rather than hang. A failed check's error is logged; in production the answer
 * names only the check, since the error text shows internal hosts and ports to whoever asks.
 */
export interface ReadinessDeps {
  db: pg.Pool;
  redis: Redis;
  queues: readonly Queue[];
  draining(): boolean;
  /** NODE_ENV decides how much a failed check's answer says. */
  config: Pick<Config, 'NODE_ENV'>;
  log: Logger;
}

const CHECK_TIMEOUT_MS = 2_000;

function withDeadline<T>(work: Promise<T>): Promise<T> {
  return Promise.race([work, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref())]);
}

export const healthz: express.RequestHandler = (_req, res) => {
  res.json({ status: 'ok' });
};

export function readyz(deps: ReadinessDeps): express.RequestHandler {
  return async (_req, res) => {
    if (deps.draining()) {
      res.status(503).json({ status: 'draining' });
      return;
    }
    const checks: Record<string, () => Promise<unknown>> = {
      database: () => ping(deps.db),
      redis: () => deps.redis.ping(),
      queues: () => Promise.all(deps.queues.map((q) => q.getJobCounts('waiting'))),
    };
    const results: Record<string, string> = {};
    await Promise.all(Object.entries(checks).map(async ([name, check]) => {
      results[name] = await withDeadline(check()).then(() => 'ok', (error: Error) => {
        deps.log.warn({ err: error, check: name }, 'readiness check failed');
        return deps.config.NODE_ENV === 'production' ? 'failed' : `failed: ${error.message}`;
      });
    }));
    const ready = Object.values(results).every((r) => r === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: results });
  };
}
