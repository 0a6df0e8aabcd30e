import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chinaToday } from '../../src/kernel/time.ts';
import { seedEnrolment, seedMember, seedUnit } from '../benefits/seed.ts';
import { freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';

/**
 * 0065 gives the SPECIAL_DISEASE add-on its own start (enrolments.special_disease_from): existing
 * enrolments with the add-on have it from their own date, as they were decided; it is set exactly
 * when the add-on is on and never before the enrolment's date; a write that does not name it gets
 * one that is never back-dated.
 */
const MIGRATIONS = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

/** 0065 and every migration after it, to undo and apply again. */
const FROM_0065 = readdirSync(MIGRATIONS).filter((f) => /^\d{4}_.*\.sql$/.test(f) && Number(f.slice(0, 4)) >= 65).length;

async function migrateFrom0065(direction: 'up' | 'down'): Promise<void> {
  await runner({
    databaseUrl: TEST_DATABASE_URL, dir: MIGRATIONS, direction, count: FROM_0065, migrationsTable: 'pgmigrations', schema: db.schema,
    checkOrder: true, singleTransaction: true, noLock: true, log: () => undefined,
  });
}

const fromOf = async (id: number) => (await db.pool.query<{ from: string | null }>(`SELECT special_disease_from AS "from" FROM enrolments WHERE id = $1`, [id])).rows[0]!.from;

describe('the add-on\'s own start (0065)', () => {
  it('dates existing add-ons from their enrolment\'s date, and keeps the column consistent with the add-on', async () => {
    const unit = await seedUnit(db.pool);
    const withAddOn = await seedEnrolment(db.pool, await seedMember(db.pool, unit.id), unit.id, { specialDisease: true, enrolledOn: '2025-03-01' });
    const without = await seedEnrolment(db.pool, await seedMember(db.pool, unit.id), unit.id, { enrolledOn: '2025-02-01' });

    await migrateFrom0065('down');
    const { rows: columns } = await db.pool.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'enrolments' AND column_name = 'special_disease_from'`, [db.schema]);
    expect(columns).toEqual([]);
    await migrateFrom0065('up');
    expect([await fromOf(withAddOn), await fromOf(without)]).toEqual(['2025-03-01', null]);

    // Turned on without naming the day: from China's today (never the enrolment's date); kept while on; cleared when off.
    await db.pool.query(`UPDATE enrolments SET special_disease = true WHERE id = $1`, [without]);
    const turnedOn = await fromOf(without);
    expect([chinaToday(new Date(Date.now() - 60_000)), chinaToday()]).toContain(turnedOn);
    await db.pool.query(`UPDATE enrolments SET special_disease = true, special_disease_from = NULL WHERE id = $1`, [without]);
    expect(await fromOf(without)).toBe(turnedOn);
    await db.pool.query(`UPDATE enrolments SET special_disease = false WHERE id = $1`, [withAddOn]);
    expect(await fromOf(withAddOn)).toBeNull();
    // A day named with the add-on off is dropped; one before the enrolment's date is refused.
    await db.pool.query(`UPDATE enrolments SET special_disease_from = '2025-05-01' WHERE id = $1`, [withAddOn]);
    expect(await fromOf(withAddOn)).toBeNull();
    await expect(db.pool.query(`UPDATE enrolments SET special_disease = true, special_disease_from = '2025-02-28' WHERE id = $1`, [withAddOn]))
      .rejects.toMatchObject({ code: '23514', constraint: 'enrolments_special_disease_from_in_enrolment' });
  });
});
