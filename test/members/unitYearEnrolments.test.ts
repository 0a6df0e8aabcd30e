import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolmentCoverageFigures } from '../../src/members/store/coverage.ts';
import { CONTRIBUTION_FEN } from '../../src/members/model.ts';
import { contributionCovered } from '../../src/members/model.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';
import { seedEnrolment, seedMember, seedUnit } from '../benefits/seed.ts';

/**
 * What a unit owes for a plan year comes from unit_year_enrolments (migration 0030), kept by
 * statement triggers on enrolments. Checked against the enrolments themselves after every kind of
 * write, and the coverage figures against a window over the enrolments (the query they replaced).
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});

afterAll(async () => {
  await db?.drop();
});

/** Counts per unit-year from the table, and from the enrolments. */
async function countsBothWays(): Promise<{ kept: unknown[]; summed: unknown[] }> {
  const kept = await db.pool.query(
    `SELECT unit_id::int, plan_year, public_count, private_count, special_disease_count FROM unit_year_enrolments
      WHERE public_count + private_count > 0 ORDER BY 1, 2`,
  );
  const summed = await db.pool.query(
    `SELECT unit_id::int, plan_year, count(*) FILTER (WHERE plan = 'PUBLIC')::int AS public_count,
            count(*) FILTER (WHERE plan = 'PRIVATE')::int AS private_count, count(*) FILTER (WHERE special_disease)::int AS special_disease_count
       FROM enrolments GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  return { kept: kept.rows, summed: summed.rows };
}

/** The figures as the window over every enrolment of the unit-year computed them. */
async function windowFigures(enrolmentId: number): Promise<{ owedThroughFen: number; owedFen: number }> {
  const { rows } = await db.pool.query<{ through: string; total: string }>(
    `WITH owed AS (
       SELECT e.id, sum(CASE e.plan WHEN 'PUBLIC' THEN $2::bigint ELSE $3::bigint END + CASE WHEN e.special_disease THEN $4::bigint ELSE 0 END)
                OVER (PARTITION BY e.unit_id, e.plan_year ORDER BY e.enrolled_on, e.id) AS through,
              sum(CASE e.plan WHEN 'PUBLIC' THEN $2::bigint ELSE $3::bigint END + CASE WHEN e.special_disease THEN $4::bigint ELSE 0 END)
                OVER (PARTITION BY e.unit_id, e.plan_year) AS total
         FROM enrolments e JOIN enrolments t ON t.unit_id = e.unit_id AND t.plan_year = e.plan_year WHERE t.id = $1)
     SELECT through, total FROM owed WHERE id = $1`,
    [enrolmentId, CONTRIBUTION_FEN.PUBLIC, CONTRIBUTION_FEN.PRIVATE, CONTRIBUTION_FEN.SPECIAL_DISEASE],
  );
  return { owedThroughFen: Number(rows[0]!.through), owedFen: Number(rows[0]!.total) };
}

describe('what a unit owes for a plan year', () => {
  it('follows its enrolments however they are written: inserted one by one or many at once, upserted, moved, changed, deleted', async () => {
    const a = await seedUnit(db.pool);
    const b = await seedUnit(db.pool, 'PRIVATE');
    const members = [];
    for (let i = 0; i < 6; i += 1) members.push(await seedMember(db.pool, a.id));
    const first = await seedEnrolment(db.pool, members[0]!, a.id, { specialDisease: true });
    await seedEnrolment(db.pool, members[1]!, a.id, { year: 2026 });
    expect((await countsBothWays()).kept).toEqual((await countsBothWays()).summed);

    // Many in one statement, across units and years (as the roster merge writes them).
    await db.pool.query(
      `INSERT INTO enrolments (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
       SELECT m, CASE WHEN m % 2 = 0 THEN $2::bigint ELSE $3::bigint END, 2025, CASE WHEN m % 2 = 0 THEN 'PUBLIC' ELSE 'PRIVATE' END,
              m % 3 = 0, '2025-03-01', '2020-01-01'
         FROM unnest($1::bigint[]) AS m`,
      [members.slice(2), a.id, b.id],
    );
    let both = await countsBothWays();
    expect(both.kept).toEqual(both.summed);

    // An upsert that changes plan and supplement of one and inserts another; an update that moves one to another unit.
    await db.pool.query(
      `INSERT INTO enrolments AS e (member_id, unit_id, plan_year, plan, special_disease, enrolled_on, first_enrolled_on)
       VALUES ($1, $2, 2025, 'PRIVATE', false, '2025-01-01', '2020-01-01'), ($3, $2, 2026, 'PUBLIC', true, '2026-01-01', '2020-01-01')
       ON CONFLICT (member_id, plan_year) DO UPDATE SET plan = excluded.plan, special_disease = excluded.special_disease`,
      [members[0], a.id, members[2]],
    );
    await db.pool.query(`UPDATE enrolments SET unit_id = $2 WHERE id = $1`, [first, b.id]);
    // A change that moves nothing (categories) and a deletion.
    await db.pool.query(`UPDATE enrolments SET member_categories = '{}' WHERE unit_id = $1`, [a.id]);
    await db.pool.query(`DELETE FROM enrolments WHERE member_id = $1 AND plan_year = 2026`, [members[1]]);
    both = await countsBothWays();
    expect(both.kept).toEqual(both.summed);
    expect(both.summed.length).toBeGreaterThanOrEqual(3);
  });

  it('gives coverage figures equal to a window over the enrolments for a year partly paid, and none up to an enrolment when it is paid in full or not at all', async () => {
    const unit = await seedUnit(db.pool);
    const enrolments = [];
    for (const [i, on] of ['2025-01-01', '2025-02-01', '2025-01-01', '2025-03-01'].entries()) {
      enrolments.push(await seedEnrolment(db.pool, await seedMember(db.pool, unit.id), unit.id, { enrolledOn: on, specialDisease: i === 1 }));
    }
    const paid = async (amountFen: number, reference: string) => db.pool.query(
      `INSERT INTO contribution_payments (unit_id, plan_year, amount_fen, reference, paid_on, source, recorded_by) VALUES ($1, 2025, $2, $3, '2025-02-01', 'MANUAL', 'test')`,
      [unit.id, amountFen, reference],
    );
    // Nothing paid: no enrolment is covered, whatever its place, so the sum is not taken.
    for (const [i, figures] of (await enrolmentCoverageFigures(db.pool, enrolments)).entries()) {
      const { owedFen } = await windowFigures(enrolments[i]!);
      expect(figures).toEqual({ enrolmentId: enrolments[i], unitId: unit.id, planYear: 2025, owedFen, paidFen: 0, owedThroughFen: null });
      expect(contributionCovered('ENROLMENT_ORDER', figures!)).toBe(false);
      expect(contributionCovered('WHOLE_UNIT', figures!)).toBe(false);
    }
    await paid(CONTRIBUTION_FEN.PUBLIC * 2, 'PART');
    const partly = await enrolmentCoverageFigures(db.pool, [...enrolments, -1]);
    expect(partly.at(-1)).toBeNull();
    for (const [i, id] of enrolments.entries()) {
      expect(partly[i]).toEqual({ enrolmentId: id, unitId: unit.id, planYear: 2025, paidFen: CONTRIBUTION_FEN.PUBLIC * 2, ...await windowFigures(id) });
    }
    await paid(CONTRIBUTION_FEN.PUBLIC * 3, 'REST');
    const { owedFen } = await windowFigures(enrolments[0]!);
    expect(owedFen).toBe(CONTRIBUTION_FEN.PUBLIC * 4 + CONTRIBUTION_FEN.SPECIAL_DISEASE);
    for (const figures of await enrolmentCoverageFigures(db.pool, enrolments)) {
      expect(figures).toMatchObject({ owedFen, paidFen: CONTRIBUTION_FEN.PUBLIC * 5, owedThroughFen: null });
    }
  });
});
