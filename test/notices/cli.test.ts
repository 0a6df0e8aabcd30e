import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDevCertificates } from '../../certs/devCa.ts';
import { toGlobalId } from '../../src/gateway/globalId.ts';
import { DEV_SEAL_P12_PASSPHRASE } from '../../src/seals/settings.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { hub } from '../support/hub.ts';
import { decidedClaim, keys, namedMember, notify, poppler } from './support.ts';

/** `hub notices issue` and `hub notices export`, as an operator (or the demo) runs them. */
let db: TestDatabase;
let work: string;
let env: Record<string, string>;

beforeAll(async () => {
  db = await freshDatabase();
  work = mkdtempSync(path.join(tmpdir(), 'hub-notices-cli-'));
  writeDevCertificates(path.join(work, 'certs'), { p12Passphrase: DEV_SEAL_P12_PASSPHRASE });
  env = { DATABASE_URL: db.url, PII_KEY: keys.encryptionKey.toString('base64'), CERTS_DIR: path.join(work, 'certs'), LOG_LEVEL: 'silent', NOTICE_UNION_NAME: '泉州市总工会' };
});
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await db?.drop();
});

describe('hub notices', () => {
  it('issues the pending notices with the configured seal and exports one as a PDF that pdfsig verifies', async () => {
    const m = await namedMember(db.pool);
    const claimId = await decidedClaim(db.pool, m);
    await notify(db.pool, { memberId: m.memberId, kind: 'CLAIM_DECIDED', subjectType: 'Claim', subjectId: claimId, facts: {} });

    const issued = await hub(['notices', 'issue', '--member', toGlobalId('Member', m.memberId), '--json'], env);
    expect(issued.code, issued.stderr).toBe(0);
    const { issued: ids } = JSON.parse(issued.stdout) as { issued: number[] };
    expect(ids).toHaveLength(1);
    expect(JSON.parse((await hub(['notices', 'issue', '--json'], env)).stdout)).toEqual({ issued: [] });

    const file = path.join(work, 'notice.pdf');
    const exported = await hub(['notices', 'export', toGlobalId('Notice', ids[0]!), file, '--json'], env);
    expect(exported.code, exported.stderr).toBe(0);
    const written = JSON.parse(exported.stdout) as { path: string; sha256: string; number: string };
    expect(written.path).toBe(file);
    expect(written.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
    const check = poppler('pdfsig', ['-no-ocsp', file]).output;
    expect(check).toContain('Signature is Valid.');
    expect(check).toContain('Mutual Aid Hub City Trade Union (DEV)');
    expect(poppler('pdftotext', ['-enc', 'UTF-8', file, '-']).output).toContain('泉州市总工会');
    // The member's medical notice left the hub: audited as a download is, naming where it went.
    const { rows: audits } = await db.pool.query(`SELECT actor, role, target_type, target_id, details FROM audit_log WHERE action = 'notice.export'`);
    expect(audits).toEqual([{
      actor: 'cli', role: 'SERVICE', target_type: 'Notice', target_id: written.number,
      details: { noticeId: ids[0], memberId: m.memberId, sha256: written.sha256, path: file },
    }]);
  });

  /** A member's medical notice is not left readable by others because its path held a file of another mode. */
  it('exports over an existing file readable by anyone as a file its owner alone reads', async () => {
    const m = await namedMember(db.pool);
    await notify(db.pool, { memberId: m.memberId, kind: 'CLAIM_DECIDED', subjectType: 'Claim', subjectId: await decidedClaim(db.pool, m), facts: {} });
    const issued = await hub(['notices', 'issue', '--member', toGlobalId('Member', m.memberId), '--json'], env);
    const [noticeId] = (JSON.parse(issued.stdout) as { issued: number[] }).issued;

    // An earlier export, a `touch`, a file made under the usual umask 022: longer than the notice, too.
    const file = path.join(work, 'existing.pdf');
    writeFileSync(file, Buffer.alloc(2 * 1024 * 1024, 'x'), { mode: 0o644 });
    const exported = await hub(['notices', 'export', toGlobalId('Notice', noticeId!), file, '--json'], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe((JSON.parse(exported.stdout) as { sha256: string }).sha256);
  });

  it('refuses what names no notice, exit code 2 for a malformed one', async () => {
    const malformed = await hub(['notices', 'export', 'HZ-1', path.join(work, 'x.pdf')], env);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('<notice>');
    const unknown = await hub(['notices', 'export', '987654', path.join(work, 'x.pdf')], env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/notice not found/);
    expect((await db.pool.query(`SELECT 1 FROM audit_log WHERE action = 'notice.export' AND (details ->> 'noticeId')::bigint = 987654`)).rowCount).toBe(0);
  });
});
