import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, chownSync } from 'node:fs';
import { resolve } from 'node:path';
import net from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * For `hub demo`: use the configured PostgreSQL and Redis; where none answers, start throwaway
 * ones under `.data/` from the machine's own binaries, or say exactly what to install. Never hangs.
 */
export interface DemoServices {
  databaseUrl: string;
  redisUrl: string;
  notes: string[];
  stop(): Promise<void>;
}

const DATA_DIR = resolve('.data');
const THROWAWAY_PG_PORT = 55432;
const THROWAWAY_REDIS_PORT = 56379;

export async function ensureDemoServices(databaseUrl: string, redisUrl: string): Promise<DemoServices> {
  const notes: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    if (!(await postgresAnswers(databaseUrl))) {
      const started = await startThrowawayPostgres();
      notes.push(`PostgreSQL did not answer at ${redact(databaseUrl)}; started a throwaway one at ${started.url} (data in .data/pg)`);
      databaseUrl = started.url;
      stops.push(started.stop);
    }
    if (!(await redisAnswers(redisUrl))) {
      const started = await startThrowawayRedis();
      notes.push(`Redis did not answer at ${redisUrl}; started a throwaway one at ${started.url}`);
      redisUrl = started.url;
      stops.push(started.stop);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { databaseUrl, redisUrl, notes, stop };
}

export class MissingServiceError extends Error {}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

function findPostgresBin(name: string): string | null {
  const onPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  for (const version of readdirSync(root).sort().reverse()) {
    const candidate = `${root}/${version}/bin/${name}`;
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

async function startThrowawayPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  const initdb = findPostgresBin('initdb');
  const pgCtl = findPostgresBin('pg_ctl');
  if (!initdb || !pgCtl) {
    throw new MissingServiceError(
      'PostgreSQL is not answering and no initdb/pg_ctl was found. Install it (Debian: apt-get install -y postgresql) ' +
        'and start it, or set DATABASE_URL to a running server.',
    );
  }
  const dir = `${DATA_DIR}/pg`;
  // PostgreSQL refuses to run as root: run it as the postgres user when we are root.
  const asRoot = process.getuid?.() === 0;
  const runAs = (cmd: string, args: string[]) => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] as const : [cmd, args] as const);
  mkdirSync(dir, { recursive: true });
  if (asRoot) chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  if (!existsSync(`${dir}/PG_VERSION`)) {
    const [cmd, args] = runAs(initdb, ['-D', dir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-instructions']);
    const init = spawnSync(cmd, args, { encoding: 'utf8' });
    if (init.status !== 0) throw new MissingServiceError(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const [cmd, args] = runAs(pgCtl, ['-D', dir, '-w', '-t', '30', '-l', `${dir}/server.log`, '-o',
    `-p ${THROWAWAY_PG_PORT} -c listen_addresses=127.0.0.1 -k ${dir}`, 'start']);
  const start = spawnSync(cmd, args, { encoding: 'utf8' });
  if (start.status !== 0) throw new MissingServiceError(`pg_ctl start failed: ${start.stderr || start.stdout} (see ${dir}/server.log)`);
  return {
    url: `postgres://postgres@127.0.0.1:${THROWAWAY_PG_PORT}/postgres`,
    stop: async () => {
      const [c, a] = runAs(pgCtl, ['-D', dir, '-m', 'fast', 'stop']);
      spawnSync(c, a);
    },
  };
}

async function startThrowawayRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!server) {
    throw new MissingServiceError(
      'Redis is not answering and redis-server was not found. Install it (Debian: apt-get install -y redis-server) ' +
        'and start it, or set REDIS_URL to a running server.',
    );
  }
  const child: ChildProcess = spawn(server, ['--port', String(THROWAWAY_REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${THROWAWAY_REDIS_PORT}`;
  for (let i = 0; i < 50; i++) {
    if (await portOpen(THROWAWAY_REDIS_PORT)) return { url, stop: async () => void child.kill('SIGTERM') };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new MissingServiceError(`redis-server did not start on port ${THROWAWAY_REDIS_PORT}`);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      resolvePort(true);
    });
    socket.once('error', () => resolvePort(false));
  });
}

function uidOf(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}

function gidOf(user: string): number {
  return Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}
