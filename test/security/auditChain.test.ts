import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { recordAudit, verifyAuditChain } from '../../src/audit/audit.ts';

/**
 * Appending to the audit log as an attacker with INSERT rights tries it: the chain fields supplied
 * by the INSERT, a chain named that does not exist, a chain named that another transaction holds.
 */
let db: TestDatabase;
const actor = { subject: 'auditor-test', role: 'ADMIN' };

beforeAll(async () => {
  db = await freshDatabase();
  for (let i = 0; i < 3; i++) {
    await inTransaction(db.pool, (tx) => recordAudit(tx, actor, { action: 'test.write', targetType: 'Thing', targetId: String(i) }));
  }
});
afterAll(() => db.drop());

describe('appending to the audit chain', () => {
  it('overrides a forged seq, chain, chain_seq, prev_hash and hash', async () => {
    const { rows: [head] } = await db.pool.query(`SELECT seq, chain, chain_seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`);
    const { rows: [row] } = await db.pool.query(
      `INSERT INTO audit_log (seq, chain, chain_seq, actor, role, action, target_type, target_id, prev_hash, hash)
       VALUES ($1, $2, $3, 'intruder', 'ADMIN', 'claim.approve', 'Claim', '1', '\\x00', '\\x00')
       RETURNING seq, chain, chain_seq, prev_hash, hash`,
      [head.seq, (head.chain + 1) % 16, 1],
    );
    expect(row.seq).toBeGreaterThan(head.seq);
    expect(row.hash).not.toEqual(Buffer.from([0]));
    // The row joined a chain where the trigger put it, linked to that chain's previous row.
    const { rows: [previous] } = await db.pool.query(`SELECT hash FROM audit_log WHERE chain = $1 AND chain_seq = $2`, [row.chain, row.chain_seq - 1]);
    expect(row.prev_hash).toEqual(row.chain_seq === 1 ? null : previous.hash);
    expect(await verifyAuditChain(db.pool)).toMatchObject({ rows: 4, firstBroken: null });
  });

  it('refuses a chain that does not exist', async () => {
    await expect(inTransaction(db.pool, async (tx) => {
      await tx.query(`SELECT set_config('audit.chain', '99', true)`);
      await recordAudit(tx, actor, { action: 'test.write', targetType: 'Thing', targetId: 'x' });
    })).rejects.toThrow(/audit.chain 99 is not a chain/);
  });

  it('makes a transaction naming a chain another one holds wait for it', async () => {
    const holder = await db.pool.connect();
    const intruder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`INSERT INTO audit_log (actor, role, action, target_type, target_id) VALUES ('a', 'ADMIN', 'test.write', 'Thing', 'held')`);
      const { rows: [{ c }] } = await holder.query(`SELECT current_setting('audit.chain') AS c`);
      await intruder.query('BEGIN');
      await intruder.query(`SET LOCAL lock_timeout = '100ms'`);
      await intruder.query(`SELECT set_config('audit.chain', $1, true)`, [c]);
      // Naming the chain does not get round its lock: the insert waits for the holder.
      await expect(intruder.query(`INSERT INTO audit_log (actor, role, action, target_type, target_id) VALUES ('b', 'ADMIN', 'test.write', 'Thing', 'forced')`))
        .rejects.toThrow(/lock timeout/);
      await intruder.query('ROLLBACK');
      await holder.query('COMMIT');
    } finally {
      holder.release();
      intruder.release();
    }
    expect((await verifyAuditChain(db.pool)).firstBroken).toBeNull();
  });
});
