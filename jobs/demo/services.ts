import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import pg from 'pg';
import { ping } from '../../src/db/pool.ts';
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
      notes.push(`PostgreSQL did not answer at ${redact(databaseUrl)}; started a throwaway one at ${started.url} (data in ${started.dir})`);
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
    await ping(client);
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

/** The demo's throwaway PostgreSQL: `.data/pg` under the current directory (see `postgresCluster` for root). */
export async function startThrowawayPostgres(port = THROWAWAY_PG_PORT): Promise<{ url: string; dir: string; stop: () => Promise<void> }> {
  const cluster = postgresCluster(resolve('.data/pg'), port);
  cluster.start();
  return { url: cluster.url, dir: cluster.dir, stop: async () => cluster.stop('fast') };
}

/** A PostgreSQL cluster of our own (initdb once), for the demo and the fault harness, which stops it hard on purpose. */
export interface PostgresCluster {
  url: string;
  /** Where its data lives: the directory asked for, or, as root, one the postgres user can reach. */
  dir: string;
  start(): void;
  /** `immediate`: as if the machine lost power (no checkpoint; recovery on the next start). */
  stop(mode: 'fast' | 'immediate'): void;
}

export function postgresCluster(wanted: string, port: number): PostgresCluster {
  const initdb = findPostgresBin('initdb');
  const pgCtl = findPostgresBin('pg_ctl');
  if (!initdb || !pgCtl) {
    throw new MissingServiceError(
      'PostgreSQL is not answering and no initdb/pg_ctl was found. Install it (Debian: apt-get install -y postgresql) ' +
        'and start it, or set DATABASE_URL to a running server.',
    );
  }
  // PostgreSQL refuses to run as root: as root it runs as the postgres user, who may not reach a
  // checkout in a private (0700) folder, so its data goes to a folder of its own under the temp dir.
  const owner = process.getuid?.() === 0 ? postgresUser() : null;
  const dir = owner ? join(tmpdir(), `mutual-aid-hub-pg-${createHash('sha256').update(wanted).digest('hex').slice(0, 12)}`) : wanted;
  // The working directory too: initdb and pg_ctl change back to it, and fail where they cannot.
  const run = (cmd: string, args: string[]) =>
    owner ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8', cwd: dir }) : spawnSync(cmd, args, { encoding: 'utf8', cwd: dir });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    start() {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (owner) {
        const found = lstatSync(dir);
        if (!found.isDirectory() || (found.uid !== 0 && found.uid !== owner.uid)) throw new MissingServiceError(`${dir} is not a directory of root or postgres: remove it`);
        chownSync(dir, owner.uid, owner.gid);
        chmodSync(dir, 0o700);
      }
      if (!existsSync(`${dir}/PG_VERSION`)) {
        const init = run(initdb, ['-D', dir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-instructions']);
        if (init.status !== 0) throw new MissingServiceError(`initdb failed: ${init.stderr || init.stdout}`);
      }
      // TCP only: a Unix socket path under a deep checkout can exceed the 107-byte limit.
      const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
      const start = run(pgCtl, ['-D', dir, '-w', '-t', '30', '-l', `${dir}/server.log`, '-o', options, 'start']);
      if (start.status !== 0) throw new MissingServiceError(`pg_ctl start failed: ${start.stderr || start.stdout} (see ${dir}/server.log)`);
    },
    stop(mode) {
      if (existsSync(dir)) run(pgCtl, ['-D', dir, '-m', mode, '-w', 'stop']);
    },
  };
}

async function startThrowawayRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = redisServer(THROWAWAY_REDIS_PORT);
  await server.start();
  return { url: server.url, stop: async () => server.stop() };
}

/** A redis-server of our own that keeps nothing on disk: stopping it loses every key (a flush). */
export interface RedisServer {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function redisServer(port: number): RedisServer {
  const binary = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!binary) {
    throw new MissingServiceError(
      'Redis is not answering and redis-server was not found. Install it (Debian: apt-get install -y redis-server) ' +
        'and start it, or set REDIS_URL to a running server.',
    );
  }
  let child: ChildProcess | null = null;
  return {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      for (let i = 0; i < 50; i++) {
        if (await portOpen(port)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGKILL');
      throw new MissingServiceError(`redis-server did not start on port ${port}`);
    },
    async stop() {
      const stopping = child;
      child = null;
      if (!stopping || stopping.exitCode !== null) return;
      const exited = new Promise((r) => stopping.once('exit', r));
      stopping.kill('SIGKILL');
      await exited;
    },
  };
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

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  if (uid.status !== 0) throw new MissingServiceError('running as root, PostgreSQL needs the postgres user, and there is none (it comes with the postgresql package)');
  return { uid: Number(uid.stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}
