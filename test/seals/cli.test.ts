import { execFile } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opensslVerifiesSeal, SAMPLE_XML, tempDir } from './fixtures.ts';

const HUB = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));

// A temporary working directory, so `.data/certs` lands there and not in the repository.
const work = tempDir();
afterAll(work.remove);

// Seal settings from the environment running the tests must not leak into the commands.
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(SEAL_|CERTS_DIR$)/.test(name)));

async function hub(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [HUB, ...args], { cwd: work.dir, env: { ...env, LOG_LEVEL: 'silent' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('hub certs dev / seal sign / seal verify', () => {
  const certs = path.join(work.dir, '.data/certs');
  beforeAll(() => writeFileSync(path.join(work.dir, 'batch.xml'), SAMPLE_XML));

  it('certs dev writes the development PKI under .data/certs, once', async () => {
    const made = await hub('certs', 'dev');
    expect(made).toMatchObject({ code: 0, stdout: `wrote development certificates to ${certs}\n` });
    const ca = readFileSync(path.join(certs, 'ca.pem'), 'utf8');
    const again = await hub('certs', 'dev');
    expect(again).toMatchObject({ code: 0, stdout: expect.stringContaining('already exist') });
    expect(readFileSync(path.join(certs, 'ca.pem'), 'utf8')).toBe(ca);
  });

  it('seal sign writes FILE.p7s that OpenSSL and seal verify accept', async () => {
    expect(await hub('seal', 'sign', 'batch.xml')).toMatchObject({ code: 0, stdout: 'sealed: batch.xml.p7s\n' });
    expect(opensslVerifiesSeal(work.dir, 'batch.xml', 'batch.xml.p7s', '.data/certs/ca.pem').status).toBe(0);
    const verified = await hub('seal', 'verify', 'batch.xml', 'batch.xml.p7s');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^valid: C=CN, O=Mutual Aid Hub City Trade Union \(DEV\), CN=Mutual Aid Hub Union Seal \(DEV\), signed \d{4}-\d\d-\d\dT[\d:.]+Z\n$/);

    // A kept file is judged at the time it was received: a week later its seal is too old.
    const weekLater = new Date(Date.now() + 7 * 86_400_000).toISOString();
    expect(await hub('seal', 'verify', '--received', weekLater, 'batch.xml', 'batch.xml.p7s')).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^invalid: signing time \S+ is more than 72 hours before receipt/),
    });
  });

  it('seal verify exits 1 with the reason after tampering, 2 for a missing file', async () => {
    appendFileSync(path.join(work.dir, 'batch.xml'), '<!-- -->');
    expect(await hub('seal', 'verify', 'batch.xml', 'batch.xml.p7s')).toMatchObject({
      code: 1,
      stderr: 'invalid: the content does not match the seal (message digest differs)\n',
    });
    expect(await hub('seal', 'verify', 'batch.xml', 'missing.p7s')).toMatchObject({ code: 2, stderr: 'cannot read missing.p7s: ENOENT\n' });
  });
});
