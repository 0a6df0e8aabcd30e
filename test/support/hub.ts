import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';

const HUB = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));

export interface HubRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stderr split into lines, without the final newline. */
  lines: string[];
}

/**
 * Runs `node bin/hub.mjs ...args` as an operator would, at the default log level (the one-line
 * promise must hold there, not only when logs are silenced), with `env` over a clean environment.
 */
export function hub(args: string[], env: Record<string, string | undefined> = {}): Promise<HubRun> {
  // Only what Node needs from the test's environment: the hub's settings are the test's to give.
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'info' };
  const merged = Object.fromEntries(Object.entries({ ...base, ...env }).filter((e): e is [string, string] => e[1] !== undefined));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HUB, ...args], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, lines: stderr.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1) }));
  });
}

/** A loopback port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = await holdPort();
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A loopback port held open by the test. */
export function holdPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
