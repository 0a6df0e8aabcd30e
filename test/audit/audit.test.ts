import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { recordAudit, recordAuditCheckpoint, verifyAuditChain, type AuditVerification } from '../../src/audit/audit.ts';
import type { Tx } from '../../src/kernel/transaction.ts';

let db: TestDatabase;
const actor = { subject: 'auditor-test', role: 'ADMIN' };
const write = (tx: Tx | pg.PoolClient, i: number) => recordAudit(tx as Tx, actor, { action: 'test.write', targetType: 'Thing', targetId: String(i), details: { i } });
/** The rows one transaction wrote: five, contiguous in one chain. */
let run: { seq: number; chain: number; chain_seq: number }[];

beforeAll(async () => {
  db = await freshDatabase();
  // Concurrent writers: each transaction's row lands in some chain; every chain stays intact.
  await Promise.all(Array.from({ length: 20 }, (_, i) => inTransaction(db.pool, (tx) => write(tx, i))));
  await inTransaction(db.pool, async (tx) => {
    for (let i = 100; i < 105; i++) await write(tx, i);
  });
  run = (await db.pool.query(`SELECT seq, chain, chain_seq FROM audit_log WHERE target_id::int >= 100 ORDER BY seq`)).rows;
});
afterAll(() => db.drop());

function hubAuditVerify() {
  const hub = fileURLToPath(new URL('../../bin/hub.mjs', import.meta.url));
  return spawnSync(process.execPath, [hub, 'audit', 'verify'], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: db.url } });
}

// Tampering needs the append-only trigger out of the way, as an attacker with table rights would.
// Each case tampers inside a transaction, verifies there and rolls back, so the cases stay apart.
async function verifyTampered(...statements: string[]): Promise<AuditVerification> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    await client.query('ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only');
    for (const sql of statements) await client.query(sql);
    return await verifyAuditChain(client as unknown as Tx);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

describe('audit log', () => {
  it('is intact after concurrent writes; one transaction writes contiguously to one chain', async () => {
    const verified = await verifyAuditChain(db.pool);
    expect(verified).toMatchObject({ rows: 25, firstBroken: null });
    expect(new Set(run.map((r) => r.chain)).size).toBe(1);
    expect(run.map((r) => r.chain_seq - run[0]!.chain_seq)).toEqual([0, 1, 2, 3, 4]);
    const cli = hubAuditVerify();
    expect(cli.stdout).toContain('audit chain intact: 25 rows');
    expect(cli.status).toBe(0);
  });

  it('refuses updates and deletes, of rows and of checkpoints', async () => {
    await expect(db.pool.query(`UPDATE audit_log SET reason = 'x'`)).rejects.toThrow(/append-only/);
    await expect(db.pool.query(`DELETE FROM audit_log`)).rejects.toThrow(/append-only/);
    await expect(db.pool.query(`DELETE FROM audit_checkpoints`)).rejects.toThrow(/append-only/);
  });

  it('detects an edited row', async () => {
    const row = run[2]!;
    expect((await verifyTampered(`UPDATE audit_log SET details = '{"i": 99}' WHERE seq = ${row.seq}`)).firstBroken)
      .toEqual({ seq: row.seq, chain: row.chain, problem: `chain ${row.chain}: content does not match its hash (row edited)` });
  });

  it('detects a row deleted in the middle of a chain', async () => {
    const [, gone, next] = run;
    expect((await verifyTampered(`DELETE FROM audit_log WHERE seq = ${gone!.seq}`)).firstBroken)
      .toEqual({ seq: next!.seq, chain: next!.chain, problem: `chain ${next!.chain}: row ${gone!.chain_seq} is missing (next is ${next!.chain_seq})` });
  });

  it('detects a row inserted out of band', async () => {
    const tail = run.at(-1)!;
    // The chain fields look right, but the attacker cannot make the hash match without rewriting the chain.
    const verified = await verifyTampered(
      'ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain',
      `INSERT INTO audit_log (seq, chain, chain_seq, actor, role, action, target_type, target_id, prev_hash, hash)
       SELECT 1000, chain, chain_seq + 1, 'intruder', 'ADMIN', 'claim.approve', 'Claim', '1', hash, hash
         FROM audit_log WHERE seq = ${tail.seq}`,
    );
    expect(verified.firstBroken).toEqual({ seq: 1000, chain: tail.chain, problem: `chain ${tail.chain}: content does not match its hash (row edited)` });
  });

  it('detects a chain tail deleted after a checkpoint recorded it', async () => {
    const tail = run.at(-1)!;
    const checkpoint = await recordAuditCheckpoint(db.pool);
    const verified = await verifyTampered(`DELETE FROM audit_log WHERE seq = ${tail.seq}`);
    expect(verified.firstBroken).toEqual({
      seq: tail.seq, chain: tail.chain, checkpoint,
      problem: `chain ${tail.chain}: row ${tail.chain_seq} recorded by checkpoint ${checkpoint} is missing or changed`,
    });
  });

  it('detects an edited checkpoint', async () => {
    const checkpoint = await recordAuditCheckpoint(db.pool);
    const verified = await verifyTampered(`UPDATE audit_checkpoints SET seqs = seqs[1:1] WHERE id = ${checkpoint}`);
    expect(verified.firstBroken).toEqual({ seq: 0, checkpoint, problem: `checkpoint ${checkpoint}: content does not match its hash (checkpoint edited)` });
    expect((await verifyAuditChain(db.pool)).checkpoints).toBe(checkpoint);
  });

  it('lets two transactions write to different chains without waiting for each other', async () => {
    const a = await db.pool.connect();
    const b = await db.pool.connect();
    try {
      await a.query('BEGIN');
      await write(a, 200);
      // A holds its chain open. Were B to wait for A's lock, it would fail here instead of committing.
      await b.query('BEGIN');
      await b.query(`SET LOCAL lock_timeout = '2s'`);
      await write(b, 201);
      await b.query('COMMIT');
      const { rows: [committed] } = await db.pool.query(`SELECT chain FROM audit_log WHERE target_id = '201'`);
      const { rows: [open] } = await a.query(`SELECT chain FROM audit_log WHERE target_id = '200'`);
      expect(committed.chain).not.toBe(open.chain);
      // A keeps its chain: its second row follows its first in the same chain.
      await write(a, 202);
      const { rows: mine } = await a.query(`SELECT chain, chain_seq FROM audit_log WHERE target_id IN ('200', '202') ORDER BY seq`);
      expect(mine[1].chain).toBe(mine[0].chain);
      expect(mine[1].chain_seq).toBe(mine[0].chain_seq + 1);
      expect((await a.query(`SELECT current_setting('audit.chain') AS c`)).rows[0].c).toBe(String(open.chain));
      await a.query('COMMIT');
    } finally {
      a.release();
      b.release();
    }
    expect((await verifyAuditChain(db.pool)).firstBroken).toBeNull();
  });

  it('names the broken row from the command line', async () => {
    const row = run[1]!;
    await inTransaction(db.pool, async (tx) => {
      await tx.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await tx.query(`UPDATE audit_log SET reason = 'edited' WHERE seq = ${row.seq}`);
      await tx.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    });
    const cli = hubAuditVerify();
    expect(cli.status).toBe(1);
    expect(cli.stderr).toContain(`audit chain broken at row ${row.seq}`);
  });
});
