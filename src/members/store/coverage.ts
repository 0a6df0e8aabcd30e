import type { Queryable } from '../../kernel/transaction.ts';
import { CONTRIBUTION_FEN, type CoverageFigures } from '../model.ts';

/**
 * SQL of contribution coverage per enrolment (the model's `contributionCovered` decides).
 * An enrolment's place in its unit's plan year is the order it was owed in: enrolled_on, then id
 * (the roster row that enrolled it first). `owedThroughFen` is what the unit owes for it and every
 * enrolment before it; a late addition is last, so it never moves an earlier one.
 */
export interface EnrolmentCoverageFigures extends CoverageFigures {
  enrolmentId: number;
  unitId: number;
  planYear: number;
}

/** What enrolment `e` owes for its year, the rates PUBLIC, PRIVATE, SPECIAL_DISEASE being $2, $3, $4. */
const OWED_FOR_ENROLMENT = `CASE e.plan WHEN 'PUBLIC' THEN $2::bigint ELSE $3::bigint END + CASE WHEN e.special_disease THEN $4::bigint ELSE 0 END`;

/**
 * The coverage figures of each enrolment, in the order asked; null for an unknown enrolment. What a
 * unit owes for a year comes from its counts (unit_year_enrolments, kept by trigger); only for a
 * year partly paid are the enrolments owed before this one summed, along the unit-year index.
 */
export async function enrolmentCoverageFigures(db: Queryable, enrolmentIds: readonly number[]): Promise<(EnrolmentCoverageFigures | null)[]> {
  if (!enrolmentIds.length) return [];
  const { rows } = await db.query<EnrolmentCoverageFigures>(
    `WITH target AS (SELECT id, unit_id, plan_year, enrolled_on FROM enrolments WHERE id = ANY($1::bigint[])),
     year AS (
       SELECT y.unit_id, y.plan_year,
              coalesce(n.public_count * $2::bigint + n.private_count * $3::bigint + n.special_disease_count * $4::bigint, 0) AS owed,
              (SELECT coalesce(sum(cp.amount_fen), 0)::bigint FROM standing_contribution_payments cp
                WHERE cp.unit_id = y.unit_id AND cp.plan_year = y.plan_year) AS paid
         FROM (SELECT DISTINCT unit_id, plan_year FROM target) y
         LEFT JOIN unit_year_enrolments n ON n.unit_id = y.unit_id AND n.plan_year = y.plan_year)
     SELECT t.id AS "enrolmentId", t.unit_id AS "unitId", t.plan_year AS "planYear", y.owed::bigint AS "owedFen", y.paid AS "paidFen",
            CASE WHEN y.paid <= 0 OR y.paid >= y.owed THEN NULL
                 ELSE (SELECT sum(${OWED_FOR_ENROLMENT}) FROM enrolments e
                        WHERE e.unit_id = t.unit_id AND e.plan_year = t.plan_year AND (e.enrolled_on, e.id) <= (t.enrolled_on, t.id))::bigint
            END AS "owedThroughFen"
       FROM target t JOIN year y ON y.unit_id = t.unit_id AND y.plan_year = t.plan_year`,
    [enrolmentIds, CONTRIBUTION_FEN.PUBLIC, CONTRIBUTION_FEN.PRIVATE, CONTRIBUTION_FEN.SPECIAL_DISEASE],
  );
  const byId = new Map(rows.map((r) => [r.enrolmentId, r]));
  return enrolmentIds.map((id) => byId.get(id) ?? null);
}

/**
 * How many enrolments of the unit's plan year the unit's payments would cover, in the order they
 * were owed, once `paidFen` becomes `paidFen + amountFen`, that they did not cover at `paidFen`:
 * those whose `owedThroughFen` lies between the two. Every one of them when the payment brings the
 * year to paid; under WHOLE_UNIT coverage none is covered before then, so this is never fewer
 * than the enrolments any coverage rule would newly cover.
 */
export async function enrolmentsNewlyCovered(db: Queryable, unitId: number, planYear: number, paidFen: number, amountFen: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n
       FROM (SELECT sum(${OWED_FOR_ENROLMENT}) OVER (ORDER BY e.enrolled_on, e.id) AS owed_through
               FROM enrolments e WHERE e.unit_id = $1 AND e.plan_year = $5) t
      WHERE t.owed_through > $6 AND t.owed_through <= $7`,
    [unitId, CONTRIBUTION_FEN.PUBLIC, CONTRIBUTION_FEN.PRIVATE, CONTRIBUTION_FEN.SPECIAL_DISEASE, planYear, paidFen, paidFen + amountFen],
  );
  return rows[0]!.n;
}
