import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { recordAudit, verifyAuditChain } from '../../src/audit/audit.ts';

let db: TestDatabase;
const actor = { subject: 'auditor-test', role: 'ADMIN' };

beforeAll(async () => {
  db = await freshDatabase();
  // Concurrent writers still make one chain, in seq order.
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      inTransaction(db.pool, (tx) => recordAudit(tx, actor, { action: 'test.write', targetType: 'Thing', targetId: String(i), details: { i } })),
    ),
  );
});
afterAll(() => db.drop());

function hubAuditVerify() {
  const hub = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
  return spawnSync(process.execPath, [hub, 'audit', 'verify'], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: db.url } });
}

// Tampering needs the append-only trigger out of the way, as an attacker with table rights would.
async function tamper(sql: string) {
  await inTransaction(db.pool, async (tx) => {
    await tx.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    await tx.query(sql);
    await tx.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
  });
}

describe('audit log', () => {
  it('is one intact chain after concurrent writes', async () => {
    expect(await verifyAuditChain(db.pool)).toEqual({ rows: 20, firstBroken: null });
    const run = hubAuditVerify();
    expect(run.stdout).toContain('audit chain intact: 20 rows');
    expect(run.status).toBe(0);
  });

  it('refuses updates and deletes', async () => {
    await expect(db.pool.query(`UPDATE audit_log SET reason = 'x'`)).rejects.toThrow(/append-only/);
    await expect(db.pool.query(`DELETE FROM audit_log`)).rejects.toThrow(/append-only/);
  });

  it('detects an edited row', async () => {
    await tamper(`UPDATE audit_log SET details = '{"i": 99}' WHERE seq = 7`);
    expect((await verifyAuditChain(db.pool)).firstBroken).toEqual({ seq: 7, problem: 'content does not match its hash (row edited)' });
    const run = hubAuditVerify();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('audit chain broken at row 7');
  });

  it('detects a deleted row', async () => {
    await tamper(`DELETE FROM audit_log WHERE seq = 3`);
    expect((await verifyAuditChain(db.pool)).firstBroken).toEqual({ seq: 4, problem: 'row 3 is missing (next is 4)' });
  });
});
