import { config } from './config.ts';
import { log } from './log.ts';
import { createRuntime, type Runtime } from './runtime.ts';
import { createGateway, type Gateway } from './gateway/server.ts';
import { createQueues, closeQueues } from '../jobs/queues.ts';
import { startWorkers, type RunningWorkers } from '../jobs/worker.ts';

/** Long-running processes: gateway and workers, each stopping gracefully on SIGTERM/SIGINT. */

export async function startGateway(runtime: Runtime, port: number, host: string): Promise<{ gateway: Gateway; port: number; close(): Promise<void> }> {
  const queues = createQueues(runtime.redis, runtime.config.QUEUE_PREFIX);
  const gateway = await createGateway({ db: runtime.db, keys: runtime.keys, queues }, runtime.config, log);
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

export function startRuntimeWorkers(runtime: Runtime): Promise<RunningWorkers> {
  return startWorkers({ db: runtime.db, keys: runtime.keys, connection: runtime.redis, prefix: runtime.config.QUEUE_PREFIX, log });
}

/** Stops `parts` in order on the first SIGTERM or SIGINT, then the runtime; exits 0. */
export function closeOnSignal(runtime: Runtime, parts: { close(): Promise<void> }[]): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    for (const part of parts) await part.close().catch((err: unknown) => log.error({ err }, 'error while shutting down'));
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

export async function serveGateway({ port, host }: { port: number; host: string }): Promise<void> {
  const runtime = createRuntime(config());
  const server = await startGateway(runtime, port, host);
  log.info({ url: `http://${host}:${server.port}/graphql` }, 'gateway listening');
  closeOnSignal(runtime, [server]);
}

export async function runWorkers(): Promise<void> {
  const runtime = createRuntime(config());
  const workers = await startRuntimeWorkers(runtime);
  closeOnSignal(runtime, [workers]);
}
