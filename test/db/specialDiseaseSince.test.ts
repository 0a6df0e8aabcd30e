import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedMember, seedUnit } from '../benefits/seed.ts';
import { freshDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/db.ts';

/**
 * 0067 gives the SPECIAL_DISEASE add-on its own chain (enrolments.special_disease_since), read by the
 * rules as EnrolmentFacts.specialDiseaseAddedOn when it began after the enrolment chain's first day.
 * Existing enrolments are decided as before; from then on an add-on continued from last year's
 * enrolment keeps its start, one taken first on a renewal starts on the renewal's date, and one of a
 * first enrolment starts with the chain.
 */
const MIGRATIONS = fileURLToPath(new URL('../../src/db/migrations', import.meta.url));
let db: TestDatabase;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

const FROM_0067 = readdirSync(MIGRATIONS).filter((f) => /^\d{4}_.*\.sql$/.test(f) && Number(f.slice(0, 4)) >= 67).length;

async function migrateFrom0067(direction: 'up' | 'down'): Promise<void> {
  await runner({
    databaseUrl: TEST_DATABASE_URL, dir: MIGRATIONS, direction, count: FROM_0067, migrationsTable: 'pgmigrations', schema: db.schema,
    checkOrder: true, singleTransaction: true, noLock: true, log: () => undefined,
  });
}

/** Writes an enrolment as a raw row (the triggers name the add-on's days); its id. */
async function enrol(memberId: number, unitId: number, year: number, specialDisease: boolean, enrolledOn: string, firstEnrolledOn = enrolledOn): Promise<number> {
  const { rows: [row] } = await db.pool.query<{ id: number }>(
    `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
     VALUES ($1, $2, $3, 'PUBLIC', $4, $5, $6) RETURNING id`, [memberId, unitId, year, specialDisease, enrolledOn, firstEnrolledOn]);
  return row!.id;
}

/** The add-on's start and chain start, and the day the rules read it was added (benefits store's ADD_ON_ADDED_SQL). */
const daysOf = async (id: number) => (await db.pool.query<{ from: string | null; since: string | null; addedOn: string | null }>(
  `SELECT to_char(special_disease_from, 'YYYY-MM-DD') AS "from", to_char(special_disease_since, 'YYYY-MM-DD') AS since,
          CASE WHEN special_disease_since > first_enrolled_on THEN to_char(special_disease_since, 'YYYY-MM-DD') END AS "addedOn"
     FROM enrolments WHERE id = $1`, [id])).rows[0]!;

describe('the add-on\'s own chain (0067)', () => {
  it('decides existing enrolments as before: the day read is the add-on\'s start when after the enrolment\'s date, else none', async () => {
    const unit = await seedUnit(db.pool);
    await migrateFrom0067('down');
    const member = await seedMember(db.pool, unit.id);
    await enrol(member, unit.id, 2024, false, '2024-01-05');
    // A first add-on with a renewal, recorded before 0067: it was read as covering from the renewal's date.
    const renewal = await enrol(member, unit.id, 2025, true, '2025-01-01', '2024-01-05');
    const turnedOn = await enrol(await seedMember(db.pool, unit.id), unit.id, 2025, false, '2025-01-01');
    await db.pool.query(`UPDATE enrolments SET special_disease = true, special_disease_from = '2025-06-01' WHERE id = $1`, [turnedOn]);
    await migrateFrom0067('up');
    expect(await daysOf(renewal)).toEqual({ from: '2025-01-01', since: '2024-01-05', addedOn: null });
    expect(await daysOf(turnedOn)).toEqual({ from: '2025-06-01', since: '2025-06-01', addedOn: '2025-06-01' });
  });

  it('continues last year\'s add-on, starts a first one on a renewal\'s date, a first enrolment\'s with the chain; kept while on, cleared when off', async () => {
    const unit = await seedUnit(db.pool);
    const newMember = await enrol(await seedMember(db.pool, unit.id), unit.id, 2025, true, '2025-03-01');
    expect(await daysOf(newMember)).toEqual({ from: '2025-03-01', since: '2025-03-01', addedOn: null });

    const first = await seedMember(db.pool, unit.id);
    await enrol(first, unit.id, 2024, false, '2024-01-05');
    const firstRenewal = await enrol(first, unit.id, 2025, true, '2025-01-01', '2024-01-05');
    expect(await daysOf(firstRenewal)).toEqual({ from: '2025-01-01', since: '2025-01-01', addedOn: '2025-01-01' });
    // Continued into the next year it keeps that start.
    const continued = await enrol(first, unit.id, 2026, true, '2026-01-01', '2024-01-05');
    expect(await daysOf(continued)).toEqual({ from: '2026-01-01', since: '2025-01-01', addedOn: '2025-01-01' });

    const holder = await seedMember(db.pool, unit.id);
    await enrol(holder, unit.id, 2024, true, '2024-01-05');
    const kept = await enrol(holder, unit.id, 2025, true, '2025-01-01', '2024-01-05');
    expect(await daysOf(kept)).toEqual({ from: '2025-01-01', since: '2024-01-05', addedOn: null });
    // Written again with the add-on on, it keeps its chain, even when a write names another; off, it is cleared.
    await db.pool.query(`UPDATE enrolments SET special_disease = true, special_disease_since = '2025-01-01' WHERE id = $1`, [kept]);
    expect(await daysOf(kept)).toEqual({ from: '2025-01-01', since: '2024-01-05', addedOn: null });
    await db.pool.query(`UPDATE enrolments SET special_disease = false WHERE id = $1`, [kept]);
    expect(await daysOf(kept)).toEqual({ from: null, since: null, addedOn: null });
    // Turned on again later: a new chain from that day.
    await db.pool.query(`UPDATE enrolments SET special_disease = true, special_disease_from = '2025-07-01' WHERE id = $1`, [kept]);
    expect(await daysOf(kept)).toEqual({ from: '2025-07-01', since: '2025-07-01', addedOn: '2025-07-01' });
  });
});
