import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvedBatch, approvedClaims, resetPayouts, setBankCard } from '../payouts/support.ts';
import { freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';

/**
 * 0053 gives each payment attempt the keyed hash of the card it pays, which reconciliation compares
 * a statement's payee account with. Attempts planned before it get the member's hash only where they
 * pay the card the member still has (the same envelope): a card changed since is not theirs, and
 * they stay compared masked. The hash never changes afterwards.
 */
const MIGRATIONS = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

/** 0053 and every migration after it, to undo and apply again. */
const FROM_0053 = readdirSync(MIGRATIONS).filter((f) => /^\d{4}_.*\.sql$/.test(f) && Number(f.slice(0, 4)) >= 53).length;

async function migrateFrom0053(direction: 'up' | 'down'): Promise<void> {
  await runner({
    databaseUrl: TEST_DATABASE_URL, dir: MIGRATIONS, direction, count: FROM_0053, migrationsTable: 'pgmigrations', schema: db.schema,
    checkOrder: true, singleTransaction: true, noLock: true, log: () => undefined,
  });
}

const hashes = async () => (await db.pool.query<{ payoutId: number; same: boolean | null }>(
  `SELECT a.payout_id AS "payoutId", a.creditor_account_hash = m.bank_card_hash AS same
     FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id JOIN members m ON m.id = p.member_id ORDER BY a.payout_id`,
)).rows;

describe('the card hash of payment attempts (0053)', () => {
  it('is copied from the member when planned, kept by attempts from before where the card is unchanged, and never changes', async () => {
    await resetPayouts(db.pool);
    const claims = await approvedClaims(db.pool, 2);
    await approvedBatch(db.pool);
    expect(await hashes()).toEqual([{ payoutId: expect.any(Number), same: true }, { payoutId: expect.any(Number), same: true }]);

    await migrateFrom0053('down');
    // The second member's card changed after its payment was planned.
    await setBankCard(db.pool, claims[1]!.memberId, '6217000010012345674');
    await migrateFrom0053('up');

    const [kept, changed] = await hashes();
    expect(kept!.same).toBe(true);
    expect(changed!.same).toBeNull();
    await expect(db.pool.query(`UPDATE payout_attempts SET creditor_account_hash = '\\x00'`)).rejects.toThrow(/what was sent cannot change/);
  });
});
