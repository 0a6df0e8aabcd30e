import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBank, testFilePki } from '../banks/simulator/support.ts';
import { byEndToEndId, byNameOnly, debit, refusalScene, type RefusalScene } from '../payouts/refusalSupport.ts';
import { freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';

/**
 * 0066 lets a PAYOUT match to another payout free a payout a debit's exception names (or lists as
 * refused) only on the exception's own transaction. Its Down puts back the function as it stood,
 * word for word: a batch booking's match on another transaction frees the refused payout again.
 */
const MIGRATIONS = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));
const pki = testFilePki();
let db: TestDatabase;
let scene: RefusalScene;

beforeAll(async () => {
  db = await freshDatabase();
  scene = refusalScene(db.pool, pki);
});
afterAll(async () => { await db?.drop(); });

const migrations = readdirSync(MIGRATIONS).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort();
/** 0066 and every migration after it, to undo and apply again. */
const FROM_0066 = migrations.filter((f) => Number(f.slice(0, 4)) >= 66).length;

async function migrateFrom0066(direction: 'up' | 'down'): Promise<void> {
  await runner({
    databaseUrl: TEST_DATABASE_URL, dir: MIGRATIONS, direction, count: FROM_0066, migrationsTable: 'pgmigrations', schema: db.schema,
    checkOrder: true, singleTransaction: true, noLock: true, log: () => undefined,
  });
}

/** The body of payout_paid_by_bank as the newest migration before 0066 defines it in its Up section. */
function bodyBefore0066(): string {
  const upSection = (f: string) => readFileSync(`${MIGRATIONS}/${f}`, 'utf8').split('-- Down Migration')[0]!;
  const defining = migrations.filter((f) => Number(f.slice(0, 4)) < 66 && upSection(f).includes('FUNCTION payout_paid_by_bank'));
  return /FUNCTION payout_paid_by_bank\(.*?\$\$(.*?)\$\$/s.exec(upSection(defining.at(-1)!))![1]!;
}

const bodyInDatabase = async () => (await db.pool.query<{ body: string }>(`SELECT prosrc AS body FROM pg_proc WHERE oid = 'payout_paid_by_bank'::regproc`)).rows[0]!.body;

describe('a payout paid by the bank, read per transaction (0066)', () => {
  it('down, is the function as it was, freeing a refused payout by a match on another transaction; up again, is not', async () => {
    const bank = await startBank(pki);
    const [refused] = await scene.refusedPayouts(bank, 1);
    const other = await scene.paidPayout(bank);
    // A batch booking: the other payout's EndToEndId, then the refused one's amount and name.
    await scene.reconciled(debit(byEndToEndId(other), byNameOnly(refused!)));
    expect(await scene.wasPaid(refused!.payoutId)).toBe(true);

    await migrateFrom0066('down');
    expect(await bodyInDatabase()).toBe(bodyBefore0066());
    expect(await scene.wasPaid(refused!.payoutId)).toBe(false);

    await migrateFrom0066('up');
    expect(await bodyInDatabase()).not.toBe(bodyBefore0066());
    expect(await scene.wasPaid(refused!.payoutId)).toBe(true);
  });
});
