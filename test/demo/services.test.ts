import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startThrowawayPostgres } from '../../jobs/demo/services.ts';

// A clone in a private folder (mktemp -d, 0700), as CI and many users make one: the demo's
// throwaway PostgreSQL must start there, as root (CI) as well as not.
describe('throwaway PostgreSQL', () => {
  it('starts from a 0700 folder, answers, and stops', async () => {
    const home = process.cwd();
    const folder = mkdtempSync(path.join(tmpdir(), 'hub-clone-'));
    chmodSync(folder, 0o700);
    const port = await freePort();
    process.chdir(folder);
    let started: Awaited<ReturnType<typeof startThrowawayPostgres>> | undefined;
    try {
      started = await startThrowawayPostgres(port);
      const client = new pg.Client({ connectionString: started.url });
      await client.connect();
      try {
        expect((await client.query('SELECT 1 AS answer')).rows).toEqual([{ answer: 1 }]);
      } finally {
        await client.end();
      }
    } finally {
      await started?.stop();
      process.chdir(home);
      if (started) rmSync(started.dir, { recursive: true, force: true });
      rmSync(folder, { recursive: true, force: true });
    }
    await expect(new pg.Client({ connectionString: started.url, connectionTimeoutMillis: 2000 }).connect()).rejects.toThrow();
  }, 60_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
