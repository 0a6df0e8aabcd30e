import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import express from 'express';
import { config } from '../src/config.ts';
import { log } from '../src/log.ts';
import { openRuntime, type Runtime } from '../src/runtime.ts';
import { fromSetting } from '../src/cliErrors.ts';
import { createGateway, type Gateway } from '../src/gateway/server.ts';
import { parseSubgraphUrls, remoteGateway } from '../src/gateway/federation/remote.ts';
import { createMetrics, metricsAccess, type HubMetrics } from '../src/gateway/metrics.ts';
import { healthz, readyz } from '../src/gateway/health.ts';
import { startWorkers, type RunningWorkers } from './worker.ts';
import type { PayoutServices } from '../src/payouts/settings.ts';
import { closeQueues, createQueues } from '../src/queues.ts';

/** Long-running processes: gateway and workers, each stopping gracefully on SIGTERM/SIGINT. */

// One registry per process: `hub demo` runs gateway and workers together and shows both at /metrics.
let processMetrics: HubMetrics | undefined;
const metricsOfProcess = () => (processMetrics ??= createMetrics());

/** Which API a gateway serves: the whole one in-process (default), one subgraph, or remote subgraphs. */
export interface ServeMode {
  subgraph?: string;
  /** Gateway mode: the supergraph SDL file and where its subgraphs listen (`name=url,…`). */
  remote?: { supergraphFile: string; urls: string };
}

export async function startGateway(runtime: Runtime, port: number, host: string, mode: ServeMode = {}): Promise<{ gateway: Gateway; port: number; close(): Promise<void> }> {
  const queues = createQueues(runtime.redis, runtime.config.QUEUE_PREFIX);
  const remote = mode.remote && remoteGateway({ supergraphSdl: readFileSync(mode.remote.supergraphFile, 'utf8'), urls: parseSubgraphUrls(mode.remote.urls) });
  const gateway = await createGateway({ db: runtime.db, keys: runtime.keys, queues, redis: runtime.redis }, runtime.config, log, { metrics: metricsOfProcess(), subgraph: mode.subgraph, remote });
  const bound = await gateway.listen(port, host);
  return {
    gateway,
    port: bound,
    async close() {
      await gateway.stop();
      await closeQueues(queues);
    },
  };
}

/** `payouts`: the bank channel and seal (default: from configuration). */
export function startRuntimeWorkers(runtime: Runtime, payouts?: PayoutServices | null): Promise<RunningWorkers> {
  const metrics = metricsOfProcess();
  return startWorkers({
    config: runtime.config, db: runtime.db, keys: runtime.keys, connection: runtime.redis, prefix: runtime.config.QUEUE_PREFIX, log, payouts,
    onJobFinished: (queue, outcome, seconds) => metrics.jobFinished(queue, outcome, seconds),
    onClaimsWaited: (observations) => metrics.claimsWaited(observations),
  });
}

/**
 * Stops `parts` in order on the first SIGTERM or SIGINT, then the runtime; exits 0. `parts` may still
 * be starting: a signal that arrives meanwhile waits for them, so a worker that already took a job
 * finishes it rather than dying mid-call.
 */
export function closeOnSignal(runtime: Runtime, parts: { close(): Promise<void> }[] | Promise<{ close(): Promise<void> }[]>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    for (const part of await parts) await part.close().catch((err: unknown) => log.error({ err }, 'error while shutting down'));
    await runtime.close();
    log.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

/** `portSetting`: where the port came from (PORT or --port), named if it is taken. */
export async function serveGateway({ port, host, portSetting, ...mode }: { port: number; host: string; portSetting: string } & ServeMode): Promise<void> {
  // Tried before anything starts: once the gateway's WebSocket server is attached, a busy port is
  // also printed by graphql-ws, with a stack trace, before the one-line refusal.
  if (port !== 0) await fromSetting(portSetting, listenAndClose(port, host));
  const runtime = await openRuntime(config());
  const server = await fromSetting(portSetting, startGateway(runtime, port, host, mode));
  const serves = mode.subgraph ? `subgraph ${mode.subgraph}` : mode.remote ? 'gateway over remote subgraphs' : 'whole API';
  log.info({ url: `http://${host}:${server.port}/graphql`, port: server.port, serves }, 'gateway listening');
  closeOnSignal(runtime, [server]);
}

function listenAndClose(port: number, host: string): Promise<void> {
  const probe = net.createServer();
  return new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/**
 * `hub work`: the workers, plus their operations endpoints on WORKER_PORT (/healthz, /readyz,
 * /metrics with job durations and failures). On SIGTERM the endpoints close first, then running
 * jobs finish before the process exits.
 */
export async function runWorkers({ host = '127.0.0.1' }: { host?: string } = {}): Promise<void> {
  const runtime = await openRuntime(config());
  // Installed before the workers start: they take jobs at once, before the endpoints listen.
  let started!: (parts: { close(): Promise<void> }[]) => void;
  closeOnSignal(runtime, new Promise((resolve) => { started = resolve; }));
  const workers = await startRuntimeWorkers(runtime);
  const metrics = metricsOfProcess();
  metrics.watchQueues(Object.values(workers.queues));
  metrics.watchOperations(runtime.db, runtime.config);
  let draining = false;
  const app = express();
  app.get('/healthz', healthz);
  app.get('/readyz', readyz({
    db: runtime.db, redis: runtime.redis, queues: Object.values(workers.queues), draining: () => draining, config: runtime.config, log,
  }));
  // The same figures as the gateway's /metrics: the same rule for who may read them.
  app.get('/metrics', metricsAccess(runtime.config), metrics.handler);
  const server = http.createServer(app);
  await fromSetting('WORKER_PORT', new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(runtime.config.WORKER_PORT, host, resolve);
  }));
  const port = (server.address() as { port: number }).port;
  log.info({ url: `http://${host}:${port}/metrics`, port }, 'workers running; operations endpoints listening');
  // A supervisor that started the process with an IPC channel hears that it runs (a failure
  // before this is a start-up failure, to retry; an exit after it is a crash).
  process.send?.({ workers: 'running', port }, () => process.disconnect?.());
  const endpoints = {
    async close() {
      draining = true;
      server.closeIdleConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  started([endpoints, workers]);
}
